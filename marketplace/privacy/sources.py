"""The core's personal data: account, profile, memberships, payments, alerts, consents, logs.

Registered with ``registry.register_personal_data`` by ``marketplace.privacy.init_app``.
Payments are the ledger: they stay, linked to the anonymised
person, with the payer's name replaced and the e-mail removed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select, update

from marketplace.accounts.evidence import evidence_path
from marketplace.accounts.models import (
    AccountToken,
    ApiToken,
    RecoveryCode,
    RosterEntry,
    User,
)
from marketplace.audit import AuditLog
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.notifications.models import OutboxMessage, SavedSearch
from marketplace.payments.models import Payment, PaymentProfile
from marketplace.privacy.models import Consent
from marketplace.privacy.registry import row_dict
from marketplace.privacy.services import ANONYMOUS_NAME


def export_account(user: User) -> dict[str, Any]:
    data = row_dict(user)
    data["roles"] = sorted(user.roles)
    data["api_tokens"] = [
        row_dict(token)
        for token in db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id))
    ]
    return data


def export_profile(user: User) -> dict[str, Any] | None:
    profile = user.alumni_profile
    if profile is None:
        return None
    data = row_dict(profile, exclude={"evidence_filename"})
    data["school"] = (
        {"id": profile.school.id, "name": profile.school.name, "city": profile.school.city}
        if profile.school
        else None
    )
    return data


def profile_files(user: User) -> list[tuple[str, Path]]:
    profile = user.alumni_profile
    path = evidence_path(profile) if profile is not None else None
    if path is None or not path.is_file():
        return []
    original = Path(profile.evidence_original_name or path.name).name
    return [(f"evidence/{original}", path)]


def anonymise_profile(user: User, now: datetime) -> list[Path]:
    """Clear what the alumnus declared and sent; the school and status stay for statistics."""
    profile = user.alumni_profile
    files: list[Path] = []
    if profile is not None:
        path = evidence_path(profile)
        if path is not None:
            files.append(path)
        profile.graduation_year = None
        profile.country = None
        profile.city = None
        profile.moderator_message = None
        profile.member_answer = None
        profile.refusal_reason = None
        profile.evidence_filename = None
        profile.evidence_original_name = None
        profile.evidence_content_type = None
    for model in (AccountToken, ApiToken, RecoveryCode):
        db.session.execute(delete(model).where(model.user_id == user.id))
    # The school's roster keeps its own line; only the link to this account goes.
    db.session.execute(
        update(RosterEntry)
        .where(RosterEntry.matched_user_id == user.id)
        .values(matched_user_id=None)
    )
    # Mail already sent or still waiting to this address: bodies name the person.
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.recipient == user.email))
    db.session.flush()
    return files


def export_memberships(user: User) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)
    )
    return [row_dict(row) | {"tier": row.tier.code if row.tier else None} for row in rows]


def export_payments(user: User) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Payment).where(Payment.payer_id == user.id).order_by(Payment.id)
    )
    return [
        row_dict(row, exclude={"flag", "flag_detail"})
        | {"refunds": [row_dict(refund, exclude={"created_by_id"}) for refund in row.refunds]}
        for row in rows
    ]


def export_payment_profile(user: User) -> dict[str, Any] | None:
    profile = db.session.scalar(select(PaymentProfile).where(PaymentProfile.user_id == user.id))
    return row_dict(profile) if profile is not None else None


def anonymise_payments(user: User, now: datetime) -> list[Path]:
    """The ledger stays (accounting, 10 years) with an anonymous payer; the saved card goes."""
    db.session.execute(
        update(Payment)
        .where(Payment.payer_id == user.id)
        .values(payer_name=ANONYMOUS_NAME, payer_email=None)
    )
    db.session.execute(delete(PaymentProfile).where(PaymentProfile.user_id == user.id))
    db.session.flush()
    return []


def export_saved_searches(user: User) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(SavedSearch).where(SavedSearch.user_id == user.id).order_by(SavedSearch.id)
    )
    return [row_dict(row) for row in rows]


def anonymise_saved_searches(user: User, now: datetime) -> list[Path]:
    for search in db.session.scalars(select(SavedSearch).where(SavedSearch.user_id == user.id)):
        db.session.delete(search)
    db.session.flush()
    return []


def export_consents(user: User) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Consent).where(Consent.user_id == user.id).order_by(Consent.id)
    )
    return [row_dict(row) for row in rows]


def anonymise_consents(user: User, now: datetime) -> list[Path]:
    """The history stays as proof; the keyed hash of the address goes."""
    db.session.execute(update(Consent).where(Consent.user_id == user.id).values(ip_hash=None))
    return []


def export_audit(user: User) -> list[dict[str, Any]]:
    """Log entries about the person or by them (the address only on their own actions)."""
    rows = db.session.scalars(
        select(AuditLog)
        .where(
            or_(
                AuditLog.actor_id == user.id,
                (AuditLog.object_type == "user") & (AuditLog.object_id == user.id),
            )
        )
        .order_by(AuditLog.id)
    )
    return [
        row_dict(row, exclude=() if row.actor_id == user.id else {"ip_address", "actor_id"})
        for row in rows
    ]
