"""Every state change of the payment ledger; ``sync_payment`` makes a payment follow Stripe.

A payment moves only forward (``STATUS_RANK``). The browser's return, the webhook and the
reconciliation job all call ``sync_payment``: it fetches the PaymentIntent (outside any row lock),
then locks the row, checks amount and currency, and applies a conditional UPDATE, so whichever
arrives first fulfils the payment once and sends one receipt.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.notifications.services import queue_mail
from marketplace.payments import gateway
from marketplace.payments.models import (
    STATUS_RANK,
    Payment,
    PaymentKind,
    PaymentProfile,
    PaymentStatus,
    Refund,
    StripeEvent,
)

logger = logging.getLogger(__name__)

PENDING_RESYNC_AFTER = timedelta(hours=1)
LOCK_TIMEOUT = "5s"

# Statuses from which a refund or a dispute can follow (a payment that was paid).
PAID_STATUSES = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
    PaymentStatus.DISPUTED,
)
OPEN_STATUSES = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)

# Stripe PaymentIntent status → ours (``requires_payment_method`` depends on last_error).
INTENT_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "requires_confirmation": PaymentStatus.REQUIRES_ACTION,
    "canceled": PaymentStatus.CANCELED,
    "processing": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.PENDING,
}


class PaymentError(DomainError):
    status = 400
    code = "payment_error"
    message = _l("The payment could not be processed.")


class PaymentNotFound(PaymentError):
    status = 404
    code = "not_found"
    message = _l("Payment not found.")


class PaymentStateConflict(PaymentError):
    status = 409
    code = "payment_state"
    message = _l("This payment cannot be changed in its current state.")


class PaymentServiceUnavailable(PaymentError):
    status = 503
    code = "payment_service_unavailable"
    message = _l("The payment service is unreachable. Please try again in a few minutes.")


class CardRefused(PaymentError):
    status = 402
    code = "card_declined"
    message = _l("Your card was declined.")


# -- fulfilment registry ---------------------------------------------------------------------

_FULFILMENTS: dict[PaymentKind, Callable[[Payment], None]] = {}
_REVERSALS: dict[PaymentKind, Callable[[Payment], None]] = {}


def register_fulfilment(kind: PaymentKind, fulfil: Callable[[Payment], None]) -> None:
    """Set what a succeeded payment of ``kind`` delivers (runs once, in the success transaction)."""
    _FULFILMENTS[PaymentKind(kind)] = fulfil


def register_reversal(kind: PaymentKind, reverse: Callable[[Payment], None]) -> None:
    """Set what a full refund of ``kind`` ends (for example the membership period)."""
    _REVERSALS[PaymentKind(kind)] = reverse


# -- helpers -------------------------------------------------------------------------------------


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _lock_payment(payment_id: int) -> Payment:
    """Lock the payment row for this transaction (FOR UPDATE; SQLite's BEGIN IMMEDIATE)."""
    query = select(Payment).where(Payment.id == payment_id)
    if _is_postgresql():
        db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        query = query.with_for_update()
    payment = db.session.scalar(query.execution_options(populate_existing=True))
    if payment is None:
        raise PaymentNotFound()
    return payment


def _end_read_transaction() -> None:
    """Commit before a network call so no lock (SQLite's write lock included) waits on Stripe."""
    db.session.commit()


def _transition(payment: Payment, new_status: PaymentStatus, **values: Any) -> bool:
    """Conditionally move ``payment`` forward; True if this call made the change."""
    rank = STATUS_RANK[new_status]
    lower = [status for status, value in STATUS_RANK.items() if value < rank]
    result = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(lower))
        .values(status=new_status, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)
    return result.rowcount == 1


def _flag(payment: Payment, flag: str, detail: str) -> None:
    if payment.flag != flag or payment.flag_detail != detail:
        payment.flag = flag
        payment.flag_detail = detail[:2000]
        logger.warning("payment %s flagged %s: %s", payment.id, flag, detail)


def _target_status(intent: gateway.PaymentIntentInfo) -> PaymentStatus:
    if intent.status == "requires_payment_method":
        return PaymentStatus.FAILED if intent.last_error else PaymentStatus.PENDING
    return INTENT_STATUS.get(intent.status, PaymentStatus.PENDING)


def _assign_document_number(payment: Payment) -> None:
    if importlib.util.find_spec("marketplace.payments.documents") is None:
        return
    from marketplace.payments import documents  # written by the documents engineer

    documents.assign_document_number(payment)


def _send_receipt(payment: Payment) -> None:
    if not payment.payer_email:
        return
    from marketplace.tasks import site_request_context

    payer = db.session.get(User, payment.payer_id) if payment.payer_id else None
    with site_request_context():
        link = url_for("payments.detail", payment_id=payment.id, _external=True)
        queue_mail(
            to=payment.payer_email,
            template="payments/receipt",
            subject="Payment received",
            locale=payer.locale if payer else "fr",
            payment=payment,
            payment_url=link,
        )


def _on_success(payment: Payment) -> None:
    """Run once, by the call whose conditional UPDATE marked the payment succeeded."""
    _assign_document_number(payment)
    fulfil = _FULFILMENTS.get(payment.kind)
    if fulfil is not None:
        fulfil(payment)
    payment.fulfilled_at = utcnow()
    db.session.flush()
    _send_receipt(payment)


def _apply_intent(
    payment_id: int,
    intent: gateway.PaymentIntentInfo,
    charge: gateway.ChargeInfo | None = None,
) -> Payment:
    """Under the row lock, bring the payment in line with ``intent``; flush only."""
    payment = _lock_payment(payment_id)
    if payment.stripe_payment_intent_id and payment.stripe_payment_intent_id != intent.id:
        _flag(
            payment,
            "unknown_intent",
            f"PaymentIntent {intent.id} does not belong to this payment "
            f"(expected {payment.stripe_payment_intent_id})",
        )
        db.session.flush()
        return payment
    meta_id = (intent.metadata or {}).get("payment_id")
    if meta_id is not None and str(meta_id) != str(payment.id):
        _flag(payment, "unknown_intent", f"PaymentIntent {intent.id} is for payment {meta_id}")
        db.session.flush()
        return payment
    if payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = intent.id
    target = _target_status(intent)
    if target == PaymentStatus.SUCCEEDED:
        if intent.amount != payment.amount:
            _flag(
                payment,
                "amount_mismatch",
                f"Stripe {intent.id}: {intent.amount} {intent.currency}, "
                f"ledger: {payment.amount} {payment.currency}",
            )
            db.session.flush()
            return payment
        if intent.currency.lower() != payment.currency.lower():
            _flag(
                payment,
                "currency_mismatch",
                f"Stripe {intent.id}: {intent.currency}, ledger: {payment.currency}",
            )
            db.session.flush()
            return payment
    values: dict[str, Any] = {}
    if target == PaymentStatus.SUCCEEDED:
        values["succeeded_at"] = utcnow()
        values["stripe_charge_id"] = intent.latest_charge
        values["failure_message"] = None
        if charge is not None and charge.fee is not None:
            values["stripe_fee"] = charge.fee
    elif target == PaymentStatus.FAILED:
        values["failure_message"] = (intent.last_error or "")[:255] or None
    if STATUS_RANK[target] > STATUS_RANK[payment.status] and _transition(payment, target, **values):
        logger.info("payment %s is now %s", payment.id, target)
        if target == PaymentStatus.SUCCEEDED and payment.fulfilled_at is None:
            _on_success(payment)
    elif (
        payment.status in PAID_STATUSES
        and charge is not None
        and _better_fee(payment.stripe_fee, charge.fee)
    ):
        payment.stripe_fee = charge.fee
    db.session.flush()
    return payment


def _better_fee(current: int | None, new: int | None) -> bool:
    """True when ``new`` should replace the recorded fee: a fee once known is kept, except a zero
    (a stand-in's or a balance transaction not settled yet) that a real, non-zero fee replaces."""
    if new is None or new == current:
        return False
    return current is None or (current == 0 and new > 0)


def _fetch(payment_intent_id: str) -> tuple[gateway.PaymentIntentInfo, gateway.ChargeInfo | None]:
    """The PaymentIntent and, once paid, its charge (for the fee); raise 503 when unreachable."""
    client = gateway.get_gateway()
    try:
        intent = client.retrieve_payment_intent(payment_intent_id)
        charge = None
        if intent.status == "succeeded" and intent.latest_charge:
            charge = client.retrieve_charge(intent.latest_charge)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error
    return intent, charge


# -- services ------------------------------------------------------------------------------------


def create_payment(
    *,
    kind: PaymentKind,
    amount: int,
    currency: str,
    payer: User | None,
    partner_id: int | None = None,
    subject: dict[str, Any],
    description: str,
) -> Payment:
    """Add a pending payment row (before Stripe is called)."""
    if amount <= 0:
        raise PaymentError(_l("The amount must be positive."))
    payment = Payment(
        kind=PaymentKind(kind),
        status=PaymentStatus.PENDING,
        amount=amount,
        currency=currency.lower(),
        payer_id=payer.id if payer else None,
        payer_name=(payer.full_name if payer else "") or "",
        payer_email=payer.email if payer else None,
        partner_id=partner_id,
        subject=dict(subject),
        description=description[:255],
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def _profile_for(user: User) -> PaymentProfile:
    profile = db.session.scalar(select(PaymentProfile).where(PaymentProfile.user_id == user.id))
    if profile is not None:
        return profile
    try:
        customer = gateway.get_gateway().create_customer(
            email=user.email, name=user.full_name, idempotency_key=f"customer-user-{user.id}"
        )
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error
    profile = PaymentProfile(user_id=user.id, stripe_customer_id=customer)
    db.session.add(profile)
    db.session.flush()
    return profile


def prepare_card_setup(payment: Payment, *, user: User) -> gateway.SetupIntentInfo:
    """Make sure the payer has a Stripe customer and give the page a SetupIntent; flush only."""
    if payment.status not in (*OPEN_STATUSES, PaymentStatus.FAILED):
        raise PaymentStateConflict()
    profile = _profile_for(user)
    client = gateway.get_gateway()
    try:
        if payment.stripe_setup_intent_id:
            info = client.retrieve_setup_intent(payment.stripe_setup_intent_id)
            if info.status not in ("canceled", "succeeded"):
                return info
        # A new key per attempt, derived from the row and the intent it replaces.
        previous = payment.stripe_setup_intent_id or "first"
        info = client.create_setup_intent(
            customer=profile.stripe_customer_id,
            idempotency_key=f"setup-payment-{payment.id}-{previous}",
        )
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error
    payment.stripe_customer_id = profile.stripe_customer_id
    payment.stripe_setup_intent_id = info.id
    db.session.flush()
    return info


def confirm_payment(payment_id: int, *, payment_method: str) -> Payment:
    """Create the PaymentIntent (``confirm=true``) outside any lock, then sync; commits."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound()
    if payment.stripe_payment_intent_id and payment.status != PaymentStatus.FAILED:
        # Back from 3-D Secure (or a second click): Stripe already has the intent.
        return sync_payment(payment_id)
    if payment.status not in (*OPEN_STATUSES, PaymentStatus.FAILED):
        raise PaymentStateConflict()
    request = {
        "amount": payment.amount,
        "currency": payment.currency,
        "customer": payment.stripe_customer_id,
        "off_session": payment.off_session,
        "metadata": {"payment_id": str(payment.id), "kind": str(payment.kind)},
        "idempotency_key": f"payment-{payment.id}-{payment_method}",
    }
    _end_read_transaction()
    try:
        intent = gateway.get_gateway().create_payment_intent(
            payment_method=payment_method, **request
        )
    except gateway.CardDeclined as error:
        payment = _lock_payment(payment_id)
        if STATUS_RANK[payment.status] < STATUS_RANK[PaymentStatus.FAILED]:
            _transition(payment, PaymentStatus.FAILED, failure_message=error.user_message[:255])
        db.session.commit()
        raise CardRefused(error.user_message) from error
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error
    charge = None
    if intent.status == "succeeded" and intent.latest_charge:
        try:
            charge = gateway.get_gateway().retrieve_charge(intent.latest_charge)
        except gateway.GatewayError:
            logger.warning("payment %s: charge %s not fetched", payment_id, intent.latest_charge)
    payment = _lock_payment(payment_id)
    if payment.status == PaymentStatus.FAILED and payment.stripe_payment_intent_id != intent.id:
        # A new attempt after a declined card: this intent is now the payment's.
        payment.stripe_payment_intent_id = intent.id
        db.session.flush()
    payment = _apply_intent(payment_id, intent, charge)
    db.session.commit()
    return payment


def sync_payment(payment_id: int) -> Payment:
    """Bring one payment in line with Stripe: fetch, lock, check, move forward; commits."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound()
    intent_id = payment.stripe_payment_intent_id
    if intent_id is None:
        return payment
    _end_read_transaction()
    intent, charge = _fetch(intent_id)
    payment = _apply_intent(payment_id, intent, charge)
    db.session.commit()
    return payment


def payment_intent_client_secret(payment: Payment) -> str | None:
    """The PaymentIntent's client secret, for the page's ``confirmCardPayment`` (3-D Secure)."""
    if not payment.stripe_payment_intent_id:
        return None
    intent, _charge = _fetch(payment.stripe_payment_intent_id)
    return intent.client_secret


def _set_refund_status(payment: Payment) -> None:
    """Derive refunded / partially_refunded from ``refunded_amount`` (never backwards)."""
    if payment.refunded_amount <= 0:
        return
    if payment.refunded_amount >= payment.amount:
        target = PaymentStatus.REFUNDED
    else:
        target = PaymentStatus.PARTIALLY_REFUNDED
    was_refunded = payment.status == PaymentStatus.REFUNDED
    if payment.status in PAID_STATUSES and STATUS_RANK[target] > STATUS_RANK[payment.status]:
        _transition(payment, target)
    full = payment.refunded_amount >= payment.amount
    if full and not was_refunded and payment.subject.get("reversed_at") is None:
        reverse = _REVERSALS.get(payment.kind)
        if reverse is not None:
            reverse(payment)
        payment.subject = {**payment.subject, "reversed_at": utcnow().isoformat()}
    db.session.flush()


def _record_stripe_refund(
    payment: Payment, info: gateway.RefundInfo, refund: Refund | None
) -> bool:
    """Record a Stripe refund once (matched by id); True if the ledger changed."""
    if info.status not in ("succeeded", "pending"):
        return False
    known = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == info.id))
    if known is not None:
        if refund is not None and refund.id != known.id and refund.status == "pending":
            # The webhook recorded it first; our own row was the same refund.
            refund.status = "merged"
        return False
    if refund is None:
        refund = db.session.scalar(
            select(Refund).where(
                Refund.payment_id == payment.id,
                Refund.status == "pending",
                Refund.stripe_refund_id.is_(None),
                Refund.amount == info.amount,
            )
        )
    if refund is None:
        refund = Refund(
            payment_id=payment.id, amount=info.amount, reason="Stripe dashboard", status="pending"
        )
        db.session.add(refund)
    refund.stripe_refund_id = info.id
    refund.status = "succeeded"
    refund.failure_message = None
    payment.refunded_amount = min(payment.amount, payment.refunded_amount + info.amount)
    db.session.flush()
    _set_refund_status(payment)
    return True


def refund_payment(payment_id: int, *, amount: int | None, reason: str, actor: Any) -> Refund:
    """Refund a paid payment fully (``amount=None``) or partly through Stripe; commits."""
    payment = _lock_payment(payment_id)
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        raise PaymentStateConflict()
    if not payment.stripe_payment_intent_id:
        raise PaymentStateConflict()
    in_flight = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id,
            Refund.status == "pending",
        )
    )
    remaining = payment.amount - payment.refunded_amount - int(in_flight or 0)
    amount = remaining if amount is None else amount
    if amount <= 0 or amount > remaining:
        raise PaymentError(_l("The refund amount must be between 0.01 and what remains."))
    refund = Refund(
        payment_id=payment.id,
        amount=amount,
        reason=(reason or "")[:255],
        status="pending",
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(refund)
    db.session.flush()
    audit.record(
        "payment.refund",
        actor=actor,
        object_type="payment",
        object_id=payment.id,
        refund_id=refund.id,
        amount=amount,
        reason=refund.reason,
    )
    refund_id, intent_id = refund.id, payment.stripe_payment_intent_id
    db.session.commit()  # the row exists (and its id keys the call) before Stripe is asked
    try:
        info = gateway.get_gateway().create_refund(
            payment_intent=intent_id, amount=amount, idempotency_key=f"refund-{refund_id}"
        )
    except gateway.GatewayError as error:
        payment = _lock_payment(payment_id)
        refund = db.session.get(Refund, refund_id)
        refund.status = "failed"
        refund.failure_message = error.detail[:255] or error.user_message[:255]
        _flag(payment, "refund_failed", f"refund {refund_id} of {amount}: {error.detail}")
        db.session.commit()
        if isinstance(error, gateway.GatewayUnavailable):
            raise PaymentServiceUnavailable(error.user_message) from error
        raise PaymentError(error.user_message) from error
    payment = _lock_payment(payment_id)
    refund = db.session.get(Refund, refund_id)
    _record_stripe_refund(payment, info, refund)
    db.session.commit()
    return refund


def sync_charge(payment_id: int) -> list[str]:
    """Pick up refunds, fees and disputes of a payment's charge (the Stripe dashboard); commits."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound()
    if payment.status in OPEN_STATUSES and payment.stripe_payment_intent_id:
        payment = sync_payment(payment_id)
    charge_id = payment.stripe_charge_id
    if charge_id is None and payment.stripe_payment_intent_id:
        intent, _unused = _fetch(payment.stripe_payment_intent_id)
        charge_id = intent.latest_charge
    if charge_id is None:
        return []
    _end_read_transaction()
    try:
        charge = gateway.get_gateway().retrieve_charge(charge_id)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error
    changes = _apply_charge(payment_id, charge)
    db.session.commit()
    return changes


def _apply_charge(payment_id: int, charge: gateway.ChargeInfo) -> list[str]:
    payment = _lock_payment(payment_id)
    changes: list[str] = []
    if payment.status not in PAID_STATUSES:
        return changes
    if payment.stripe_charge_id is None:
        payment.stripe_charge_id = charge.id
    if _better_fee(payment.stripe_fee, charge.fee):
        payment.stripe_fee = charge.fee
    for info in charge.refunds:
        if _record_stripe_refund(payment, info, None):
            changes.append(f"refund {info.id} of {info.amount} recorded")
    if charge.disputed and payment.status != PaymentStatus.DISPUTED:
        _mark_disputed(payment, f"charge {charge.id} disputed")
        changes.append("disputed")
    db.session.flush()
    return changes


def _mark_disputed(payment: Payment, detail: str) -> None:
    if payment.disputed_at is None:
        payment.disputed_at = utcnow()
    if payment.status in PAID_STATUSES:
        _transition(payment, PaymentStatus.DISPUTED)
    _flag(payment, "dispute", detail)


def _payment_for_intent(intent_id: str | None) -> Payment | None:
    if not intent_id:
        return None
    return db.session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))


def _payment_for_charge(data: dict) -> Payment | None:
    charge_id = data.get("id") if data.get("object") == "charge" else data.get("charge")
    if isinstance(charge_id, dict):
        charge_id = charge_id.get("id")
    intent_id = data.get("payment_intent")
    if isinstance(intent_id, dict):
        intent_id = intent_id.get("id")
    payment = _payment_for_intent(intent_id)
    if payment is None and charge_id:
        payment = db.session.scalar(select(Payment).where(Payment.stripe_charge_id == charge_id))
    if payment is None and charge_id and not intent_id:
        # The event may come before the ledger knows the charge: ask Stripe whose charge it is.
        try:
            charge = gateway.get_gateway().retrieve_charge(str(charge_id))
        except gateway.GatewayUnavailable as error:
            raise PaymentServiceUnavailable(error.user_message) from error
        except gateway.GatewayError:
            return None
        payment = _payment_for_intent(charge.payment_intent)
    return payment


def _handle_intent_event(event: gateway.EventInfo) -> None:
    payment = _payment_for_intent(event.object_id)
    if payment is None:
        meta_id = (event.data.get("metadata") or {}).get("payment_id")
        candidate = db.session.get(Payment, int(meta_id)) if str(meta_id or "").isdigit() else None
        if candidate is not None and candidate.stripe_payment_intent_id is None:
            # Our confirm call never heard back (timeout): Stripe's intent is this payment's.
            candidate.stripe_payment_intent_id = event.object_id
            db.session.flush()
            payment = candidate
        elif candidate is not None:
            _flag(
                candidate,
                "unknown_intent",
                f"event {event.id}: PaymentIntent {event.object_id} is not this payment's "
                f"({candidate.stripe_payment_intent_id})",
            )
            db.session.flush()
            return
        else:
            logger.info("event %s: no payment for %s", event.id, event.object_id)
            return
    sync_payment(payment.id)


def _handle_dispute_event(event: gateway.EventInfo) -> None:
    payment = _payment_for_charge(event.data)
    if payment is None:
        logger.info("event %s: no payment for dispute %s", event.id, event.object_id)
        return
    if payment.status in OPEN_STATUSES:
        # The dispute may arrive before the success: the event is a hint, Stripe the truth.
        sync_payment(payment.id)
    payment = _lock_payment(payment.id)
    if event.type == "charge.dispute.closed":
        outcome = event.data.get("status") or "closed"
        detail = f"dispute {event.object_id} closed: {outcome}"
    else:
        reason = event.data.get("reason") or "unknown reason"
        detail = f"dispute {event.object_id} opened: {reason}"
    if payment.status not in PAID_STATUSES:
        _flag(payment, "dispute", f"{detail} (payment not succeeded in the ledger)")
        db.session.flush()
        return
    # Closed disputes keep the status: a payment never moves backwards; the outcome is recorded.
    if (
        payment.flag_detail
        and event.type == "charge.dispute.created"
        and "closed" in (payment.flag_detail or "")
    ):
        detail = payment.flag_detail
    _mark_disputed(payment, detail)
    db.session.flush()


def _handle_charge_event(event: gateway.EventInfo) -> None:
    payment = _payment_for_charge(event.data)
    if payment is None:
        logger.info("event %s: no payment for charge %s", event.id, event.object_id)
        return
    sync_charge(payment.id)


def _event_fee(data: dict) -> int | None:
    """The fee of the balance transaction a signed event carries expanded (charge or intent)."""
    charge: Any = data if data.get("object") == "charge" else data.get("latest_charge")
    if not isinstance(charge, dict):
        charges = data.get("charges")
        listed = charges.get("data") if isinstance(charges, dict) else None
        charge = listed[0] if listed and isinstance(listed[0], dict) else None
    if charge is None:
        return None
    transaction = charge.get("balance_transaction")
    if isinstance(transaction, dict) and isinstance(transaction.get("fee"), int):
        return transaction["fee"]
    return None


def _record_event_fee(event: gateway.EventInfo) -> None:
    """Keep the Stripe fee a verified event carries (localstripe's API always reports zero)."""
    if event.type.startswith("charge.dispute"):
        return
    fee = _event_fee(event.data)
    if fee is None:
        return
    if event.object_type == "charge":
        payment = _payment_for_charge(event.data)
    else:
        payment = _payment_for_intent(event.object_id)
    if payment is None:
        return
    payment = _lock_payment(payment.id)
    if payment.status in PAID_STATUSES and _better_fee(payment.stripe_fee, fee):
        logger.info("payment %s: Stripe fee %s from event %s", payment.id, fee, event.id)
        payment.stripe_fee = fee
        db.session.flush()


HANDLERS: dict[str, Callable[[gateway.EventInfo], None]] = {
    "payment_intent.succeeded": _handle_intent_event,
    "payment_intent.payment_failed": _handle_intent_event,
    "payment_intent.requires_action": _handle_intent_event,
    "payment_intent.canceled": _handle_intent_event,
    "payment_intent.processing": _handle_intent_event,
    "charge.succeeded": _handle_charge_event,
    "charge.updated": _handle_charge_event,
    "charge.refunded": _handle_charge_event,
    "charge.refund.updated": _handle_charge_event,
    "charge.dispute.created": _handle_dispute_event,
    "charge.dispute.closed": _handle_dispute_event,
}


def register_event_handler(event_type: str, handler: Callable[[gateway.EventInfo], None]) -> None:
    """Let another package handle a webhook event type (the treasury handles ``payout.paid``)."""
    HANDLERS[event_type] = handler


def handle_event(event: gateway.EventInfo) -> None:
    """Process a verified webhook event once (stored by id); the event is only a hint; commits."""
    if db.session.scalar(select(StripeEvent.id).where(StripeEvent.event_id == event.id)):
        return
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(event)
        _record_event_fee(event)
    elif event.type != "payout.paid":
        logger.info("event %s of type %s ignored", event.id, event.type)
    stored = StripeEvent(
        event_id=event.id,
        type=event.type[:80],
        object_id=(event.object_id or None) and event.object_id[:80],
        processed_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(stored)
    except IntegrityError:
        # The same event processed concurrently: its effects are idempotent, keep one row.
        logger.info("event %s stored by a concurrent delivery", event.id)
    db.session.commit()


def reconcile(*, since: datetime | None) -> list[str]:
    """Compare open payments (and those since ``since``) with Stripe; fix them; list changes."""
    conditions = [Payment.status.in_(OPEN_STATUSES)]
    if since is not None:
        conditions.append(Payment.created_at >= since)
    rows = db.session.execute(
        select(Payment.id, Payment.status, Payment.flag, Payment.refunded_amount)
        .where(Payment.stripe_payment_intent_id.is_not(None), or_(*conditions))
        .order_by(Payment.id)
    ).all()
    lines: list[str] = []
    for payment_id, status, flag, refunded in rows:
        try:
            payment = sync_payment(payment_id)
            charge_changes = sync_charge(payment_id) if payment.status in PAID_STATUSES else []
        except PaymentServiceUnavailable:
            db.session.rollback()
            lines.append(f"payment {payment_id}: Stripe unreachable, not checked")
            continue
        except PaymentError as error:
            db.session.rollback()
            payment = _lock_payment(payment_id)
            _flag(payment, "unknown_intent", f"Stripe does not know this payment: {error.message}")
            db.session.commit()
            lines.append(f"payment {payment_id}: unknown to Stripe ({error.message})")
            continue
        payment = db.session.get(Payment, payment_id)
        if payment.status != status:
            lines.append(f"payment {payment_id}: {status} -> {payment.status}")
        if payment.refunded_amount != refunded:
            lines.append(f"payment {payment_id}: refunded {refunded} -> {payment.refunded_amount}")
        lines.extend(f"payment {payment_id}: {change}" for change in charge_changes)
        if payment.flag and payment.flag != flag:
            lines.append(f"payment {payment_id}: flagged {payment.flag} ({payment.flag_detail})")
    return lines


def stale_pending_payments(now: datetime) -> list[int]:
    """Ids of payments still pending (or awaiting 3-D Secure) for more than an hour."""
    return list(
        db.session.scalars(
            select(Payment.id).where(
                Payment.status.in_(OPEN_STATUSES),
                Payment.stripe_payment_intent_id.is_not(None),
                Payment.created_at < now - PENDING_RESYNC_AFTER,
            )
        )
    )


def payment_for_user_or_404(payment_id: int, user: Any) -> Payment:
    """The payment if ``user`` paid it, else 404 (treasurers use their own views)."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or user is None or payment.payer_id != getattr(user, "id", None):
        raise PaymentNotFound()
    return payment
