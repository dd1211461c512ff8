"""The personal data the partner portal holds about a person (registered by
``partners.init_app``).

On deletion partner memberships are disabled; a partner's last active owner must hand over
first (``last_owner_check``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.privacy.registry import row_dict
from partners.access import active_members
from partners.models import Partner, PartnerInvitation, PartnerMember, PartnerStatus, TeamRole


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
        owners = active_members(partner_id, role=TeamRole.OWNER)
        if not any(owner.id != user.id for owner in owners):
            name = db.session.get(Partner, partner_id).name
            return str(
                _l(
                    "You are the last owner of the partner %(name)s: make another member of "
                    "the team an owner first (or ask the association to close the partner).",
                    name=name,
                )
            )
    return None
