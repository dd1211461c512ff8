"""Moderators' pages: the alumni verification queue, one member's file, the roster import."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased, contains_eager, joinedload
from wtforms import SelectChoice

from marketplace.accounts.evidence import evidence_path
from marketplace.accounts.models import AlumniProfile, RosterEntry, User, VerificationStatus
from marketplace.accounts.reasons import refusal_label
from marketplace.audit import AuditLog
from marketplace.catalog.models import School
from marketplace.errors import Conflict, InvalidInput
from marketplace.extensions import db
from marketplace.moderation import services
from marketplace.moderation.access import get_profile_or_404
from marketplace.moderation.forms import (
    ALL_STATUSES,
    ApproveForm,
    BulkDecisionForm,
    QueueFilterForm,
    RefuseForm,
    RequestInfoForm,
    RosterImportForm,
)
from marketplace.security import moderator_required

logger = logging.getLogger(__name__)

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

PAGE_SIZE = 50

ACTION_LABELS = {
    "member.approved": _l("Approved"),
    "member.refused": _l("Refused"),
    "member.info_requested": _l("Information requested"),
    "member.info_answered": _l("The member answered"),
    "member.verified_by_roster": _l("Verified by a school roster"),
}

STATUS_LABELS = {
    VerificationStatus.PENDING: _l("Pending"),
    VerificationStatus.INFO_REQUESTED: _l("Information requested"),
    VerificationStatus.VERIFIED: _l("Verified"),
    VerificationStatus.REFUSED: _l("Refused"),
}


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "country_name": country_name,
        "status_label": lambda status: STATUS_LABELS.get(status, status),
        "refusal_label": refusal_label,
        "action_label": lambda action: ACTION_LABELS.get(action, action),
        "allowed_from": services.ALLOWED_FROM,
    }


def country_name(code: str | None) -> str:
    """A country's name in the reader's language, from its ISO code."""
    if not code:
        return ""
    locale = get_locale()
    return (locale.territories.get(code.upper()) if locale else None) or code


# ---------------------------------------------------------------- queue


def queue_query(filters: QueueFilterForm) -> Select[tuple[AlumniProfile]]:
    """The queue's rows for valid filters, oldest submission first, user and school eager."""
    query = (
        select(AlumniProfile)
        .join(AlumniProfile.user)
        .options(contains_eager(AlumniProfile.user), joinedload(AlumniProfile.school))
    )
    status = filters.status.data if not filters.status.errors else "pending"
    if status != ALL_STATUSES:
        query = query.where(AlumniProfile.status == VerificationStatus(status))
    if not filters.unconfirmed.data:
        query = query.where(User.email_confirmed_at.is_not(None))
    if filters.school.data and not filters.school.errors:
        query = query.where(AlumniProfile.school_id == filters.school.data)
    if filters.country.data and not filters.country.errors:
        query = query.where(AlumniProfile.country == filters.country.data.upper())
    if filters.year.data and not filters.year.errors:
        query = query.where(AlumniProfile.graduation_year == filters.year.data)
    text = (filters.q.data or "").strip() if not filters.q.errors else ""
    if text:
        pattern = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        )
        query = query.where(
            or_(
                func.lower(User.full_name).like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
            )
        )
    return query.order_by(AlumniProfile.submitted_at, AlumniProfile.id)


def render_queue(bulk_form: BulkDecisionForm, *, status: int = 200):
    filters = QueueFilterForm(formdata=request.args)
    schools = db.session.execute(select(School.id, School.name).order_by(School.name)).all()
    filters.school.choices = [
        SelectChoice("", _("All schools")),
        *(SelectChoice(str(school_id), name) for school_id, name in schools),
    ]
    filters.validate()
    query = queue_query(filters)
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)
    if not pagination.items and 0 < pagination.pages < page:
        # Decisions emptied the page asked for: show the last one left.
        pagination = db.paginate(query, page=pagination.pages, per_page=PAGE_SIZE)
    args = {key: value for key, value in request.args.items(multi=True) if key != "page"}
    return (
        render_template(
            "moderation/members.html",
            filters=filters,
            bulk_form=bulk_form,
            pagination=pagination,
            profiles=pagination.items,
            selected=set(bulk_form.profile_ids.data or []),
            filter_args=args,
            unconfirmed_waiting=services.waiting_for_confirmation(),
            bulk_action=url_for("moderation.bulk", **request.args.to_dict(flat=False)),
        ),
        status,
    )


@bp.get("/members")
@moderator_required
def members():
    """The alumni waiting for a decision, with filters and bulk decisions."""
    return render_queue(BulkDecisionForm(formdata=None))


@bp.post("/members/bulk")
@moderator_required
def bulk():
    """One decision for every ticked member; the queue comes back with the same filters."""
    form = BulkDecisionForm()
    if not form.validate():
        return render_queue(form, status=422)
    profiles = db.session.scalars(
        select(AlumniProfile)
        .where(AlumniProfile.id.in_(form.profile_ids.data))
        .options(joinedload(AlumniProfile.user))
    ).all()
    if not profiles:
        flash(_("None of the ticked members exists any more."), "error")
        return redirect(url_for("moderation.members", **request.args.to_dict(flat=False)))
    try:
        result = services.bulk_decide(
            profiles,
            actor=current_user,
            decision=form.decision.data,
            reason=form.reason.data or None,
            message=form.message.data,
        )
    except InvalidInput as error:
        db.session.rollback()
        form.message.errors = [*form.message.errors, str(error.message)]
        return render_queue(form, status=422)
    db.session.commit()
    args = {key: values for key, values in request.args.lists() if key != "page"}
    flash(
        ngettext("%(num)d member decided.", "%(num)d members decided.", result.decided),
        "success" if result.decided else "warning",
    )
    if result.skipped:
        flash(
            ngettext(
                "%(num)d member skipped: their status does not allow this decision.",
                "%(num)d members skipped: their status does not allow this decision.",
                result.skipped,
            ),
            "warning",
        )
    return redirect(url_for("moderation.members", **args))


# ---------------------------------------------------------------- one member


def render_member(
    profile: AlumniProfile,
    *,
    approve_form: ApproveForm | None = None,
    refuse_form: RefuseForm | None = None,
    info_form: RequestInfoForm | None = None,
    status: int = 200,
):
    user = profile.user
    roster = db.session.execute(
        select(RosterEntry, School.name)
        .join(School, School.id == RosterEntry.school_id)
        .where(RosterEntry.email == user.email)
        .order_by(RosterEntry.id)
    ).all()
    actor = aliased(User)
    history = db.session.execute(
        select(AuditLog, actor.full_name)
        .outerjoin(actor, actor.id == AuditLog.actor_id)
        .where(AuditLog.object_type == "user", AuditLog.object_id == user.id)
        .order_by(AuditLog.created_at, AuditLog.id)
    ).all()
    return (
        render_template(
            "moderation/member.html",
            profile=profile,
            member=user,
            roster=roster,
            history=history,
            approve_form=approve_form or ApproveForm(formdata=None, prefix="approve"),
            refuse_form=refuse_form or RefuseForm(formdata=None, prefix="refuse"),
            info_form=info_form or RequestInfoForm(formdata=None, prefix="info"),
        ),
        status,
    )


@bp.get("/members/<int:profile_id>")
@moderator_required
def member(profile_id: int):
    """One alumnus's declared data, evidence, roster hint, history and the decision forms."""
    return render_member(get_profile_or_404(profile_id))


def _decided(profile: AlumniProfile, message: str):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("moderation.member", profile_id=profile.id))


def _refused_by_state(profile: AlumniProfile, error: Conflict):
    db.session.rollback()
    flash(str(error.message), "error")
    return redirect(url_for("moderation.member", profile_id=profile.id))


@bp.post("/members/<int:profile_id>/resend-confirmation")
@moderator_required
def resend_confirmation(profile_id: int):
    """Send a sign-up's confirmation link again."""
    profile = get_profile_or_404(profile_id)
    back = (
        url_for("moderation.members", unconfirmed="y")
        if request.args.get("back") == "queue"
        else url_for("moderation.member", profile_id=profile.id)
    )
    if not ApproveForm().validate():
        flash(_("The form has expired. Please try again."), "error")
        return redirect(back)
    try:
        services.resend_confirmation(profile, actor=current_user)
    except Conflict as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(back)
    db.session.commit()
    flash(
        _("The confirmation link was sent again to %(email)s.", email=profile.user.email), "success"
    )
    return redirect(back)


@bp.post("/members/<int:profile_id>/approve")
@moderator_required
def approve(profile_id: int):
    """Verify one alumnus."""
    profile = get_profile_or_404(profile_id)
    form = ApproveForm(prefix="approve")
    if not form.validate():
        return render_member(profile, approve_form=form, status=422)
    try:
        services.approve_member(profile, actor=current_user)
    except Conflict as error:
        return _refused_by_state(profile, error)
    return _decided(profile, _("%(name)s is now a verified alumnus.", name=profile.user.full_name))


@bp.post("/members/<int:profile_id>/refuse")
@moderator_required
def refuse(profile_id: int):
    """Refuse one alumnus with a reason from the list."""
    profile = get_profile_or_404(profile_id)
    form = RefuseForm(prefix="refuse")
    if not form.validate():
        return render_member(profile, refuse_form=form, status=422)
    try:
        services.refuse_member(
            profile, actor=current_user, reason=form.reason.data, message=form.message.data
        )
    except Conflict as error:
        return _refused_by_state(profile, error)
    return _decided(
        profile, _("The registration of %(name)s was refused.", name=profile.user.full_name)
    )


@bp.post("/members/<int:profile_id>/request-info")
@moderator_required
def request_info(profile_id: int):
    """Ask one alumnus for more information."""
    profile = get_profile_or_404(profile_id)
    form = RequestInfoForm(prefix="info")
    if not form.validate():
        return render_member(profile, info_form=form, status=422)
    try:
        services.request_member_info(profile, actor=current_user, message=form.message.data)
    except Conflict as error:
        return _refused_by_state(profile, error)
    return _decided(profile, _("Your request was sent to %(name)s.", name=profile.user.full_name))


@bp.get("/members/<int:profile_id>/evidence")
@moderator_required
def evidence(profile_id: int):
    """The member's evidence file, as a download that no browser will render in our origin."""
    profile = get_profile_or_404(profile_id)
    path = evidence_path(profile)
    if path is None or not path.is_file():
        abort(404)
    logger.info("evidence of member %s opened by %s", profile.user_id, current_user.id)
    response = send_from_directory(
        path.parent,
        path.name,
        as_attachment=True,
        download_name=_download_name(profile, path.suffix),
        mimetype=profile.evidence_content_type or "application/octet-stream",
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


def _download_name(profile: AlumniProfile, suffix: str) -> str:
    # The name the member gave, kept only if it has the stored type's extension.
    original = (profile.evidence_original_name or "").replace("/", "_").replace("\\", "_")
    if original.lower().endswith(suffix.lower()) and len(original) > len(suffix):
        return original
    return f"evidence-{profile.user_id}{suffix}"


# ---------------------------------------------------------------- roster


@bp.route("/roster", methods=["GET", "POST"])
@moderator_required
def roster():
    """Upload a school roster; matching registrations are verified at once."""
    form = RosterImportForm()
    if not form.validate_on_submit():
        return render_template("moderation/roster.html", form=form), (
            422 if form.is_submitted() else 200
        )
    try:
        text = form.file.data.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = [_("Save the file as CSV with the UTF-8 encoding.")]
        return render_template("moderation/roster.html", form=form), 422
    try:
        result = services.import_roster(text, actor=current_user)
    except InvalidInput as error:
        db.session.rollback()
        form.file.errors = [str(error.message)]
        return render_template("moderation/roster.html", form=form), 422
    db.session.commit()
    return render_template("moderation/roster_result.html", result=result)
