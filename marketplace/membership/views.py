"""Membership pages: status and tiers, card checkout (Stripe.js), automatic renewal."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField

from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.membership import services
from marketplace.membership.models import Membership
from marketplace.payments import checkout as card_checkout
from marketplace.payments import checkout_views
from marketplace.payments.models import Payment, PaymentKind, PaymentProfile
from marketplace.payments.services import PaymentNotFound, payment_for_user_or_404
from marketplace.security import login_required

bp = Blueprint("membership", __name__, url_prefix="/membership")


class CsrfForm(FlaskForm):
    """A button that only needs the CSRF token."""


class AutoRenewForm(FlaskForm):
    """The opt-in yearly renewal with the saved card."""

    auto_renew = BooleanField()


def own_membership_payment_or_404(payment_id: int) -> Payment:
    """The caller's own membership payment; another member's id answers 404."""
    try:
        payment = payment_for_user_or_404(payment_id, current_user)
    except PaymentNotFound:
        abort(404)
    if payment.kind != PaymentKind.MEMBERSHIP:
        abort(404)
    return payment


@bp.get("/")
@login_required
def index():
    profile = db.session.scalar(
        select(PaymentProfile).where(PaymentProfile.user_id == current_user.id)
    )
    periods = db.session.scalars(
        select(Membership)
        .where(Membership.user_id == current_user.id)
        .order_by(Membership.starts_on.desc(), Membership.id.desc())
    ).all()
    return render_template(
        "membership/index.html",
        return_offer=_return_offer(request.args),
        state=services.membership_status(current_user),
        tiers=services.offered_tiers(current_user),
        profile=profile,
        periods=periods,
        verified=current_user.is_verified_alumnus,
    )


def _return_offer(values) -> int | None:
    """The offer a member-to-be came from (``offer=<id>``): they go back to it once paid."""
    offer_id = values.get("offer", type=int)
    return offer_id if offer_id and 0 < offer_id < 2**31 else None


def _done_url() -> str:
    offer_id = _return_offer(request.args)
    if offer_id:
        return url_for("offers.detail", offer_id=offer_id)
    return url_for("membership.index")


@bp.post("/checkout/<tier_code>")
@login_required
def checkout(tier_code: str):
    if not CsrfForm().validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return redirect(url_for(".index"))
    try:
        payment, _setup = services.start_checkout(current_user, tier_code=tier_code)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for(".index"))
    db.session.commit()
    return redirect(url_for(".pay", payment_id=payment.id, offer=_return_offer(request.form)))


@bp.get("/pay/<int:payment_id>")
@login_required
def pay(payment_id: int):
    payment = own_membership_payment_or_404(payment_id)
    setup_secret = payment_secret = None
    try:
        setup_secret, payment_secret = card_checkout.page_secrets(payment)
    except DomainError as error:
        flash(str(error.message), "error")
    return render_template(
        "membership/pay.html",
        payment=payment,
        done_url=_done_url(),
        return_offer=_return_offer(request.args),
        back_to_offer=_return_offer(request.args) is not None,
        setup_client_secret=setup_secret,
        payment_client_secret=payment_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
    )


@bp.post("/pay/<int:payment_id>/retry")
@login_required
def retry(payment_id: int):
    payment = own_membership_payment_or_404(payment_id)
    if not CsrfForm().validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return redirect(url_for(".pay", payment_id=payment.id, offer=_return_offer(request.args)))
    try:
        card_checkout.retry_card_setup(payment, user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for(".pay", payment_id=payment.id, offer=_return_offer(request.args)))
    db.session.commit()
    return redirect(url_for(".pay", payment_id=payment.id, offer=_return_offer(request.args)))


@bp.post("/pay/<int:payment_id>/confirm")
@login_required
def confirm(payment_id: int):
    """JSON from checkout.js (CSRF token in X-CSRFToken): charge the card just set up."""
    return checkout_views.confirm_card(own_membership_payment_or_404(payment_id))


@bp.post("/pay/<int:payment_id>/sync")
@login_required
def sync(payment_id: int):
    """JSON from checkout.js after 3-D Secure: read the outcome from Stripe."""
    return checkout_views.sync_card(own_membership_payment_or_404(payment_id))


@bp.post("/auto-renew")
@login_required
def auto_renew():
    form = AutoRenewForm()
    if not form.validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return redirect(url_for(".index"))
    try:
        services.set_auto_renew(current_user, enabled=bool(form.auto_renew.data))
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for(".index"))
    db.session.commit()
    if form.auto_renew.data:
        flash(_("Automatic renewal is on."), "success")
    else:
        flash(_("Automatic renewal is off."), "success")
    return redirect(url_for(".index"))
