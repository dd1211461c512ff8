"""Partner billing API: the plans and billing identity, and the card checkout of a plan.

``/partner/billing…`` serves any active representative (owner or manager) of an approved
partner with a bearer token. A checkout needs the billing identity first (409); the payment is
then confirmed like a membership's (``POST /payments/{id}/confirm``) and its documents are
listed by ``GET /payments/{id}``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user
from flask_smorest import abort

from marketplace.api import Blueprint
from marketplace.extensions import db, limiter
from marketplace.i18n import localized
from partners import billing
from partners.access import current_partner, partner_required
from partners.models import PlanKind
from partners.schemas import (
    BillingCheckoutResultSchema,
    BillingCheckoutSchema,
    BillingIdentitySchema,
    PartnerBillingSchema,
)

bp = Blueprint(
    "partner_billing_api", __name__, url_prefix="/partner/billing", description="Billing"
)

PARTNER = partner_required()
ERRORS = (
    (401, "Not signed in (send a bearer token)."),
    (403, "Not a representative of an approved partner."),
)


def documented(*answers: tuple[int, str]) -> Any:
    """Bearer security and the error answers of an endpoint."""

    def decorate(view: Any) -> Any:
        for status, description in (*ERRORS, *answers):
            view = bp.alt_response(status, description=description)(view)
        return bp.doc(security=[{"bearer": []}])(view)

    return decorate


@bp.get("")
@PARTNER
@documented()
@bp.response(200, PartnerBillingSchema)
def overview() -> dict[str, Any]:
    """The partner's billing identity, the plans on offer and the partnership's last day."""
    partner = current_partner()
    return {
        "identity": billing.billing_identity(partner),
        "plans": [
            {
                "code": plan.code,
                "kind": plan.kind.value,
                "name": localized(plan, "name") or plan.code,
                "amount": plan.amount,
                "currency": plan.currency,
                "days": plan.days,
            }
            for plan in billing.offered_plans()
        ],
        "partner_until": billing.partnership_last_day(partner.id),
    }


@bp.put("/identity")
@PARTNER
@documented((422, "A field is missing or wrong (a SIREN or SIRET failing its check digit)."))
@bp.arguments(BillingIdentitySchema)
@bp.response(200, BillingIdentitySchema)
def put_identity(data: dict[str, Any]) -> Any:
    """Set the company's billing identity, printed on the invoices issued from now on."""
    identity = billing.save_billing_identity(current_partner(), values=data, actor=current_user)
    db.session.commit()
    return identity


@bp.post("/checkout")
@PARTNER
@limiter.limit("20/hour", override_defaults=False)
@documented(
    (404, "No such plan on offer, or no such published offer of the partner."),
    (409, "The billing identity is missing: PUT /partner/billing/identity first."),
    (422, "Invalid body (a featured plan needs offer_id)."),
    (503, "Stripe is unreachable."),
)
@bp.arguments(BillingCheckoutSchema)
@bp.response(201, BillingCheckoutResultSchema)
def checkout(data: dict[str, Any]) -> dict[str, Any]:
    """Start paying a plan: confirm the SetupIntent, then ``POST /payments/{id}/confirm``."""
    partner = current_partner()
    kind = billing.plan_kind(data["plan"])
    if kind is None:
        abort(404, message="This plan is not offered.")
    if kind == PlanKind.FEATURED:
        if data.get("offer_id") is None:
            abort(
                422,
                message="A featured plan needs offer_id.",
                errors={"json": {"offer_id": ["Missing data for required field."]}},
            )
        payment, setup = billing.buy_featured(
            partner, user=current_user, plan_code=data["plan"], offer_id=data["offer_id"]
        )
    else:
        payment, setup = billing.buy_partnership(partner, user=current_user, plan_code=data["plan"])
    db.session.commit()
    return {
        "payment_id": payment.id,
        "amount": payment.amount,
        "currency": payment.currency,
        "setup_intent_client_secret": setup.client_secret,
        "publishable_key": current_app.config["STRIPE_PUBLISHABLE_KEY"],
    }
