"""Every state change of partners: applications, decisions, teams, invitations, profiles.

Functions flush and never commit: the view or API call commits once. Staff decisions are
audited with their actor and told to the partner's owners by e-mail, in each owner's language.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace import audit
from marketplace.accounts import services as accounts
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.services import queue_mail
from marketplace.security import hash_password, new_token, token_digest
from partners.access import active_members
from partners.models import (
    Partner,
    PartnerInvitation,
    PartnerMember,
    PartnerStatus,
    TeamRole,
)

logger = logging.getLogger(__name__)

INVITATION_DAYS = 7
LOGO_MAX_BYTES = 1024 * 1024
LOGO_TYPES = {
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
}
REASON_MAX_LENGTH = 2000

# Which statuses each staff decision may start from.
APPROVE_FROM = frozenset({PartnerStatus.PENDING, PartnerStatus.REFUSED})
REFUSE_FROM = frozenset({PartnerStatus.PENDING})
REQUEST_CHANGES_FROM = frozenset({PartnerStatus.PENDING})


class InvalidLogo(InvalidInput):
    code = "invalid_file"


class DecisionNotAllowed(Conflict):
    """The partner's current status does not allow this decision."""

    code = "wrong_status"
    message = _l("This decision is not possible in the partner's current status.")


class InvitationInvalid(DomainError):
    """No invitation has this token."""

    status = 400
    code = "invalid_token"
    message = _l("This invitation link is not valid.")


class InvitationGone(DomainError):
    """The invitation was used, revoked or has expired."""

    status = 410
    code = "invitation_gone"
    message = _l("This invitation has already been used, was withdrawn or has expired.")


class InvitationForSomeoneElse(PermissionDenied):
    """The signed-in person is not the one the invitation was sent to."""

    code = "invitation_for_someone_else"
    message = _l(
        "This invitation was sent to another address. Sign in with the address that received "
        "it to join the team."
    )


class InvitationNeedsConfirmedEmail(PermissionDenied):
    """The invited address has an account whose address is not confirmed yet."""

    code = "email_not_confirmed"
    message = _l(
        "Confirm your e-mail address first (follow the link we sent you), then accept the "
        "invitation."
    )


class TeamRuleBroken(Conflict):
    """A team change would leave the team without an active owner, or lock oneself out."""

    code = "team_rule"


# ---------------------------------------------------------------- logos


def store_logo(stream: IO[bytes]) -> tuple[str, str]:
    """Check a logo by content (PNG or JPEG) and size (1 MB), store it under a random name."""
    data = stream.read(LOGO_MAX_BYTES + 1)
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidLogo(_l("The logo is larger than 1 MB."))
    kind = next((kind for magic, kind in LOGO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise InvalidLogo(_l("Send the logo as a PNG or JPEG image."))
    content_type, suffix = kind
    folder = logo_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + suffix
    path = folder / name
    try:
        path.write_bytes(data)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    return name, content_type


def logo_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "logos"


def logo_path(partner: Partner) -> Path | None:
    """Where the partner's logo is stored, if it has one."""
    if not partner.logo_filename:
        return None
    return logo_folder() / Path(partner.logo_filename).name


def delete_logo(filename: str | None) -> None:
    """Remove a stored logo that no row points to any more."""
    if filename:
        (logo_folder() / Path(filename).name).unlink(missing_ok=True)


# ---------------------------------------------------------------- applications


@dataclass
class Application:
    """What a company sends to join (the logo is already stored by the caller)."""

    name: str
    country: str
    website: str | None
    description: str
    contact_name: str
    contact_email: str
    contact_phone: str | None = None
    logo_filename: str | None = None


def slugify(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:150] or "partner"


def unique_slug(name: str) -> str:
    """A slug for the name, suffixed with -2, -3… when it is taken."""
    base = slugify(name)
    taken = set(
        db.session.scalars(
            select(Partner.slug).where((Partner.slug == base) | Partner.slug.like(f"{base}-%"))
        )
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _create_partner(data: Application, owner: User) -> Partner:
    partner = Partner(
        name=data.name.strip(),
        slug=unique_slug(data.name),
        country=data.country.upper(),
        website=(data.website or "").strip() or None,
        description=data.description.strip(),
        contact_name=data.contact_name.strip(),
        contact_email=accounts.normalise_email(data.contact_email),
        contact_phone=(data.contact_phone or "").strip() or None,
        logo_filename=data.logo_filename,
        status=PartnerStatus.PENDING,
    )
    db.session.add(partner)
    db.session.flush()
    db.session.add(PartnerMember(partner_id=partner.id, user_id=owner.id, role=TeamRole.OWNER))
    db.session.flush()
    queue_mail(
        to=partner.contact_email,
        template="partners/application_received",
        subject=N_("We received your partner application"),
        locale=owner.locale,
        partner=partner,
        user=owner,
    )
    logger.info("partner %s applied (owner %s)", partner.id, owner.id)
    return partner


def apply_as_user(data: Application, *, user: User) -> Partner:
    """A signed-in person applies for a company; they become its owner."""
    return _create_partner(data, user)


def apply_as_visitor(data: Application, *, password: str, locale: str) -> Partner | None:
    """A visitor applies and gets an account for the contact address.

    An address that already has an account gets an e-mail asking to sign in and apply
    from there; nothing is created and the caller shows the same page (no enumeration).
    """
    existing = accounts.find_user(data.contact_email)
    if existing is not None:
        # Spend the time a new account costs, so the delay says nothing either.
        hash_password(password)
        queue_mail(
            to=existing.email,
            template="partners/sign_in_first",
            subject=N_("Sign in to send your partner application"),
            locale=existing.locale,
            user=existing,
        )
        return None
    user = accounts.create_user(
        email=data.contact_email,
        password=password,
        full_name=data.contact_name,
        locale=locale,
    )
    accounts.send_confirmation(user)
    return _create_partner(data, user)


# ---------------------------------------------------------------- staff decisions


def _tell_owners(partner: Partner, *, template: str, subject: str, **context: object) -> None:
    for owner in active_members(partner.id, role=TeamRole.OWNER):
        queue_mail(
            to=owner.email,
            template=template,
            subject=subject,
            locale=owner.locale,
            subject_args={"name": partner.name},
            partner=partner,
            user=owner,
            **context,
        )


def _check_from(partner: Partner, allowed: frozenset[PartnerStatus]) -> None:
    if partner.status not in allowed:
        raise DecisionNotAllowed()


def approve_partner(partner: Partner, *, actor: User) -> None:
    """Approve an application: the team can use the partner portal."""
    _check_from(partner, APPROVE_FROM)
    partner.status = PartnerStatus.APPROVED
    partner.refusal_reason = None
    partner.decided_at = utcnow()
    partner.decided_by_id = actor.id
    audit.record("partner.approved", actor=actor, object_type="partner", object_id=partner.id)
    _tell_owners(partner, template="partners/approved", subject=N_("%(name)s is now a partner"))


def _clean_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(_l("Write the reason."))
    if len(text) > REASON_MAX_LENGTH:
        raise InvalidInput(_l("The reason is too long."))
    return text


def refuse_partner(partner: Partner, *, actor: User, reason: str) -> None:
    """Refuse an application with a reason the owners read."""
    _check_from(partner, REFUSE_FROM)
    reason = _clean_reason(reason)
    partner.status = PartnerStatus.REFUSED
    partner.refusal_reason = reason
    partner.decided_at = utcnow()
    partner.decided_by_id = actor.id
    audit.record(
        "partner.refused",
        actor=actor,
        object_type="partner",
        object_id=partner.id,
        reason=reason,
    )
    _tell_owners(
        partner,
        template="partners/refused",
        subject=N_("Your partner application for %(name)s"),
        reason=reason,
    )


def request_partner_changes(partner: Partner, *, actor: User, message: str) -> None:
    """Ask the applicant for changes; the application stays pending."""
    _check_from(partner, REQUEST_CHANGES_FROM)
    message = _clean_reason(message)
    audit.record(
        "partner.changes_requested",
        actor=actor,
        object_type="partner",
        object_id=partner.id,
        message=message,
    )
    _tell_owners(
        partner,
        template="partners/changes_requested",
        subject=N_("Your partner application for %(name)s"),
        message=message,
    )


# ---------------------------------------------------------------- teams


def invite_member(
    partner: Partner, *, actor: User, email: str, role: TeamRole
) -> tuple[PartnerInvitation, str]:
    """An invitation by e-mail, valid 7 days; returns it with its token (sent, never stored)."""
    email = accounts.normalise_email(email)
    already = db.session.scalar(
        select(PartnerMember.id)
        .join(User, User.id == PartnerMember.user_id)
        .where(PartnerMember.partner_id == partner.id, User.email == email)
    )
    if already is not None:
        raise Conflict(_l("This person is already in the team."))
    token, digest = new_token()
    now = utcnow()
    invitation = PartnerInvitation(
        partner_id=partner.id,
        email=email,
        role=TeamRole(role),
        token_hash=digest,
        invited_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()
    queue_mail(
        to=email,
        template="partners/invitation",
        subject=N_("Join %(name)s on the alumni marketplace"),
        locale=actor.locale,
        subject_args={"name": partner.name},
        partner=partner,
        inviter=actor,
        invitation=invitation,
        token=token,
    )
    logger.info("invitation %s to partner %s by %s", invitation.id, partner.id, actor.id)
    return invitation, token


def revoke_invitation(invitation: PartnerInvitation, *, actor: User) -> None:
    """Withdraw an invitation that has not been used."""
    if invitation.accepted_at is not None:
        raise Conflict(_l("This invitation was already accepted."))
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        logger.info("invitation %s revoked by %s", invitation.id, actor.id)


def find_invitation(token: str) -> PartnerInvitation:
    """The usable invitation for a token; InvitationInvalid (unknown) or InvitationGone."""
    invitation = db.session.scalar(
        select(PartnerInvitation).where(PartnerInvitation.token_hash == token_digest(token))
    )
    if invitation is None:
        raise InvitationInvalid()
    if (
        invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= utcnow()
    ):
        raise InvitationGone()
    return invitation


def check_invitee(invitation: PartnerInvitation, user: User) -> None:
    """Only the invited address, once confirmed, may accept: holding the link is not enough."""
    if accounts.normalise_email(user.email) != accounts.normalise_email(invitation.email):
        raise InvitationForSomeoneElse()
    if user.email_confirmed_at is None:
        raise InvitationNeedsConfirmedEmail()


def accept_invitation(token: str, *, user: User) -> PartnerMember:
    """The invited person, signed in, joins the team with the invitation's role (once)."""
    invitation = find_invitation(token)
    check_invitee(invitation, user)
    member = db.session.scalar(
        select(PartnerMember).where(
            PartnerMember.partner_id == invitation.partner_id,
            PartnerMember.user_id == user.id,
        )
    )
    if member is not None:
        raise Conflict(_l("You already belong to this team."))
    # A conditional update: two clicks at once use the invitation once.
    used = db.session.execute(
        PartnerInvitation.__table__.update()
        .where(
            PartnerInvitation.id == invitation.id,
            PartnerInvitation.accepted_at.is_(None),
            PartnerInvitation.revoked_at.is_(None),
        )
        .values(accepted_at=utcnow(), accepted_by_id=user.id)
    )
    if used.rowcount != 1:
        raise InvitationGone()
    db.session.refresh(invitation)
    member = PartnerMember(partner_id=invitation.partner_id, user_id=user.id, role=invitation.role)
    db.session.add(member)
    db.session.flush()
    logger.info("user %s joined partner %s", user.id, invitation.partner_id)
    return member


def _other_active_owners(member: PartnerMember) -> int:
    owners = active_members(member.partner_id, role=TeamRole.OWNER)
    return sum(1 for owner in owners if owner.id != member.user_id)


def set_member_disabled(member: PartnerMember, *, actor: User, disabled: bool) -> None:
    """Disable (never delete) or re-enable a representative; one active owner always stays."""
    if disabled:
        if member.user_id == actor.id:
            raise TeamRuleBroken(_l("You cannot disable yourself."))
        if member.role == TeamRole.OWNER and _other_active_owners(member) == 0:
            raise TeamRuleBroken(_l("The team needs at least one active owner."))
        if member.disabled_at is None:
            member.disabled_at = utcnow()
            logger.info("partner member %s disabled by %s", member.id, actor.id)
    elif member.disabled_at is not None:
        member.disabled_at = None
        logger.info("partner member %s enabled by %s", member.id, actor.id)


def change_member_role(member: PartnerMember, *, actor: User, role: TeamRole) -> None:
    """Make a representative an owner or a manager; one active owner always stays."""
    role = TeamRole(role)
    if (
        member.role == TeamRole.OWNER
        and role != TeamRole.OWNER
        and member.disabled_at is None
        and _other_active_owners(member) == 0
    ):
        raise TeamRuleBroken(_l("The team needs at least one active owner."))
    if member.role != role:
        member.role = role
        logger.info("partner member %s is now %s (by %s)", member.id, role, actor.id)


# ---------------------------------------------------------------- profile


@dataclass
class ProfileChanges:
    """The company details an owner may edit."""

    description: str
    website: str | None
    contact_name: str
    contact_email: str
    contact_phone: str | None


def update_profile(
    partner: Partner,
    *,
    actor: User,
    changes: ProfileChanges,
    logo_filename: str | None = None,
) -> str | None:
    """Update the company profile; return the replaced logo's name, to delete after commit."""
    partner.description = changes.description.strip()
    partner.website = (changes.website or "").strip() or None
    partner.contact_name = changes.contact_name.strip()
    partner.contact_email = accounts.normalise_email(changes.contact_email)
    partner.contact_phone = (changes.contact_phone or "").strip() or None
    old_logo = None
    if logo_filename:
        old_logo = partner.logo_filename
        partner.logo_filename = logo_filename
    logger.info("partner %s profile updated by %s", partner.id, actor.id)
    return old_logo
