# Everything a fresh clone needs: `make run` and `make test` set themselves up.
# Dependencies install from hash-pinned locks (requirements/*.lock), never from the ranges in
# pyproject.toml; `make lock` compiles the locks again after pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_LOCK     := requirements/dev.lock
BOOTSTRAP_LOCK := requirements/bootstrap.lock
RUNTIME_LOCK := requirements/runtime.lock
# Resolved against PyPI alone: the UV_* index variables and uv.toml are ignored, so no
# machine's local or extra index ends up in a lock. LOCK_FLAGS=--upgrade moves every pin.
UV_COMPILE = env -u UV_INDEX -u UV_INDEX_URL -u UV_DEFAULT_INDEX -u UV_EXTRA_INDEX_URL \
	-u UV_FIND_LINKS $(BIN)/uv pip compile --no-config --quiet --universal \
	--python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_FLAGS)

.PHONY: setup lock audit run test test-fast chaos bench soak lint format clean screenshots docs messages

setup: $(STAMP)

# A changed lock reinstalls: pip installs the hash-pinned uv (requirements/bootstrap.in says
# why not pip for all of it), then uv syncs the dev lock, checking every hash and removing
# what the lock dropped. The project goes in editable, without dependencies and with the
# locked hatchling.
$(STAMP): $(BOOTSTRAP_LOCK) $(DEV_LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "syndicator needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(BOOTSTRAP_LOCK)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Both locks from pyproject.toml (+ the build backend); the runtime lock (the Dockerfile's)
# is held to the dev lock's versions, so tests run what production runs.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(UV_COMPILE) --extra dev pyproject.toml requirements/build.in -o $(DEV_LOCK)
	$(UV_COMPILE) -c $(DEV_LOCK) pyproject.toml requirements/build.in -o $(RUNTIME_LOCK)
	$(UV_COMPILE) -c $(DEV_LOCK) requirements/bootstrap.in -o $(BOOTSTRAP_LOCK)

# Known vulnerabilities in both locks (pip-audit, PyPI's vulnerability data): fails on one that
# has a fixed version, or when the service answered for no package (AUDIT_FLAGS=--allow-unaudited
# passes that, printing what went unaudited). scripts/audit_locks.py says why it wraps pip-audit.
AUDIT_FLAGS ?=
audit: setup
	$(BIN)/python scripts/audit_locks.py $(RUNTIME_LOCK) $(DEV_LOCK) $(AUDIT_FLAGS)

# The English catalog after templates or N_() messages change (docs/development.md,
# "Languages"): new Korean msgids land in it untranslated, and tests/unit/test_i18n.py fails
# until each has its English. No locations and sorted, so two branches' entries rarely collide.
messages: setup
	$(BIN)/pybabel --quiet extract -F babel.cfg --no-location --sort-output \
		-o $(VENV)/messages.pot .
	$(BIN)/pybabel --quiet update -i $(VENV)/messages.pot -d src/syndicator/locale -l en \
		--init-missing --omit-header --no-fuzzy-matching --ignore-obsolete

run: setup
	$(BIN)/syndicator run --demo

# The whole suite on pytest-xdist workers (docs/development.md: a test that is safe there):
# most tests wait on subprocesses, PostgreSQL and the disk, so more workers than cores pay.
# TEST_WORKERS=0 runs it in one process. The slowest tests are listed at the end: where
# the suite's time goes.
TEST_WORKERS ?= 4
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25

# The unit tests alone, on SQLite, less the few marked slow: the quick check while editing.
test-fast: setup
	$(BIN)/python -m pytest -n 2 -q -m "not postgres and not slow" tests/unit

# The chaos suite at the issue's full size (10,000 recipients, 100 partners, a 60 s 421);
# `make test` and CI run the same scenarios scaled down (tests/chaos/support.py).
chaos: setup
	SYNDICATOR_CHAOS_SCALE=1 $(BIN)/python -m pytest -p no:randomly -o timeout=1800 tests/chaos

bench: setup
	$(BIN)/python -m bench

# schemathesis over every operation of /openapi.json, against a live uvicorn on SQLite and
# PostgreSQL (tests/fuzz/): FUZZ_EXAMPLES requests per operation from a fresh seed, printed
# with the run's figures; FUZZ_SEED=<that seed> replays a run. `make test` (and so CI) runs
# the same tests short and derandomized.
FUZZ_EXAMPLES ?= 300
FUZZ_SEED ?=
fuzz: setup
	SYNDICATOR_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) SYNDICATOR_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/python -m pytest -p no:randomly -rf tests/fuzz

# All three channels at once on one `syndicator run` (bench/soak.py): SOAK_FLAGS="--minutes 1".
soak: setup
	$(BIN)/python -m bench.soak $(SOAK_FLAGS)

# The residents' site in Chromium: the board, a release and the subscribe page, for the docs (docs/site.md).
screenshots: setup
	SYNDICATOR_SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -q -p no:randomly \
		tests/integration/test_site_browser.py -k "board_filter or phone"

# The documentation site (mkdocs-material) into site/, --strict: a broken link or anchor
# fails. The configuration page is rendered from the settings code first
# (tests/unit/test_config_reference.py fails when the committed page differs).
docs: setup
	$(BIN)/python -m syndicator.config_reference --write
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var site .pytest_cache .mypy_cache .ruff_cache
