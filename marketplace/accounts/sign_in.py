"""The steps of signing in and out around the pages of ``accounts.views``.

The half-signed-in state of a staff sign-in (password checked, second factor not yet) kept in
the session, the rate-limit keys of its steps, where a signed-in person lands, and what a
sign-out tells.
"""

from __future__ import annotations

import qrcode
import qrcode.image.svg
from flask import flash, render_template, request, session
from flask_babel import ngettext
from flask_limiter.util import get_remote_address
from flask_login import current_user
from markupsafe import Markup

from marketplace import security
from marketplace.accounts import second_factor, services
from marketplace.accounts.forms import TotpCodeForm
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import DomainError
from marketplace.extensions import login_account_key_for
from marketplace.security import redirect_back

# A password checked, the code not yet: how long the half-signed-in state lasts.
PENDING_SECONDS = 10 * 60


def clear_session() -> None:
    """Empty the session but keep the visitor's language."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def begin_two_factor(user: User, *, remember: bool) -> None:
    """Password checked: remember who is signing in, without signing them in yet."""
    clear_session()
    session["pending_2fa"] = user.get_id()
    session["pending_login_key"] = login_account_key_for(user.email)
    session["pending_remember"] = bool(remember)
    session["pending_at"] = utcnow().timestamp()


def pending_user() -> User | None:
    """The person half-way through signing in, if the state is recent and still valid."""
    raw = session.get("pending_2fa")
    started = session.get("pending_at") or 0
    if not raw or utcnow().timestamp() - started > PENDING_SECONDS:
        return None
    # The same check as a session: a logout or a disabling since then voids it.
    return security.load_user(raw)


def finish_sign_in(user: User, *, pending: bool) -> None:
    """Two-factor passed: a pending sign-in becomes a session; either way it holds mfa."""
    if pending:
        security.start_session(user, remember=bool(session.get("pending_remember")))
        services.record_login(user)
    session["mfa"] = True


def two_factor_key() -> str:
    """Codes count against the account's one sign-in budget (its password attempts too)."""
    if session.get("pending_2fa") and session.get("pending_login_key"):
        return str(session["pending_login_key"])
    if current_user.is_authenticated:
        return login_account_key_for(current_user.email)
    return f"2fa-ip:{get_remote_address()}"


def qr_svg(uri: str) -> Markup:
    """The provisioning URI as an inline SVG (server-side: no script, no external request)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    return Markup(image.to_string(encoding="unicode"))  # noqa: S704 - our own SVG markup


def enrolment_key() -> str:
    """The password step of an enrolment link counts against its account's sign-in budget."""
    token = (request.view_args or {}).get("token", "")
    try:
        user = services.check_account_token(token, services.TOTP_ENROL)
    except DomainError:
        return f"enrol-ip:{get_remote_address()}"
    return login_account_key_for(user.email)


def next_arg() -> str | None:
    """The ``next`` of this request, passed on as it is: ``redirect_back`` vets it at the end."""
    return request.args.get("next") or None


def continue_url() -> str:
    """A vetted ``next`` (the rule of ``redirect_back``), else the profile page."""
    return redirect_back("accounts.profile").location


def landing(user: User) -> str:
    """Where a signed-in person goes without a ``next``: treasurers to their dashboard."""
    if user.has_role("treasurer") and not user.has_role("admin", "moderator"):
        return "treasury.dashboard"
    return "main.index"


def render_secret(user: User, form: TotpCodeForm, token: str, *, status: int):
    """The new secret as a QR code and as text, with the form for the first code."""
    page = render_template(
        "accounts/two_factor_setup.html",
        form=form,
        token=token,
        secret=user.totp_secret,
        qr_svg=qr_svg(second_factor.totp_uri(user)),
    )
    return page, status


def tell_revoked_tokens(count: int) -> None:
    """Say that the account's API tokens stopped working, when there were any."""
    if count:
        flash(
            ngettext(
                "%(num)d API token was revoked: scripts using it must get a new one.",
                "%(num)d API tokens were revoked: scripts using them must get new ones.",
                count,
            ),
            "warning",
        )
