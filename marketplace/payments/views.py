"""Stripe's webhook and the payer's own payment page."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import DBAPIError

from marketplace.extensions import csrf, db, limiter
from marketplace.payments import documents, services, webhooks
from marketplace.payments.gateway import InvalidSignature, get_gateway
from marketplace.security import login_required

logger = logging.getLogger(__name__)

bp = Blueprint("payments", __name__, url_prefix="/payments")


@bp.post("/stripe/webhook")
@csrf.exempt
@limiter.exempt
def stripe_webhook():
    # The signature covers the raw bytes: read them before anything parses the body.
    payload = request.get_data(cache=False)
    try:
        event = get_gateway().parse_webhook(payload, request.headers.get("Stripe-Signature"))
    except InvalidSignature as error:
        logger.warning("stripe webhook refused: %s", error)
        return {"error": "invalid signature"}, 400
    try:
        webhooks.handle_event(event)
    except services.PaymentServiceUnavailable:
        db.session.rollback()
        logger.warning("stripe event %s: Stripe unreachable, asking for a retry", event.id)
        return {"error": "retry later"}, 503
    except DBAPIError as error:
        # A lock timeout or a lost connection: nothing committed, Stripe will retry.
        db.session.rollback()
        logger.warning("stripe event %s: database error %s", event.id, type(error.orig).__name__)
        return {"error": "retry later"}, 503
    except services.PaymentError as error:
        db.session.rollback()
        logger.warning("stripe event %s not applied: %s", event.id, error.message)
        return {"received": True, "applied": False}, 200
    return {"received": True}, 200


@bp.get("/<int:payment_id>")
@login_required
def detail(payment_id: int):
    payment = services.payment_for_user_or_404(payment_id, current_user)
    document_url = None
    if payment.document_number and "documents.payment" in current_app.view_functions:
        document_url = url_for("documents.payment", payment_id=payment.id)
    return render_template(
        "payments/detail.html",
        document_url=document_url,
        # Credit notes and corrected attestations issued for its refunds.
        later_documents=documents.documents_of(payment)[1:],
        payment=payment,
    )
