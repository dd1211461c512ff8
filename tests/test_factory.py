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
        ({"SECRET_KEY": "x" * 40, "SITE_URL": ""}, "SITE_URL"),
        ({"SECRET_KEY": "x" * 40, "SITE_URL": "http://alumni.example.org"}, "SITE_URL"),
        ({"SECRET_KEY": "x" * 40, "SITE_URL": "alumni.example.org"}, "SITE_URL"),
    ],
)
def test_production_refuses_unsafe_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_app(
            {
                "ENV_NAME": "production",
                "PREFERRED_URL_SCHEME": "https",
                "SITE_URL": "https://alumni.example.org",
                **overrides,
            }
        )


def test_production_refuses_to_start_without_site_url(tmp_path, monkeypatch):
    """From the environment as a deployment sets it: no SITE_URL, no start."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("PREFERRED_URL_SCHEME", "https")
    monkeypatch.delenv("SITE_URL", raising=False)
    with pytest.raises(ConfigError, match="SITE_URL"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}"})


def test_production_starts_with_safe_settings(tmp_path):
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "s" * 48,
            "PREFERRED_URL_SCHEME": "https",
            "SITE_URL": "https://alumni.example.org",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    # Only the public host is answered unless more are listed.
    assert app.config["TRUSTED_HOSTS"] == ["alumni.example.org"]


def test_trusted_hosts_are_site_url_plus_the_extra_list(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTED_HOSTS", "www.alumni.example.org, 10.0.0.5")
    app = create_app(
        {
            "SITE_URL": "https://alumni.example.org",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}",
        }
    )
    assert app.config["TRUSTED_HOSTS"] == [
        "alumni.example.org",
        "www.alumni.example.org",
        "10.0.0.5",
    ]
