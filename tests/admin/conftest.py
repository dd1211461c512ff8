"""Fixtures of the admin tests: a signed-in administrator and a SQL statement counter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from marketplace.extensions import db


@pytest.fixture
def admin(create_user):
    """An administrator (two-factor enrolled), English-speaking for readable assertions."""
    return create_user("root@example.org", full_name="Ada Admin", roles=("admin",), locale="en")


@pytest.fixture
def admin_client(client, login, admin):
    return login(client, admin)


@pytest.fixture
def count_selects(app) -> Callable[[], contextmanager]:
    """``with count_selects() as seen:`` counts the SELECT statements sent meanwhile."""

    @contextmanager
    def counting() -> Iterator[list[str]]:
        with app.app_context():
            engine = db.engine
        seen: list[str] = []

        def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", before_cursor_execute)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", before_cursor_execute)

    return counting
