"""GET /api/v1/me/membership and POST /api/v1/me/membership/checkout (the card flow's start)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user
from flask_smorest import Blueprint

from marketplace.api import auth_required
from marketplace.extensions import db, limiter
from marketplace.membership import services
from marketplace.membership.schemas import (
    CheckoutResultSchema,
    CheckoutSchema,
    MembershipStatusSchema,
)

bp = Blueprint("me_membership_api", __name__, url_prefix="", description="My membership")

BEARER = [{"bearer": []}]


@bp.get("/me/membership")
@auth_required()
@bp.response(200, MembershipStatusSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.doc(security=BEARER)
def my_membership() -> dict[str, Any]:
    """The caller's membership: ``none``, ``active``, ``grace`` (ended < 30 days) or ``lapsed``."""
    state = services.membership_status(current_user)
    return {
        "status": state.status.value,
        "tier": state.tier.code if state.tier is not None else None,
        "valid_until": state.valid_until,
    }


@bp.post("/me/membership/checkout")
@auth_required(verified=True)
@limiter.limit("20/hour", override_defaults=False)
@bp.arguments(CheckoutSchema)
@bp.response(201, CheckoutResultSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(503, response="DEFAULT_ERROR")
@bp.doc(security=BEARER)
def checkout(data: dict[str, Any]) -> dict[str, Any]:
    """Start paying a tier: confirm the SetupIntent, then POST /payments/{id}/confirm."""
    payment, setup = services.start_checkout(current_user, tier_code=data["tier"])
    db.session.commit()
    return {
        "payment_id": payment.id,
        "amount": payment.amount,
        "currency": payment.currency,
        "setup_intent_client_secret": setup.client_secret,
        "publishable_key": current_app.config["STRIPE_PUBLISHABLE_KEY"],
    }
