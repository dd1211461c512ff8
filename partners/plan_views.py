"""Admin pages of the partner plans (endpoints ``partner_plans.*``): list, create, edit, close.

Prices are typed as decimals (``1200`` or ``49.00``) and stored in minor units.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.money import from_minor
from marketplace.security import admin_required
from partners import plans
from partners.forms import PLAN_KIND_LABELS, ActionForm, PlanForm
from partners.models import PartnerPlan

bp = Blueprint("partner_plans", __name__, url_prefix="/admin/partner-plans")


def _values(form: PlanForm) -> dict:
    values = {name: form[name].data for name in plans.PLAN_FIELDS}
    values["amount"] = form.amount_minor()
    return values


def _render_list(form: PlanForm, status: int = 200):
    return render_template(
        "admin/partner_plans.html",
        plans=plans.list_plans(),
        form=form,
        kind_labels=PLAN_KIND_LABELS,
        action_form=ActionForm(),
    ), status


def _render_plan(plan: PartnerPlan, form: PlanForm, status: int = 200):
    return render_template("admin/partner_plan.html", plan=plan, form=form), status


@bp.get("/")
@admin_required
def index():
    return _render_list(PlanForm(formdata=None))


@bp.post("/")
@admin_required
def create():
    form = PlanForm()
    if not form.validate():
        return _render_list(form, 422)
    try:
        plan = plans.create_plan(values=_values(form), actor=current_user)
    except DomainError as error:
        db.session.rollback()
        form.code.errors = [str(error.message)]
        return _render_list(form, 409)
    db.session.commit()
    flash(_("The plan %(code)s was created.", code=plan.code), "success")
    return redirect(url_for(".index"))


@bp.get("/<int:plan_id>")
@admin_required
def plan(plan_id: int):
    row = db.get_or_404(PartnerPlan, plan_id)
    form = PlanForm(formdata=None, obj=row)
    form.kind.data = row.kind.value
    form.amount.data = from_minor(row.amount, row.currency)
    form.currency.data = row.currency.upper()
    return _render_plan(row, form)


@bp.post("/<int:plan_id>")
@admin_required
def edit(plan_id: int):
    row = db.get_or_404(PartnerPlan, plan_id)
    form = PlanForm()
    if not form.validate():
        return _render_plan(row, form, 422)
    try:
        plans.update_plan(row, values=_values(form), actor=current_user)
    except DomainError as error:
        db.session.rollback()
        form.code.errors = [str(error.message)]
        return _render_plan(row, form, 409)
    db.session.commit()
    flash(_("The plan %(code)s was saved.", code=row.code), "success")
    return redirect(url_for(".index"))


@bp.post("/<int:plan_id>/deactivate")
@admin_required
def deactivate(plan_id: int):
    row = db.get_or_404(PartnerPlan, plan_id)
    if not ActionForm().validate():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for(".index"))
    plans.deactivate_plan(row, actor=current_user)
    db.session.commit()
    flash(_("The plan %(code)s is no longer offered.", code=row.code), "success")
    return redirect(url_for(".index"))
