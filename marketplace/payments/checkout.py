"""The card page's side of a payment, whatever it pays for (membership, partner plan, featured).

DESIGN's card flow: the page confirms a SetupIntent with the card element, the server charges
the card it set up (``pay_with_card``: a PaymentIntent with ``confirm=true``), the page runs
3-D Secure when the bank asks and the server reads the outcome (``finish_card_payment``).
Membership and the partner billing pages share these functions and the page partial
``templates/payments/_card_checkout.html``; each keeps its own routes and access checks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.errors import InvalidInput
from marketplace.extensions import db
from marketplace.payments import gateway
from marketplace.payments.gateway import SetupIntentInfo
from marketplace.payments.models import Payment, PaymentKind, PaymentProfile, PaymentStatus
from marketplace.payments.services import (
    PAID_STATUSES,
    CardRefused,
    PaymentError,
    PaymentServiceUnavailable,
    PaymentStateConflict,
    confirm_payment,
    payment_intent_client_secret,
    prepare_card_setup,
    sync_payment,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardAttempt:
    """Where a card payment stands for the page or the API after a confirm or a sync."""

    payment: Payment
    status: str  # succeeded | requires_action | failed | pending
    payment_intent_client_secret: str | None = None
    message: str | None = None


def _setup_intent(payment: Payment) -> SetupIntentInfo:
    if not payment.stripe_setup_intent_id:
        raise PaymentStateConflict()
    try:
        return gateway.get_gateway().retrieve_setup_intent(payment.stripe_setup_intent_id)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error


def card_setup_secret(payment: Payment) -> str | None:
    """The client secret of the payment's SetupIntent while the card form is usable, else None."""
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        return None
    if not payment.stripe_setup_intent_id:
        return None
    setup = _setup_intent(payment)
    if setup.status == "canceled":
        return None
    if payment.status == PaymentStatus.FAILED and setup.status == "succeeded":
        return None  # that card was refused: "Try another card" makes a new SetupIntent
    return setup.client_secret


def _attempt(payment: Payment, message: str | None = None) -> CardAttempt:
    status = payment.status
    if status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        return CardAttempt(payment, "failed", message=message or payment.failure_message)
    if status == PaymentStatus.REQUIRES_ACTION:
        return CardAttempt(
            payment, "requires_action", payment_intent_client_secret(payment), message
        )
    if status == PaymentStatus.PENDING:
        return CardAttempt(payment, "pending", message=message)
    return CardAttempt(payment, "succeeded")


def _card_details(payment_method: str) -> gateway.PaymentMethodInfo | None:
    """Brand and last four digits of a card, for the page; None if Stripe does not answer."""
    try:
        return gateway.get_gateway().retrieve_payment_method(payment_method)
    except gateway.GatewayError as error:
        # Only a label is missing: the payment itself is not affected.
        logger.warning("payment method %s not read: %s", payment_method, error.detail)
        return None


def _remember_card(payment: Payment, payment_method: str | None) -> None:
    """Keep a membership's card (set up for off-session use) for the yearly auto-renewal."""
    if payment.kind != PaymentKind.MEMBERSHIP or not payment_method or payment.payer_id is None:
        return
    profile = db.session.scalar(
        select(PaymentProfile).where(PaymentProfile.user_id == payment.payer_id)
    )
    if profile is None or profile.stripe_customer_id != payment.stripe_customer_id:
        return
    if profile.payment_method_id == payment_method and profile.card_last4:
        return
    details = _card_details(payment_method)
    profile.payment_method_id = payment_method
    profile.card_brand = details.brand[:20] if details and details.brand else None
    profile.card_last4 = details.last4[:4] if details and details.last4 else None
    db.session.flush()


def pay_with_card(payment: Payment, *, payment_method: str) -> CardAttempt:
    """Charge the card just confirmed on the payment's SetupIntent; keep it for renewals."""
    setup = _setup_intent(payment)
    if setup.status != "succeeded" or setup.payment_method != payment_method:
        raise InvalidInput(_("This card was not set up for this payment."))
    payment_id = payment.id
    try:
        payment = confirm_payment(payment_id, payment_method=payment_method)
    except CardRefused as error:
        # confirm_payment has recorded the failure; the caller answers "failed", not an error.
        return _attempt(db.session.get(Payment, payment_id), str(error.message))
    if payment.status in PAID_STATUSES or payment.status == PaymentStatus.REQUIRES_ACTION:
        _remember_card(payment, payment_method)
    return _attempt(payment)


def finish_card_payment(payment: Payment) -> CardAttempt:
    """After 3-D Secure on the page: sync the payment with Stripe and say where it stands."""
    return _attempt(sync_payment(payment.id))


def retry_card_setup(payment: Payment, *, user: User) -> SetupIntentInfo:
    """A new SetupIntent for another card after a declined one."""
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        raise PaymentStateConflict()
    return prepare_card_setup(payment, user=user)


def page_secrets(payment: Payment) -> tuple[str | None, str | None]:
    """(SetupIntent secret, PaymentIntent secret) for the card page; at most one is set."""
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        return None, payment_intent_client_secret(payment)
    return card_setup_secret(payment), None


def attempt_body(attempt: CardAttempt) -> dict:
    """The JSON answer checkout.js reads after a confirm or a sync."""
    body: dict = {"status": attempt.status, "payment_id": attempt.payment.id}
    if attempt.payment_intent_client_secret:
        body["payment_intent_client_secret"] = attempt.payment_intent_client_secret
    if attempt.message:
        body["message"] = attempt.message
    return body
