"""The card side of a payment, whatever it pays for (membership, partner plan, featured):
the payer's Stripe customer and SetupIntent, then one attempt (a PaymentIntent) at a time.

DESIGN's card flow: the page confirms a SetupIntent with the card element, the server charges
the card it set up (``confirm_payment``: a PaymentIntent with ``confirm=true``), the page runs
3-D Secure when the bank asks and the server reads the outcome (``finish_card_payment``).
Membership and the partner billing pages share these functions and the page partial
``templates/payments/_card_checkout.html``; each keeps its own routes and access checks.

One open attempt per payment: the attempt row (with a random idempotency key) is written under
the payment's row lock before Stripe is called. A second confirm while the first is in flight
waits for it and reads its outcome; a confirm after an answer was lost sends the same request
with the same key (Stripe replays it: one PaymentIntent, never two); a new card after a
declined one (or instead of one waiting for 3-D Secure) is a new attempt, the old intent being
canceled at Stripe first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import InvalidInput
from marketplace.extensions import db
from marketplace.payments import gateway, wording
from marketplace.payments.gateway import SetupIntentInfo
from marketplace.payments.models import (
    AttemptStatus,
    Payment,
    PaymentAttempt,
    PaymentKind,
    PaymentProfile,
    PaymentStatus,
)
from marketplace.payments.services import (
    OPEN_STATUSES,
    PAID_STATUSES,
    CardRefused,
    PaymentError,
    PaymentNotFound,
    PaymentServiceUnavailable,
    PaymentStateConflict,
    call_stripe,
    end_read_transaction,
    idempotency_key,
    lock_payment,
    random_idempotency_key,
    reopen,
    site_id,
    transition,
)
from marketplace.payments.sync import (
    apply_intent,
    fetch,
    latest_attempt,
    payment_intent_client_secret,
    sync_payment,
)

logger = logging.getLogger(__name__)

# A confirm waits this long for another one in flight on the same payment.
WAIT_FOR_ATTEMPT = timedelta(seconds=10)
POLL_SECONDS = 0.1
# An attempt "creating" for longer than this lost its request (the process died).
CREATING_STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class CardAttempt:
    """Where a card payment stands for the page or the API after a confirm or a sync."""

    payment: Payment
    status: str  # succeeded | requires_action | failed | pending
    payment_intent_client_secret: str | None = None
    message: str | None = None


# -- customer and SetupIntent ----------------------------------------------------------------


def _profile_for(user: User) -> PaymentProfile:
    profile = db.session.scalar(select(PaymentProfile).where(PaymentProfile.user_id == user.id))
    if profile is not None:
        return profile
    customer = call_stripe(
        gateway.get_gateway().create_customer,
        email=user.email,
        name=user.full_name,
        idempotency_key=idempotency_key("customer", user.id, user.created_at.isoformat()),
    )
    profile = PaymentProfile(user_id=user.id, stripe_customer_id=customer)
    db.session.add(profile)
    db.session.flush()
    return profile


def prepare_card_setup(payment: Payment, *, user: User) -> SetupIntentInfo:
    """Make sure the payer has a Stripe customer and give the page a SetupIntent; flush only."""
    if payment.status not in (*OPEN_STATUSES, PaymentStatus.FAILED):
        raise PaymentStateConflict()
    profile = _profile_for(user)
    client = gateway.get_gateway()
    if payment.stripe_setup_intent_id:
        info = call_stripe(client.retrieve_setup_intent, payment.stripe_setup_intent_id)
        if info.status not in ("canceled", "succeeded"):
            return info
    # A new key per SetupIntent, derived from the row and the intent it replaces.
    previous = payment.stripe_setup_intent_id or "first"
    info = call_stripe(
        client.create_setup_intent,
        customer=profile.stripe_customer_id,
        idempotency_key=idempotency_key(
            "setup", payment.id, payment.created_at.isoformat(), previous
        ),
    )
    payment.stripe_customer_id = profile.stripe_customer_id
    payment.stripe_setup_intent_id = info.id
    db.session.flush()
    return info


# -- attempts --------------------------------------------------------------------------------


def _metadata(payment: Payment, attempt: PaymentAttempt) -> dict[str, str]:
    """What our PaymentIntents say about themselves: reconciliation finds them by it."""
    return {
        "payment_id": str(payment.id),
        # The attempt's random key: row ids come back after a database restore, this not.
        "attempt": attempt.idempotency_key,
        "site": site_id(),
        "kind": str(payment.kind),
    }


def _in_flight(attempt: PaymentAttempt | None) -> bool:
    """Another request is creating this attempt's PaymentIntent right now."""
    if attempt is None or attempt.status != AttemptStatus.CREATING:
        return False
    return utcnow() - attempt.updated_at < CREATING_STALE_AFTER


def _cancel_superseded(payment_id: int, attempt: PaymentAttempt) -> Payment | None:
    """Cancel an older attempt's open intent before a new one (no lock held).

    If Stripe will not cancel it because it succeeded meanwhile (3-D Secure done in another
    tab), that intent is the payment: it is synced and returned.
    """
    intent_id = attempt.stripe_payment_intent_id
    if intent_id is None:
        return None
    end_read_transaction()
    try:
        gateway.get_gateway().cancel_payment_intent(
            intent_id, idempotency_key=idempotency_key("cancel", intent_id)
        )
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError:
        logger.info("payment %s: intent %s not canceled; reading it", payment_id, intent_id)
    intent, charge = fetch(intent_id)
    payment = apply_intent(payment_id, intent, charge)
    db.session.commit()
    return payment if payment.status in PAID_STATUSES else None


def _claim(payment_id: int, payment_method: str) -> tuple[Payment, PaymentAttempt | None]:
    """Under the row lock, decide: the payment is done, an attempt is ours to send, or wait.

    Returns the payment and the attempt to send (None: nothing to send, read the payment).
    """
    deadline = time.monotonic() + WAIT_FOR_ATTEMPT.total_seconds()
    while True:
        payment = lock_payment(payment_id)
        if payment.status in PAID_STATUSES or payment.status == PaymentStatus.CANCELED:
            return payment, None
        attempt = latest_attempt(payment_id)
        if _in_flight(attempt):
            db.session.commit()  # let the request in flight finish its work
            if time.monotonic() > deadline:
                raise PaymentServiceUnavailable()
            time.sleep(POLL_SECONDS)
            continue
        if attempt is not None and attempt.status in (
            AttemptStatus.UNANSWERED,
            AttemptStatus.CREATING,
        ):
            # Its answer was lost: the same request again, with the same key.
            attempt.status = AttemptStatus.CREATING
            attempt.updated_at = utcnow()
            db.session.commit()
            return payment, attempt
        open_intent = (
            attempt is not None
            and attempt.stripe_payment_intent_id is not None
            and attempt.status in (AttemptStatus.REQUIRES_ACTION, AttemptStatus.PROCESSING)
        )
        if open_intent and attempt.payment_method == payment_method:
            db.session.commit()
            return payment, None  # a second click, or back from 3-D Secure: read it
        if open_intent:
            db.session.commit()
            paid = _cancel_superseded(payment_id, attempt)
            if paid is not None:
                return paid, None
            continue
        if payment.status not in (*OPEN_STATUSES, PaymentStatus.FAILED):
            raise PaymentStateConflict()
        reopen(payment)
        new = PaymentAttempt(
            payment_id=payment.id,
            idempotency_key=random_idempotency_key("pi"),
            payment_method=payment_method,
            status=AttemptStatus.CREATING,
        )
        db.session.add(new)
        if payment.stripe_payment_intent_id is not None:
            # The superseded attempt stays in its own row; the payment follows the new one.
            payment.stripe_payment_intent_id = None
        db.session.flush()
        db.session.commit()
        return payment, new


def confirm_payment(payment_id: int, *, payment_method: str) -> Payment:
    """Charge ``payment_method`` for the payment: one open attempt at a time; commits."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound()
    payment, attempt = _claim(payment_id, payment_method)
    if attempt is None:
        if payment.status in OPEN_STATUSES and payment.stripe_payment_intent_id:
            return sync_payment(payment_id)
        return payment
    attempt_id = attempt.id
    request = {
        "amount": payment.amount,
        "currency": payment.currency,
        "customer": payment.stripe_customer_id,
        "off_session": payment.off_session,
        "payment_method": attempt.payment_method,
        "metadata": _metadata(payment, attempt),
        "idempotency_key": attempt.idempotency_key,
    }
    end_read_transaction()
    try:
        intent = gateway.get_gateway().create_payment_intent(**request)
    except gateway.CardDeclined as error:
        _attempt_failed(payment_id, attempt_id, AttemptStatus.FAILED, error)
        raise CardRefused(wording.decline_text(error.code)) from error
    except gateway.GatewayUnavailable as error:
        # No answer: Stripe may have charged. The next confirm (or reconciliation, by our
        # metadata) finds out with the same key; nothing is fulfilled meanwhile.
        _mark_attempt(attempt_id, AttemptStatus.UNANSWERED)
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        _attempt_failed(payment_id, attempt_id, AttemptStatus.REFUSED, error)
        raise PaymentError(error.user_message) from error
    charge = None
    if intent.status == "succeeded":
        intent, charge = fetch(intent.id)
    # The row lock first, then the attempt (the order every writer follows).
    payment = lock_payment(payment_id)
    attempt = db.session.get(PaymentAttempt, attempt_id)
    if attempt.stripe_payment_intent_id is None:
        attempt.stripe_payment_intent_id = intent.id
    newest = latest_attempt(payment_id)
    if payment.stripe_payment_intent_id is None and newest is not None and newest.id == attempt_id:
        payment.stripe_payment_intent_id = intent.id
    db.session.flush()
    payment = apply_intent(payment_id, intent, charge)
    db.session.commit()
    return payment


def _mark_attempt(attempt_id: int, status: AttemptStatus) -> None:
    attempt = db.session.get(PaymentAttempt, attempt_id)
    attempt.status = status
    db.session.commit()


def _attempt_failed(
    payment_id: int, attempt_id: int, status: AttemptStatus, error: gateway.GatewayError
) -> None:
    """A refused card (or request): the attempt and, if it is the current one, the payment."""
    payment = lock_payment(payment_id)
    attempt = db.session.get(PaymentAttempt, attempt_id)
    attempt.status = status
    attempt.failure_code = (error.code or "")[:60] or None
    attempt.failure_message = (error.user_message or "")[:255] or None
    newest = latest_attempt(payment_id)
    if newest is not None and newest.id == attempt_id and payment.status in OPEN_STATUSES:
        transition(
            payment,
            PaymentStatus.FAILED,
            failure_message=attempt.failure_message,
            failure_code=attempt.failure_code,
        )
    db.session.commit()


# -- the page's side ---------------------------------------------------------------------------


def _setup_intent(payment: Payment) -> SetupIntentInfo:
    if not payment.stripe_setup_intent_id:
        raise PaymentStateConflict()
    return call_stripe(gateway.get_gateway().retrieve_setup_intent, payment.stripe_setup_intent_id)


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
        return CardAttempt(
            payment, "failed", message=message or wording.decline_text(payment.failure_code)
        )
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
