"""The migrations build exactly the schema the models describe, on both backends."""

from alembic import command
from sqlalchemy import select, text

from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.store.db import Database
from syndicator.store.migrate import alembic_config, upgrade
from syndicator.store.models import OutboxEntry, utcnow
from tests.factories import make_event


def test_migrations_match_the_models_and_downgrade_cleanly(database_url: str):
    upgrade(database_url)
    config = alembic_config(database_url)
    command.check(config)  # raises if autogenerate would find a difference
    command.downgrade(config, "base")
    upgrade(database_url)


def test_upgrading_marks_already_relayed_events_as_planned(database_url: str):
    """Otherwise the sweeper would take the whole history for lost fan-outs."""
    upgrade(database_url, "0001")
    with Database(database_url) as database:
        with database.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO events (id, webhook_id, type, release_id, source, outcome,"
                " payload, received_at) VALUES ('evt_old', 'msg_old', 'release.published',"
                " 1, 'hook', 'applied', '{}', '2026-01-01 00:00:00')"
            )
            conn.exec_driver_sql(
                "INSERT INTO outbox (event_id, created_at, relayed_at, relay_attempts)"
                " VALUES ('evt_old', '2026-01-01 00:00:00', '2026-01-01 00:00:01', 0)"
            )
        upgrade(database_url)
        with database.session() as session:
            store_event(
                session,
                CmsEvent.model_validate(make_event(2)),
                webhook_id="msg_new",
                source="hook",
                enqueue=True,
            )
        with database.session() as session:
            rows = {r.event_id: r for r in session.scalars(select(OutboxEntry))}
        assert rows["evt_old"].planned_at is not None
        new = next(r for k, r in rows.items() if k != "evt_old")
        assert new.planned_at is None and new.relayed_at is None
        assert rows["evt_old"].planned_at < utcnow()


def _children(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        return {
            table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
            for table in ("release_categories",)
        }


def test_altering_a_parent_table_keeps_its_child_rows(database_url: str):
    """SQLite alters a table by copying and dropping it: with foreign keys on, the drop
    deleted every ON DELETE CASCADE child (0013 emptied release_categories)."""
    upgrade(database_url)
    with Database(database_url) as database:
        with database.session() as session:
            store_event(
                session,
                CmsEvent.model_validate(make_event(7)),
                webhook_id="msg_parent",
                source="hook",
                enqueue=True,
            )
        before = _children(database)
        assert before["release_categories"] > 0
        config = alembic_config(database_url)
        command.downgrade(config, "0012")  # 0013's downgrade drops a column of releases
        upgrade(database_url)  # and its upgrade alters one
        assert _children(database) == before
        with database.engine.connect() as conn:  # and the app's connections enforce them
            if database.is_sqlite:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


def test_upgrading_renames_websub_error_classes_to_the_shared_vocabulary(database_url: str):
    """Attempts logged before both HTTP channels shared one classifier read like new ones;
    another channel's classes are left alone."""
    upgrade(database_url, "0014")
    old = [
        ("websub", "E_HTTP_503", None),
        ("websub", "E_HTTP_302", None),
        ("websub", "E_TIMEOUT", None),
        ("websub", "E_TRANSPORT", None),
        ("websub", "E_HUB_URL", None),
        ("websub", None, 200),
        ("email", "E_SMTP_TEMPORARY", 451),
        ("email", "E_HTTP_503", None),  # not websub's: not touched
    ]
    with Database(database_url) as database:
        with database.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO events (id, webhook_id, type, release_id, source, outcome,"
                " payload, received_at) VALUES ('evt_old', 'msg_old', 'release.published',"
                " 1, 'hook', 'applied', '{}', '2026-01-01 00:00:00')"
            )
            for number, (channel, error_class, status) in enumerate(old, start=1):
                values = {"id": number, "key": f"k{number}", "channel": channel}
                conn.execute(
                    text(
                        "INSERT INTO deliveries (id, key, event_id, channel, target, status,"
                        " attempts, created_at, updated_at) VALUES (:id, :key, 'evt_old',"
                        " :channel, 't', 'failed', 1, '2026-01-01', '2026-01-01')"
                    ),
                    values,
                )
                conn.execute(
                    text(
                        "INSERT INTO delivery_attempts (delivery_id, number, trigger,"
                        " started_at, duration_ms, outcome, error_class, status_code) VALUES"
                        " (:id, 1, 'scheduled', '2026-01-01', 1, 'failed', :class, :status)"
                    ),
                    {"id": number, "class": error_class, "status": status},
                )
        upgrade(database_url)
        with database.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT error_class, status_code FROM delivery_attempts ORDER BY delivery_id"
            ).all()
    assert [tuple(r) for r in rows] == [
        ("http", 503),
        ("redirect", 302),
        ("timeout", None),
        ("connect", None),
        ("invalid-url", None),
        (None, 200),
        ("E_SMTP_TEMPORARY", 451),
        ("E_HTTP_503", None),
    ]
