"""Privacy services: legal pages, consents, the account deletion request and anonymisation.

Every function flushes and never commits (the caller's transaction); the due task
(``tasks.anonymise_accounts``) commits once per account.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.markdown import render_markdown
from marketplace.notifications.services import queue_mail
from marketplace.privacy.defaults import DEFAULT_PAGES, SLUGS
from marketplace.privacy.models import Consent, LegalPage
from marketplace.privacy.registry import DELETION_CHECKS, SOURCES
from marketplace.routing import absolute_url
from marketplace.security import end_all_sessions, verify_password
from marketplace.tasks import site_request_context

logger = logging.getLogger(__name__)

# DESIGN "Privacy": a deletion takes effect after a 7-day grace period.
DELETION_GRACE = timedelta(days=7)
# What an anonymised person is called, in the ledger and wherever a name was shown.
ANONYMOUS_NAME = "Anonyme"

# ---------------------------------------------------------------- legal pages


@dataclass(frozen=True)
class PageView:
    """A legal page in the reader's language, ready to show."""

    slug: str
    title: str
    body: Markup
    updated_at: datetime | None
    updated_by: str | None
    customised: bool


def contact_details() -> tuple[str, str]:
    """The association's name and contact address, for the ``{association}``/``{contact}``."""
    from marketplace.payments.models import AssociationDetails

    details = db.session.scalar(select(AssociationDetails).order_by(AssociationDetails.id))
    name = (details.name if details else None) or current_app.config["ASSOCIATION_NAME"]
    email = current_app.config.get("PRIVACY_CONTACT_EMAIL") or (details.email if details else None)
    if not email:
        email = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    return name, email


def _fill(text: str) -> str:
    name, email = contact_details()
    return text.replace("{association}", name).replace("{contact}", email)


def check_slug(slug: str) -> str:
    if slug not in SLUGS:
        raise NotFound()
    return slug


def page_texts(slug: str) -> dict[str, str]:
    """The page's four texts as stored (or the defaults), for the edit form."""
    check_slug(slug)
    row = db.session.scalar(select(LegalPage).where(LegalPage.slug == slug))
    source: Any = row or DEFAULT_PAGES[slug]
    return {
        "title_fr": source.title_fr,
        "title_en": source.title_en,
        "body_fr": source.body_fr,
        "body_en": source.body_en,
    }


def render_page(slug: str) -> PageView:
    """The page in the reader's language (the other one if empty), Markdown sanitised."""
    check_slug(slug)
    row = db.session.scalar(select(LegalPage).where(LegalPage.slug == slug))
    source: Any = row or DEFAULT_PAGES[slug]
    locale = get_locale()
    first, second = ("en", "fr") if locale and locale.language == "en" else ("fr", "en")
    title = getattr(source, f"title_{first}") or getattr(source, f"title_{second}")
    body = getattr(source, f"body_{first}") or getattr(source, f"body_{second}")
    editor = db.session.get(User, row.updated_by_id) if row and row.updated_by_id else None
    return PageView(
        slug=slug,
        title=title,
        body=render_markdown(_fill(body)),
        updated_at=row.updated_at if row else None,
        updated_by=editor.full_name if editor else None,
        customised=row is not None,
    )


def save_page(
    slug: str,
    *,
    actor: User,
    title_fr: str,
    title_en: str,
    body_fr: str,
    body_en: str,
    now: datetime | None = None,
) -> LegalPage:
    """An admin's new version of a legal page (audited)."""
    check_slug(slug)
    if not (title_fr.strip() or title_en.strip()) or not (body_fr.strip() or body_en.strip()):
        raise InvalidInput(str(_l("Give the page a title and a text.")))
    row = db.session.scalar(select(LegalPage).where(LegalPage.slug == slug))
    if row is None:
        row = LegalPage(slug=slug)
        db.session.add(row)
    row.title_fr, row.title_en = title_fr.strip(), title_en.strip()
    row.body_fr, row.body_en = body_fr.strip(), body_en.strip()
    row.updated_at = now or utcnow()
    row.updated_by_id = actor.id
    db.session.flush()
    audit.record(
        "legal_page.updated", actor=actor, object_type="legal_page", object_id=row.id, slug=slug
    )
    return row


# ---------------------------------------------------------------- consents

DIGESTS = "digests"
NEWS = "news"
# Bumped when the wording changes: each row says which text the person saw.
CONSENT_VERSION = "2026-11"
CONSENT_TEXTS: dict[str, Any] = {
    DIGESTS: _l("E-mail me the alerts of the searches I save (digests)."),
    NEWS: _l("E-mail me news from the association."),
}
# Without any row: saving a search is itself the request for its digests (opt-in), while
# news need an explicit consent.
CONSENT_DEFAULTS = {DIGESTS: True, NEWS: False}
SOURCES_OF_CONSENT = ("settings", "email-link", "api")


def ip_hash(address: str | None) -> str | None:
    """A keyed hash of the address: proof it was the same place, not the address itself."""
    if not address:
        return None
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"consent-ip:{address}".encode(), hashlib.sha256).hexdigest()


def latest_consents(user: User) -> dict[str, Consent | None]:
    """The latest row of each purpose (None when the person never chose)."""
    rows = db.session.scalars(
        select(Consent).where(Consent.user_id == user.id).order_by(Consent.id)
    ).all()
    latest: dict[str, Consent | None] = dict.fromkeys(CONSENT_TEXTS)
    for row in rows:
        latest[row.purpose] = row
    return latest


def consent_states(user: User) -> dict[str, bool]:
    """Whether each purpose is consented to now."""
    return {
        purpose: row.granted if row is not None else CONSENT_DEFAULTS[purpose]
        for purpose, row in latest_consents(user).items()
    }


def consent_history(user: User, *, limit: int = 20) -> list[Consent]:
    """The person's latest choices, newest first (shown on their privacy page)."""
    return list(
        db.session.scalars(
            select(Consent)
            .where(Consent.user_id == user.id)
            .order_by(Consent.id.desc())
            .limit(limit)
        )
    )


def has_consent(user: User, purpose: str) -> bool:
    return consent_states(user)[purpose]


def set_consent(
    user: User,
    purpose: str,
    granted: bool,
    *,
    source: str,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> Consent | None:
    """Record a grant or withdrawal (a new row, never an update); None when nothing changes."""
    if purpose not in CONSENT_TEXTS or source not in SOURCES_OF_CONSENT:
        raise InvalidInput()
    latest = latest_consents(user)[purpose]
    current = latest.granted if latest is not None else CONSENT_DEFAULTS[purpose]
    if latest is not None and current == granted:
        return None
    if latest is None and current == granted and source != "settings":
        return None
    row = Consent(
        user_id=user.id,
        purpose=purpose,
        granted=granted,
        text_version=CONSENT_VERSION,
        text_shown=str(CONSENT_TEXTS[purpose]),
        source=source,
        ip_hash=ip_hash(ip_address),
        created_at=now or utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    logger.info("user %s consent %s: %s (%s)", user.id, purpose, granted, source)
    return row


def consent_withdrawn_clause(purpose: str) -> Any:
    """SQL: the person's latest ``purpose`` row is a withdrawal (correlated on ``User``)."""
    newer = aliased(Consent)
    latest_id = (
        select(func.max(newer.id))
        .where(newer.user_id == User.id, newer.purpose == purpose)
        .correlate(User)
        .scalar_subquery()
    )
    return exists().where(Consent.id == latest_id, Consent.granted.is_(False))


def digest_recipients_clause() -> Any:
    """SQL on ``User``: may receive saved-search digests (not withdrawn, not being deleted).

    notifications/alerts.py adds it to the query of the digest recipients.
    """
    return and_(
        ~consent_withdrawn_clause(DIGESTS),
        User.deletion_requested_at.is_(None),
        User.anonymised_at.is_(None),
    )


def news_recipients_clause() -> Any:
    """SQL on ``User``: has consented to news (the latest ``news`` row is a grant)."""
    newer = aliased(Consent)
    latest_id = (
        select(func.max(newer.id))
        .where(newer.user_id == User.id, newer.purpose == NEWS)
        .correlate(User)
        .scalar_subquery()
    )
    return and_(
        exists().where(Consent.id == latest_id, Consent.granted.is_(True)),
        User.deletion_requested_at.is_(None),
        User.disabled_at.is_(None),
    )


def _withdraw_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="privacy-consent-withdraw")


def withdraw_token(user: User, purpose: str) -> str:
    """The signed token of a one-click withdrawal link (the same in every e-mail)."""
    return _withdraw_serializer().dumps({"u": user.id, "p": purpose})


def withdraw_url(user: User, purpose: str) -> str:
    """The absolute address of the one-click withdrawal page (for e-mails)."""
    return absolute_url("privacy.withdraw", token=withdraw_token(user, purpose))


def read_withdraw_token(token: str) -> tuple[User, str] | None:
    """The person and purpose a withdrawal link names, or None when it is not ours."""
    if not token or len(token) > 200:
        return None
    try:
        data = _withdraw_serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("p") not in CONSENT_TEXTS:
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or user.anonymised_at is not None:
        return None
    return user, data["p"]


# ---------------------------------------------------------------- account deletion


class DeletionRefused(Conflict):
    code = "deletion_refused"
    message = _l("This account cannot be deleted now.")


class WrongPassword(InvalidInput):
    code = "wrong_password"
    message = _l("The password is wrong.")


def deletion_blockers(user: User) -> list[str]:
    """Why ``user`` may not delete their account now (empty: they may)."""
    reasons = []
    if user.is_staff:
        reasons.append(
            str(
                _l(
                    "Staff accounts cannot be deleted here: ask an administrator to remove your "
                    "staff roles first."
                )
            )
        )
    for check in DELETION_CHECKS:
        reason = check(user)
        if reason:
            reasons.append(reason)
    return reasons


def request_deletion(user: User, *, password: str, now: datetime | None = None) -> datetime:
    """Schedule the anonymisation of ``user`` in 7 days, e-mail them; returns the due date.

    The password is asked again (a borrowed session must not delete an account). Sign-in
    keeps working during the grace period, so the person can cancel.
    """
    if not verify_password(user.password_hash, password):
        raise WrongPassword()
    if user.deletion_requested_at is not None:
        raise Conflict(str(_l("The deletion of your account is already scheduled.")))
    reasons = deletion_blockers(user)
    if reasons:
        raise DeletionRefused(" ".join(reasons))
    now = now or utcnow()
    user.deletion_requested_at = now
    user.deletion_due_at = now + DELETION_GRACE
    _stop_auto_renewal(user)
    audit.record(
        "account.deletion_requested",
        actor=user,
        object_type="user",
        object_id=user.id,
        due_at=user.deletion_due_at.isoformat(),
    )
    with site_request_context():
        queue_mail(
            to=user.email,
            template="privacy/deletion_requested",
            subject=N_("Your account will be deleted in 7 days"),
            locale=user.locale or "fr",
            user=user,
            due_at=user.deletion_due_at,
        )
    logger.info("user %s asked for the deletion of their account", user.id)
    return user.deletion_due_at


def _stop_auto_renewal(user: User) -> None:
    """A person leaving is not charged again during the grace period."""
    from marketplace.payments.models import PaymentProfile

    profile = db.session.scalar(select(PaymentProfile).where(PaymentProfile.user_id == user.id))
    if profile is not None and profile.auto_renew:
        profile.auto_renew = False


def cancel_deletion(user: User) -> None:
    """Keep the account after all (during the grace period); e-mails a confirmation."""
    if user.deletion_requested_at is None or user.anonymised_at is not None:
        raise Conflict(str(_l("No deletion of your account is scheduled.")))
    user.deletion_requested_at = None
    user.deletion_due_at = None
    audit.record("account.deletion_cancelled", actor=user, object_type="user", object_id=user.id)
    with site_request_context():
        queue_mail(
            to=user.email,
            template="privacy/deletion_cancelled",
            subject=N_("Your account will not be deleted"),
            locale=user.locale or "fr",
            user=user,
        )
    logger.info("user %s cancelled the deletion of their account", user.id)


def anonymise_user(user: User, *, now: datetime) -> list[Path]:
    """Replace the person's identity and remove their personal data; flushes, no commit.

    Returns the files to delete once committed. Every registered source anonymises its
    part first (they may still need the e-mail address), then the user row itself.
    """
    files: list[Path] = []
    for source in SOURCES.values():
        if source.anonymise is not None:
            files.extend(source.anonymise(user, now))
    user.email = f"deleted-{user.id}@invalid"
    user.full_name = ANONYMOUS_NAME
    # Not an Argon2 hash: no password ever matches it.
    user.password_hash = "!deleted:" + secrets.token_hex(16)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.last_login_at = None
    user.disabled_at = user.disabled_at or now
    user.deletion_due_at = None
    user.anonymised_at = now
    end_all_sessions(user)
    db.session.flush()
    audit.record("account.anonymised", actor=None, object_type="user", object_id=user.id)
    return files


def due_for_anonymisation(now: datetime) -> list[int]:
    return list(
        db.session.scalars(
            select(User.id)
            .where(
                User.deletion_due_at.is_not(None),
                User.deletion_due_at <= now,
                User.anonymised_at.is_(None),
            )
            .order_by(User.id)
        )
    )
