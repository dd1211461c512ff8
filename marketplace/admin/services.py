"""Administration of accounts: searches for the admin pages, and the guarded staff actions.

Role changes and disabling go through ``marketplace.accounts.services`` (which audits them);
this module adds the rules an administrator must not break: the last active administrator
keeps the role, nobody disables their own account.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any, Generic, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import aliased, selectinload

from marketplace import audit
from marketplace.accounts import second_factor
from marketplace.accounts import services as accounts
from marketplace.accounts.models import RecoveryCode, Role, User, UserRole
from marketplace.audit import AuditLog
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.membership.models import MembershipTier
from marketplace.payments.models import AssociationDetails
from marketplace.security import end_all_sessions

logger = logging.getLogger(__name__)

T = TypeVar("T")

USERS_PER_PAGE = 50
AUDIT_PER_PAGE = 50

# Role filter values beyond the roles themselves.
ANY_STAFF = "staff"
NO_ROLE = "none"
ACTIVE = "active"
DISABLED = "disabled"


class LastAdministrator(Conflict):
    code = "last_admin"
    message = _l("This is the last active administrator: give the role to someone else first.")


class CannotDisableSelf(Conflict):
    code = "disable_self"
    message = _l("You cannot disable your own account.")


class TwoFactorNotSet(Conflict):
    code = "totp_not_set"
    message = _l("Two-factor authentication is not set up for this account.")


@dataclass
class Page(Generic[T]):
    """One page of a list, with what the pager needs."""

    items: Sequence[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _paginate(query: Select[Any], *, page: int, per_page: int, scalars: bool) -> Page[Any]:
    """Count, then fetch one page (a page past the end shows the last one): two queries."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    page = min(max(page, 1), max(1, ceil(total / per_page)))
    result = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    items = result.scalars().all() if scalars else result.all()
    return Page(items=items, total=total, page=page, per_page=per_page)


def _contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# ---------------------------------------------------------------- reads


def search_users(
    *,
    q: str = "",
    role: str = "",
    state: str = "",
    page: int = 1,
    per_page: int = USERS_PER_PAGE,
) -> Page[User]:
    """Users matching a name / e-mail search, a role and a state, newest first."""
    query = select(User).options(
        # Roles are selectin-loaded by the model; the profile (and its school) too, here:
        # the page runs the same few queries whatever the number of rows.
        selectinload(User.alumni_profile)
    )
    q = q.strip()
    if q:
        pattern = _contains(q)
        query = query.where(
            User.full_name.ilike(pattern, escape="\\") | User.email.ilike(pattern, escape="\\")
        )
    holders = select(UserRole.user_id)
    if role == ANY_STAFF:
        query = query.where(User.id.in_(holders))
    elif role == NO_ROLE:
        query = query.where(User.id.not_in(holders))
    elif role in {r.value for r in Role}:
        query = query.where(User.id.in_(holders.where(UserRole.role == role)))
    if state == ACTIVE:
        query = query.where(User.disabled_at.is_(None))
    elif state == DISABLED:
        query = query.where(User.disabled_at.is_not(None))
    query = query.order_by(User.created_at.desc(), User.id.desc())
    return _paginate(query, page=page, per_page=per_page, scalars=True)


@dataclass
class AuditRow:
    """An audit entry with the e-mail of its actor and, for a user, of its object."""

    entry: AuditLog
    actor_email: str | None
    object_email: str | None


def search_audit(
    *,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    object_id: int | str | None = None,
    page: int = 1,
    per_page: int = AUDIT_PER_PAGE,
) -> Page[AuditRow]:
    """Audit entries, newest first, by action, (part of) the actor's e-mail and object.

    ``object_id`` alone matches that number in any object type; with ``object_type``, one
    object (everything done to one offer, payment or user).
    """
    actor_user = aliased(User)
    object_user = aliased(User)
    query = (
        select(AuditLog, actor_user.email, object_user.email)
        .outerjoin(actor_user, actor_user.id == AuditLog.actor_id)
        .outerjoin(
            object_user,
            (AuditLog.object_type == "user") & (object_user.id == AuditLog.object_id),
        )
    )
    if action:
        query = query.where(AuditLog.action == action)
    actor = actor.strip()
    if actor:
        query = query.where(actor_user.email.ilike(_contains(actor), escape="\\"))
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == int(object_id))
    query = query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    result = _paginate(query, page=page, per_page=per_page, scalars=False)
    rows = [
        AuditRow(entry, actor_email, object_email)
        for entry, actor_email, object_email in result.items
    ]
    return Page(items=rows, total=result.total, page=result.page, per_page=result.per_page)


def audit_actions() -> list[str]:
    """The actions present in the log, for the filter."""
    return list(db.session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))


def audit_object_types() -> list[str]:
    """The object types present in the log, for the filter."""
    return list(
        db.session.scalars(select(AuditLog.object_type).distinct().order_by(AuditLog.object_type))
    )


def user_history(user: User, *, limit: int = 20) -> list[AuditRow]:
    """The latest audit entries about one user."""
    actor_user = aliased(User)
    rows = db.session.execute(
        select(AuditLog, actor_user.email)
        .outerjoin(actor_user, actor_user.id == AuditLog.actor_id)
        .where(AuditLog.object_type == "user", AuditLog.object_id == user.id)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(limit)
    ).all()
    return [AuditRow(entry, actor_email, user.email) for entry, actor_email in rows]


# ---------------------------------------------------------------- staff actions


def _active_admin_count() -> int:
    """Active administrators, their role rows locked so two revocations cannot race."""
    rows = db.session.scalars(
        select(UserRole.id)
        .join(User, User.id == UserRole.user_id)
        .where(UserRole.role == Role.ADMIN.value, User.disabled_at.is_(None))
        .with_for_update(of=UserRole)
    ).all()
    return len(rows)


def _is_active_admin(user: User) -> bool:
    return user.is_active and user.has_role(Role.ADMIN.value)


def change_role(user: User, *, role: str, grant: bool, actor: User | None) -> None:
    """Grant or revoke a staff role; the last active administrator keeps theirs."""
    if grant:
        accounts.grant_role(user, role, actor=actor)
        return
    if role == Role.ADMIN.value and _is_active_admin(user) and _active_admin_count() <= 1:
        raise LastAdministrator()
    accounts.revoke_role(user, role, actor=actor)


def set_user_disabled(user: User, *, disabled: bool, actor: User | None) -> None:
    """Disable or re-enable an account; never one's own, never the last active administrator."""
    if disabled and actor is not None and actor.id == user.id:
        raise CannotDisableSelf()
    if disabled and _is_active_admin(user) and _active_admin_count() <= 1:
        raise LastAdministrator()
    accounts.set_disabled(user, disabled, actor=actor)


def reset_two_factor(user: User, *, actor: User | None) -> None:
    """Forget the user's TOTP secret and recovery codes; mail them a link to enrol again."""
    if user.totp_secret is None and user.totp_enabled_at is None:
        raise TwoFactorNotSet()
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    # Sessions (and tokens) that passed the old second factor end; the person enrols again
    # through a link mailed to them, never with the password alone.
    end_all_sessions(user)
    second_factor.send_two_factor_enrolment(user)
    audit.record("totp.reset", actor=actor, object_type="user", object_id=user.id)
    logger.info("two-factor of user %s reset by %s", user.id, getattr(actor, "id", None))


# ---------------------------------------------------------------- settings: tiers, association

TIER_FIELDS = (
    "code",
    "name_fr",
    "name_en",
    "amount",
    "currency",
    "months",
    "position",
    "active",
    "max_years_since_leaving",
)
ASSOCIATION_FIELDS = (
    "name",
    "address",
    "postal_code",
    "city",
    "country",
    "siret",
    "rna",
    "email",
    "vat_regime",
    "vat_number",
    "vat_rate_partner_plan",
    "vat_rate_featured",
)


class TierCodeTaken(Conflict):
    code = "tier_code_taken"
    message = _l("Another tier already has this code.")


def list_tiers() -> Sequence[MembershipTier]:
    """Every membership tier, open ones first, in display order."""
    return db.session.scalars(
        select(MembershipTier).order_by(
            MembershipTier.active.desc(), MembershipTier.position, MembershipTier.amount
        )
    ).all()


def _check_tier_code(code: str, *, tier_id: int | None) -> None:
    query = select(MembershipTier.id).where(MembershipTier.code == code)
    if tier_id is not None:
        query = query.where(MembershipTier.id != tier_id)
    if db.session.scalar(query) is not None:
        raise TierCodeTaken()


def create_tier(*, values: dict[str, Any], actor: Any) -> MembershipTier:
    """Add a membership tier (amount in minor units); audited."""
    values = {name: values[name] for name in TIER_FIELDS}
    values["currency"] = values["currency"].upper()
    _check_tier_code(values["code"], tier_id=None)
    tier = MembershipTier(**values)
    db.session.add(tier)
    db.session.flush()
    audit.record(
        "tier.created", actor=actor, object_type="membership_tier", object_id=tier.id, **values
    )
    return tier


def update_tier(tier: MembershipTier, *, values: dict[str, Any], actor: Any) -> dict[str, Any]:
    """Change a tier; returns (and audits) the fields that changed, as {name: [old, new]}."""
    values = {name: values[name] for name in TIER_FIELDS}
    values["currency"] = values["currency"].upper()
    _check_tier_code(values["code"], tier_id=tier.id)
    changes = {
        name: [getattr(tier, name), value]
        for name, value in values.items()
        if getattr(tier, name) != value
    }
    for name, (_old, new) in changes.items():
        setattr(tier, name, new)
    db.session.flush()
    if changes:
        audit.record(
            "tier.updated", actor=actor, object_type="membership_tier", object_id=tier.id, **changes
        )
    return changes


def deactivate_tier(tier: MembershipTier, *, actor: Any) -> None:
    """Close a tier to new members (paid periods of it keep running); audited."""
    if not tier.active:
        return
    tier.active = False
    db.session.flush()
    audit.record("tier.deactivated", actor=actor, object_type="membership_tier", object_id=tier.id)


def get_association_details() -> AssociationDetails | None:
    """The association's identity (one row)."""
    return db.session.scalar(select(AssociationDetails).order_by(AssociationDetails.id).limit(1))


def update_association_details(*, values: dict[str, Any], actor: Any) -> AssociationDetails:
    """Create or change the association's identity printed on documents; audited.

    Documents already issued keep what they say (they are frozen); the change reaches only
    the documents issued from now on.
    """
    values = {name: values[name] or None for name in ASSOCIATION_FIELDS}
    values["country"] = (values["country"] or "FR").upper()
    values["vat_regime"] = values["vat_regime"] or "franchise"
    for name in ("vat_rate_partner_plan", "vat_rate_featured"):
        values[name] = int(values[name]) if values[name] else None
    details = get_association_details()
    if details is None:
        details = AssociationDetails(**values)
        db.session.add(details)
        changes = {name: [None, value] for name, value in values.items() if value is not None}
    else:
        changes = {
            name: [getattr(details, name), value]
            for name, value in values.items()
            if getattr(details, name) != value
        }
        for name, (_old, new) in changes.items():
            setattr(details, name, new)
    db.session.flush()
    if changes:
        audit.record(
            "association.updated",
            actor=actor,
            object_type="association_details",
            object_id=details.id,
            **changes,
        )
    return details
