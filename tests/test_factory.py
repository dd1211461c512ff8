"""The application factory and its configuration."""

import pytest

from marketplace import create_app
from marketplace.config import ConfigError, normalise_database_url


def test_testing_config_is_applied(app):
    assert app.testing
    assert app.config["BABEL_DEFAULT_LOCALE"] == "fr"


def test_plain_postgresql_url_gets_the_psycopg_driver():
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "dev-only-secret-key-change-me"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 40, "PREFERRED_URL_SCHEME": "http"}, "https"),
    ],
)
def test_production_refuses_unsafe_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"ENV_NAME": "production", "PREFERRED_URL_SCHEME": "https", **overrides})


def test_production_starts_with_safe_settings(tmp_path):
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "s" * 48,
            "PREFERRED_URL_SCHEME": "https",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
