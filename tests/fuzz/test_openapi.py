"""schemathesis over every operation of /openapi.json, against a real uvicorn.

Each operation gets generated requests, valid and invalid, with the admin token and with
every CMS hook body signed (``SignedCmsHooks``), so the fuzzer gets past authentication.
Every answer must be no 5xx, a status the operation documents, in the content type it
documents, with a body that matches its schema. One server per database for the whole
module, seeded with small ids so generated ids find rows.

The CI run is short and repeatable (a few examples, derandomized); ``make fuzz`` sets
``SYNDICATOR_FUZZ_EXAMPLES`` for a long, random one, whose figures end with its seed:
``SYNDICATOR_FUZZ_SEED`` replays it (every failure also prints a curl command).
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from syndicator.config import load_settings
from syndicator.events.signing import generate_secret
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app
from tests.apps import offline_app
from tests.conftest import RUN_ID, RedisServer
from tests.fuzz.support import CHECKS, SignedCmsHooks, seed
from tests.live_server import serve
from tests.sealing import ENCRYPTION_KEY
from tests.services import fresh_postgres_database, postgres_admin_url, reset_database, with_db

LONG_RUN = os.environ.get("SYNDICATOR_FUZZ_EXAMPLES")
EXAMPLES = int(LONG_RUN or "4")

# The document the live server serves, read once at collection: one test per operation.
schema = schemathesis.openapi.from_dict(offline_app().openapi())
if os.environ.get("SYNDICATOR_FUZZ_SEED"):  # replay a long run: its seed is in its figures
    schema.config.seed = int(os.environ["SYNDICATOR_FUZZ_SEED"])


@dataclass
class LiveApi:
    url: str
    session: requests.Session
    answers: Counter[str] = field(default_factory=Counter)  # "GET /path 200" -> count


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'syndicator.db'}"
        return
    admin_url, reason = postgres_admin_url()
    if admin_url is None:
        pytest.skip(reason)
    with fresh_postgres_database(admin_url) as url:
        yield url


@pytest.fixture(scope="module")
def live_api(
    request: pytest.FixtureRequest,
    database: str,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveApi]:
    redis_url = with_db(redis_server.url, redis_server.databases[0])
    reset_database(redis_url, RUN_ID)
    data_dir: Path = tmp_path_factory.mktemp("fuzz-data")
    app_settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(data_dir),
            "SYNDICATOR_DATABASE_URL": database,
            "SYNDICATOR_REDIS_URL": redis_url,
            "SYNDICATOR_BASE_URL": "https://press.example.kr",
            "SYNDICATOR_CMS_SECRET": generate_secret(),
            "SYNDICATOR_ADMIN_TOKEN": "fuzz-admin-token",
            "SYNDICATOR_TOKEN_KEYS": "fuzz-token-key",
            "SYNDICATOR_DOCUMENT_CHECK_SECONDS": "0",
            "SYNDICATOR_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        }
    )
    upgrade(database)
    with Database(database) as db:
        seed(db)
    with serve(create_app(app_settings)) as url, requests.Session() as session:
        session.auth = SignedCmsHooks(app_settings)
        live = LiveApi(url, session)
        yield live
    _report(request, database, live)
    reset_database(redis_url, RUN_ID)


def _report(request: pytest.FixtureRequest, database: str, live: LiveApi) -> None:
    """The run's figures, printed once per database."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    operations = {key.rsplit(" ", 1)[0] for key in live.answers}
    statuses = Counter(key.rsplit(" ", 1)[1] for key in live.answers.elements())
    line = (
        f"fuzz on {database.split(':', 1)[0]}: {len(operations)} operations, "
        f"{sum(live.answers.values())} requests, by status {dict(sorted(statuses.items()))}"
        + ("" if not LONG_RUN else f"; seed {schema.config.seed}")
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("\n" + line)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=not LONG_RUN,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, live_api: LiveApi) -> None:
    response = case.call_and_validate(
        base_url=live_api.url, session=live_api.session, checks=CHECKS
    )
    live_api.answers[f"{case.operation.label} {response.status_code}"] += 1
