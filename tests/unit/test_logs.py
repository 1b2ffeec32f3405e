"""One log format: key=value or JSON lines, with routine Celery announcements demoted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.bounces.parsing import parse_report
from syndicator.logs import REDACTED, TOKEN_PATH_PREFIXES, configure_logging, kv, redact_tokens
from syndicator.subscriptions.tokens import LINK_PATHS


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line]


def test_json_lines_keep_each_field_as_a_key(capsys, restore_root) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("syndicator.delivery").info(
        kv(msg="delivery attempt", channel="email", target="subscriber:7", attempt=2)
    )
    (line,) = _lines(capsys)
    record = json.loads(line)
    assert record["msg"] == "delivery attempt"
    assert (record["channel"], record["target"], record["attempt"]) == ("email", "subscriber:7", 2)
    assert record["level"] == "INFO" and record["logger"] == "syndicator.delivery"


def test_plain_messages_and_errors_are_json_too(capsys, restore_root) -> None:
    configure_logging("INFO", "json")
    log = logging.getLogger("syndicator.web")
    log.info("Started server process [%d]", 42)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    started, failed = (json.loads(line) for line in _lines(capsys))
    assert started["msg"] == "Started server process [42]"
    assert failed["level"] == "ERROR" and "RuntimeError: boom" in failed["exc"]


def test_routine_celery_announcements_are_debug(capsys, restore_root) -> None:
    configure_logging("INFO", "text")
    logging.getLogger("celery.app.trace").info("Task heartbeat[1] succeeded in 0.01s")
    logging.getLogger("celery.beat").info("Scheduler: Sending due task sweep")
    logging.getLogger("celery.app.trace").error("Task fanout[2] raised: boom")
    assert [line.split(" ", 2)[1] for line in _lines(capsys)] == ["ERROR"]
    configure_logging("DEBUG", "text")
    logging.getLogger("celery.beat").info("Scheduler: Sending due task sweep")
    (line,) = _lines(capsys)
    assert " DEBUG celery.beat " in line


def test_reading_a_bounce_logs_nothing_at_info(capsys, restore_root) -> None:
    """flufl.bounce announces every detector it runs; a mailbox of bounces read by beat
    would otherwise log seventeen lines a mail."""
    configure_logging("INFO", "text")
    bounce = Path(__file__).parents[1] / "fixtures" / "bounces" / "qmail-unknown-user.eml"
    assert isinstance(parse_report(bounce.read_bytes()), list)
    assert _lines(capsys) == []


def test_a_task_id_on_the_record_is_shown(capsys, restore_root) -> None:
    handler = configure_logging("INFO", "text")

    def add_task(record: logging.LogRecord) -> bool:
        record.task_id = "abc-123"
        return True

    handler.addFilter(add_task)
    logging.getLogger("syndicator.tasks").info(kv(msg="event planned"))
    assert _lines(capsys)[0].endswith('msg="event planned" task_id=abc-123')


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), st.text(), max_size=5))
def test_a_line_keeps_every_field_it_shows(fields: dict[str, str]) -> None:
    line = kv(**fields)
    assert line.fields == fields
    for key in fields:
        assert f"{key}=" in line


# What itsdangerous makes: three base64url parts, a leading "." when compressed.
_TOKENS = st.from_regex(
    r"\.?[A-Za-z0-9_-]{8,40}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27}", fullmatch=True
)
# The ways a path can carry a token: each route, odd case, extra segments, a query after it,
# and a token= query value anywhere.
_CARRIERS = st.sampled_from(
    [
        "/subscriptions/confirm/{}",
        "/preferences/{}",
        "/unsubscribe/{}",
        "/preferences/{}?x=1",
        "/Unsubscribe/{}",
        "//preferences/./{}",
        "/preferences/{}/extra",
        "/anything?a=1&token={}&b=2",
        "/x?TOKEN={}",
    ]
)


@pytest.fixture
def uvicorn_as_served() -> Iterator[None]:
    """uvicorn's loggers as `syndicator web` leaves them (log_config=None: they propagate),
    whatever an in-process test server configured before."""
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access", "uvicorn.error")]
    saved = [(lg.handlers[:], lg.propagate, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.handlers[:], lg.propagate, lg.disabled = [], True, False
        lg.setLevel(logging.NOTSET)
    yield
    for lg, (handlers, propagate, level, disabled) in zip(loggers, saved, strict=True):
        lg.handlers[:], lg.propagate, lg.disabled = handlers, propagate, disabled
        lg.setLevel(level)


# capsys is read (and so emptied) in every example.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=_TOKENS, carrier=_CARRIERS, fmt=st.sampled_from(["text", "json"]))
def test_no_access_line_holds_a_token(
    capsys, restore_root, uvicorn_as_served, token, carrier, fmt
) -> None:
    configure_logging("INFO", fmt)
    # uvicorn's access line, as uvicorn.protocols.http logs it.
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", carrier.format(token), "1.1", 200)
    logging.getLogger("uvicorn.error").warning("bad request for " + carrier.format(token))
    out = capsys.readouterr().out
    assert token not in out
    assert out.count(REDACTED) == 2


def test_every_token_link_is_redacted_by_the_app_and_by_nginx() -> None:
    assert set(TOKEN_PATH_PREFIXES) == set(LINK_PATHS.values())
    nginx = (Path(__file__).parents[2] / "deploy" / "nginx" / "nginx.conf").read_text()
    assert '"$request_without_tokens"' in nginx and '"$request"' not in nginx
    for prefix in TOKEN_PATH_PREFIXES:
        assert prefix.strip("/") in nginx


def test_lines_without_tokens_are_left_alone() -> None:
    for text in ("/feeds/rss.xml", "/board/1?page=2", "subscriber:7 confirmed", ""):
        assert redact_tokens(text) == text
