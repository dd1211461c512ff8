"""Administration pages: users and their staff roles, the audit log, membership tiers and
the association's details."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.models import User
from marketplace.accounts.second_factor import remaining_recovery_codes
from marketplace.admin import forms, services
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.membership.forms import GrantMembershipForm
from marketplace.membership.models import MembershipTier
from marketplace.membership.services import active_membership, grant_membership
from marketplace.money import from_minor
from marketplace.security import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _filter_values(form, *names: str) -> dict[str, str]:
    """The valid filters of a GET form; a field with a bad value is ignored, not an error."""
    form.validate()
    return {name: "" if form[name].errors else (form[name].data or "") for name in names}


def _flash_refusal(error: DomainError) -> None:
    db.session.rollback()
    flash(str(error.message), "error")


@bp.get("/users")
@admin_required
def users():
    form = forms.UserFilterForm(formdata=request.args)
    filters = _filter_values(form, "q", "role", "state")
    page = services.search_users(**filters, page=_page_number())
    return render_template(
        "admin/users.html",
        form=form,
        page=page,
        filters={key: value for key, value in filters.items() if value},
        role_labels=forms.role_labels(),
    )


@bp.get("/users/<int:user_id>")
@admin_required
def user(user_id: int):
    person = db.get_or_404(User, user_id)
    return render_template(
        "admin/user.html",
        person=person,
        role_labels=forms.role_labels(),
        recovery_codes_left=remaining_recovery_codes(person),
        history=services.user_history(person),
        membership=active_membership(person),
        membership_form=GrantMembershipForm(formdata=None),
        GRANT=forms.GRANT,
        REVOKE=forms.REVOKE,
    )


@bp.post("/users/<int:user_id>/roles")
@admin_required
def roles(user_id: int):
    person = db.get_or_404(User, user_id)
    form = forms.RoleForm()
    if not form.validate():
        flash(_("Choose a role and an action."), "error")
        return redirect(url_for("admin.user", user_id=person.id))
    granting = form.action.data == forms.GRANT
    label = forms.role_labels()[form.role.data]
    try:
        services.change_role(person, role=form.role.data, grant=granting, actor=current_user)
    except DomainError as error:
        _flash_refusal(error)
    else:
        db.session.commit()
        if granting:
            flash(_("%(name)s is now %(role)s.", name=person.full_name, role=label), "success")
        else:
            flash(
                _("%(name)s is no longer %(role)s.", name=person.full_name, role=label), "success"
            )
    return redirect(url_for("admin.user", user_id=person.id))


@bp.post("/users/<int:user_id>/membership")
@admin_required
def membership(user_id: int):
    person = db.get_or_404(User, user_id)
    form = GrantMembershipForm()
    if not form.validate():
        flash(_("Give a length between 1 and 120 months."), "error")
        return redirect(url_for("admin.user", user_id=person.id))
    try:
        granted = grant_membership(
            person, actor=current_user, months=form.months.data, tier=form.selected_tier()
        )
    except DomainError as error:
        _flash_refusal(error)
    else:
        db.session.commit()
        flash(_("Membership granted until %(date)s.", date=granted.ends_on.isoformat()), "success")
    return redirect(url_for("admin.user", user_id=person.id))


@bp.post("/users/<int:user_id>/disable")
@admin_required
def disable(user_id: int):
    return _set_disabled(user_id, disabled=True)


@bp.post("/users/<int:user_id>/enable")
@admin_required
def enable(user_id: int):
    return _set_disabled(user_id, disabled=False)


def _set_disabled(user_id: int, *, disabled: bool):
    person = db.get_or_404(User, user_id)
    if not forms.ConfirmForm().validate():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("admin.user", user_id=person.id))
    try:
        services.set_user_disabled(person, disabled=disabled, actor=current_user)
    except DomainError as error:
        _flash_refusal(error)
    else:
        db.session.commit()
        if disabled:
            flash(_("The account is disabled and its sessions have ended."), "success")
        else:
            flash(_("The account is enabled again."), "success")
    return redirect(url_for("admin.user", user_id=person.id))


@bp.post("/users/<int:user_id>/two-factor/reset")
@admin_required
def reset_two_factor(user_id: int):
    person = db.get_or_404(User, user_id)
    if not forms.ConfirmForm().validate():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("admin.user", user_id=person.id))
    try:
        services.reset_two_factor(person, actor=current_user)
    except DomainError as error:
        _flash_refusal(error)
    else:
        db.session.commit()
        flash(
            _("Two-factor authentication was reset: the person sets it up again at next login."),
            "success",
        )
    return redirect(url_for("admin.user", user_id=person.id))


@bp.get("/audit")
@admin_required
def audit():
    form = forms.AuditFilterForm(
        formdata=request.args,
        actions=services.audit_actions(),
        object_types=services.audit_object_types(),
    )
    filters = _filter_values(form, "action", "actor", "object_type", "object_id")
    page = services.search_audit(**filters, page=_page_number())
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        filters={key: value for key, value in filters.items() if value},
    )


# ---------------------------------------------------------------- settings: tiers, association
# Membership tiers (prices in minor units) and the association's identity printed on documents.


def _tier_values(form: forms.TierForm) -> dict:
    values = {name: form[name].data for name in services.TIER_FIELDS}
    values["code"] = values["code"].strip()
    values["amount"] = form.amount_minor()
    return values


def _render_tiers(form: forms.TierForm, status: int = 200):
    return render_template(
        "admin/tiers.html", tiers=services.list_tiers(), form=form, editing=None
    ), status


@bp.get("/tiers")
@admin_required
def tiers():
    return _render_tiers(forms.TierForm(formdata=None))


@bp.post("/tiers")
@admin_required
def create_tier():
    form = forms.TierForm()
    if not form.validate():
        return _render_tiers(form, 422)
    try:
        tier = services.create_tier(values=_tier_values(form), actor=current_user)
    except DomainError as error:
        db.session.rollback()
        form.code.errors = [str(error.message)]
        return _render_tiers(form, 409)
    db.session.commit()
    flash(_("The tier %(code)s was created.", code=tier.code), "success")
    return redirect(url_for("admin.tiers"))


def _render_tier(tier: MembershipTier, form: forms.TierForm, status: int = 200):
    return render_template("admin/tier.html", tier=tier, form=form), status


@bp.get("/tiers/<int:tier_id>")
@admin_required
def tier(tier_id: int):
    row = db.get_or_404(MembershipTier, tier_id)
    form = forms.TierForm(formdata=None, obj=row)
    form.amount.data = from_minor(row.amount, row.currency)
    return _render_tier(row, form)


@bp.post("/tiers/<int:tier_id>")
@admin_required
def edit_tier(tier_id: int):
    row = db.get_or_404(MembershipTier, tier_id)
    form = forms.TierForm()
    if not form.validate():
        return _render_tier(row, form, 422)
    try:
        services.update_tier(row, values=_tier_values(form), actor=current_user)
    except DomainError as error:
        db.session.rollback()
        form.code.errors = [str(error.message)]
        return _render_tier(row, form, 409)
    db.session.commit()
    flash(_("The tier %(code)s was saved.", code=row.code), "success")
    return redirect(url_for("admin.tiers"))


@bp.post("/tiers/<int:tier_id>/deactivate")
@admin_required
def deactivate_tier(tier_id: int):
    row = db.get_or_404(MembershipTier, tier_id)
    if not forms.ConfirmForm().validate():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("admin.tiers"))
    services.deactivate_tier(row, actor=current_user)
    db.session.commit()
    flash(_("The tier %(code)s is closed to new members.", code=row.code), "success")
    return redirect(url_for("admin.tiers"))


@bp.get("/association")
@admin_required
def association():
    form = forms.AssociationForm(formdata=None, obj=services.get_association_details())
    return render_template("admin/association.html", form=form)


@bp.post("/association")
@admin_required
def edit_association():
    form = forms.AssociationForm()
    if not form.validate():
        return render_template("admin/association.html", form=form), 422
    values = {name: form[name].data for name in services.ASSOCIATION_FIELDS}
    services.update_association_details(values=values, actor=current_user)
    db.session.commit()
    flash(_("The association's details were saved."), "success")
    return redirect(url_for("admin.association"))
