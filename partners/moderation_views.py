"""The staff's partner queue: pending applications, one application, approve or refuse.

Endpoints ``partners.applications``, ``partners.application``, ``partners.approve`` and
``partners.refuse``: ``partners.init_app`` adds these routes to the partners blueprint.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.routing import RouteTable
from marketplace.security import moderator_required
from partners import services
from partners.access import get_partner_or_404
from partners.forms import ActionForm, RefuseForm
from partners.models import Partner, PartnerMember, PartnerStatus
from partners.pages import me as _me
from partners.pages import render_page as _render

routes = RouteTable()


@routes.get("/applications")
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


@routes.get("/applications/<int:partner_id>")
@moderator_required
def application(partner_id: int):
    """One application with the decision forms."""
    return _render_application(get_partner_or_404(partner_id))


def _decision_refused(partner: Partner, error: Conflict):
    db.session.rollback()
    flash(str(error.message), "error")
    return redirect(url_for("partners.application", partner_id=partner.id))


@routes.post("/applications/<int:partner_id>/approve")
@moderator_required
def approve(partner_id: int):
    """Approve an application."""
    partner = get_partner_or_404(partner_id)
    try:
        services.approve_partner(partner, actor=_me())
    except Conflict as error:
        return _decision_refused(partner, error)
    db.session.commit()
    flash(_("%(name)s is now a partner.", name=partner.name), "success")
    return redirect(url_for("partners.applications"))


@routes.post("/applications/<int:partner_id>/refuse")
@moderator_required
def refuse(partner_id: int):
    """Refuse an application with a reason."""
    partner = get_partner_or_404(partner_id)
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
