"""Stripe's webhook events, dispatched by a table of handlers (as saleor's plugin does).

Each event is stored once by id (a unique constraint: a duplicate is a no-op) and treated as
a hint: the object is read again from Stripe, then applied under the payment's row lock, so
any delivery order, late or repeated, ends in the same ledger. An event that can never be
applied (not ours, an object Stripe no longer knows, a payment id out of range) answers 200
and is logged: Stripe would otherwise retry it for days. Only "Stripe or the database is
unreachable" answers 5xx, so Stripe retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments import disputes, gateway, refunds, sync
from marketplace.payments.models import Payment, PaymentAttempt, StripeEvent
from marketplace.payments.services import (
    PaymentError,
    PaymentServiceUnavailable,
    end_read_transaction,
    payment_id_in,
)

logger = logging.getLogger(__name__)

Handler = Callable[[gateway.EventInfo], None]


def _read(function: Callable, *args: object):
    """A Stripe read for a handler: None when Stripe does not know the object (logged)."""
    try:
        return function(*args)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayNotFound:
        logger.info("stripe does not know %s: event ignored", args)
        return None
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error


def _is_ours(event: gateway.EventInfo) -> bool:
    """Whether the event's object could be one of this site's (by id or by metadata)."""
    object_id = event.object_id or ""
    known = db.session.scalar(
        select(Payment.id).where(Payment.stripe_payment_intent_id == object_id)
    ) or db.session.scalar(
        select(PaymentAttempt.id).where(PaymentAttempt.stripe_payment_intent_id == object_id)
    )
    return bool(known) or payment_id_in(event.data.get("metadata")) is not None


def handle_intent_event(event: gateway.EventInfo) -> None:
    """``payment_intent.*``: read the intent again and apply it to its payment's attempt."""
    if not event.object_id or not _is_ours(event):
        logger.info("event %s: PaymentIntent %s is not ours", event.id, event.object_id)
        return
    end_read_transaction()
    intent = _read(gateway.get_gateway().retrieve_payment_intent, event.object_id)
    if intent is None:
        return
    sync.sync_intent(intent)


def _payment_of_intent_id(intent_id: str | None) -> Payment | None:
    if not intent_id:
        return None
    payment = db.session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == intent_id)
    )
    if payment is not None:
        return payment
    attempt = db.session.scalar(
        select(PaymentAttempt).where(PaymentAttempt.stripe_payment_intent_id == intent_id)
    )
    return db.session.get(Payment, attempt.payment_id) if attempt is not None else None


def _charge_payment(charge_id: str | None) -> Payment | None:
    """The payment of a charge: by its id, else by its intent (the charge is read again: the
    event may come before the ledger knows the charge)."""
    if not charge_id:
        return None
    payment = db.session.scalar(select(Payment).where(Payment.stripe_charge_id == charge_id))
    if payment is not None:
        return payment
    end_read_transaction()
    charge = _read(gateway.get_gateway().retrieve_charge, charge_id)
    return _payment_of_intent_id(charge.payment_intent) if charge is not None else None


def handle_charge_event(event: gateway.EventInfo) -> None:
    """``charge.succeeded|updated|refunded``: settlement, refunds and disputes of its payment."""
    payment = _charge_payment(event.object_id)
    if payment is None:
        logger.info("event %s: no payment for charge %s", event.id, event.object_id)
        return
    sync.sync_charge(payment.id)


def handle_refund_event(event: gateway.EventInfo) -> None:
    """``refund.created|updated|failed``, ``charge.refund.updated``: read it, record it."""
    if not event.object_id:
        return
    end_read_transaction()
    info = _read(gateway.get_gateway().retrieve_refund, event.object_id)
    if info is not None:
        refunds.apply_refund(info)


def handle_dispute_event(event: gateway.EventInfo) -> None:
    """``charge.dispute.*``: read the dispute (with its balance transactions), apply it."""
    if not event.object_id:
        return
    end_read_transaction()
    info = _read(gateway.get_gateway().retrieve_dispute, event.object_id)
    if info is None:
        return
    payment = disputes.payment_for_dispute(info)
    if payment is not None and payment.stripe_payment_intent_id:
        sync.sync_payment(payment.id)  # the dispute may arrive before the success
    disputes.apply_dispute(info)
    db.session.commit()


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": handle_intent_event,
    "payment_intent.payment_failed": handle_intent_event,
    "payment_intent.requires_action": handle_intent_event,
    "payment_intent.canceled": handle_intent_event,
    "payment_intent.processing": handle_intent_event,
    "charge.succeeded": handle_charge_event,
    "charge.updated": handle_charge_event,
    "charge.refunded": handle_charge_event,
    "charge.refund.updated": handle_refund_event,
    "refund.created": handle_refund_event,
    "refund.updated": handle_refund_event,
    "refund.failed": handle_refund_event,
    "charge.dispute.created": handle_dispute_event,
    "charge.dispute.updated": handle_dispute_event,
    "charge.dispute.funds_withdrawn": handle_dispute_event,
    "charge.dispute.funds_reinstated": handle_dispute_event,
    "charge.dispute.closed": handle_dispute_event,
}


def register_event_handler(event_type: str, handler: Handler) -> None:
    """Let another package handle a webhook event type (the treasury handles payouts)."""
    HANDLERS[event_type] = handler


def handled_event_types() -> list[str]:
    """Every event type the site handles (the webhook endpoint must send them all)."""
    return sorted(HANDLERS)


def handle_event(event: gateway.EventInfo) -> None:
    """Process a verified webhook event once (stored by id); the event is only a hint; commits."""
    if db.session.scalar(select(StripeEvent.id).where(StripeEvent.event_id == event.id)):
        return
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(event)
    else:
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
