"""The one function that brings a payment in line with Stripe: ``apply_intent``.

The browser's return, the webhook and the reconciliation all fetch the PaymentIntent (outside
any lock), then call ``apply_intent``, which locks the payment row and:

- matches the intent to one of the payment's attempts (its id, else our metadata: payment,
  site, attempt, with the payer's Stripe customer), never to a stranger's;
- detaches what must not stay attached: a superseded attempt's news never moves the payment
  (a declined attempt's late ``payment_failed`` is not an exception), and an intent whose
  amount or currency is not the payment's is flagged and detached, so the payer's genuine
  attempt still goes through;
- moves the payment forward with a conditional UPDATE, so whichever arrives first fulfils
  once and sends one receipt; what Stripe settled (amount, fee, net in the account's
  currency) comes from the charge's balance transaction.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.services import queue_mail
from marketplace.payments import documents, gateway
from marketplace.payments.models import (
    OPEN_ATTEMPTS,
    STATUS_RANK,
    AttemptStatus,
    Payment,
    PaymentAttempt,
    PaymentStatus,
)
from marketplace.payments.services import (
    PAID_STATUSES,
    PaymentError,
    PaymentNotFound,
    PaymentServiceUnavailable,
    end_read_transaction,
    flag,
    fulfil,
    lock_payment,
    payment_id_in,
    transition,
)
from marketplace.routing import absolute_url

logger = logging.getLogger(__name__)

# Stripe PaymentIntent status → ours (``requires_payment_method`` depends on last_error).
INTENT_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "requires_confirmation": PaymentStatus.REQUIRES_ACTION,
    "canceled": PaymentStatus.CANCELED,
    "processing": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.PENDING,
}
ATTEMPT_STATUS = {
    "succeeded": AttemptStatus.SUCCEEDED,
    "requires_action": AttemptStatus.REQUIRES_ACTION,
    "requires_confirmation": AttemptStatus.REQUIRES_ACTION,
    "canceled": AttemptStatus.CANCELED,
    "processing": AttemptStatus.PROCESSING,
    "requires_capture": AttemptStatus.PROCESSING,
}


def target_status(intent: gateway.PaymentIntentInfo) -> PaymentStatus:
    if intent.status == "requires_payment_method":
        return PaymentStatus.FAILED if intent.last_error else PaymentStatus.PENDING
    return INTENT_STATUS.get(intent.status, PaymentStatus.PENDING)


def attempt_status(intent: gateway.PaymentIntentInfo) -> AttemptStatus:
    if intent.status == "requires_payment_method":
        return AttemptStatus.FAILED if intent.last_error else AttemptStatus.PROCESSING
    return ATTEMPT_STATUS.get(intent.status, AttemptStatus.PROCESSING)


def latest_attempt(payment_id: int) -> PaymentAttempt | None:
    """The payment's newest attempt (the current one)."""
    return db.session.scalar(
        select(PaymentAttempt)
        .where(PaymentAttempt.payment_id == payment_id)
        .order_by(PaymentAttempt.id.desc())
        .limit(1)
    )


def attempt_for_intent(intent_id: str) -> PaymentAttempt | None:
    return db.session.scalar(
        select(PaymentAttempt).where(PaymentAttempt.stripe_payment_intent_id == intent_id)
    )


def payment_for_intent(intent: gateway.PaymentIntentInfo) -> Payment | None:
    """The payment a PaymentIntent belongs to: by its id (any attempt), else by our metadata."""
    attempt = attempt_for_intent(intent.id)
    if attempt is not None:
        return db.session.get(Payment, attempt.payment_id)
    payment = db.session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == intent.id)
    )
    if payment is not None:
        return payment
    payment_id = payment_id_in(intent.metadata)
    return db.session.get(Payment, payment_id) if payment_id is not None else None


def _send_receipt(payment: Payment) -> None:
    if not payment.payer_email:
        return
    from marketplace.tasks import site_request_context

    payer = db.session.get(User, payment.payer_id) if payment.payer_id else None
    with site_request_context():
        link = absolute_url("payments.detail", payment_id=payment.id)
        queue_mail(
            to=payment.payer_email,
            template="payments/receipt",
            subject=N_("Payment received"),
            locale=payer.locale if payer else "fr",
            payment=payment,
            payment_url=link,
        )


def _on_success(payment: Payment) -> None:
    """Run once, by the call whose conditional UPDATE marked the payment succeeded."""
    fulfil(payment)
    payment.fulfilled_at = utcnow()
    db.session.flush()
    documents.issue_for_payment(payment)  # issued after the commit, with the fulfilled period
    _send_receipt(payment)


def settle(payment: Payment, charge: gateway.ChargeInfo | None) -> bool:
    """Keep what Stripe settled for the charge (its balance transaction); True if it changed."""
    if charge is None or charge.settled is None:
        return False
    settled = charge.settled
    values = (settled.amount, settled.fee, settled.net, settled.currency)
    current = (
        payment.settled_amount,
        payment.stripe_fee,
        payment.settled_net,
        payment.settled_currency,
    )
    if values == current:
        return False
    (
        payment.settled_amount,
        payment.stripe_fee,
        payment.settled_net,
        payment.settled_currency,
    ) = values
    if payment.stripe_charge_id is None:
        payment.stripe_charge_id = charge.id
    logger.info("payment %s settled: %s", payment.id, values)
    return True


def _foreign(payment: Payment, intent: gateway.PaymentIntentInfo) -> str | None:
    """Why ``intent`` cannot be one of ``payment``'s attempts, or None."""
    named = payment_id_in(intent.metadata)
    if named != payment.id:
        return f"{intent.id}: metadata names payment {intent.metadata.get('payment_id')}"
    if payment.stripe_customer_id and intent.customer != payment.stripe_customer_id:
        return f"{intent.id}: customer {intent.customer}, payer {payment.stripe_customer_id}"
    return None


def _adopt(payment: Payment, intent: gateway.PaymentIntentInfo) -> PaymentAttempt | None:
    """The attempt whose create call got no answer and that ``intent`` answers (our metadata
    names the attempt by its random key); the intent is attached to it.

    An intent naming no attempt of ours comes from elsewhere (another site on the account, a
    database restored to an earlier day whose ids came back): it is left alone.
    """
    key = str((intent.metadata or {}).get("attempt") or "")
    attempt = (
        db.session.scalar(select(PaymentAttempt).where(PaymentAttempt.idempotency_key == key))
        if key
        else None
    )
    if attempt is None:
        logger.info("payment %s: %s names no attempt of ours", payment.id, intent.id)
        return None
    reason = _foreign(payment, intent)
    if reason is not None or attempt.payment_id != payment.id:
        flag(payment, "unknown_intent", reason or f"{intent.id}: attempt of another payment")
        return None
    if attempt.stripe_payment_intent_id is not None:
        flag(
            payment,
            "unknown_intent",
            f"{intent.id}: the attempt is {attempt.stripe_payment_intent_id}",
        )
        return None
    attempt.stripe_payment_intent_id = intent.id
    logger.info("payment %s: attempt %s is %s (found again)", payment.id, attempt.id, intent.id)
    return attempt


def apply_intent(
    payment_id: int,
    intent: gateway.PaymentIntentInfo,
    charge: gateway.ChargeInfo | None = None,
) -> Payment:
    """Under the row lock, bring the payment in line with ``intent``; flush only."""
    payment = lock_payment(payment_id)
    attempt = attempt_for_intent(intent.id)
    legacy = attempt is None and payment.stripe_payment_intent_id == intent.id
    if legacy:
        # A payment recorded before attempts existed: its metadata must still name it.
        reason = _foreign(payment, intent)
        if reason is not None:
            flag(payment, "unknown_intent", reason)
            db.session.flush()
            return payment
    if attempt is None and not legacy:
        attempt = _adopt(payment, intent)
        if attempt is None:
            db.session.flush()
            return payment
    if attempt is not None and attempt.payment_id != payment.id:
        flag(payment, "unknown_intent", f"{intent.id}: the attempt of payment {attempt.payment_id}")
        db.session.flush()
        return payment
    if attempt is not None:
        newest = latest_attempt(payment.id)
        if newest is not None and newest.id != attempt.id:
            _apply_superseded(payment, attempt, intent)
            db.session.flush()
            return payment
        if payment.stripe_payment_intent_id is None:
            payment.stripe_payment_intent_id = intent.id
    target = target_status(intent)
    if target == PaymentStatus.SUCCEEDED:
        mismatch = None
        if intent.amount != payment.amount:
            mismatch = "amount_mismatch"
        elif intent.currency.lower() != payment.currency.lower():
            mismatch = "currency_mismatch"
        if mismatch is not None:
            flag(
                payment,
                mismatch,
                f"{intent.id}: {intent.amount} {intent.currency}, "
                f"ledger {payment.amount} {payment.currency}",
            )
            # Detached: the money Stripe took is the treasurer's to return; the payer's
            # genuine attempt is not blocked by it. The intent stays on record as an attempt.
            if attempt is None:
                attempt = PaymentAttempt(
                    payment_id=payment.id,
                    idempotency_key=f"recorded:{intent.id}",
                    payment_method=intent.payment_method or "",
                    stripe_payment_intent_id=intent.id,
                )
                db.session.add(attempt)
            attempt.status = AttemptStatus.MISMATCHED
            if payment.stripe_payment_intent_id == intent.id:
                payment.stripe_payment_intent_id = None
            db.session.flush()
            return payment
    if attempt is not None:
        attempt.status = attempt_status(intent)
        if attempt.status == AttemptStatus.FAILED:
            attempt.failure_code = (intent.last_error_code or "")[:60] or None
            attempt.failure_message = (intent.last_error or "")[:255] or None
    values: dict = {}
    if target == PaymentStatus.SUCCEEDED:
        values["succeeded_at"] = utcnow()
        values["stripe_charge_id"] = intent.latest_charge
        values["failure_message"] = None
        values["failure_code"] = None
    elif target == PaymentStatus.FAILED:
        values["failure_message"] = (intent.last_error or "")[:255] or None
        values["failure_code"] = (intent.last_error_code or "")[:60] or None
    if STATUS_RANK[target] > STATUS_RANK[payment.status] and transition(payment, target, **values):
        logger.info("payment %s is now %s", payment.id, target)
        if target == PaymentStatus.SUCCEEDED:
            settle(payment, charge)
            if payment.fulfilled_at is None:
                _on_success(payment)
    elif payment.status in PAID_STATUSES:
        settle(payment, charge)
    db.session.flush()
    return payment


def _apply_superseded(
    payment: Payment, attempt: PaymentAttempt, intent: gateway.PaymentIntentInfo
) -> None:
    """News of an older attempt: recorded on it; money taken by it is the treasurer's to see."""
    attempt.status = attempt_status(intent)
    if intent.status != "succeeded":
        return
    if payment.status in PAID_STATUSES or payment.stripe_payment_intent_id not in (None, intent.id):
        flag(
            payment,
            "duplicate_charge",
            f"{intent.id} (attempt {attempt.id}) also succeeded; "
            f"the payment is {payment.stripe_payment_intent_id}",
        )


def fetch(
    payment_intent_id: str, *, with_charge: bool = True
) -> tuple[gateway.PaymentIntentInfo, gateway.ChargeInfo | None]:
    """The PaymentIntent and, once paid, its charge (settled amount and fee)."""
    client = gateway.get_gateway()
    try:
        intent = client.retrieve_payment_intent(payment_intent_id)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error
    charge = None
    if with_charge and intent.status == "succeeded" and intent.latest_charge:
        try:
            charge = client.retrieve_charge(intent.latest_charge)
        except gateway.GatewayError:
            # The payment itself is known; the settlement is read again by reconciliation.
            logger.warning("charge %s not fetched", intent.latest_charge)
    return intent, charge


def sync_payment(payment_id: int) -> Payment:
    """Bring one payment in line with Stripe: fetch, lock, check, move forward; commits."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound()
    intent_id = payment.stripe_payment_intent_id
    if intent_id is None:
        return payment
    end_read_transaction()
    intent, charge = fetch(intent_id)
    payment = apply_intent(payment_id, intent, charge)
    db.session.commit()
    return payment


def sync_intent(intent: gateway.PaymentIntentInfo) -> Payment | None:
    """A PaymentIntent Stripe told us about (its fresh state): apply it to its payment."""
    payment = payment_for_intent(intent)
    if payment is None:
        return None
    payment_id = payment.id
    charge = None
    if intent.status == "succeeded" and intent.latest_charge:
        end_read_transaction()
        _intent, charge = fetch(intent.id)
    payment = apply_intent(payment_id, intent, charge)
    db.session.commit()
    return payment


def sync_charge(payment_id: int) -> list[str]:
    """Pick up what happened to a paid payment's charge: settlement, refunds, a dispute.

    The charge no longer embeds its refunds: they are listed (one more call) when its
    ``amount_refunded`` says the ledger is behind, or when the ledger still holds a refund
    as pending: equal sums prove nothing then (its failure may not be told yet, events come
    in any order, while a new refund of the same amount is missing). Each refund is recorded
    by its Stripe id, so listing twice records nothing twice. Commits.
    """
    from marketplace.payments import disputes, refunds

    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound()
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION):
        payment = sync_payment(payment_id)
    charge_id = payment.stripe_charge_id
    if charge_id is None and payment.stripe_payment_intent_id:
        intent, _unused = fetch(payment.stripe_payment_intent_id, with_charge=False)
        charge_id = intent.latest_charge
    if charge_id is None or payment.status not in PAID_STATUSES:
        return []
    end_read_transaction()
    client = gateway.get_gateway()
    try:
        charge = client.retrieve_charge(charge_id)
        listed = None
        if charge.amount_refunded != refunds.known_refunded(payment_id) or refunds.in_flight(
            payment_id
        ):
            listed = client.list_refunds(charge=charge.id)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error
    changes: list[str] = []
    payment = lock_payment(payment_id)
    if settle(payment, charge):
        changes.append("settlement recorded")
    for info in listed or ():
        if refunds.record_stripe_refund(payment, info):
            changes.append(f"refund {info.id} of {info.amount} recorded")
    if charge.disputed and not payment.disputes:
        disputes.mark_disputed(payment, f"charge {charge.id} disputed")
        changes.append("disputed")
    db.session.flush()
    db.session.commit()
    return changes


def open_attempts_of(payment_id: int) -> list[PaymentAttempt]:
    """The payment's attempts that may still take money."""
    return list(
        db.session.scalars(
            select(PaymentAttempt)
            .where(
                PaymentAttempt.payment_id == payment_id,
                PaymentAttempt.status.in_(OPEN_ATTEMPTS),
            )
            .order_by(PaymentAttempt.id)
        )
    )


def payment_intent_client_secret(payment: Payment) -> str | None:
    """The PaymentIntent's client secret, for the page's ``confirmCardPayment`` (3-D Secure)."""
    if not payment.stripe_payment_intent_id:
        return None
    intent, _charge = fetch(payment.stripe_payment_intent_id, with_charge=False)
    return intent.client_secret
