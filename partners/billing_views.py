"""The partner portal's billing pages (endpoints ``partners.billing.*``): plans, the current
partnership, featured placements, payments with their invoices, and the card page.

Any active representative (owner or manager) of an approved partner may buy and pay; another
partner's payment, offer or plan id answers 404. The card page is the membership's
(templates/payments/_card_checkout.html and static/js/checkout.js) with this blueprint's URLs.
"""

from __future__ import annotations

from typing import Any

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

from marketplace.database import utcnow
from marketplace.errors import DomainError, NotFound
from marketplace.extensions import db
from marketplace.i18n import localized
from marketplace.payments import checkout, checkout_views, documents
from marketplace.payments.models import Payment, PaymentKind
from marketplace.treasury.forms import kind_labels, status_labels
from partners import billing
from partners.access import current_membership, current_partner, partner_required
from partners.forms import ActionForm, BillingIdentityForm
from partners.models import PlanKind

bp = Blueprint("billing", __name__, url_prefix="/billing")


@bp.app_context_processor
def billing_globals() -> dict[str, Any]:
    """Badges of the offer cards: an official partner (``offer_is_featured`` is the offers')."""
    return {
        # ``{% set official_ids = official_partners(offers) %}`` once per list of cards.
        "official_partners": lambda offers: billing.official_partner_ids(
            among={offer.partner_id for offer in offers}
        ),
    }


@bp.context_processor
def billing_helpers() -> dict[str, Any]:
    return {"localized": localized}


def _me():
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _payment_or_404(payment_id: int) -> Payment:
    try:
        return billing.partner_payment_or_404(current_partner(), payment_id)
    except NotFound:
        abort(404)


def _identity_first(error: billing.BillingIdentityMissing, back: str):
    """Before the first payment: the billing identity form, then back to ``back``."""
    db.session.rollback()
    flash(str(error.message), "info")
    return redirect(url_for(".identity", next=back))


def _expired() -> bool:
    if ActionForm().validate_on_submit():
        return False
    flash(_("The form has expired. Please try again."), "error")
    return True


@bp.get("/")
@partner_required()
def index():
    partner = current_partner()
    today = utcnow().date()
    payments = billing.partner_payments(partner)
    payment_documents = documents.documents_by_payment([payment.id for payment in payments])
    return render_template(
        "partners/billing.html",
        partner=partner,
        membership=current_membership(),
        partnership_plans=billing.offered_plans(PlanKind.PARTNERSHIP),
        featured_plans=billing.offered_plans(PlanKind.FEATURED),
        last_day=billing.partnership_last_day(partner.id, today=today),
        periods=billing.partner_periods(partner),
        placements=billing.featured_offers().placements(partner),
        payments=payments,
        payment_documents=payment_documents,
        xml_documents=documents.xml_document_ids(
            [document for listed in payment_documents.values() for document in listed]
        ),
        identity=billing.billing_identity(partner),
        payment_offers=billing.featured_offers().of_payments(payments),
        plan_names=billing.plan_names(),
        kind_labels=kind_labels(),
        status_labels=status_labels(),
        offers=billing.featured_offers().published(partner),
        now=utcnow(),
        today=today,
        form=ActionForm(),
    )


@bp.post("/partnership/<plan_code>")
@partner_required()
def buy_partnership(plan_code: str):
    if _expired():
        return redirect(url_for(".index"))
    try:
        payment, _setup = billing.buy_partnership(
            current_partner(), user=_me(), plan_code=plan_code
        )
    except billing.BillingIdentityMissing as error:
        return _identity_first(error, url_for(".index"))
    except NotFound:
        db.session.rollback()
        abort(404)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for(".index"))
    db.session.commit()
    return redirect(url_for(".pay", payment_id=payment.id))


@bp.route("/identity", methods=["GET", "POST"])
@partner_required()
def identity():
    """The company's billing identity, asked before the first payment (any representative who
    may pay enters it; it is printed on every invoice issued afterwards)."""
    partner = current_partner()
    current = billing.billing_identity(partner)
    form = BillingIdentityForm(obj=current)
    if request.method == "GET" and current is None:
        form.legal_name.data = partner.name
        form.country.data = partner.country
    back = request.args.get("next", "")
    if not back.startswith("/partners/billing/") or "//" in back or "\\" in back:
        back = url_for(".index")
    if form.validate_on_submit():
        values = {name: form[name].data for name in billing.IDENTITY_FIELDS}
        billing.save_billing_identity(partner, values=values, actor=_me())
        db.session.commit()
        flash(_("The billing identity was saved."), "success")
        return redirect(back)
    return render_template(
        "partners/billing_identity.html",
        partner=partner,
        form=form,
        identity=current,
        back=back,
    ), (422 if form.errors else 200)


@bp.get("/offers/<int:offer_id>/feature")
@partner_required()
def feature(offer_id: int):
    partner = current_partner()
    try:
        offer = billing.featured_offers().featurable_or_404(partner, offer_id)
    except NotFound:
        abort(404)
    return render_template(
        "partners/billing_feature.html",
        partner=partner,
        offer=offer,
        plans=billing.offered_plans(PlanKind.FEATURED),
        featured=billing.featured_offers().is_featured(offer),
        form=ActionForm(),
    )


@bp.post("/offers/<int:offer_id>/feature/<plan_code>")
@partner_required()
def buy_featured(offer_id: int, plan_code: str):
    if _expired():
        return redirect(url_for(".feature", offer_id=offer_id))
    try:
        payment, _setup = billing.buy_featured(
            current_partner(), user=_me(), plan_code=plan_code, offer_id=offer_id
        )
    except billing.BillingIdentityMissing as error:
        return _identity_first(error, url_for(".feature", offer_id=offer_id))
    except NotFound:
        db.session.rollback()
        abort(404)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for(".feature", offer_id=offer_id))
    db.session.commit()
    return redirect(url_for(".pay", payment_id=payment.id))


@bp.get("/pay/<int:payment_id>")
@partner_required()
def pay(payment_id: int):
    payment = _payment_or_404(payment_id)
    setup_secret = payment_secret = None
    try:
        setup_secret, payment_secret = checkout.page_secrets(payment)
    except DomainError as error:
        flash(str(error.message), "error")
    offer = None
    if payment.kind == PaymentKind.FEATURED:
        offer = (
            billing.featured_offers()
            .of_payments([payment])
            .get(int((payment.subject or {}).get("offer_id") or 0))
        )
    return render_template(
        "partners/billing_pay.html",
        payment=payment,
        offer=offer,
        setup_client_secret=setup_secret,
        payment_client_secret=payment_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
    )


@bp.post("/pay/<int:payment_id>/retry")
@partner_required()
def retry(payment_id: int):
    payment = _payment_or_404(payment_id)
    if _expired():
        return redirect(url_for(".pay", payment_id=payment.id))
    try:
        checkout.retry_card_setup(payment, user=_me())
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for(".pay", payment_id=payment.id))
    db.session.commit()
    return redirect(url_for(".pay", payment_id=payment.id))


@bp.post("/pay/<int:payment_id>/confirm")
@partner_required()
def confirm(payment_id: int):
    """JSON from checkout.js (CSRF token in X-CSRFToken): charge the card just set up."""
    return checkout_views.confirm_card(_payment_or_404(payment_id))


@bp.post("/pay/<int:payment_id>/sync")
@partner_required()
def sync(payment_id: int):
    """JSON from checkout.js after 3-D Secure: read the outcome from Stripe."""
    return checkout_views.sync_card(_payment_or_404(payment_id))
