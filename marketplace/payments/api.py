"""Payments API: confirm a card payment (the card flow) and read one payment."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, session, url_for
from flask_login import current_user
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from marketplace.api import auth_required
from marketplace.extensions import db, limiter
from marketplace.payments import checkout
from marketplace.payments.models import Payment, PaymentStatus
from marketplace.payments.services import PaymentNotFound, payment_for_user_or_404

bp = Blueprint("payments_api", __name__, url_prefix="/payments", description="Payments")

BEARER = [{"bearer": []}]


class ConfirmSchema(Schema):
    payment_method = fields.String(
        required=True, metadata={"description": "the payment method the SetupIntent confirmed"}
    )


class ConfirmResultSchema(Schema):
    status = fields.String(
        dump_only=True, metadata={"enum": ["succeeded", "requires_action", "failed", "pending"]}
    )
    payment_intent_client_secret = fields.String(
        dump_only=True, metadata={"description": "for confirmCardPayment (3-D Secure)"}
    )
    message = fields.String(dump_only=True)


class PaymentSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True)
    amount = fields.Integer(dump_only=True, metadata={"description": "minor units"})
    currency = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    receipt_url = fields.String(dump_only=True, metadata={"description": "the PDF document"})


def _own_payment(payment_id: int) -> Payment:
    try:
        return payment_for_user_or_404(payment_id, current_user)
    except PaymentNotFound:
        abort(404)


def _readable_payment(payment_id: int) -> Payment:
    """The payer's own payment; treasurers (after two-factor) read any; others get 404."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        abort(404)
    if payment.payer_id == current_user.id:
        return payment
    staff_checked = g.get("auth_by_token") or session.get("mfa")
    if current_user.has_role("treasurer", "admin") and staff_checked:
        return payment
    abort(404)


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
    """One payment (its payer, or a treasurer); another member's payment answers 404."""
    payment = _readable_payment(payment_id)
    body: dict[str, Any] = {
        "id": payment.id,
        "kind": payment.kind.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": payment.status.value,
    }
    if payment.document_number and "documents.payment" in current_app.view_functions:
        body["receipt_url"] = url_for("documents.payment", payment_id=payment.id, _external=True)
    return body
