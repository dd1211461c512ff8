"""Every state change of accounts: registration, confirmation, login, reset, tokens, roles."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from marketplace import audit
from marketplace.accounts.models import (
    AccountToken,
    AlumniProfile,
    ApiToken,
    Role,
    RosterEntry,
    User,
    UserRole,
    VerificationStatus,
)
from marketplace.catalog.models import School
from marketplace.database import utcnow
from marketplace.errors import Conflict, DomainError, InvalidInput, NotFound
from marketplace.extensions import db
from marketplace.i18n import N_, is_timezone
from marketplace.notifications.services import queue_mail
from marketplace.security import (
    end_all_sessions,
    hash_password,
    new_token,
    password_problem,
    token_digest,
    verify_password,
)
from marketplace.text import normalise_email

logger = logging.getLogger(__name__)

CONFIRM = "confirm"
RESET = "reset"
TOTP_ENROL = "totp_enrol"
# The mailed two-factor enrolment link is short-lived (it leads to a staff account's factor).
TOTP_ENROL_HOURS = 1


class AuthenticationFailed(DomainError):
    status = 401
    code = "invalid_credentials"
    message = _l("Invalid e-mail or password.")


class TwoFactorRequired(DomainError):
    status = 401
    code = "otp_required"
    message = _l("A two-factor code is required.")


class InvalidToken(DomainError):
    status = 400
    code = "invalid_token"
    message = _l("This link is invalid or has expired.")


class WeakPassword(InvalidInput):
    code = "weak_password"


class InvalidUpload(InvalidInput):
    code = "invalid_file"


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def check_password_policy(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise WeakPassword(problem)


# ---------------------------------------------------------------- evidence files


# ---------------------------------------------------------------- schools


def active_schools() -> list[School]:
    """The schools an alumnus may choose from, by name."""
    return list(
        db.session.scalars(select(School).where(School.active.is_(True)).order_by(School.name))
    )


def find_active_school(name: str) -> School | None:
    """An active school of the network by its name, ignoring case and outer spaces."""
    return db.session.scalar(
        select(School).where(
            School.active.is_(True), func.lower(School.name) == name.strip().lower()
        )
    )


# ---------------------------------------------------------------- registration


@dataclass
class Registration:
    full_name: str
    email: str
    password: str
    school_id: int
    graduation_year: int
    country: str
    city: str
    locale: str = "fr"
    timezone: str | None = None
    evidence_filename: str | None = None
    evidence_original_name: str | None = None
    evidence_content_type: str | None = None


def create_user(*, email: str, password: str, full_name: str, locale: str = "fr") -> User:
    """A new account, unconfirmed; refuses a weak password or a taken address."""
    check_password_policy(password)
    email = normalise_email(email)
    if find_user(email) is not None:
        raise Conflict(_l("An account already exists for this e-mail address."))
    user = User(
        email=email,
        password_hash=hash_password(password),
        full_name=full_name.strip(),
        locale=locale,
    )
    db.session.add(user)
    db.session.flush()
    return user


def register_alumnus(data: Registration) -> User | None:
    """Register an alumnus and send the confirmation e-mail.

    An address that already has an account gets an e-mail saying so instead, and the
    caller shows the same page either way (no account enumeration). Returns the new user,
    or None when the address was taken.
    """
    existing = find_user(data.email)
    if existing is not None:
        # Spend the time a new account costs, so the answer's delay says nothing either.
        hash_password(data.password)
        queue_mail(
            to=existing.email,
            template="accounts/already_registered",
            subject=N_("You already have an account"),
            locale=existing.locale,
            user=existing,
        )
        return None
    school = db.session.get(School, data.school_id)
    if school is None:
        raise InvalidInput(_l("Choose your school from the list."))
    user = create_user(
        email=data.email, password=data.password, full_name=data.full_name, locale=data.locale
    )
    if is_timezone(data.timezone):
        user.timezone = data.timezone
    profile = AlumniProfile(
        user=user,
        school=school,
        graduation_year=data.graduation_year,
        country=data.country.upper(),
        city=data.city.strip(),
        evidence_filename=data.evidence_filename,
        evidence_original_name=data.evidence_original_name,
        evidence_content_type=data.evidence_content_type,
    )
    db.session.add(profile)
    db.session.flush()
    send_confirmation(user)
    logger.info("alumnus %s registered (school %s)", user.id, school.id)
    return user


def issue_account_token(user: User, purpose: str, *, hours: int | None = None) -> str:
    """A new single-use token; earlier unused tokens of the same purpose stop working."""
    now = utcnow()
    for old in db.session.scalars(
        select(AccountToken).where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
    ):
        old.used_at = now
    token, digest = new_token()
    hours = hours or current_app.config["ACCOUNT_TOKEN_HOURS"]
    db.session.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=digest,
            expires_at=now + timedelta(hours=hours),
        )
    )
    db.session.flush()
    return token


def _usable_token(token: str, purpose: str) -> AccountToken:
    row = db.session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == token_digest(token), AccountToken.purpose == purpose
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise InvalidToken()
    return row


def check_account_token(token: str, purpose: str) -> User:
    """The token's user, without using it up; raise InvalidToken when unknown, used or expired."""
    return _usable_token(token, purpose).user


def consume_account_token(token: str, purpose: str) -> User:
    """Use a token once; raise InvalidToken when unknown, used or expired."""
    row = _usable_token(token, purpose)
    row.used_at = utcnow()
    return row.user


def send_confirmation(user: User) -> None:
    token = issue_account_token(user, CONFIRM)
    queue_mail(
        to=user.email,
        template="accounts/confirm",
        subject=N_("Confirm your e-mail address"),
        locale=user.locale,
        user=user,
        token=token,
    )


def confirm_email(token: str) -> User:
    """Confirm the address; a matching roster entry verifies the alumnus at once."""
    user = consume_account_token(token, CONFIRM)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        match_roster(user)
    return user


def match_roster(user: User) -> bool:
    """Verify a confirmed alumnus whose e-mail, name and school a staff roster lists."""
    profile = user.alumni_profile
    if (
        profile is None
        or user.email_confirmed_at is None
        or profile.status == VerificationStatus.VERIFIED
    ):
        return False
    entry = db.session.scalar(
        select(RosterEntry).where(
            RosterEntry.email == user.email,
            RosterEntry.school_id == profile.school_id,
        )
    )
    if entry is None or _name_key(entry.full_name) != _name_key(user.full_name):
        return False
    profile.status = VerificationStatus.VERIFIED
    profile.verified_by_roster = True
    profile.decided_at = utcnow()
    entry.matched_user_id = user.id
    audit.record(
        "member.verified_by_roster",
        actor=None,
        object_type="user",
        object_id=user.id,
        roster_entry=entry.id,
    )
    queue_mail(
        to=user.email,
        template="moderation/member_approved",
        subject=N_("Your alumni status is verified"),
        locale=user.locale,
        user=user,
    )
    return True


def _name_key(name: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(sorted(folded.lower().replace("-", " ").split()))


# ---------------------------------------------------------------- login


def authenticate(email: str, password: str) -> User:
    """The user for these credentials, or AuthenticationFailed (same answer for every cause)."""
    user = find_user(email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise AuthenticationFailed()
    return user


def needs_two_factor(user: User) -> bool:
    return user.is_staff


def record_login(user: User) -> None:
    user.last_login_at = utcnow()


def logout_everywhere(user: User) -> int:
    """Invalidate every session, remember-me cookie and API token; how many tokens died."""
    return end_all_sessions(user)


# ---------------------------------------------------------------- password reset


def request_password_reset(email: str) -> None:
    """E-mail a reset link if the account exists; silent otherwise (no enumeration)."""
    user = find_user(email)
    if user is None or not user.is_active:
        logger.info("password reset asked for an unknown or disabled address")
        return
    token = issue_account_token(user, RESET, hours=2)
    queue_mail(
        to=user.email,
        template="accounts/reset",
        subject=N_("Reset your password"),
        locale=user.locale,
        user=user,
        token=token,
    )


def reset_password(token: str, new_password: str) -> tuple[User, int]:
    """Set a new password with a reset token; every session and API token ends.

    Returns the user and how many API tokens were revoked.
    """
    check_password_policy(new_password)
    user = consume_account_token(token, RESET)
    user.password_hash = hash_password(new_password)
    if user.email_confirmed_at is None:
        # The reset link proved the address.
        user.email_confirmed_at = utcnow()
    return user, end_all_sessions(user)


def change_password(user: User, *, current: str, new: str) -> int:
    """A new password: every session and API token ends; how many tokens were revoked."""
    if not verify_password(user.password_hash, current):
        raise AuthenticationFailed(_l("The current password is wrong."))
    check_password_policy(new)
    user.password_hash = hash_password(new)
    return end_all_sessions(user)


def update_profile(
    user: User,
    *,
    full_name: str,
    locale: str,
    country: str | None = None,
    city: str | None = None,
    timezone: str | None = None,
) -> None:
    """Change what a person says of themselves; an unknown language or zone is ignored."""
    user.full_name = full_name.strip()
    if locale in current_app.config["LANGUAGES"]:
        user.locale = locale
    if is_timezone(timezone):
        user.timezone = timezone
    if user.alumni_profile is not None:
        if country:
            user.alumni_profile.country = country.upper()
        if city is not None:
            user.alumni_profile.city = city.strip()


# ---------------------------------------------------------------- API tokens


def issue_api_token(user: User, *, days: int | None = None) -> tuple[str, ApiToken]:
    """A new bearer token (shown once) and its stored row."""
    token, digest = new_token()
    days = days if days is not None else current_app.config["API_TOKEN_DAYS"]
    row = ApiToken(user_id=user.id, token_hash=digest, expires_at=utcnow() + timedelta(days=days))
    db.session.add(row)
    db.session.flush()
    logger.info("api token %s issued to user %s", row.id, user.id)
    return token, row


def revoke_api_token(token: ApiToken) -> None:
    """Revoke one token; it stops working at once."""
    token.revoked_at = utcnow()
    logger.info("api token %s of user %s revoked", token.id, token.user_id)


def active_api_tokens(user: User) -> list[ApiToken]:
    """The tokens of ``user`` that still work, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > utcnow(),
            )
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def get_own_api_token_or_404(user: User, token_id: int) -> ApiToken:
    """One usable token of ``user``; another person's, or a dead one, is NotFound."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound()
    return token


# ---------------------------------------------------------------- roles


def grant_role(user: User, role: str, *, actor: User | None) -> None:
    if role not in {r.value for r in Role}:
        raise InvalidInput(_l("Unknown role."))
    if role in user.roles:
        return
    user.role_rows.append(UserRole(role=role, granted_by_id=getattr(actor, "id", None)))
    audit.record("role.granted", actor=actor, object_type="user", object_id=user.id, role=role)


def revoke_role(user: User, role: str, *, actor: User | None) -> None:
    for row in list(user.role_rows):
        if row.role == role:
            user.role_rows.remove(row)
            audit.record(
                "role.revoked", actor=actor, object_type="user", object_id=user.id, role=role
            )


def set_disabled(user: User, disabled: bool, *, actor: User | None) -> None:
    """Disable (never delete) or re-enable an account; disabling ends its sessions."""
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
        end_all_sessions(user)
        audit.record("user.disabled", actor=actor, object_type="user", object_id=user.id)
    elif not disabled and user.disabled_at is not None:
        user.disabled_at = None
        audit.record("user.enabled", actor=actor, object_type="user", object_id=user.id)


def get_user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def created_before(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def answer_info_request(
    user: User,
    *,
    answer: str,
    evidence_filename: str | None = None,
    evidence_original_name: str | None = None,
    evidence_content_type: str | None = None,
) -> AlumniProfile:
    """The alumnus answers a moderator's question; the file goes back to the queue."""
    profile = user.alumni_profile
    if profile is None or profile.status != VerificationStatus.INFO_REQUESTED:
        raise Conflict(_l("No information was requested from you."))
    profile.member_answer = answer.strip()
    if evidence_filename:
        profile.evidence_filename = evidence_filename
        profile.evidence_original_name = evidence_original_name
        profile.evidence_content_type = evidence_content_type
    profile.status = VerificationStatus.PENDING
    profile.submitted_at = utcnow()
    audit.record("member.info_answered", actor=user, object_type="user", object_id=user.id)
    return profile
