"""Two-factor sign-in: TOTP enrolment by e-mailed link, code checks, recovery codes."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import pyotp
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from marketplace import audit
from marketplace.accounts.models import RecoveryCode, User
from marketplace.accounts.services import (
    TOTP_ENROL,
    TOTP_ENROL_HOURS,
    AuthenticationFailed,
    InvalidToken,
    check_account_token,
    consume_account_token,
    issue_account_token,
)
from marketplace.database import utcnow
from marketplace.errors import Conflict, InvalidInput
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.services import queue_mail
from marketplace.security import token_digest, verify_password

logger = logging.getLogger(__name__)


def send_two_factor_enrolment(user: User) -> None:
    """Mail a staff member a single-use, one-hour link to enrol their second factor.

    Enrolment is never open to the password alone: whoever learnt a new staff member's
    password first would otherwise own their second factor. Earlier links stop working.
    """
    token = issue_account_token(user, TOTP_ENROL, hours=TOTP_ENROL_HOURS)
    queue_mail(
        to=user.email,
        template="accounts/two_factor_enrol",
        subject=N_("Set up two-factor authentication"),
        locale=user.locale,
        user=user,
        token=token,
    )
    logger.info("two-factor enrolment link mailed to user %s", user.id)


def enrolment_user(token: str) -> User:
    """The staff member a usable enrolment link belongs to; InvalidToken otherwise."""
    user = check_account_token(token, TOTP_ENROL)
    if user.totp_enabled_at is not None or not user.is_active:
        raise InvalidToken()
    return user


def start_totp_enrolment(user: User, *, password: str) -> str:
    """After the password is proven on the link's page: a fresh secret, inactive until a code
    from it is checked. A fresh one each time, so no earlier viewer of a QR code knows it."""
    if user.totp_enabled_at is not None:
        raise Conflict(_l("Two-factor authentication is already active."))
    if not verify_password(user.password_hash, password):
        raise AuthenticationFailed(_l("The password is wrong."))
    user.totp_secret = pyotp.random_base32()
    return user.totp_secret


def totp_uri(user: User) -> str:
    return pyotp.TOTP(user.totp_secret or "").provisioning_uri(
        name=user.email, issuer_name=current_app.config["ASSOCIATION_NAME"]
    )


def _is_totp_code(code: str) -> bool:
    return code.isdigit() and len(code) == 6


def _check_totp_code(user: User, code: str) -> bool:
    """A current TOTP code (one step of drift), each usable once."""
    if not user.totp_secret or not _is_totp_code(code):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = utcnow()
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=30 * drift)
        step = int(at.timestamp()) // 30
        if totp.verify(code, for_time=at) and (user.totp_last_step or 0) < step:
            user.totp_last_step = step
            return True
    return False


def check_totp(user: User, code: str) -> bool:
    """A current TOTP code (one step of drift), each usable once; or an unused recovery code."""
    code = code.strip().replace(" ", "")
    if not user.totp_secret:
        return False
    if _is_totp_code(code):
        return _check_totp_code(user, code)
    return use_recovery_code(user, code)


def confirm_totp_enrolment(user: User, code: str, *, token: str) -> list[str]:
    """Activate two-factor with a first good code; return fresh recovery codes (shown once).

    The mailed link is used up here, so it enrols once.
    """
    # Only the new device proves the enrolment: leftover recovery codes do not.
    if user.totp_enabled_at is not None:
        raise Conflict(_l("Two-factor authentication is already active."))
    if not _check_totp_code(user, code.strip().replace(" ", "")):
        raise InvalidInput(_l("This code is not valid. Check your device's clock and try again."))
    if consume_account_token(token, TOTP_ENROL).id != user.id:
        raise InvalidToken()
    user.totp_enabled_at = utcnow()
    audit.record("totp.enabled", actor=user, object_type="user", object_id=user.id)
    return new_recovery_codes(user)


def new_recovery_codes(user: User, count: int = 10) -> list[str]:
    for row in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(row)
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(count)]
    for code in codes:
        db.session.add(RecoveryCode(user_id=user.id, code_hash=token_digest(code)))
    db.session.flush()
    return codes


def regenerate_recovery_codes(user: User, *, code: str) -> list[str]:
    """Replace an enrolled user's recovery codes, proven by a current code; return the new ones."""
    if user.totp_enabled_at is None:
        raise Conflict(_l("Two-factor authentication is not active."))
    if not check_totp(user, code):
        raise InvalidInput(_l("This code is not valid. Check your device's clock and try again."))
    audit.record("totp.recovery_codes_renewed", actor=user, object_type="user", object_id=user.id)
    return new_recovery_codes(user)


def use_recovery_code(user: User, code: str) -> bool:
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == token_digest(code.lower()),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    audit.record("totp.recovery_code_used", actor=user, object_type="user", object_id=user.id)
    return True


def remaining_recovery_codes(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )
