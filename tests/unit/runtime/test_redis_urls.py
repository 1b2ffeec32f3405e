import asyncio

from kombu import Connection
from redis.sentinel import SentinelConnectionPool

from syndicator.config import load_settings
from syndicator.runtime.redis_urls import (
    async_redis_client,
    broker_transport_options,
    broker_url,
    redbeat_settings,
    redis_client,
    redis_place,
    redis_url,
)


def test_unix_socket_urls_keep_the_database_number_for_both_clients():
    settings = load_settings({"SYNDICATOR_REDIS_URL": "unix:///run/redis.sock?db=3"})
    assert redis_url(settings) == "unix:///run/redis.sock?db=3"
    assert broker_url(settings) == "redis+socket:///run/redis.sock?virtual_host=3"


def test_tcp_urls_pass_through():
    settings = load_settings({"SYNDICATOR_REDIS_URL": "redis://redis:6379/2"})
    assert broker_url(settings) == "redis://redis:6379/2"


def test_unset_means_the_embedded_socket_under_the_data_dir(tmp_path):
    settings = load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path)})
    assert redis_url(settings) == f"unix://{tmp_path}/redis/redis.sock"
    assert broker_url(settings) == f"redis+socket://{tmp_path}/redis/redis.sock?virtual_host=0"


SENTINELS = {
    "SYNDICATOR_REDIS_SENTINELS": "s1:26379, s2:26380,[::1]:26381",
    "SYNDICATOR_REDIS_SENTINEL_MASTER": "syndicator",
}


def test_through_sentinel_kombu_gets_one_url_per_sentinel_and_the_master_name():
    settings = load_settings(SENTINELS)
    assert settings.redis_sentinels == (("s1", 26379), ("s2", 26380), ("::1", 26381))
    assert broker_url(settings) == (
        "sentinel://s1:26379/0;sentinel://s2:26380/0;sentinel://[::1]:26381/0"
    )
    options = broker_transport_options(settings)
    assert options["master_name"] == "syndicator"
    assert "password" not in options["sentinel_kwargs"]


def test_passwords_go_to_the_master_in_the_url_and_to_the_sentinels_in_the_options():
    settings = load_settings(
        {
            **SENTINELS,
            "SYNDICATOR_REDIS_PASSWORD": "p@ss/word",
            "SYNDICATOR_REDIS_SENTINEL_PASSWORD": "s-pass",
        }
    )
    url = broker_url(settings)
    assert url.startswith("sentinel://:p%40ss%2Fword@s1:26379/0;")
    assert Connection(url).password == "p@ss/word"  # kombu reads it back unquoted
    assert broker_transport_options(settings)["sentinel_kwargs"]["password"] == "s-pass"


def test_without_sentinel_kombu_needs_no_options():
    settings = load_settings({"SYNDICATOR_REDIS_URL": "redis://redis:6379/2"})
    assert broker_transport_options(settings) == {}


def test_redbeat_uses_the_redis_py_url_and_options_of_its_own():
    settings = load_settings({"SYNDICATOR_REDIS_URL": "unix:///run/redis.sock?db=3"})
    conf = redbeat_settings(settings, timeout=2)
    assert conf["redbeat_redis_url"] == redis_url(settings)
    # Given, so RedBeat never falls back to the broker's transport options.
    assert conf["redbeat_redis_options"] == {"socket_timeout": 2, "socket_connect_timeout": 2}


def test_redbeat_is_pointed_at_the_same_sentinels():
    settings = load_settings({**SENTINELS, "SYNDICATOR_REDIS_PASSWORD": "pw"})
    conf = redbeat_settings(settings)
    assert conf["redbeat_redis_url"].startswith("redis-sentinel://")
    options = conf["redbeat_redis_options"]
    assert options["sentinels"] == list(settings.redis_sentinels)
    assert (options["service_name"], options["password"]) == ("syndicator", "pw")
    # A retry inside one tick could outlast the beat lock (runtime/redis_urls.py).
    assert "retry_period" not in options


def test_clients_through_sentinel_ask_for_the_named_master():
    settings = load_settings({**SENTINELS, "SYNDICATOR_REDIS_PASSWORD": "pw"})
    client = redis_client(settings, timeout=1.5)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "syndicator"
    assert pool.connection_kwargs["password"] == "pw"
    assert pool.connection_kwargs["socket_timeout"] == 1.5
    client.close()
    aclient = async_redis_client(settings, timeout=None, connect_timeout=2)
    assert aclient.connection_pool.service_name == "syndicator"
    assert aclient.connection_pool.connection_kwargs["socket_timeout"] is None
    asyncio.run(aclient.aclose())


def test_where_redis_is_shows_no_password():
    settings = load_settings({**SENTINELS, "SYNDICATOR_REDIS_PASSWORD": "secret"})
    assert redis_place(settings) == (
        "master 'syndicator' through Sentinel s1:26379,s2:26380,[::1]:26381"
    )
    at_url = load_settings({"SYNDICATOR_REDIS_URL": "redis://:secret@redis:6379/0"})
    assert "secret" not in redis_place(at_url)
