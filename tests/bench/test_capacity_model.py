"""bench/capacity_model.py: the arithmetic from unit costs to workers, database and Redis."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.capacity_model import (
    DEFAULT_LIMITS,
    Channel,
    Limits,
    Load,
    UnitCost,
    need,
    plan,
    rates,
    render_table,
)

MAIL = UnitCost(
    cpu_seconds=0.0005, statements=0.02, rows=4, commits=0.01, db_cpu_seconds=0.0002,
    wal_bytes=3_000,
)  # fmt: skip
CALL = UnitCost(cpu_seconds=0.001, statements=0.1, rows=4, commits=0.03, redis_commands=0.01)
RENDER = UnitCost(cpu_seconds=0.08, statements=4, rows=10, commits=3)
CHANNELS = [
    Channel("email", MAIL, 500),
    Channel("webhooks", CALL, 200),
    Channel("feeds", RENDER, 1),
]


def test_the_issue_s_load_as_rates() -> None:
    peak = rates(Load())
    assert peak["email"] == pytest.approx(1_000_000 / 600)  # 1,666.7 messages/s
    assert peak["webhooks"] == pytest.approx(5_000 / 60)
    assert peak["feeds"] == pytest.approx(100 / 3600)


def test_no_publishing_means_no_partner_calls() -> None:
    assert rates(Load(publishes_per_hour=0))["webhooks"] == 0


def test_workers_follow_from_cpu_per_unit_and_utilisation() -> None:
    # 1,666.7 messages/s x 500 µs = 0.83 cores; at 70 % that is 2 processes, one pod.
    result = need(Channel("email", MAIL, 500), 1_000_000 / 600, DEFAULT_LIMITS)
    assert result.cores == pytest.approx(0.8333, rel=1e-3)
    assert (result.processes, result.pods) == (2, 1)
    assert result.rows_per_s == pytest.approx(6_666.7, rel=1e-3)
    assert result.wal_bytes_per_s == pytest.approx(5e6, rel=1e-3)
    assert result.db_cores == pytest.approx(0.3333, rel=1e-3)
    # Celery's share of Redis: 3.33 tasks/s of 500 rows, six commands each.
    assert result.redis_per_s == pytest.approx(20, rel=1e-3)


def test_a_product_that_lands_on_a_whole_number_is_not_rounded_up() -> None:
    cost = UnitCost(cpu_seconds=0.0014, statements=0, rows=0, commits=0)
    assert need(Channel("email", cost, 1), 1_000, DEFAULT_LIMITS).processes == 2


def test_an_idle_channel_keeps_one_process() -> None:
    assert need(Channel("feeds", RENDER, 1), 0, DEFAULT_LIMITS).processes == 1


def test_the_bottleneck_is_the_shared_limit_nearest_its_end() -> None:
    result = plan(CHANNELS)
    name, share = result.bottleneck()
    assert name == "PostgreSQL WAL"  # 5.0 MB/s of 50: 10 %, the largest share
    assert share == pytest.approx(result.total("wal_bytes_per_s") / 50e6)
    smaller = dataclasses.replace(DEFAULT_LIMITS, db_cores=0.5)
    assert plan(CHANNELS, limits=smaller).bottleneck()[0] == "PostgreSQL CPU"


def test_ten_times_the_subscribers_is_ten_times_the_ledger() -> None:
    one = plan(CHANNELS, Load(subscribers=1_000_000))
    ten = plan(CHANNELS, Load(subscribers=10_000_000))
    email = next(n for n in one.needs if n.channel == "email")
    email10 = next(n for n in ten.needs if n.channel == "email")
    assert email10.rows_per_s == pytest.approx(10 * email.rows_per_s)
    assert email10.cores == pytest.approx(10 * email.cores)
    assert email10.wal_bytes_per_s == pytest.approx(10 * email.wal_bytes_per_s)


@given(
    subscribers=st.integers(0, 10**8),
    window=st.floats(1, 86_400),
    cpu=st.floats(0, 0.01),
    utilisation=st.floats(0.05, 1),
)
def test_processes_always_cover_the_cpu_at_the_utilisation(
    subscribers: int, window: float, cpu: float, utilisation: float
) -> None:
    limits = dataclasses.replace(DEFAULT_LIMITS, utilisation=utilisation)
    cost = UnitCost(cpu_seconds=cpu, statements=0, rows=0, commits=0)
    result = need(Channel("email", cost, 500), subscribers / window, limits)
    assert result.processes >= 1
    assert result.processes * utilisation >= result.cores * (1 - 1e-6)
    assert (result.processes - 1) * utilisation < result.cores or result.processes == 1
    assert result.pods * limits.processes_per_pod >= result.processes


def test_the_table_has_a_row_per_channel_a_total_and_the_verdict() -> None:
    table = render_table(plan(CHANNELS))
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:6]] == [
        "email", "webhooks", "feeds", "**total**",
    ]  # fmt: skip
    assert "Nearest: PostgreSQL WAL (10%)" in table
    assert "| email | 1,666.7 | 0.83 | 2 | 1 | 0.33 |" in table


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: UnitCost(-1, 0, 0, 0), "UnitCost.cpu_seconds must be ≥ 0, not -1"),
        (lambda: Channel("email", MAIL, 0), "Channel.batch_size must be > 0, not 0"),
        (lambda: Load(mail_window_s=0), "Load.mail_window_s must be > 0, not 0"),
        (lambda: Load(partners=-5), "Load.partners must be ≥ 0, not -5"),
        (lambda: Limits(utilisation=1.5), "Limits.utilisation must be at most 1, not 1.5"),
        (lambda: Limits(db_cores=0), "Limits.db_cores must be > 0, not 0"),
        (lambda: plan([Channel("sms", MAIL, 1)]), "no load for channel(s) ['sms']"),
    ],
)
def test_bad_input_is_named(make: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        make()  # type: ignore[operator]
    assert message in str(caught.value)
