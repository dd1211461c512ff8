"""Payments API: confirm a card payment (the card flow) and read one payment."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint, abort

from marketplace.api import auth_required
from marketplace.extensions import db, limiter
from marketplace.payments import checkout
from marketplace.payments.document_api import document_links
from marketplace.payments.document_views import reader_kind
from marketplace.payments.models import Payment, PaymentStatus
from marketplace.payments.schemas import (
    ConfirmResultSchema,
    ConfirmSchema,
    PaymentSchema,
)
from marketplace.payments.services import PaymentNotFound, payment_for_user_or_404

bp = Blueprint("payments_api", __name__, url_prefix="/payments", description="Payments")

BEARER = [{"bearer": []}]


def _own_payment(payment_id: int) -> Payment:
    try:
        return payment_for_user_or_404(payment_id, current_user)
    except PaymentNotFound:
        abort(404)


def _readable_payment(payment_id: int) -> Payment:
    """The payer's own payment (and the paying partner's team's); treasurers (after two-factor)
    read any; others get 404."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or reader_kind(payment) not in ("owner", "treasury"):
        abort(404)
    return payment


def _result(attempt: checkout.CardAttempt) -> dict[str, Any]:
    body: dict[str, Any] = {"status": attempt.status}
    if attempt.payment_intent_client_secret:
        body["payment_intent_client_secret"] = attempt.payment_intent_client_secret
    if attempt.message:
        body["message"] = attempt.message
    return body


@bp.post("/<int:payment_id>/confirm")
@auth_required()
@limiter.limit("30/hour", override_defaults=False)
@bp.arguments(ConfirmSchema)
@bp.response(200, ConfirmResultSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@bp.alt_response(503, response="DEFAULT_ERROR")
@bp.doc(security=BEARER)
def confirm(data: dict[str, Any], payment_id: int) -> dict[str, Any]:
    """Charge the card confirmed on the payment's SetupIntent (payer only).

    A declined card answers 200 ``{"status": "failed", "message"}``; ``requires_action``
    comes with the PaymentIntent's client secret for 3-D Secure, after which a second call
    (or GET) reads the outcome.
    """
    payment = _own_payment(payment_id)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        attempt = checkout.finish_card_payment(payment)
    else:
        attempt = checkout.pay_with_card(payment, payment_method=data["payment_method"])
    db.session.commit()
    return _result(attempt)


@bp.get("/<int:payment_id>")
@auth_required()
@bp.response(200, PaymentSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
@bp.doc(security=BEARER)
def detail(payment_id: int) -> dict[str, Any]:
    """One payment with its documents (its payer or the paying partner's team, or a
    treasurer); another member's payment answers 404. Each document URL downloads with the
    same token."""
    payment = _readable_payment(payment_id)
    body: dict[str, Any] = {
        "id": payment.id,
        "kind": payment.kind.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": payment.status.value,
    }
    links = document_links(payment)
    body["documents"] = links
    if links:
        body["receipt_url"] = links[0]["pdf_url"]
    return body
