"""compose.yaml is valid against the Compose Specification and has the production shape.

Schema validation uses check-jsonschema's vendored compose-spec schema, so this runs
offline and without Docker.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syndicator.channels.registry import CHANNEL_QUEUES
from syndicator.config import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "nginx.conf"

# check-jsonschema's builtin name (see `check-jsonschema --help`, "--builtin-schema").
COMPOSE_SCHEMA = "vendor.compose-spec"
QUEUES = CHANNEL_QUEUES

# Environment keys whose values are secrets and must come from interpolation.
SECRET_KEY_RE = re.compile(r"PASSWORD|SECRET|TOKEN|BASIC_AUTH|API_KEY", re.IGNORECASE)
# `${NAME}`, `${NAME:?msg}`, `${NAME?msg}`, `${NAME:-default}` ... covering the whole value.
INTERPOLATION_RE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+][^}]*)?\}$")
# user:password@ inside a URL.
URL_USERINFO_RE = re.compile(r"://[^:/@\s]+:(?P<password>[^@\s]+)@")

pytest.importorskip("check_jsonschema")


def _load_yaml(path: Path) -> Any:
    """Safe-load YAML, resolving anchors and `<<` merge keys.

    PyYAML is not a project dependency; ruamel.yaml comes with check-jsonschema.
    """
    try:
        import yaml
    except ImportError:
        from ruamel.yaml import YAML

        return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", COMPOSE_SCHEMA, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", [])
    return cmd.split() if isinstance(cmd, str) else [str(part) for part in cmd]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        return dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_compose_file_matches_compose_spec_schema() -> None:
    assert COMPOSE_FILE.is_file(), COMPOSE_FILE
    result = _check_compose(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    # `ports` must be a list; the compose-spec schema rejects a bare string.
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        "services:\n  web:\n    image: example\n    ports: notalist\n", encoding="utf-8"
    )
    result = _check_compose(broken)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "ports" in result.stdout + result.stderr


def test_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


def test_expected_services_exist(services: dict[str, dict[str, Any]]) -> None:
    expected = {"redis", "postgres", "migrate", "web", "front", "beat", "flower", "mailpit"}
    expected |= {f"worker-{q}" for q in QUEUES}
    assert expected <= services.keys(), expected - services.keys()


def test_redis_is_durable(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    cmd = " ".join(_command(redis))
    assert "--appendonly yes" in cmd
    assert "--maxmemory-policy noeviction" in cmd
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])
    assert redis.get("volumes"), "redis needs a volume for its AOF"


def test_one_worker_per_queue(services: dict[str, dict[str, Any]]) -> None:
    for queue in QUEUES:
        cmd = _command(services[f"worker-{queue}"])
        assert cmd[:4] == ["celery", "-A", "workers.app", "worker"], cmd
        i = cmd.index("-Q")
        # Every worker also consumes the fan-out queue, so planning never waits on one channel.
        assert cmd[i + 1].split(",") == [queue, "events"], cmd
        assert f"{queue}@%h" in cmd, cmd


def test_beat_runs_once(services: dict[str, dict[str, Any]]) -> None:
    cmd = _command(services["beat"])
    assert cmd[:4] == ["celery", "-A", "workers.app", "beat"], cmd
    assert "worker" not in cmd
    for name, svc in services.items():
        if name != "beat":
            assert "beat" not in _command(svc) and "-B" not in _command(svc), name


def test_no_service_shares_rendered_files(services: dict[str, dict[str, Any]]) -> None:
    """Feeds are served from the database, so web nodes and workers share no volume."""
    for name in ("web", *(f"worker-{q}" for q in QUEUES)):
        mounts = [str(v) for v in services[name].get("volumes", [])]
        assert not [m for m in mounts if "/app/var" in m], (name, mounts)


def test_web_waits_for_dependencies(services: dict[str, dict[str, Any]]) -> None:
    deps = services["web"]["depends_on"]
    assert deps["redis"]["condition"] == "service_healthy"
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_no_hard_coded_secrets(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for key, value in _environment(svc).items():
            if SECRET_KEY_RE.search(key):
                assert INTERPOLATION_RE.match(value), (
                    f"{name}: {key} must be a ${{VAR}} interpolation, got {value!r}"
                )
            m = URL_USERINFO_RE.search(value)
            if m:
                assert INTERPOLATION_RE.match(m["password"]), (
                    f"{name}: {key} embeds a literal password"
                )


def test_required_secrets_fail_fast_when_unset(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for var in (
        "POSTGRES_PASSWORD",
        "SYNDICATOR_CMS_SECRET",
        "SYNDICATOR_ADMIN_TOKEN",
        "SYNDICATOR_ENCRYPTION_KEYS",
        "FLOWER_BASIC_AUTH",
    ):
        assert f"${{{var}:?" in text, f"{var} should use ${{{var}:?message}}"
    flower_env = _environment(compose["services"]["flower"])
    assert "FLOWER_UNAUTHENTICATED_API" not in flower_env


def _published(service: dict[str, Any]) -> list[str]:
    """Published ports in the short syntax ("[ip:]host:container"), whichever was written."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            parts = (port.get("host_ip"), port.get("published"), port.get("target"))
            port = ":".join(str(part) for part in parts if part)
        ports.append(str(port))
    return ports


def test_the_front_server_stands_before_web(services: dict[str, dict[str, Any]]) -> None:
    front, web = services["front"], services["web"]
    assert str(front["image"]).startswith("nginx:"), front["image"]
    assert "80:80" in _published(front)
    (mount,) = [v for v in front["volumes"] if str(v).endswith(":/etc/nginx/nginx.conf:ro")]
    assert (REPO_ROOT / str(mount).split(":")[0]).resolve() == NGINX_CONF
    assert front["depends_on"]["web"]["condition"] == "service_healthy"
    # web is reached through front only; front's upstream is web's listening port.
    assert "ports" not in web and [str(p) for p in web["expose"]] == ["8000"]
    assert _command(web)[_command(web).index("--port") + 1] == "8000"
    assert re.search(r"^\s*server web:8000;", NGINX_CONF.read_text(), re.MULTILINE)
    assert _environment(web)["FORWARDED_ALLOW_IPS"], "uvicorn would ignore X-Forwarded-*"


def test_only_the_front_server_publishes_a_port_on_every_interface(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, svc in services.items():
        for port in _published(svc):
            assert name == "front" or port.startswith("127.0.0.1:"), (name, port)


def test_the_front_body_limit_is_the_hook_limit() -> None:
    """The hook's location: other locations cap lower, as the app does (test_front_server)."""
    hook = re.search(r"location = /hooks/cms \{(.*?)\}", NGINX_CONF.read_text(), re.S)
    assert hook, "deploy/nginx/nginx.conf has no location for the CMS hook"
    match = re.search(r"^\s*client_max_body_size\s+(\d+)([km]?);", hook[1], re.M)
    assert match, "the CMS hook's location sets no client_max_body_size"
    size = int(match[1]) * {"": 1, "k": 1024, "m": 1024 * 1024}[match[2]]
    assert size == Settings.max_body_bytes, (size, Settings.max_body_bytes)


def test_the_front_limits_slow_and_large_requests() -> None:
    text = NGINX_CONF.read_text()
    for directive in (
        "client_header_timeout",
        "client_body_timeout",
        "send_timeout",
        "keepalive_timeout",
        "large_client_header_buffers",
        "limit_conn per_ip",
        "proxy_cache_revalidate on",
        "gzip on",
        "add_header X-Cache-Status $upstream_cache_status",
    ):
        assert re.search(rf"^\s*{re.escape(directive)}\b", text, re.MULTILINE), directive


HA_SENTINELS = ("redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3")


def test_the_ha_profile_has_a_replica_and_three_sentinels(
    services: dict[str, dict[str, Any]],
) -> None:
    replica = services["redis-replica"]
    assert replica["profiles"] == ["ha"]
    command = " ".join(_command(replica))
    assert "--replicaof redis 6379" in command and "--appendonly yes" in command
    assert "--replica-announce-ip redis-replica" in command
    assert "--replica-announce-ip redis" in " ".join(_command(services["redis"]))
    for name in HA_SENTINELS:
        sentinel = services[name]
        assert sentinel["profiles"] == ["ha"], name
        script = " ".join(_command(sentinel))
        assert "'sentinel monitor syndicator redis 6379 2'" in script, name
        assert "--sentinel" in script and "resolve-hostnames yes" in script, name
        assert _environment(sentinel)["SENTINEL_HOSTNAME"] == name
        assert any(str(v).endswith(":/data") for v in sentinel["volumes"]), name
    assert {n for n, s in services.items() if "ha" in s.get("profiles", [])} == {
        "redis-replica",
        *HA_SENTINELS,
        "pgbouncer",
    }, "the ha profile holds the Redis topology and PgBouncer"


def test_the_services_follow_the_sentinels_under_the_ha_profile(
    services: dict[str, dict[str, Any]],
) -> None:
    """With the documented switch (SYNDICATOR_REDIS_URL empty, the sentinels listed),
    every application service reads Redis through the three sentinels, by the name they
    watch the master under."""
    header = COMPOSE_FILE.read_text(encoding="utf-8")
    (listed,) = re.findall(r"SYNDICATOR_REDIS_SENTINELS=(\S+)", header)
    assert listed.split(",") == [f"{name}:26379" for name in HA_SENTINELS]
    for name in ("web", "beat", "migrate", *(f"worker-{q}" for q in QUEUES)):
        env = _environment(services[name])
        assert env["SYNDICATOR_REDIS_URL"] == "${SYNDICATOR_REDIS_URL-redis://redis:6379/0}"
        assert env["SYNDICATOR_REDIS_SENTINELS"] == "${SYNDICATOR_REDIS_SENTINELS:-}"
        settings = load_settings(
            {
                **{k: v for k, v in env.items() if not v.startswith("$")},
                "SYNDICATOR_REDIS_URL": "",
                "SYNDICATOR_REDIS_SENTINELS": listed,
            }
        )
        assert settings.redis_sentinel_master == "syndicator", name
        assert [host for host, _ in settings.redis_sentinels] == list(HA_SENTINELS)


def test_pgbouncer_pools_transactions_in_the_ha_profile_only(
    services: dict[str, dict[str, Any]],
) -> None:
    """Transaction pooling is what the code is written for (docs/deployment.md): no session
    state, no LISTEN, transaction advisory locks."""
    bouncer = services["pgbouncer"]
    assert bouncer["profiles"] == ["ha"]
    env = _environment(bouncer)
    assert env["POOL_MODE"] == "transaction" and env["DB_HOST"] == "postgres"
    assert bouncer["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "ports" not in bouncer  # reached on the compose network only
