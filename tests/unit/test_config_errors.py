"""A bad value names its variable, the value given and the form expected: generated bad
values for every variable whose value has a form to get wrong."""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from syndicator.config import SettingError, Settings, load_settings
from syndicator.config_reference import VARIABLES


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# Blank means "unset" (the default applies), so bad values are never blank.
words = st.text(min_size=1, max_size=12).filter(lambda t: t.strip() and "\x00" not in t)
not_a_number = words.filter(lambda t: not _is_number(t))
not_an_int = words.filter(lambda t: not _is_int(t))


def integer(low: int, high: int | None = None) -> st.SearchStrategy[str]:
    out_of_range = st.integers(max_value=low - 1)
    if high is not None:
        out_of_range = out_of_range | st.integers(min_value=high + 1)
    return not_an_int | out_of_range.map(str) | st.sampled_from(["1.5", "1e3", "0x10"])


def number(zero: bool) -> st.SearchStrategy[str]:
    negative = st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False).map(repr)
    special = st.sampled_from(["nan", "inf", "-inf", "NaN", "Infinity"])
    return not_a_number | negative | special | (st.nothing() if zero else st.just("0"))


def schedule() -> st.SearchStrategy[str]:
    good = st.lists(st.integers(0, 36000).map(str), max_size=3)
    return st.tuples(good, number(zero=True), good).map(lambda t: ",".join([*t[0], t[1], *t[2]]))


def choice(*choices: str) -> st.SearchStrategy[str]:
    return words.filter(lambda t: t.strip().lower() not in {c.lower() for c in choices})


def url(*schemes: str) -> st.SearchStrategy[str]:
    wrong = st.sampled_from(["ftp", "file", "gopher", "mailto", "javascript"])
    return wrong.map(lambda s: f"{s}://host.example/x") | words.filter(
        lambda t: "://" not in t and not t.strip().startswith(schemes)
    )


BAD: dict[str, st.SearchStrategy[str]] = {
    "SYNDICATOR_FEED_SIZE": integer(1),
    "SYNDICATOR_RETRACTION_NOTICE_DAYS": integer(0),
    "SYNDICATOR_VISIBILITY_TIMEOUT": integer(1),
    "SYNDICATOR_BEAT_LOCK_SECONDS": integer(2),
    "SYNDICATOR_HTTP_MAX_CONNECTIONS": integer(1),
    "SYNDICATOR_SMTP_CONNECTIONS": integer(1),
    "SYNDICATOR_SOFT_BOUNCE_LIMIT": integer(1),
    "SYNDICATOR_SOFT_BOUNCE_DAYS": integer(1),
    "SYNDICATOR_COMPLAINT_PAUSE_MIN_SENT": integer(1),
    "SYNDICATOR_COMPLAINT_PAUSE_PERCENT": number(zero=True),
    "SYNDICATOR_COMPLAINT_CHECK_SECONDS": number(zero=False),
    "SYNDICATOR_PORTAL_LINK_HOURS": number(zero=False),
    "SYNDICATOR_DIGEST_HOUR": integer(0, 23),
    "SYNDICATOR_ATTEMPT_RETENTION_DAYS": integer(1),
    "SYNDICATOR_HTTP_HEADER_TIMEOUT": number(zero=False),
    "SYNDICATOR_HTTP_BODY_TIMEOUT": number(zero=False),
    "SYNDICATOR_WORKER_HEARTBEAT_SECONDS": number(zero=False),
    "SYNDICATOR_WORKER_STALE_SECONDS": number(zero=False),
    "SYNDICATOR_QUEUE_HEARTBEAT_SECONDS": number(zero=False),
    "SYNDICATOR_BOUNCE_MAILBOX_POLL_SECONDS": number(zero=False),
    "SYNDICATOR_DOCUMENT_CHECK_SECONDS": number(zero=True),
    "SYNDICATOR_WEBHOOK_CONNECT_TIMEOUT": number(zero=False),
    "SYNDICATOR_WEBHOOK_TIMEOUT": number(zero=False),
    "SYNDICATOR_WEBHOOK_SECRET_GRACE_HOURS": number(zero=True),
    "SYNDICATOR_CONSOLE_IDLE_MINUTES": number(zero=False),
    "SYNDICATOR_MAIL_RATE_PER_S": number(zero=False),
    "SYNDICATOR_MAIL_RETRY_SCHEDULE": schedule(),
    "SYNDICATOR_WEBHOOK_RETRY_SCHEDULE": schedule(),
    "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS": st.sampled_from(
        ["127.0.0.0/33", "localhost", "10.0.0.0/8,nope", "::1/129", "300.1.1.1"]
    ),
    "SYNDICATOR_EXTRA_CHANNELS": st.sampled_from(["tests.channels", "a:b:c", "1mod:Class"]),
    "SYNDICATOR_LOG_FORMAT": choice("text", "json"),
    "SYNDICATOR_LOG_LEVEL": choice("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"),
    "SYNDICATOR_OTEL_EXPORTER": choice("otlp", "console"),
    "SYNDICATOR_BASE_URL": url("http://", "https://"),
    "SYNDICATOR_REDIS_URL": url("redis://", "rediss://", "unix://", "redis+socket://"),
    "SYNDICATOR_SMTP_URL": url("smtp://", "smtps://"),
    "SYNDICATOR_WEBSUB_HUB": url("http://", "https://"),
    "SYNDICATOR_DATABASE_URL": st.sampled_from(
        [
            "not a url",
            "postgresql//x",
            "://nohost",
            "postgresql://h1,,h2/db",
            "postgresql://h1,[::1]/db",
            "postgresql://h/db?prepare_threshold=sometimes",
        ]
    ),
    "SYNDICATOR_DATABASE_READ_URL": st.sampled_from(
        ["not a url", "sqlite:///replica.db", "mysql://replica/db", "postgresql://h1:x,h2/db"]
    ),
    "SYNDICATOR_REDIS_SENTINELS": st.sampled_from(
        ["sentinel", "s1:26379,s2", "s1:0", "s1:65536", "s1:port", ":26379", "s1:26379/0"]
    )
    | words.filter(lambda t: all(":" not in p for p in t.replace(",", " ").split())),
    "SYNDICATOR_REDIS_SENTINEL_MASTER": st.sampled_from(["my master", "-x", "m/1", "주인"])
    | words.filter(lambda t: not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", t.strip())),
}

# Field types whose values have a form: a new variable of one of these must be in BAD.
FORMED_TYPES = {"int", "float", "float | None", "tuple[float, ...]"}


@st.composite
def bad_setting(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(BAD)))
    return name, draw(BAD[name])


@given(bad_setting())
@example(("SYNDICATOR_BASE_URL", "@"))
@example(("SYNDICATOR_ATTEMPT_RETENTION_DAYS", "@"))
def test_a_bad_value_names_its_variable_and_the_expected_form(case: tuple[str, str]) -> None:
    name, value = case
    with pytest.raises(SettingError) as raised:
        load_settings({"SYNDICATOR_DATA_DIR": "/nonexistent/syndicator", name: value})
    message = str(raised.value)
    shown = value.strip()
    if "@" in shown and name.endswith(("_URL", "_HUB")):
        # a URL is quoted without what stands before its last "@" (a password)
        quoted, _, _ = message.partition(": expected ")
        assert quoted.startswith(f"{name}="), message
        value_shown = ast.literal_eval(quoted.removeprefix(f"{name}="))
        assert value_shown.endswith(f"***@{shown.rpartition('@')[2]}"), message
    else:
        assert message.startswith(f"{name}={shown!r}: expected "), message
    assert raised.value.name == name and len(raised.value.expected) > 5


def test_every_variable_with_a_form_has_bad_values_generated() -> None:
    types = {f.name: str(f.type) for f in dataclasses.fields(Settings)}
    formed = {v.name for v in VARIABLES if types[v.field] in FORMED_TYPES}
    assert formed, "the reference lists no numeric variable: the check would be empty"
    assert formed <= set(BAD), sorted(formed - set(BAD))
    assert set(BAD) <= {v.name for v in VARIABLES}


def test_the_example_of_each_variable_is_accepted(tmp_path: Path) -> None:
    """The other side: the reference's example of every variable is of its own form."""
    for variable in VARIABLES:
        load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path), variable.name: variable.example})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SYNDICATOR_DIGEST_HOUR", "24", "SYNDICATOR_DIGEST_HOUR='24': expected an integer 0–23"),
        ("SYNDICATOR_FEED_SIZE", "abc", "SYNDICATOR_FEED_SIZE='abc': expected an integer ≥ 1"),
        (
            "SYNDICATOR_WEBHOOK_TIMEOUT",
            "15s",
            "SYNDICATOR_WEBHOOK_TIMEOUT='15s': expected a number of seconds > 0",
        ),
        ("SYNDICATOR_LOG_FORMAT", "xml", "SYNDICATOR_LOG_FORMAT='xml': expected text or json"),
    ],
)
def test_messages_read_as_the_fix(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingError) as raised:
        load_settings({"SYNDICATOR_DATA_DIR": "/nonexistent/syndicator", name: value})
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "name", ["SYNDICATOR_REDIS_URL", "SYNDICATOR_SMTP_URL", "SYNDICATOR_DATABASE_URL"]
)
def test_a_bad_url_is_quoted_without_its_password(name: str) -> None:
    with pytest.raises(SettingError) as raised:
        load_settings(
            {
                name: "ftp//user:pa55word@host:1/x"
                if "DATABASE" in name
                else "ftp://user:pa55word@host:1/x"
            }
        )
    assert name in str(raised.value) and "pa55word" not in str(raised.value)


def test_redis_is_reached_one_way_only() -> None:
    """A URL and sentinels together would leave one of them silently ignored."""
    both = {
        "SYNDICATOR_REDIS_URL": "redis://redis:6379/0",
        "SYNDICATOR_REDIS_SENTINELS": "s1:26379,s2:26379",
    }
    with pytest.raises(SettingError) as raised:
        load_settings(both)
    assert raised.value.name == "SYNDICATOR_REDIS_SENTINELS"
    assert "SYNDICATOR_REDIS_URL" in raised.value.expected


def test_a_password_beside_a_redis_url_is_refused_without_being_shown() -> None:
    with pytest.raises(SettingError) as raised:
        load_settings(
            {
                "SYNDICATOR_REDIS_URL": "redis://redis:6379/0",
                "SYNDICATOR_REDIS_PASSWORD": "pa55word",
            }
        )
    assert raised.value.name == "SYNDICATOR_REDIS_PASSWORD"
    assert "pa55word" not in str(raised.value)


def test_sentinels_alone_mean_no_embedded_redis() -> None:
    settings = load_settings({"SYNDICATOR_REDIS_SENTINELS": "s1:26379"})
    assert not settings.embedded_redis and settings.redis_sentinel_master == "mymaster"
    assert load_settings({}).embedded_redis
