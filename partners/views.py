"""Partner pages: the application, the dashboard and the company profile.

The team (``team_views``) and the staff's queue (``moderation_views``) add their routes to
this blueprint from ``partners.init_app``; the billing pages are its nested blueprint.
"""

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
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from marketplace.accounts.models import User
from marketplace.errors import DomainError
from marketplace.extensions import db, limiter
from marketplace.i18n import country_name
from marketplace.security import login_required
from partners import billing_views, services
from partners.access import (
    active_members,
    current_membership,
    current_partner,
    partner_required,
)
from partners.dashboard import RECENT_DAYS, dashboard_view
from partners.forms import (
    ROLE_LABELS,
    ApplicationForm,
    ProfileForm,
)
from partners.models import Partner, PartnerMember, PartnerStatus
from partners.pages import me as _me
from partners.pages import render_page as _render

logger = logging.getLogger(__name__)

bp = Blueprint("partners", __name__, url_prefix="/partners")
# The billing pages (plans, partnership, featured placements, payments): endpoints
# ``partners.billing.*``.
bp.register_blueprint(billing_views.bp)

STATUS_LABELS = {
    PartnerStatus.PENDING: _l("Pending review"),
    PartnerStatus.APPROVED: _l("Approved"),
    PartnerStatus.REFUSED: _l("Refused"),
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


# ---------------------------------------------------------------- dashboard and profile


@bp.get("/dashboard")
@application_status_first
@partner_required()
def dashboard():
    """The partner's home: company, team size, offers by status."""
    partner = current_partner()
    team_size = len(active_members(partner.id))
    recent = dashboard_view(partner)
    # The offers package registers its box (partners does not import offers).
    offer_counts = recent.counts.get("offers", [])
    return render_template(
        "partners/dashboard.html",
        partner=partner,
        membership=current_membership(),
        team_size=team_size,
        offer_counts=offer_counts,
        offer_total=sum(count for _status, _label, count in offer_counts),
        recent=recent,
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
