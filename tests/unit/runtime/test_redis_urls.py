from syndicator.config import load_settings
from syndicator.runtime.redis_urls import broker_url, redis_url


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
