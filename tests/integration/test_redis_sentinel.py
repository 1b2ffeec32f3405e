"""Every kind of Redis client syndicator makes (redis-py sync and asyncio, kombu's broker
connection) reaches the master through real sentinels, with passwords on both, and finds
the promoted replica after the master is killed. The whole system through a failover is
the chaos scenario in tests/chaos/test_sentinel.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from syndicator.config import Settings, load_settings
from syndicator.runtime.preflight import check_redis
from syndicator.runtime.redis_urls import (
    async_redis_client,
    broker_transport_options,
    broker_url,
    redis_client,
)
from tests.sentinel import SentinelCluster, sentinel_cluster
from tests.services import free_port
from tests.system import wait_for

# Commands in flight during a failover fail; the clients must work again soon after it.
RECOVERY_SECONDS = 60.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelCluster]:
    directory = tmp_path_factory.mktemp("sentinel")
    with sentinel_cluster(directory, password="master pass/1", sentinel_password="s-pass") as c:
        yield c


def _settings(cluster: SentinelCluster, tmp_path: Path) -> Settings:
    return load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path), **cluster.env()})


async def _async_round_trip(settings: Settings, key: str) -> bytes | None:
    client = async_redis_client(settings, timeout=2, connect_timeout=2)
    try:
        await client.set(f"{key}:async", "a")
        return await client.get(key)
    finally:
        await client.aclose()


def _broker_round_trip(settings: Settings, body: str) -> str:
    with Connection(
        broker_url(settings), transport_options=broker_transport_options(settings)
    ) as conn:
        queue = conn.SimpleQueue(f"sentinel-test-{body}")
        try:
            queue.put({"body": body})
            message = queue.get(timeout=5)
            message.ack()
            return str(message.payload["body"])
        finally:
            queue.close()


def test_each_client_reaches_the_master_and_the_promoted_replica_after_it(
    cluster: SentinelCluster, tmp_path: Path
) -> None:
    settings = _settings(cluster, tmp_path)
    client = redis_client(settings, timeout=2)
    client.set("before", "kept")
    assert client.wait(1, 5000) == 1, "the replica has the key before the master dies"
    assert check_redis(client) is None
    assert asyncio.run(_async_round_trip(settings, "before")) == b"kept"
    assert _broker_round_trip(settings, "first") == "first"

    cluster.kill_master()
    cluster.wait_promoted()

    # The same client, whose pooled connections went to the dead master, finds the new one.
    # (wait_for polls through the ConnectionErrors of the commands caught by the failover.)
    wait_for(lambda: client.get("before") == b"kept", RECOVERY_SECONDS, "the sync client")
    assert client.connection_pool.get_master_address() == ("127.0.0.1", cluster.replica_port)
    assert check_redis(client) is None
    assert asyncio.run(_async_round_trip(settings, "before")) == b"kept"
    assert _broker_round_trip(settings, "second") == "second"
    client.close()


def test_redis_unreachable_through_sentinel_names_the_master_and_the_variable(
    tmp_path: Path,
) -> None:
    """What readiness reports while no sentinel can name a master (here: none answers)."""
    settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path),
            "SYNDICATOR_REDIS_SENTINELS": f"127.0.0.1:{free_port()}",
            "SYNDICATOR_REDIS_SENTINEL_MASTER": "gone",
        }
    )
    client = redis_client(settings, timeout=0.5)
    problem = check_redis(client)
    assert problem is not None and problem.check == "redis"
    assert "'gone' through Sentinel" in problem.message
    assert "SYNDICATOR_REDIS_SENTINELS" in problem.message
