"""Extensions, created unbound here and bound to the app in ``create_app``."""

from __future__ import annotations

from flask import g, request
from flask_babel import Babel
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from marketplace.rate_limits import OneTripLimiter
from marketplace.text import normalise_email

# Stable constraint names, so migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def rate_limit_key() -> str:
    """Signed-in callers are limited per account, anonymous ones per IP address."""
    # Kept for the request: asked again after a commit, the user's id would reload its row.
    key = g.get("rate_limit_key")
    if key is None:
        if current_user and current_user.is_authenticated:
            key = f"user:{current_user.id}"
        else:
            key = f"ip:{get_remote_address()}"
        g.rate_limit_key = key
    return key


# One budget of sign-in attempts per account, whichever way in: the sign-in page, the token
# API and the two-factor step all count under this shared scope and the same key.
LOGIN_ACCOUNT_SCOPE = "login-account"
LOGIN_ACCOUNT_LIMIT = "10/minute"


def login_account_key_for(email: str) -> str:
    """The rate-limit key of the account an address names (normalised as sign-in does)."""
    return f"login:{normalise_email(email)}"


def login_attempt_key() -> str:
    """Login attempts are also counted per account (the e-mail typed)."""
    body = request.get_json(silent=True)
    # A JSON body may be any value (a list, a string): only an object carries an e-mail.
    email = request.form.get("email") or (body.get("email") if isinstance(body, dict) else "")
    return login_account_key_for(str(email or ""))


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Flask-Limiter, all of a request's limits in one Redis round trip (marketplace/rate_limits.py).
limiter = OneTripLimiter(key_func=rate_limit_key, headers_enabled=True)
api = Api()
