"""The data directory, the secrets and the SQLite database are readable by their owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from syndicator.permissions import private_dir
from syndicator.runtime.launcher import generated_secrets
from syndicator.store.db import Database


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The common default, under which a plain mkdir or open would be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_creates_the_directory_and_its_parents_mode_700(tmp_path: Path) -> None:
    data_dir = private_dir(tmp_path / "srv" / "var")
    assert data_dir.is_dir() and mode(data_dir) == 0o700


def test_private_dir_tightens_an_existing_directory_we_own(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir(mode=0o755)
    assert mode(private_dir(tmp_path / "var")) == 0o700


def test_generated_secrets_live_in_a_private_directory(tmp_path: Path) -> None:
    generated = generated_secrets(tmp_path / "var" / "secrets", {})
    assert set(generated) == {
        "SYNDICATOR_CMS_SECRET",
        "SYNDICATOR_ADMIN_TOKEN",
        "SYNDICATOR_TOKEN_KEYS",
        "SYNDICATOR_ENCRYPTION_KEYS",
    }
    assert mode(tmp_path / "var" / "secrets") == 0o700
    assert mode(tmp_path / "var" / "secrets" / "cms_secret") == 0o600
    assert mode(tmp_path / "var" / "secrets" / "encryption_key") == 0o600


def test_a_new_sqlite_database_and_its_wal_are_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "syndicator.db"
    with Database(f"sqlite:///{path}") as database:
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
        with database.session() as session:
            session.execute(text("CREATE TABLE note (body TEXT)"))
            session.execute(text("INSERT INTO note VALUES ('private')"))
        wal = path.with_name("syndicator.db-wal")
        assert wal.exists() and mode(wal) == 0o600
        assert mode(path.with_name("syndicator.db-shm")) == 0o600


def test_an_existing_parent_directory_is_left_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir(mode=0o755)
    with Database(f"sqlite:///{tmp_path / 'shared' / 'syndicator.db'}"):
        assert mode(tmp_path / "shared") == 0o755


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file, read-only or not")
def test_an_existing_read_only_database_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "syndicator.db"
    with Database(f"sqlite:///{path}") as database, database.session() as session:
        session.execute(text("CREATE TABLE note (body TEXT)"))
    path.chmod(0o400)  # read-only to us: SQLite can still read it
    with Database(f"sqlite:///{path}") as database, database.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM note").scalar() == 0
