"""The migrations build the models' schema from nothing, go back down, and have one head."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

import marketplace.model_registry  # noqa: F401 - every model on the metadata
from jobs.search import is_search_object as is_job_search_object
from marketplace import create_app
from marketplace.extensions import db
from offers.search import is_search_object as is_offer_search_object
from tests.conftest import test_config as make_test_config


@pytest.fixture
def empty_app(make_database: Callable[[], str], tmp_path: Path) -> Iterator[Flask]:
    """An app on a new, empty database of the run's backend (not the shared test one)."""
    application = create_app(make_test_config(make_database(), tmp_path))
    with application.app_context():
        yield application
        db.engine.dispose()


def is_search_object(name: str | None, type_: str) -> bool:
    """The offer and job full-text search objects (created by hand in their migrations)."""
    return is_offer_search_object(name, type_) or is_job_search_object(name, type_)


def schema_drift() -> list:
    """What autogenerate would put in a new migration (``flask db check``); empty = no drift."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                # Full-text search objects live outside the models (migrations/env.py skips them).
                "include_object": lambda obj, name, type_, *_: not is_search_object(name, type_),
            },
        )
        return compare_metadata(context, db.metadata)


def user_tables() -> set[str]:
    with db.engine.connect() as connection:
        names = set(inspect(connection).get_table_names()) - {"alembic_version"}
        return {name for name in names if not is_search_object(name, "table")}


def test_upgrade_on_an_empty_database_matches_the_models(empty_app):
    assert user_tables() == set()

    upgrade()

    assert user_tables() == set(db.metadata.tables)
    assert schema_drift() == []


def test_downgrade_to_base_and_upgrade_again(empty_app):
    upgrade()

    downgrade(revision="base")

    assert user_tables() == set()

    upgrade()

    assert user_tables() == set(db.metadata.tables)
    assert schema_drift() == []


def test_migrations_have_a_single_head(empty_app):
    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)

    heads = script.get_heads()

    assert len(heads) == 1, f"migrations have several heads: {heads}; merge them"
    # Every revision descends from the one base, so history is a single line to the head.
    assert len(script.get_bases()) == 1


BEFORE_EMAIL_NORMALISATION = "c5e7a9b1d3f5"
FULL_WIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45@example.org"
USERS = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("password_hash", sa.String),
    sa.column("full_name", sa.String),
    sa.column("locale", sa.String),
    sa.column("session_version", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _add_users(*emails: str) -> None:
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        connection.execute(
            USERS.insert(),
            [
                {
                    "email": email,
                    "password_hash": "x",
                    "full_name": "Someone",
                    "locale": "fr",
                    "session_version": 1,
                    "created_at": now,
                }
                for email in emails
            ],
        )


def _emails() -> list[str]:
    with db.engine.connect() as connection:
        return list(connection.scalars(sa.select(USERS.c.email).order_by(USERS.c.id)))


def test_the_upgrade_normalises_existing_addresses(empty_app):
    upgrade(revision=BEFORE_EMAIL_NORMALISATION)
    _add_users("\uff41\uff4c\uff49\uff43\uff45@Example.org", "bob@example.org", "Carol@EXAMPLE.org")

    upgrade()

    assert _emails() == ["alice@example.org", "bob@example.org", "carol@example.org"]


def test_the_upgrade_refuses_look_alike_accounts_and_changes_nothing(empty_app, capfd, caplog):
    upgrade(revision=BEFORE_EMAIL_NORMALISATION)
    _add_users(
        "Dave@example.org", "alice@example.org", "\uff41\uff4c\uff49\uff43\uff45@example.org"
    )

    with pytest.raises(SystemExit):  # what `flask db upgrade` does on a RuntimeError
        upgrade()

    said = capfd.readouterr().err + caplog.text
    assert "rows 2 and 3 are the same address ('alice@example.org')" in said
    assert _emails() == [
        "Dave@example.org",
        "alice@example.org",
        "\uff41\uff4c\uff49\uff43\uff45@example.org",
    ]
    with db.engine.connect() as connection:
        version = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    assert version == BEFORE_EMAIL_NORMALISATION
