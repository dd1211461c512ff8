"""Faults on a database of their own, with real commits.

The usual harness wraps each test in one rolled-back transaction on one connection: a
connection killed mid-request, a lock held by another session or a half-written request
could not be seen through it. Here the session's app runs on a private, migrated database
and every request commits for real; tests use fresh rows (unique e-mails, new offers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade

from marketplace import create_app
from marketplace.extensions import db, limiter
from tests.conftest import test_config
from tests.live_server import Server


@pytest.fixture(scope="session")
def app(
    make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """Replaces the session app of tests/conftest.py for this folder: a private database."""
    application = create_app(test_config(make_database(), tmp_path_factory.mktemp("reliability")))
    with application.app_context():
        upgrade()
        db.engine.dispose()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _transaction(app: Flask) -> Iterator[None]:
    """No wrapping transaction here: what a request commits is committed."""
    limiter.enabled = False
    # Rows made by the factories stay readable after their commit, as in the usual harness.
    with app.app_context():
        db.session.configure(expire_on_commit=False)
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
            db.session.configure(expire_on_commit=True)


@pytest.fixture
def engine_server(app: Flask) -> Server:
    """The app's engine in the shape the concurrency seeders (tests/offers) take."""
    with app.app_context():
        return Server(url="", engine=db.engine, log=Path("/dev/null"))


def admin_url(app: Flask) -> str:
    """The app's database URL for a plain psycopg connection (PostgreSQL only)."""
    return app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
