"""Settings from the environment: several CMS secrets, and URLs safe to print."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.config import load_settings, local_base_url, read_environment_file, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://postgres:s3cret@localhost:5432/test",
            "postgresql://postgres:***@localhost:5432/test",
        ),
        (
            "postgresql+psycopg://app:s3cret@db.internal/syndicator?sslmode=require",
            "postgresql+psycopg://app:***@db.internal/syndicator?sslmode=require",
        ),
        ("postgresql://app@db/syndicator", "postgresql://app@db/syndicator"),
        ("sqlite:////srv/var/syndicator.db", "sqlite:////srv/var/syndicator.db"),
        ("sqlite://", "sqlite://"),
        ("redis://user:s3cret@redis:6379/0", "redis://user:***@redis:6379/0"),
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("rediss://default:s3cret@cache.example:6380", "rediss://default:***@cache.example:6380"),
        ("redis://redis:6379/2", "redis://redis:6379/2"),
        ("redis://redis/0?password=s3cret&db=1", "redis://redis/0?password=***&db=1"),
        ("unix:///run/redis.sock?db=3", "unix:///run/redis.sock?db=3"),
        ("unix://:s3cret@/run/redis.sock?db=3", "unix://:***@/run/redis.sock?db=3"),
        ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?password=***"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_hides_a_libpq_password_parameter() -> None:
    shown = redact_url("postgresql://app@db/syndicator?password=s3cret")
    assert "s3cret" not in shown and shown.startswith("postgresql://app@db/syndicator?password=")


def test_cms_secret_holds_several_secrets_split_on_whitespace(tmp_path) -> None:
    settings = load_settings(
        {"SYNDICATOR_DATA_DIR": str(tmp_path), "SYNDICATOR_CMS_SECRET": " whsec_new \n whsec_old "}
    )
    assert settings.cms_secrets == ("whsec_new", "whsec_old")
    assert settings.cms_secret == "whsec_new"  # the one we sign with


def test_the_generated_secret_is_used_when_the_variable_is_empty(tmp_path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "cms_secret").write_text("whsec_generated\n")
    environ = {"SYNDICATOR_DATA_DIR": str(tmp_path), "SYNDICATOR_CMS_SECRET": "  "}
    assert load_settings(environ).cms_secrets == ("whsec_generated",)


def test_no_secret_anywhere_is_an_empty_tuple(tmp_path) -> None:
    settings = load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path)})
    assert settings.cms_secrets == () and settings.cms_secret is None


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8011, "http://127.0.0.1:8011"),
        ("0.0.0.0", 8011, "http://127.0.0.1:8011"),  # every interface: reach it on loopback
        ("::", 9000, "http://[::1]:9000"),
        ("::1", 8000, "http://[::1]:8000"),
        ("[::1]", 8000, "http://[::1]:8000"),
        ("press.local", 80, "http://press.local:80"),
    ],
)
def test_local_base_url_is_where_a_client_here_reaches_the_server(
    host: str, port: int, url: str
) -> None:
    assert local_base_url(host, port) == url


def test_the_base_url_follows_the_listening_port_unless_it_is_set(tmp_path) -> None:
    env = {"SYNDICATOR_DATA_DIR": str(tmp_path)}
    assert load_settings(env).base_url == "http://127.0.0.1:8000"
    assert load_settings(env, port=8011).base_url == "http://127.0.0.1:8011"
    assert load_settings(env, host="0.0.0.0", port=8011).base_url == "http://127.0.0.1:8011"
    given = {**env, "SYNDICATOR_BASE_URL": "https://press.example.kr/"}
    assert load_settings(given, port=8011).base_url == "https://press.example.kr"


def test_the_embedded_servers_limits_come_from_the_environment(tmp_path) -> None:
    default = load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path)})
    assert (default.http_header_timeout, default.http_body_timeout) == (10.0, 30.0)
    assert default.http_max_connections == 500
    tuned = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path),
            "SYNDICATOR_HTTP_HEADER_TIMEOUT": "2.5",
            "SYNDICATOR_HTTP_BODY_TIMEOUT": "4",
            "SYNDICATOR_HTTP_MAX_CONNECTIONS": "64",
        }
    )
    assert (tuned.http_header_timeout, tuned.http_body_timeout) == (2.5, 4.0)
    assert tuned.http_max_connections == 64


def test_smtp_connections_default_to_four_and_take_a_positive_whole_number(tmp_path) -> None:
    base = {"SYNDICATOR_DATA_DIR": str(tmp_path)}
    assert load_settings(base).smtp_connections == 4
    assert load_settings({**base, "SYNDICATOR_SMTP_CONNECTIONS": "12"}).smtp_connections == 12
    for wrong in ("0", "-2", "four", "1.5"):
        with pytest.raises(
            ValueError, match=r"SYNDICATOR_SMTP_CONNECTIONS=.*: expected an integer ≥ 1"
        ):
            load_settings({**base, "SYNDICATOR_SMTP_CONNECTIONS": wrong})


def test_an_environment_file_reads_as_systemd_reads_it(tmp_path) -> None:
    path = tmp_path / "syndicator.env"
    path.write_text(
        "# the units' file\n; another comment\n\n"
        "SYNDICATOR_TOKEN_KEYS=new-key old-key\n"
        'SYNDICATOR_MAIL_FROM="대구광역시 <news@daegu.go.kr>"\n'
        "  SYNDICATOR_DATA_DIR = /var/lib/syndicator  \n"
        "not a setting\n",
        encoding="utf-8",
    )
    values = read_environment_file(path)
    assert values == {
        "SYNDICATOR_TOKEN_KEYS": "new-key old-key",
        "SYNDICATOR_MAIL_FROM": "대구광역시 <news@daegu.go.kr>",
        "SYNDICATOR_DATA_DIR": "/var/lib/syndicator",
    }
    # The environment given wins over the file; the file fills in the rest.
    settings = load_settings({"SYNDICATOR_TOKEN_KEYS": "given"}, env_file=path)
    assert settings.token_keys == ("given",)
    assert settings.data_dir == Path("/var/lib/syndicator")
    assert settings.mail_from == "대구광역시 <news@daegu.go.kr>"


@given(st.floats(min_value=0.01, max_value=3600, allow_nan=False))
def test_queue_proofs_last_several_heartbeats_and_outlast_beats_second(period: float) -> None:
    settings = load_settings({"SYNDICATOR_QUEUE_HEARTBEAT_SECONDS": repr(period)})
    assert settings.queue_heartbeat_seconds == period
    # A proof outlives the four heartbeats after it, and the active beat's 1 s marks.
    assert settings.queue_proof_ttl >= max(3.0, 4 * period)
    # A worker counted once stays counted until a proof after it would have expired.
    assert settings.consumer_window > settings.queue_proof_ttl
    assert load_settings({}).queue_proof_ttl == 45.0
