"""POST/DELETE /api/v1/tokens and GET /api/v1/me: API tokens and the caller's account."""

from __future__ import annotations

import logging

from flask import g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint, abort

from marketplace.accounts import second_factor, services
from marketplace.accounts.models import User
from marketplace.accounts.schemas import (
    MeSchema,
    MeUpdateSchema,
    TokenRequestSchema,
    TokenSchema,
)
from marketplace.api import api_caller, auth_required
from marketplace.errors import PermissionDenied
from marketplace.extensions import (
    LOGIN_ACCOUNT_LIMIT,
    LOGIN_ACCOUNT_SCOPE,
    db,
    limiter,
    login_attempt_key,
)

logger = logging.getLogger(__name__)

bp = Blueprint("accounts_api", __name__, url_prefix="", description="Tokens and the caller")

# The per-account scope is the sign-in page's and the two-factor step's too: one budget.
LOGIN_IP_SCOPE = "login-ip"
BEARER = [{"bearer": []}]


class TwoFactorNotEnrolled(PermissionDenied):
    code = "otp_not_enrolled"
    message = _l(
        "Staff accounts must set up two-factor authentication on the website before using the API."
    )


def login_ip_key() -> str:
    return f"ip:{get_remote_address()}"


def too_many_attempts() -> str:
    return _("Too many sign-in attempts; wait a minute and try again.")


def check_second_factor(user: User, otp: str | None) -> None:
    """Staff prove a second factor (TOTP or recovery code) before getting a token."""
    if user.totp_enabled_at is None:
        raise TwoFactorNotEnrolled()
    if not otp:
        raise services.TwoFactorRequired()
    if not second_factor.check_totp(user, otp):
        raise services.TwoFactorRequired(_("A valid two-factor code is required."))


@bp.post("/tokens")
@limiter.shared_limit(
    LOGIN_ACCOUNT_LIMIT,
    scope=LOGIN_ACCOUNT_SCOPE,
    key_func=login_attempt_key,
    error_message=too_many_attempts,
    override_defaults=False,
)
@limiter.shared_limit(
    "60/minute",
    scope=LOGIN_IP_SCOPE,
    key_func=login_ip_key,
    error_message=too_many_attempts,
    override_defaults=False,
)
@bp.arguments(TokenRequestSchema)
@bp.response(201, TokenSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
@bp.doc(security=[])
def create_token(credentials: dict):
    """Exchange an e-mail and password (and, for staff, a two-factor code) for a token.

    The token is shown once; only its SHA-256 is stored.
    """
    user = services.authenticate(credentials["email"], credentials["password"])
    if services.needs_two_factor(user):
        check_second_factor(user, credentials.get("otp"))
    token, row = services.issue_api_token(user)
    db.session.commit()
    return {"token": token, "expires_at": row.expires_at}


@bp.delete("/tokens/current")
@auth_required()
@bp.response(204)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.doc(security=BEARER)
def revoke_current_token():
    """Revoke the bearer token this request carries; it stops working at once."""
    token = g.get("api_token")
    if token is None:
        # A browser session cannot reach here (writes need a token); kept as a guard.
        abort(401, message=_("Send the token to revoke as a bearer token."))
    services.revoke_api_token(token)
    db.session.commit()
    logger.info("api token %s revoked by its holder", token.id)


@bp.get("/me")
@auth_required()
@bp.response(200, MeSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.doc(security=BEARER)
def me():
    """The caller's account: a bearer token, or a browser session."""
    return api_caller()


@bp.patch("/me")
@auth_required()
@bp.arguments(MeUpdateSchema)
@bp.response(200, MeSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@bp.doc(security=BEARER)
def update_me(changes: dict):
    """Change the caller's language, time zone and, for an alumnus, country and city."""
    user = api_caller()
    profile = user.alumni_profile
    if profile is None and ({"country", "city"} & changes.keys()):
        abort(
            422,
            message=_("Only alumni have a country and a city."),
            errors={"json": {"country": [_("Only alumni have a country and a city.")]}},
        )
    services.update_profile(
        user,
        full_name=user.full_name,
        locale=changes.get("locale", user.locale),
        timezone=changes.get("timezone"),
        country=changes.get("country"),
        city=changes.get("city"),
    )
    db.session.commit()
    logger.info("user %s changed their settings by the API: %s", user.id, sorted(changes))
    return user
