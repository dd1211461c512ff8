"""Test harness: one fresh database per run (SQLite or PostgreSQL), migrations applied,
each test inside a transaction rolled back at the end.

``TEST_DATABASE=sqlite`` (default) or ``postgresql``; ``TEST_POSTGRES_URL`` names the server
(default ``postgresql://postgres@127.0.0.1:5432/test``), where a database of our own is
created and dropped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from marketplace import create_app
from marketplace import page_cache as page_cache_module
from marketplace.accounts.models import AlumniProfile, User, UserRole, VerificationStatus
from marketplace.cache import cache
from marketplace.catalog.models import Category, School
from marketplace.database import utcnow
from marketplace.extensions import db, limiter
from marketplace.membership.models import MembershipTier
from marketplace.security import hash_password
from offers import view_counts
from tests.live_server import free_port

BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
PG_SERVER_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def pytest_report_header(config: pytest.Config) -> str:
    return f"database backend: {BACKEND}"


def _pg_admin_url() -> str:
    return PG_SERVER_URL.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Create empty databases of the run's backend; all are dropped at the end."""
    created: list[str] = []

    def make() -> str:
        name = f"mk_test_{uuid.uuid4().hex[:12]}"
        if BACKEND == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / (name + '.sqlite')}"
        with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        base = _pg_admin_url().rsplit("/", 1)[0]
        return f"{base}/{name}"

    yield make
    if created:
        with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
            for name in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_config(database_url: str, folder: Path) -> dict[str, Any]:
    """The configuration every test app shares (cheap Argon2, private folders)."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "MAIL_OUTBOX_FOLDER": str(folder / "outbox"),
        "MAIL_SERVER": "",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "REDIS_URL": "",
        # Whole visitor pages from the cache: on for the tests that ask (fixture page_cache),
        # off elsewhere, where a test writes rows without a commit and reads the page again.
        "PAGE_CACHE_ENABLED": False,
        # The signed-in reader from its cached row on GETs: on for the tests that ask (fixture
        # reader_cache), off elsewhere, where query counts compare a first and a second page.
        "READER_CACHE_ENABLED": False,
        # The test client's host: links in mails read http://localhost/...
        "SITE_URL": "http://localhost",
    }


@pytest.fixture(scope="session")
def database_url(make_database: Callable[[], str]) -> str:
    return make_database()


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The one app of the test session, its schema built by the migrations."""
    application = create_app(test_config(database_url, tmp_path_factory.mktemp("app")))
    with application.app_context():
        upgrade()
        db.engine.dispose()
    yield application
    # Close pooled connections before the database is dropped (else a ResourceWarning at exit).
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _einvoices_validated() -> None:
    """Every Factur-X XML generated in this process passes the XSD and both schematrons."""
    from marketplace.payments.facturx import register_xml_check
    from tests import einvoice

    register_xml_check(einvoice.check)


@pytest.fixture(autouse=True)
def _transaction(app: Flask) -> Iterator[None]:
    """Run the test in an outer transaction; views may commit (savepoints), all is undone."""
    with app.app_context():
        engine = db.engine
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection,
        class_=Session,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )
    original = db.session
    db.session = scoped_session(factory, scopefunc=lambda: 0)
    limiter.enabled = False
    with app.app_context():
        cache.clear()  # values of an earlier test's rolled-back rows must not be served
    view_counts.reset()  # views of an earlier test's offers, never written
    page_cache_module.clear(app)
    try:
        yield
    finally:
        view_counts.reset()  # nothing left for the exit hook to write to a dropped database
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# The test harness's own statements around each test and each commit, not the code's queries.
BOOKKEEPING = ("SAVEPOINT", "RELEASE", "ROLLBACK")


@contextmanager
def counting_queries(app: Flask, *, selects_only: bool = False) -> Iterator[list[str]]:
    """``with counting_queries(app) as statements:`` the SQL sent meanwhile (savepoint
    bookkeeping left out); with ``selects_only``, the SELECT statements alone."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip().upper()
        if head.startswith(BOOKKEEPING) or (selects_only and not head.startswith("SELECT")):
            return
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


@pytest.fixture
def count_queries(app: Flask) -> Callable[..., AbstractContextManager[list[str]]]:
    """``with count_queries() as statements: ...`` then ``len(statements)`` queries were run;
    ``count_queries(selects_only=True)`` counts the SELECTs alone."""
    return partial(counting_queries, app)


@pytest.fixture
def page_cache(app: Flask) -> Iterator[None]:
    """Serve visitors' public pages from the cache for one test (marketplace/page_cache.py)."""
    app.config["PAGE_CACHE_ENABLED"] = True
    try:
        yield
    finally:
        app.config["PAGE_CACHE_ENABLED"] = False


@pytest.fixture
def reader_cache(app: Flask) -> Iterator[None]:
    """Take signed-in readers of GETs from their cached row for one test (accounts/loader.py)."""
    app.config["READER_CACHE_ENABLED"] = True
    try:
        yield
    finally:
        app.config["READER_CACHE_ENABLED"] = False


@pytest.fixture
def csrf_enabled(app: Flask) -> Iterator[None]:
    """Turn CSRF protection on for one test (off by default to keep form tests short)."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def rate_limits(app: Flask) -> Iterator[None]:
    """Turn rate limiting on for one test, with empty counters."""
    limiter.enabled = True
    limiter.reset()
    try:
        yield
    finally:
        limiter.enabled = False
        limiter.reset()


@pytest.fixture
def outbox(app: Flask) -> Callable[..., list]:
    """The queued e-mails, newest last; ``outbox(to=...)`` filters by recipient."""
    from sqlalchemy import select

    from marketplace.notifications.models import OutboxMessage

    def read(to: str | None = None) -> list[OutboxMessage]:
        with app.app_context():
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if to:
                query = query.where(OutboxMessage.recipient == to)
            return list(db.session.scalars(query))

    return read


# ---------------------------------------------------------------- factories


@pytest.fixture
def create_school(app: Flask) -> Callable[..., School]:
    def make(name: str | None = None, city: str = "Lisbonne", country: str = "PT") -> School:
        with app.app_context():
            school = School(
                name=name or f"Lycée {uuid.uuid4().hex[:6]}", city=city, country=country
            )
            db.session.add(school)
            db.session.commit()
            return school

    return make


@pytest.fixture
def school(create_school: Callable[..., School]) -> School:
    return create_school(name="Lycée français Charles Lepierre", city="Lisbonne", country="PT")


@pytest.fixture
def create_user(app: Flask, create_school: Callable[..., School]) -> Callable[..., User]:
    """``create_user(email, roles=("moderator",), alumni=True, status="verified", ...)``.

    Staff get a known TOTP secret (``TOTP_SECRET``) already enrolled.
    """

    def make(
        email: str | None = None,
        *,
        password: str = PASSWORD,
        full_name: str = "Camille Martin",
        roles: tuple[str, ...] = (),
        alumni: bool = False,
        status: str = "pending",
        confirmed: bool = True,
        locale: str = "fr",
        school: School | None = None,
        totp: bool | None = None,
        graduation_year: int = 2015,
    ) -> User:
        with app.app_context():
            user = User(
                email=(email or f"user-{uuid.uuid4().hex[:8]}@example.org").lower(),
                password_hash=hash_password(password),
                full_name=full_name,
                locale=locale,
                email_confirmed_at=utcnow() if confirmed else None,
            )
            user.role_rows = [UserRole(role=role) for role in roles]
            if totp if totp is not None else bool(roles):
                user.totp_secret = TOTP_SECRET
                user.totp_enabled_at = utcnow()
            db.session.add(user)
            if alumni:
                school_row = school or create_school()
                db.session.add(
                    AlumniProfile(
                        user=user,
                        school_id=school_row.id,
                        graduation_year=graduation_year,
                        country="PT",
                        city="Lisbonne",
                        status=VerificationStatus(status),
                    )
                )
            db.session.commit()
            return user

    return make


@pytest.fixture
def login(app: Flask) -> Callable[[FlaskClient, User], FlaskClient]:
    """Put a signed-in session on ``client`` (staff sessions have passed two-factor)."""

    def sign_in(client: FlaskClient, user: User, *, mfa: bool | None = None) -> FlaskClient:
        now = utcnow().timestamp()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
            session["login_at"] = now
            session["seen_at"] = now
            session["mfa"] = bool(user.role_rows) if mfa is None else mfa
        return client

    return sign_in


def totp_now() -> str:
    return pyotp.TOTP(TOTP_SECRET).now()


@pytest.fixture
def seed_reference(app: Flask) -> None:
    """Two categories and three tiers, as a small catalogue."""
    with app.app_context():
        db.session.add_all(
            [
                Category(slug="travel", name_fr="Voyages", name_en="Travel", position=1),
                Category(slug="books", name_fr="Livres", name_en="Books", position=2),
                MembershipTier(
                    code="young",
                    name_fr="Jeune diplômé",
                    name_en="Young graduate",
                    amount=1500,
                    position=1,
                ),
                MembershipTier(
                    code="standard", name_fr="Standard", name_en="Standard", amount=4000, position=2
                ),
                MembershipTier(
                    code="benefactor",
                    name_fr="Bienfaiteur",
                    name_en="Benefactor",
                    amount=10000,
                    position=3,
                ),
            ]
        )
        db.session.commit()


# ---------------------------------------------------------------- localstripe


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[str]:
    """A real localstripe server on a free port, fresh state; yields its base URL.

    Nothing talks to it directly but ``strict_stripe`` (and tests of localstripe itself).
    """
    import shutil
    import subprocess
    import sys
    import time

    import requests

    port = free_port()
    executable = shutil.which("localstripe", path=str(Path(sys.executable).parent))
    assert executable, "localstripe is installed by `make test` (the test extra)"
    process = subprocess.Popen(
        [executable, "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/js.stripe.com/v3/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise RuntimeError("localstripe did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def strict_stripe(localstripe_server: str) -> Iterator[Any]:
    """The stricter Stripe in front of localstripe (tests/strict_stripe.py), for the session."""
    from marketplace.payments.gateway import API_VERSION
    from tests.strict_stripe import StrictStripe

    proxy = StrictStripe(localstripe_server, API_VERSION)
    stop = proxy.serve()
    try:
        yield proxy
    finally:
        stop()


@pytest.fixture(scope="session")
def localstripe(strict_stripe: Any) -> str:
    """The Stripe every test, live server and browser talks to: the strict proxy's URL."""
    return strict_stripe.base


@pytest.fixture
def cli(app):
    """Runs the app's commands in-process (tests/test_cli*.py)."""
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args))

    return invoke
