"""CHECKS.md: SQLite runs with WAL, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE``
for write transactions (so writers queue instead of failing with "database is locked").

The settings are engine-wide listeners (``marketplace.database``); they are checked on an
engine of a scratch file, as the test database is held by the test's own transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text

from marketplace import database  # noqa: F401 - the engine-wide SQLite listeners
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's own settings")


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "scratch.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    yield engine, path
    engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(scratch) -> None:
    engine, _path = scratch
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_sqlite_transactions_begin_immediate_and_hold_the_write_lock(scratch) -> None:
    engine, path = scratch
    sent: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def remember(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))  # a read only: a deferred BEGIN would lock nothing
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
    assert sent[0] == "BEGIN IMMEDIATE"
