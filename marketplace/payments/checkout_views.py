"""The JSON answers of the card page (static/js/checkout.js), shared by every kind of payment.

Each paying blueprint (membership, partner billing) checks who may pay ``payment`` and then
hands it here: one transaction per call, a domain error as ``{"status": "error", message}``
with its status code, the card attempt's outcome otherwise.
"""

from __future__ import annotations

from flask import Response, jsonify, request
from flask_babel import gettext as _

from marketplace.errors import DomainError, InvalidInput
from marketplace.extensions import db
from marketplace.payments import checkout
from marketplace.payments.models import Payment


def _error(error: DomainError) -> tuple[Response, int]:
    db.session.rollback()
    return jsonify({"status": "error", "message": str(error.message)}), error.status


def confirm_card(payment: Payment) -> Response | tuple[Response, int]:
    """Charge the card the page just set up (``{"payment_method": "pm_..."}``)."""
    data = request.get_json(silent=True) or {}
    method = data.get("payment_method")
    try:
        if not isinstance(method, str) or not method:
            raise InvalidInput(_("No card was given."))
        attempt = checkout.pay_with_card(payment, payment_method=method)
    except DomainError as error:
        return _error(error)
    db.session.commit()
    return jsonify(checkout.attempt_body(attempt))


def sync_card(payment: Payment) -> Response | tuple[Response, int]:
    """After 3-D Secure on the page: read the outcome from Stripe."""
    try:
        attempt = checkout.finish_card_payment(payment)
    except DomainError as error:
        return _error(error)
    db.session.commit()
    return jsonify(checkout.attempt_body(attempt))
