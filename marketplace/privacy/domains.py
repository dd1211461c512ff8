"""The personal data the job board, the offers and the partner portal hold about a person.

Imported once by the app factory (like ``jobs.alerts``): the core never imports the domain
packages, so their sources are registered from here.

On deletion: applications stay as anonymous rows for the partner's pipeline, without CV or
cover letter; the ones still open are withdrawn, so the jobs retention
(``jobs/retention.py``) deletes them 3 months later like any withdrawal. Redemptions stay
(the partner's statistics), linked to the anonymised person. Partner memberships are
disabled; a partner's last active owner must hand over first.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from jobs.application_services import WITHDRAWABLE, cv_folder, cv_path
from jobs.models import Application, ApplicationStatus, ApplicationStatusChange, Job
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.privacy.registry import register_deletion_check, register_personal_data, row_dict
from offers.models import Offer, Redemption
from partners.models import Partner, PartnerInvitation, PartnerMember, PartnerStatus, TeamRole


def _applications(user: User) -> list[Application]:
    return list(
        db.session.scalars(
            select(Application).where(Application.user_id == user.id).order_by(Application.id)
        )
    )


def export_applications(user: User) -> list[dict[str, Any]]:
    """The person's applications with their history; the partner's private notes are theirs."""
    applications = _applications(user)
    ids = [application.id for application in applications]
    history: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for change in db.session.scalars(
            select(ApplicationStatusChange)
            .where(ApplicationStatusChange.application_id.in_(ids))
            .order_by(ApplicationStatusChange.id)
        ):
            history.setdefault(change.application_id, []).append(
                row_dict(change, exclude={"actor_id"})
            )
    rows = []
    for application in applications:
        job: Job = application.job
        rows.append(
            row_dict(application, exclude={"cv_filename"})
            | {
                "job": {
                    "id": job.id,
                    "title_fr": job.title_fr,
                    "title_en": job.title_en,
                    "partner": job.partner.name,
                },
                "history": history.get(application.id, []),
            }
        )
    return rows


def application_files(user: User) -> list[tuple[str, Path]]:
    files = []
    for application in _applications(user):
        path = cv_path(application)
        if path is not None:
            original = Path(application.cv_original_name or "cv.pdf").name
            files.append((f"cvs/{application.id}-{original}", path))
    return files


def anonymise_applications(user: User, now: datetime) -> list[Path]:
    files: list[Path] = []
    for application in _applications(user):
        if application.cv_filename:
            files.append(cv_folder() / Path(application.cv_filename).name)
            application.cv_filename = None
            application.cv_deleted_at = application.cv_deleted_at or now
        application.cv_original_name = None
        application.cv_size = None
        application.cover_letter = None
        if application.status in WITHDRAWABLE:
            db.session.add(
                ApplicationStatusChange(
                    application_id=application.id,
                    from_status=application.status.value,
                    to_status=ApplicationStatus.WITHDRAWN.value,
                    actor_id=None,
                    created_at=now,
                )
            )
            application.status = ApplicationStatus.WITHDRAWN
            application.withdrawn_at = now
    db.session.flush()
    return files


def export_redemptions(user: User) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Redemption, Offer)
        .join(Offer, Offer.id == Redemption.offer_id)
        .where(Redemption.user_id == user.id)
        .order_by(Redemption.id)
    ).all()
    return [
        row_dict(redemption, exclude={"validated_by_id"})
        | {"offer": {"id": offer.id, "title_fr": offer.title_fr, "title_en": offer.title_en}}
        for redemption, offer in rows
    ]


def export_partner_memberships(user: User) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(PartnerMember, Partner)
        .join(Partner, Partner.id == PartnerMember.partner_id)
        .where(PartnerMember.user_id == user.id)
        .order_by(PartnerMember.id)
    ).all()
    return [row_dict(member) | {"partner": partner.name} for member, partner in rows]


def anonymise_partner_memberships(user: User, now: datetime) -> list[Path]:
    db.session.execute(
        update(PartnerMember)
        .where(PartnerMember.user_id == user.id, PartnerMember.disabled_at.is_(None))
        .values(disabled_at=now)
    )
    # Invitations still waiting for this address can no longer be accepted.
    db.session.execute(
        update(PartnerInvitation)
        .where(
            func.lower(PartnerInvitation.email) == user.email.lower(),
            PartnerInvitation.accepted_at.is_(None),
            PartnerInvitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    db.session.flush()
    return []


def last_owner_check(user: User) -> str | None:
    """A partner must keep an active owner: its last one hands over before leaving."""
    owned = db.session.scalars(
        select(PartnerMember.partner_id)
        .join(Partner, Partner.id == PartnerMember.partner_id)
        .where(
            PartnerMember.user_id == user.id,
            PartnerMember.role == TeamRole.OWNER,
            PartnerMember.disabled_at.is_(None),
            Partner.status != PartnerStatus.REFUSED,
        )
    ).all()
    for partner_id in owned:
        others = db.session.scalar(
            select(func.count())
            .select_from(PartnerMember)
            .where(
                PartnerMember.partner_id == partner_id,
                PartnerMember.user_id != user.id,
                PartnerMember.role == TeamRole.OWNER,
                PartnerMember.disabled_at.is_(None),
            )
        )
        if not others:
            name = db.session.get(Partner, partner_id).name
            return str(
                _l(
                    "You are the last owner of the partner %(name)s: make another member of "
                    "the team an owner first (or ask the association to close the partner).",
                    name=name,
                )
            )
    return None


register_personal_data(
    "applications",
    export=export_applications,
    files=application_files,
    anonymise=anonymise_applications,
)
register_personal_data("redemptions", export=export_redemptions)
register_personal_data(
    "partner_memberships",
    export=export_partner_memberships,
    anonymise=anonymise_partner_memberships,
)
register_deletion_check(last_owner_check)
