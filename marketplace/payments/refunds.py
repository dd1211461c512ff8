"""Refunds: asked by a treasurer, or made in Stripe's dashboard and learnt from Stripe.

- A refund row (with a random idempotency key) is committed before Stripe is asked. When the
  answer is lost the refund stays ``pending``; before any new refund of the payment, pending
  ones are sent again with their own key (Stripe replays the first answer, or makes the refund
  now): two clicks never refund twice.
- Refunds made in Stripe's dashboard arrive by webhook (``refund.created``, ``refund.updated``,
  ``charge.refunded``: the event is a hint, the refund or the charge's refunds are read again)
  and by one daily ``Refund.list(created[gte]=...)`` sweep, instead of asking about every charge.
- ``mark_refund_succeeded`` is the one place where a refund becomes ``succeeded``: the ledger's
  refunded amount, the payment's status, the end of the benefit on a full refund and the
  payer's e-mail happen there, once (a credit note can be hooked there too).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.services import queue_mail
from marketplace.payments import documents, gateway, wording
from marketplace.payments.models import (
    STATUS_RANK,
    Payment,
    PaymentStatus,
    Refund,
    StripeSweep,
)
from marketplace.payments.services import (
    PAID_STATUSES,
    PaymentError,
    PaymentServiceUnavailable,
    PaymentStateConflict,
    flag,
    lock_payment,
    random_idempotency_key,
    reverse_benefit,
    site_id,
    transition,
)
from marketplace.routing import absolute_url

logger = logging.getLogger(__name__)

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
MERGED = "merged"
SWEEP = "refunds"
# The daily sweep reads refunds created since its last run, minus this margin.
SWEEP_EVERY = timedelta(days=1)
SWEEP_OVERLAP = timedelta(hours=1)
# Card refunds are possible for about 180 days: the first sweep looks that far back.
REFUND_WINDOW = timedelta(days=180)


UNANSWERED_MESSAGE = _l(
    "Stripe has not answered about an earlier refund of this payment yet: it is checked "
    "first (with the same key, so it cannot happen twice). Please try again in a few minutes."
)


class RefundAmountInvalid(PaymentError):
    status = 422
    code = "refund_amount"
    message = _l("The refund amount must be between 0.01 and what remains.")


# -- reading ---------------------------------------------------------------------------------


def known_refunded(payment_id: int) -> int:
    """What Stripe's ``amount_refunded`` should say for the payment: succeeded and pending
    refunds that Stripe has (and that the ledger knows)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.payment_id == payment_id,
                Refund.stripe_refund_id.is_not(None),
                Refund.status.in_((PENDING, SUCCEEDED)),
            )
        )
        or 0
    )


def in_flight(payment_id: int) -> int:
    """Refunds asked and not settled yet (pending)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.payment_id == payment_id, Refund.status == PENDING
            )
        )
        or 0
    )


# -- the one place a refund succeeds -----------------------------------------------------------


def _set_refund_status(payment: Payment) -> None:
    """Derive refunded / partially_refunded from ``refunded_amount`` (never backwards)."""
    if payment.refunded_amount <= 0:
        return
    if payment.refunded_amount >= payment.amount:
        target = PaymentStatus.REFUNDED
    else:
        target = PaymentStatus.PARTIALLY_REFUNDED
    if payment.status in PAID_STATUSES and STATUS_RANK[target] > STATUS_RANK[payment.status]:
        transition(payment, target)
    if payment.refunded_amount >= payment.amount:
        reverse_benefit(payment, why="refunded in full")
    db.session.flush()


def _notify_payer(payment: Payment, refund: Refund) -> None:
    if not payment.payer_email:
        return
    from marketplace.tasks import site_request_context

    payer = db.session.get(User, payment.payer_id) if payment.payer_id else None
    with site_request_context():
        queue_mail(
            to=payment.payer_email,
            template="payments/refund",
            subject=N_("Your payment was refunded"),
            locale=payer.locale if payer else "fr",
            payment=payment,
            refund=refund,
            payment_url=absolute_url("payments.detail", payment_id=payment.id),
        )


def mark_refund_succeeded(payment: Payment, refund: Refund, info: gateway.RefundInfo) -> bool:
    """THE place a refund becomes succeeded (the payment row is locked by the caller).

    Once per refund (a conditional UPDATE): the ledger's refunded amount and status, what
    left the Stripe balance, the end of the benefit on a full refund, the payer's e-mail.
    """
    result = db.session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.status != SUCCEEDED)
        .values(
            status=SUCCEEDED,
            succeeded_at=utcnow(),
            failure_code=None,
            failure_message=None,
            settled_amount=abs(info.settled.amount) if info.settled else None,
            settled_currency=info.settled.currency if info.settled else None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(refund)
    if result.rowcount != 1:
        return False
    payment.refunded_amount = min(payment.amount, payment.refunded_amount + refund.amount)
    db.session.flush()
    _set_refund_status(payment)
    documents.issue_for_refund(refund)  # credit note / corrected attestation, after the commit
    if payment.flag in ("refund_failed", "refund_unanswered") and not _open_problems(payment.id):
        payment.flag = None
        payment.flag_detail = None
    _notify_payer(payment, refund)
    logger.info("refund %s of payment %s succeeded (%s)", refund.id, payment.id, info.id)
    return True


def _open_problems(payment_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(func.count(Refund.id)).where(
                Refund.payment_id == payment_id,
                (Refund.status == FAILED)
                | ((Refund.status == PENDING) & Refund.stripe_refund_id.is_(None)),
            )
        )
    )


def _matching_row(payment: Payment, info: gateway.RefundInfo, refund: Refund | None) -> Refund:
    """Our row for a Stripe refund: ours by id or by metadata, else a new one (dashboard)."""
    if refund is not None:
        return refund
    raw = str((info.metadata or {}).get("refund_id") or "")
    if raw.isdigit() and (info.metadata or {}).get("site") == site_id():
        row = db.session.get(Refund, int(raw))
        if row is not None and row.payment_id == payment.id and row.stripe_refund_id is None:
            return row
    row = Refund(
        payment_id=payment.id,
        amount=info.amount,
        reason=str(_l("Refund made in Stripe's dashboard")),
        status=PENDING,
        created_at=datetime.fromtimestamp(info.created, UTC) if info.created else utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return row


def record_stripe_refund(
    payment: Payment, info: gateway.RefundInfo, refund: Refund | None = None
) -> bool:
    """Record what Stripe says of a refund (matched by id); True if the ledger changed.

    The payment row is locked by the caller.
    """
    known = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == info.id))
    if known is not None:
        if refund is not None and refund.id != known.id and refund.status == PENDING:
            refund.status = MERGED  # the webhook recorded it first; our row was the same one
        refund = known
    elif info.status not in ("succeeded", "pending", "requires_action") and refund is None:
        return False
    changed = False
    if refund is None or refund.stripe_refund_id is None:
        refund = _matching_row(payment, info, refund)
        refund.stripe_refund_id = info.id
        changed = True
    if info.status == "succeeded":
        changed = mark_refund_succeeded(payment, refund, info) or changed
    elif info.status in ("failed", "canceled"):
        changed = _refund_failed(payment, refund, info.failure_reason or info.status) or changed
    db.session.flush()
    return changed


def _refund_failed(payment: Payment, refund: Refund, code: str) -> bool:
    if refund.status == FAILED:
        return False
    if refund.status == SUCCEEDED:
        # Stripe could not return the money after all (the card was closed): it is back.
        payment.refunded_amount = max(0, payment.refunded_amount - refund.amount)
    refund.status = FAILED
    refund.failure_code = code[:60]
    flag(payment, "refund_failed", f"refund {refund.id} ({refund.stripe_refund_id}): {code}")
    return True


# -- asking Stripe -------------------------------------------------------------------------------


def _send(payment_id: int, refund_id: int) -> Refund:
    """Ask Stripe for a refund row's refund with its own key; record the answer; commits.

    Without an answer the refund stays pending (``unanswered``), to be sent again.
    """
    refund = db.session.get(Refund, refund_id)
    payment = db.session.get(Payment, payment_id)
    request: dict[str, Any] = {
        "payment_intent": payment.stripe_payment_intent_id,
        "amount": refund.amount,
        "idempotency_key": refund.idempotency_key,
        "metadata": {"refund_id": str(refund.id), "payment_id": str(payment.id), "site": site_id()},
    }
    db.session.commit()  # no lock (nor SQLite's write lock) while Stripe answers
    try:
        info = gateway.get_gateway().create_refund(**request)
    except gateway.GatewayUnavailable as error:
        payment = lock_payment(payment_id)
        refund = db.session.get(Refund, refund_id)
        refund.failure_code = "unanswered"
        flag(payment, "refund_unanswered", f"refund {refund_id}: {error.detail}")
        db.session.commit()
        return refund
    except gateway.GatewayError as error:
        payment = lock_payment(payment_id)
        refund = db.session.get(Refund, refund_id)
        refund.failure_message = (error.user_message or "")[:255] or None
        _refund_failed(payment, refund, error.code or "refused")
        db.session.commit()
        raise PaymentError(wording.refund_failure_text(error.code)) from error
    payment = lock_payment(payment_id)
    refund = db.session.get(Refund, refund_id)
    record_stripe_refund(payment, info, refund)
    db.session.commit()
    return refund


def resolve_pending_refunds(payment_id: int) -> int:
    """Send again, with their own keys, the refunds whose answer was lost; commits.

    Returns how many were settled; raises ``PaymentServiceUnavailable`` while Stripe still does
    not answer (no new refund is allowed before Stripe has said what it did).
    """
    pending = list(
        db.session.scalars(
            select(Refund.id).where(
                Refund.payment_id == payment_id,
                Refund.status == PENDING,
                Refund.stripe_refund_id.is_(None),
                Refund.idempotency_key.is_not(None),
            )
        )
    )
    settled = 0
    for refund_id in pending:
        try:
            refund = _send(payment_id, refund_id)
        except PaymentError:
            continue  # refused: recorded as failed
        if refund.stripe_refund_id is None:
            raise PaymentServiceUnavailable(UNANSWERED_MESSAGE)
        settled += 1
    return settled


def refund_payment(payment_id: int, *, amount: int | None, reason: str, actor: Any) -> Refund:
    """Refund a paid payment fully (``amount=None``) or partly through Stripe; commits.

    When Stripe does not answer the refund is returned ``pending`` (``failure_code`` says
    ``unanswered``); it is sent again with its key before any other refund of the payment.
    """
    resolve_pending_refunds(payment_id)
    payment = lock_payment(payment_id)
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        raise PaymentStateConflict()
    if not payment.stripe_payment_intent_id:
        raise PaymentStateConflict()
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
        raise RefundAmountInvalid()
    remaining = payment.amount - payment.refunded_amount - in_flight(payment.id)
    amount = remaining if amount is None else amount
    if amount <= 0 or amount > remaining:
        raise RefundAmountInvalid()
    refund = Refund(
        payment_id=payment.id,
        amount=amount,
        reason=(reason or "")[:255],
        status=PENDING,
        idempotency_key=random_idempotency_key("refund"),
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
    refund_id = refund.id
    db.session.commit()  # the row and its key exist before Stripe is asked
    return _send(payment_id, refund_id)


# -- learning from Stripe ------------------------------------------------------------------------


def payment_for_refund(info: gateway.RefundInfo) -> Payment | None:
    """The payment a Stripe refund is about (its intent or its charge)."""
    from marketplace.payments.models import PaymentAttempt

    if info.payment_intent:
        payment = db.session.scalar(
            select(Payment).where(Payment.stripe_payment_intent_id == info.payment_intent)
        )
        if payment is not None:
            return payment
        attempt = db.session.scalar(
            select(PaymentAttempt).where(
                PaymentAttempt.stripe_payment_intent_id == info.payment_intent
            )
        )
        if attempt is not None:
            return db.session.get(Payment, attempt.payment_id)
    if info.charge:
        return db.session.scalar(select(Payment).where(Payment.stripe_charge_id == info.charge))
    return None


def apply_refund(info: gateway.RefundInfo) -> bool:
    """A refund as Stripe has it now: recorded on its payment (if it is ours); commits."""
    payment = payment_for_refund(info)
    if payment is None:
        logger.info("refund %s: no payment of ours", info.id)
        return False
    payment = lock_payment(payment.id)
    if payment.status not in PAID_STATUSES:
        db.session.commit()
        return False
    changed = record_stripe_refund(payment, info)
    db.session.commit()
    return changed


def sweep_refunds(now: datetime) -> str:
    """Once a day: every refund Stripe made since the last sweep, in one listing; commits.

    Catches dashboard refunds whose webhook never came, without one call per charge.
    """
    state = db.session.get(StripeSweep, SWEEP)
    if state is not None and now - state.last_run_at < SWEEP_EVERY:
        return "refund sweep not due"
    since = (state.covered_until - SWEEP_OVERLAP) if state is not None else now - REFUND_WINDOW
    db.session.commit()
    try:
        listed = gateway.get_gateway().list_refunds(created_since=int(since.timestamp()))
    except gateway.GatewayError as error:
        logger.warning("refund sweep: Stripe did not list refunds: %s", error.detail)
        return "refunds not listed (Stripe unreachable or refusing)"
    recorded = 0
    for info in listed:
        recorded += apply_refund(info)
    state = db.session.get(StripeSweep, SWEEP)
    if state is None:
        state = StripeSweep(name=SWEEP, covered_until=now, last_run_at=now)
        db.session.add(state)
    state.covered_until, state.last_run_at = now, now
    db.session.commit()
    return f"{len(listed)} refund(s) listed by Stripe, {recorded} recorded"


def retry_unanswered_refunds(now: datetime) -> str:
    """Refunds whose answer was lost, sent again with their own key (cron); commits."""
    payment_ids = sorted(
        set(
            db.session.scalars(
                select(Refund.payment_id).where(
                    Refund.status == PENDING,
                    Refund.stripe_refund_id.is_(None),
                    Refund.idempotency_key.is_not(None),
                    Refund.created_at < now - timedelta(minutes=1),
                )
            )
        )
    )
    settled = waiting = 0
    for payment_id in payment_ids:
        try:
            settled += resolve_pending_refunds(payment_id)
        except PaymentServiceUnavailable:
            db.session.rollback()
            waiting += 1
    return f"{settled} unanswered refund(s) settled" + (
        f", {waiting} payment(s) still waiting for Stripe" if waiting else ""
    )
