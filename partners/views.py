"""Partner pages: application, team, dashboard, and the staff's partner queue."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from marketplace.extensions import db, limiter
from marketplace.i18n import country_name
from marketplace.security import login_required, moderator_required
from offers.models import Offer, OfferStatus
from partners import services
from partners import tasks as _tasks  # noqa: F401 - registers the orphan-application task
from partners.access import current_membership, current_partner, partner_required
from partners.dashboard import RECENT_DAYS, dashboard_view
from partners.forms import (
    ROLE_LABELS,
    ActionForm,
    ApplicationForm,
    InviteForm,
    ProfileForm,
    RefuseForm,
    RoleForm,
)
from partners.models import Partner, PartnerInvitation, PartnerMember, PartnerStatus, TeamRole

logger = logging.getLogger(__name__)

bp = Blueprint("partners", __name__, url_prefix="/partners")

STATUS_LABELS = {
    PartnerStatus.PENDING: _l("Pending review"),
    PartnerStatus.APPROVED: _l("Approved"),
    PartnerStatus.REFUSED: _l("Refused"),
}
OFFER_STATUS_LABELS = {
    OfferStatus.DRAFT: _l("Drafts"),
    OfferStatus.SUBMITTED: _l("Submitted for review"),
    OfferStatus.CHANGES_REQUESTED: _l("Changes requested"),
    OfferStatus.REJECTED: _l("Rejected"),
    OfferStatus.PUBLISHED: _l("Published"),
    OfferStatus.PAUSED: _l("Paused"),
    OfferStatus.EXPIRED: _l("Expired"),
    OfferStatus.ARCHIVED: _l("Archived"),
}


@bp.app_context_processor
def partner_globals() -> dict[str, Any]:
    """``current_membership()`` for the site's navigation (a link to the partner portal)."""
    return {"current_membership": current_membership}


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "country_name": country_name,
        "partner_status_label": lambda status: STATUS_LABELS.get(status, status),
        "role_label": lambda role: ROLE_LABELS.get(role, role),
    }


# ---------------------------------------------------------------- helpers


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _render(template: str, *, status: int | None = None, **context: Any):
    """A page; a form sent back with errors answers 422."""
    if status is None:
        status = 422 if request.method == "POST" else 200
    return render_template(template, **context), status


@contextmanager
def _uploaded_logo(field: Any) -> Iterator[str | None]:
    """Store the field's logo, if any, for the block; if the block fails it is deleted again."""
    upload = field.data
    if not isinstance(upload, FileStorage) or not upload.filename:
        yield None
        return
    filename, _content_type = services.store_logo(upload.stream)
    try:
        yield filename
    except BaseException:
        db.session.rollback()
        services.delete_logo(filename)
        raise


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


def get_application_or_404(partner_id: int) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        abort(404)
    return partner


def _own_applications(user: User) -> list[Partner]:
    """The partners this person is an active member of, oldest membership first."""
    return list(
        db.session.scalars(
            select(Partner)
            .join(PartnerMember, PartnerMember.partner_id == Partner.id)
            .where(PartnerMember.user_id == user.id, PartnerMember.disabled_at.is_(None))
            .order_by(PartnerMember.id)
        )
    )


def application_status_first(view: Callable[..., Any]) -> Callable[..., Any]:
    """An applicant whose company is not approved yet sees where the application stands."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        if (
            current_user.is_authenticated
            and current_membership() is None
            and _own_applications(_me())
        ):
            return redirect(url_for("partners.application_status"))
        return view(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------- application


@bp.route("/apply", methods=["GET", "POST"])
@limiter.limit("10/hour", key_func=get_remote_address, methods=["POST"])
def apply():
    """A company asks to become a partner; a visitor also gets an account."""
    signed_in = current_user.is_authenticated
    form = ApplicationForm(signed_in=signed_in)
    if form.validate_on_submit():
        data = services.Application(
            name=form.name.data,
            country=form.country.data,
            website=form.website.data,
            description=form.description.data,
            contact_name=form.contact_name.data,
            contact_email=form.contact_email.data,
            contact_phone=form.contact_phone.data,
        )
        try:
            with _uploaded_logo(form.logo) as logo:
                data.logo_filename = logo
                if signed_in:
                    partner = services.apply_as_user(data, user=_me())
                else:
                    partner = services.apply_as_visitor(
                        data,
                        password=form.password.data,
                        locale=str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]),
                    )
                db.session.commit()
        except services.InvalidLogo as error:
            form.logo.errors = [*form.logo.errors, str(error.message)]
        except DomainError as error:
            form.form_errors.append(str(error.message))
        else:
            if partner is None:
                # The address has an account: nothing was created, the logo has no owner.
                services.delete_logo(logo)
            if signed_in:
                flash(_("Your application was sent. The association will review it."), "success")
                return redirect(url_for("partners.application_status"))
            return redirect(url_for("partners.applied"))
    return _render("partners/apply.html", form=form, signed_in=signed_in)


@bp.get("/apply/check-inbox")
def applied():
    return render_template("partners/applied.html")


@bp.get("/application-status")
@login_required
def application_status():
    """Where the signed-in person's partner applications stand."""
    partners = _own_applications(_me())
    if not partners:
        abort(404)
    return render_template("partners/application_status.html", partners=partners)


# ---------------------------------------------------------------- staff queue


@bp.get("/applications")
@moderator_required
def applications():
    """Pending applications, oldest first."""
    rows = db.session.scalars(
        select(Partner)
        .where(Partner.status == PartnerStatus.PENDING)
        .order_by(Partner.applied_at, Partner.id)
    ).all()
    return render_template("partners/applications.html", partners=rows)


def _render_application(partner: Partner, *, refuse_form: RefuseForm | None = None, status=200):
    members = db.session.execute(
        select(PartnerMember, User)
        .join(User, User.id == PartnerMember.user_id)
        .where(PartnerMember.partner_id == partner.id)
        .order_by(PartnerMember.id)
    ).all()
    return _render(
        "partners/application.html",
        status=status,
        partner=partner,
        members=members,
        approve_form=ActionForm(formdata=None, prefix="approve"),
        refuse_form=refuse_form or RefuseForm(formdata=None, prefix="refuse"),
    )


@bp.get("/applications/<int:partner_id>")
@moderator_required
def application(partner_id: int):
    """One application with the decision forms."""
    return _render_application(get_application_or_404(partner_id))


def _decision_refused(partner: Partner, error: Conflict):
    db.session.rollback()
    flash(str(error.message), "error")
    return redirect(url_for("partners.application", partner_id=partner.id))


@bp.post("/applications/<int:partner_id>/approve")
@moderator_required
def approve(partner_id: int):
    """Approve an application."""
    partner = get_application_or_404(partner_id)
    try:
        services.approve_partner(partner, actor=_me())
    except Conflict as error:
        return _decision_refused(partner, error)
    db.session.commit()
    flash(_("%(name)s is now a partner.", name=partner.name), "success")
    return redirect(url_for("partners.applications"))


@bp.post("/applications/<int:partner_id>/refuse")
@moderator_required
def refuse(partner_id: int):
    """Refuse an application with a reason."""
    partner = get_application_or_404(partner_id)
    form = RefuseForm(prefix="refuse")
    if not form.validate():
        return _render_application(partner, refuse_form=form, status=422)
    try:
        services.refuse_partner(partner, actor=_me(), reason=form.reason.data)
    except Conflict as error:
        return _decision_refused(partner, error)
    db.session.commit()
    flash(_("The application of %(name)s was refused.", name=partner.name), "success")
    return redirect(url_for("partners.applications"))


# ---------------------------------------------------------------- dashboard and profile


@bp.get("/dashboard")
@application_status_first
@partner_required()
def dashboard():
    """The partner's home: company, team size, offers by status."""
    partner = current_partner()
    team_size = db.session.scalar(
        select(func.count())
        .select_from(PartnerMember)
        .where(PartnerMember.partner_id == partner.id, PartnerMember.disabled_at.is_(None))
    )
    counts = dict(
        db.session.execute(
            select(Offer.status, func.count())
            .where(Offer.partner_id == partner.id)
            .group_by(Offer.status)
        ).all()
    )
    offer_counts = [
        (status, label, counts.get(status, 0)) for status, label in OFFER_STATUS_LABELS.items()
    ]
    return render_template(
        "partners/dashboard.html",
        partner=partner,
        membership=current_membership(),
        team_size=team_size,
        offer_counts=offer_counts,
        offer_total=sum(counts.values()),
        recent=dashboard_view(partner),
        recent_days=RECENT_DAYS,
    )


@bp.route("/profile", methods=["GET", "POST"])
@partner_required(owner=True)
def profile():
    """The owner edits the company profile and logo."""
    partner = current_partner()
    form = ProfileForm(obj=partner)
    if form.validate_on_submit():
        changes = services.ProfileChanges(
            description=form.description.data,
            website=form.website.data,
            contact_name=form.contact_name.data,
            contact_email=form.contact_email.data,
            contact_phone=form.contact_phone.data,
        )
        try:
            with _uploaded_logo(form.logo) as logo:
                old_logo = services.update_profile(
                    partner, actor=_me(), changes=changes, logo_filename=logo
                )
                db.session.commit()
        except services.InvalidLogo as error:
            form.logo.errors = [*form.logo.errors, str(error.message)]
        else:
            services.delete_logo(old_logo)
            flash(_("The company profile was saved."), "success")
            return redirect(url_for("partners.dashboard"))
    return _render("partners/profile.html", form=form, partner=partner)


LOGO_CACHE_SECONDS = 365 * 24 * 3600


@bp.get("/<int:partner_id>/logo")
def logo(partner_id: int):
    """An approved partner's logo (public)."""
    partner = db.session.get(Partner, partner_id)
    path = services.logo_path(partner) if partner is not None and partner.is_approved else None
    if path is None or not path.is_file():
        abort(404)
    mimetype = "image/png" if path.suffix == ".png" else "image/jpeg"
    # Pages ask for ?v=<the stored name>: that address never changes content, keep it a year.
    current = request.args.get("v") == path.stem
    response = send_file(path, mimetype=mimetype, max_age=LOGO_CACHE_SECONDS if current else 3600)
    if current:
        response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


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


@bp.get("/team")
@partner_required()
def team():
    """The team: representatives (active and disabled) and pending invitations."""
    return _render_team()


@bp.post("/team/invitations")
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


@bp.post("/team/invitations/<int:invitation_id>/revoke")
@partner_required(owner=True)
def revoke(invitation_id: int):
    """Withdraw an invitation."""
    invitation = get_invitation_or_404(invitation_id, partner=current_partner())
    return _team_change(
        lambda: services.revoke_invitation(invitation, actor=_me()),
        _("The invitation was withdrawn."),
    )


@bp.post("/team/members/<int:member_id>/disable")
@partner_required(owner=True)
def disable(member_id: int):
    """Disable a representative (never deleted, so what they wrote stays theirs)."""
    member = get_member_or_404(member_id, partner=current_partner())
    return _team_change(
        lambda: services.set_member_disabled(member, actor=_me(), disabled=True),
        _("The representative was disabled."),
    )


@bp.post("/team/members/<int:member_id>/enable")
@partner_required(owner=True)
def enable(member_id: int):
    """Re-enable a disabled representative."""
    member = get_member_or_404(member_id, partner=current_partner())
    return _team_change(
        lambda: services.set_member_disabled(member, actor=_me(), disabled=False),
        _("The representative was enabled again."),
    )


@bp.post("/team/members/<int:member_id>/role")
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


@bp.get("/invitations/<token>")
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


@bp.post("/invitations/<token>")
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


# The billing pages (plans, partnership, featured placements, payments) live in their own module.
from partners import billing_views  # noqa: E402

bp.register_blueprint(billing_views.bp)
