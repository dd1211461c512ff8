"""The partner's team: representatives, roles, invitations, and accepting an invitation.

Endpoints ``partners.team``, ``partners.invite``, ``partners.revoke``, ``partners.disable``,
``partners.enable``, ``partners.change_role``, ``partners.invitation`` and
``partners.accept``: ``partners.init_app`` adds these routes to the partners blueprint.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from marketplace.extensions import db
from marketplace.routing import RouteTable
from marketplace.security import login_required
from partners import services
from partners.access import current_membership, current_partner, partner_required
from partners.forms import ActionForm, InviteForm, RoleForm
from partners.models import Partner, PartnerInvitation, PartnerMember, TeamRole
from partners.pages import me as _me
from partners.pages import render_page as _render

routes = RouteTable()


def get_member_or_404(member_id: int, *, partner: Partner) -> PartnerMember:
    member = db.session.scalar(
        select(PartnerMember).where(
            PartnerMember.id == member_id, PartnerMember.partner_id == partner.id
        )
    )
    if member is None:
        abort(404)
    return member


def get_invitation_or_404(invitation_id: int, *, partner: Partner) -> PartnerInvitation:
    invitation = db.session.scalar(
        select(PartnerInvitation).where(
            PartnerInvitation.id == invitation_id, PartnerInvitation.partner_id == partner.id
        )
    )
    if invitation is None:
        abort(404)
    return invitation


# ---------------------------------------------------------------- team


def _render_team(invite_form: InviteForm | None = None, *, status: int = 200):
    partner = current_partner()
    members = db.session.execute(
        select(PartnerMember, User)
        .join(User, User.id == PartnerMember.user_id)
        .where(PartnerMember.partner_id == partner.id)
        .order_by(PartnerMember.disabled_at.is_not(None), PartnerMember.id)
    ).all()
    invitations = db.session.scalars(
        select(PartnerInvitation)
        .where(
            PartnerInvitation.partner_id == partner.id,
            PartnerInvitation.accepted_at.is_(None),
            PartnerInvitation.revoked_at.is_(None),
        )
        .order_by(PartnerInvitation.created_at, PartnerInvitation.id)
    ).all()
    return _render(
        "partners/team.html",
        status=status,
        partner=partner,
        membership=current_membership(),
        members=members,
        invitations=invitations,
        invite_form=invite_form or InviteForm(formdata=None),
        role_form=RoleForm(formdata=None),
        action_form=ActionForm(formdata=None),
        now=utcnow(),
    )


@routes.get("/team")
@partner_required()
def team():
    """The team: representatives (active and disabled) and pending invitations."""
    return _render_team()


@routes.post("/team/invitations")
@partner_required(owner=True)
def invite():
    """Invite a colleague by e-mail."""
    form = InviteForm()
    if not form.validate():
        return _render_team(form, status=422)
    try:
        services.invite_member(
            current_partner(), actor=_me(), email=form.email.data, role=TeamRole(form.role.data)
        )
    except Conflict as error:
        db.session.rollback()
        form.email.errors = [*form.email.errors, str(error.message)]
        return _render_team(form, status=409)
    db.session.commit()
    flash(_("The invitation was sent to %(email)s.", email=form.email.data), "success")
    return redirect(url_for("partners.team"))


def _team_change(change: Callable[[], None], message: str):
    try:
        change()
    except (Conflict, InvalidInput) as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _render_team(status=409)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("partners.team"))


@routes.post("/team/invitations/<int:invitation_id>/revoke")
@partner_required(owner=True)
def revoke(invitation_id: int):
    """Withdraw an invitation."""
    invitation = get_invitation_or_404(invitation_id, partner=current_partner())
    return _team_change(
        lambda: services.revoke_invitation(invitation, actor=_me()),
        _("The invitation was withdrawn."),
    )


@routes.post("/team/members/<int:member_id>/disable")
@partner_required(owner=True)
def disable(member_id: int):
    """Disable a representative (never deleted, so what they wrote stays theirs)."""
    member = get_member_or_404(member_id, partner=current_partner())
    return _team_change(
        lambda: services.set_member_disabled(member, actor=_me(), disabled=True),
        _("The representative was disabled."),
    )


@routes.post("/team/members/<int:member_id>/enable")
@partner_required(owner=True)
def enable(member_id: int):
    """Re-enable a disabled representative."""
    member = get_member_or_404(member_id, partner=current_partner())
    return _team_change(
        lambda: services.set_member_disabled(member, actor=_me(), disabled=False),
        _("The representative was enabled again."),
    )


@routes.post("/team/members/<int:member_id>/role")
@partner_required(owner=True)
def change_role(member_id: int):
    """Make a representative an owner or a manager."""
    member = get_member_or_404(member_id, partner=current_partner())
    form = RoleForm()
    if not form.validate():
        flash(_("Choose a role from the list."), "error")
        return _render_team(status=422)
    return _team_change(
        lambda: services.change_member_role(member, actor=_me(), role=TeamRole(form.role.data)),
        _("The role was changed."),
    )


# ---------------------------------------------------------------- invitations


def _invitation_problem(error: DomainError):
    return _render("partners/invitation_invalid.html", status=error.status, error=error)


@routes.get("/invitations/<token>")
def invitation(token: str):
    """An invitation: which team and role; a button to join when signed in."""
    try:
        found = services.find_invitation(token)
    except (services.InvitationInvalid, services.InvitationGone) as error:
        return _invitation_problem(error)
    problem = None
    if current_user.is_authenticated:
        try:
            services.check_invitee(found, _me())
        except DomainError as error:
            problem = error
    return render_template(
        "partners/invitation.html",
        invitation=found,
        token=token,
        form=ActionForm(),
        problem=problem,
    )


@routes.post("/invitations/<token>")
@login_required
def accept(token: str):
    """The signed-in person joins the team."""
    try:
        member = services.accept_invitation(token, user=_me())
    except (services.InvitationInvalid, services.InvitationGone) as error:
        db.session.rollback()
        return _invitation_problem(error)
    except (Conflict, PermissionDenied) as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _render(
            "partners/invitation.html",
            status=error.status,
            invitation=services.find_invitation(token),
            token=token,
            form=ActionForm(),
            problem=error if isinstance(error, PermissionDenied) else None,
        )
    db.session.commit()
    flash(_("Welcome to the team of %(name)s.", name=member.partner.name), "success")
    if member.partner.is_approved:
        return redirect(url_for("partners.dashboard"))
    return redirect(url_for("partners.application_status"))
