"""Through PgBouncer in transaction mode: consecutive transactions of one client run on
any server connection, and several clients' on one. Nothing may rest on a connection's
session: psycopg's prepared statements (off with ``prepare_threshold=none``) and the
publish lock (a transaction lock) included."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from syndicator.config import load_settings
from syndicator.delivery.runner import load_event
from syndicator.events.signing import sign_headers
from syndicator.store.db import Database
from syndicator.store.locks import exclusive
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app
from tests.factories import make_event
from tests.live_server import serve
from tests.pg_cluster import pgbouncer, pgbouncer_skip_reason
from tests.processes import wait_for
from tests.sealing import ENCRYPTION_KEY
from tests.services import PostgresDatabases

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(pgbouncer_skip_reason() is not None, reason=pgbouncer_skip_reason() or ""),
]


@pytest.fixture
def direct_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    with postgres_databases.fresh() as url:
        yield url


def _through(bouncer_port: int, direct: str) -> str:
    url = make_url(direct).set(port=bouncer_port)
    url = url.update_query_dict({"prepare_threshold": "none"})
    return url.render_as_string(hide_password=False)


def test_the_web_app_and_a_worker_share_one_server_connection(
    direct_url: str, tmp_path: Path, redis_url: str, cms_secret: str
) -> None:
    upgrade(direct_url)  # migrations may connect directly
    port = make_url(direct_url).port or 5432
    with pgbouncer(port, pool_size=1) as bouncer:
        settings = load_settings(
            {
                "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
                "SYNDICATOR_DATABASE_URL": _through(bouncer, direct_url),
                "SYNDICATOR_REDIS_URL": redis_url,
                "SYNDICATOR_CMS_SECRET": cms_secret,
                "SYNDICATOR_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            }
        )
        with (
            serve(create_app(settings)) as url,
            httpx.Client(base_url=url, timeout=30) as http,
            Database(settings.database_url) as worker_db,
        ):
            # More often than psycopg's default threshold (5): with prepared statements,
            # both clients would name theirs _pg3_0 on the one server connection.
            for release_id in range(1, 8):
                raw = json.dumps(make_event(release_id), ensure_ascii=False).encode()
                headers = {"content-type": "application/json", **sign_headers(cms_secret, raw)}
                answer = http.post("/hooks/cms", content=raw, headers=headers)
                assert answer.status_code == 202, answer.text
                assert load_event(worker_db, answer.json()["event_id"]) is not None
            assert http.get(f"/releases/{release_id}").status_code == 200


def test_the_publish_lock_holds_across_pooled_connections(direct_url: str) -> None:
    port = make_url(direct_url).port or 5432
    with (
        pgbouncer(port, pool_size=2) as bouncer,
        Database(_through(bouncer, direct_url)) as first,
        Database(_through(bouncer, direct_url)) as second,
        Database(direct_url) as observer,
    ):
        entered = threading.Event()

        def take_it_too() -> None:
            with exclusive(second, "publish"):
                entered.set()

        def waiting_for_the_lock() -> bool:
            with observer.engine.connect() as conn:
                rows = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                )
                return rows.scalar_one() == 1

        with exclusive(first, "publish"):
            contender = threading.Thread(target=take_it_too)
            contender.start()
            # A session lock would be left on a server connection the contender may get,
            # and granted to it again at once; a transaction lock makes it wait.
            wait_for(waiting_for_the_lock, seconds=30, what="the contender to wait")
            assert not entered.is_set()
        contender.join(timeout=30)
        assert entered.is_set()
