"""The treasurer's exceptions queue: what the ledger and Stripe disagree on, and its remedies.

Kinds of exception and where they come from:

- mismatches (amount, currency, a PaymentIntent that is not the payment's): ``Payment.flag``
  set by ``payments.services`` when Stripe's answer does not fit the row;
- disputes: the ``dispute`` flag set by the dispute webhooks;
- payments pending or awaiting 3-D Secure for more than an hour (with a PaymentIntent: a
  checkout abandoned before the card step moved no money and is not an exception);
- failed refunds: the ``refund_failed`` flag with the refund rows that failed, and refunds
  whose answer Stripe never gave (``refund_unanswered``, checked again with the same key);
- lost disputes (``dispute_lost``): the funds and the fee are gone, the benefit was ended;
- payouts the bank sent back (``payout.failed``): their money is in the Stripe balance again;
- ledger rows Stripe does not know and Stripe PaymentIntents the ledger does not know: found
  by ``check_against_stripe``, run on demand (it calls Stripe), never on a page load. Its
  findings are kept where the check is recorded: ledger rows get the ``missing_at_stripe``
  flag, the unknown PaymentIntents are listed in the check's audit entry.

A flag is resolved by a re-sync with Stripe or by "mark as reviewed" (the flag is cleared,
the note and the old flag are kept in the audit log).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import selectinload

from marketplace import audit
from marketplace.audit import AuditLog
from marketplace.database import utcnow
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.payments import gateway
from marketplace.payments import services as payment_services
from marketplace.payments import sync as payment_sync
from marketplace.payments.models import Payment, Refund
from marketplace.treasury.counts import DISPUTE_FLAG
from marketplace.treasury.models import Payout

logger = logging.getLogger(__name__)

MISMATCH_FLAGS = ("amount_mismatch", "currency_mismatch", "unknown_intent", "duplicate_charge")
REFUND_FAILED_FLAG = "refund_failed"
MISSING_FLAG = "missing_at_stripe"
STUCK_AFTER = payment_services.PENDING_RESYNC_AFTER
# How far back a check against Stripe looks (by creation of the PaymentIntent / the row).
CHECK_WINDOW = timedelta(days=30)
# At most this many ledger rows are asked about one by one in a check (each is a call).
MAX_LOOKUPS = 100
# At most this many unknown PaymentIntents are kept by a check (the newest).
MAX_UNKNOWN_KEPT = 200
QUEUE_LIMIT = 500
IN_CHUNK = 500

CHECK_ACTION = "treasury.stripe_check"
FLAG_REVIEWED_ACTION = "payment.flag_reviewed"
STUCK_REVIEWED_ACTION = "payment.stuck_reviewed"
INTENT_REVIEWED_ACTION = "treasury.stripe_intent_reviewed"
RESYNC_ACTION = "payment.resynced"
PAYOUT_REVIEWED_ACTION = "payout.failure_reviewed"
# A failed payout the treasurer dealt with (the bank account fixed, the money paid out again).
REVIEWED = "failure_reviewed"


class ExceptionKind(enum.StrEnum):
    """The sections of the queue."""

    MISMATCH = "mismatch"
    DISPUTE = "dispute"
    STUCK = "stuck"
    REFUND_FAILED = "refund_failed"
    MISSING_AT_STRIPE = "missing_at_stripe"
    UNKNOWN_TO_LEDGER = "unknown_to_ledger"


class NothingToReview(DomainError):
    status = 409
    code = "nothing_to_review"
    message = _l("This payment has nothing left to review.")


class StripeCheckFailed(DomainError):
    status = 503
    code = "payment_service_unavailable"
    message = _l("Stripe could not be reached; nothing was changed. Please try again later.")


# ---------------------------------------------------------------- reading the queue


@dataclass(frozen=True)
class UnknownIntent:
    """A PaymentIntent Stripe has and the ledger does not, as the last check saw it."""

    id: str
    amount: int
    currency: str
    status: str
    created: datetime
    payment_id: str | None


@dataclass
class StripeCheck:
    """When the last check against Stripe ran, by whom, and what it looked at."""

    at: datetime
    actor_id: int | None
    checked_intents: int
    checked_rows: int
    unknown: list[UnknownIntent]


@dataclass
class Queue:
    """Every open exception, by section."""

    mismatches: list[Payment]
    disputes: list[Payment]
    stuck: list[Payment]
    failed_refunds: list[Payment]
    missing_at_stripe: list[Payment]
    other_flags: list[Payment]
    last_check: StripeCheck | None
    failed_payouts: list[Payout] = field(default_factory=list)

    @property
    def unknown_to_ledger(self) -> list[UnknownIntent]:
        return self.last_check.unknown if self.last_check else []

    @property
    def total(self) -> int:
        return (
            len(self.mismatches)
            + len(self.disputes)
            + len(self.stuck)
            + len(self.failed_refunds)
            + len(self.missing_at_stripe)
            + len(self.other_flags)
            + len(self.unknown_to_ledger)
            + len(self.failed_payouts)
        )


def _stuck_condition(now: datetime) -> Any:
    reviewed = exists().where(
        AuditLog.action == STUCK_REVIEWED_ACTION,
        AuditLog.object_type == "payment",
        AuditLog.object_id == Payment.id,
    )
    return and_(
        Payment.status.in_(payment_services.OPEN_STATUSES),
        Payment.stripe_payment_intent_id.is_not(None),
        Payment.created_at < now - STUCK_AFTER,
        Payment.flag.is_(None),
        ~reviewed,
    )


def _last_check() -> StripeCheck | None:
    entry = db.session.scalar(
        select(AuditLog)
        .where(AuditLog.action == CHECK_ACTION)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(1)
    )
    if entry is None:
        return None
    details = entry.details or {}
    listed = [
        UnknownIntent(
            id=str(item["id"]),
            amount=int(item.get("amount") or 0),
            currency=str(item.get("currency") or "").upper(),
            status=str(item.get("status") or ""),
            created=datetime.fromtimestamp(int(item.get("created") or 0), UTC),
            payment_id=item.get("payment_id"),
        )
        for item in details.get("unknown_intents", [])
    ]
    ids = [item.id for item in listed]
    # The ledger may have learnt an intent since, or the treasurer reviewed it (before this
    # check too: a reviewed intent stays reviewed; older ones are out of the window anyway).
    reviewed_since = entry.created_at - CHECK_WINDOW - timedelta(days=1)
    settled = _known_intents(ids) | _reviewed_intents(since=reviewed_since) if ids else set()
    return StripeCheck(
        at=entry.created_at,
        actor_id=entry.actor_id,
        checked_intents=int(details.get("checked_intents") or 0),
        checked_rows=int(details.get("checked_rows") or 0),
        unknown=[item for item in listed if item.id not in settled],
    )


def _known_intents(ids: list[str]) -> set[str]:
    """Those of ``ids`` that a ledger row holds (queried in chunks)."""
    known: set[str] = set()
    for offset in range(0, len(ids), IN_CHUNK):
        known.update(
            db.session.scalars(
                select(Payment.stripe_payment_intent_id).where(
                    Payment.stripe_payment_intent_id.in_(ids[offset : offset + IN_CHUNK])
                )
            )
        )
    return known


def _reviewed_intents(*, since: datetime) -> set[str]:
    rows = db.session.scalars(
        select(AuditLog.details).where(
            AuditLog.action == INTENT_REVIEWED_ACTION, AuditLog.created_at >= since
        )
    )
    return {str((details or {}).get("intent")) for details in rows}


def exception_queue(*, now: datetime) -> Queue:
    """The open exceptions at ``now`` (a fixed number of queries)."""
    flagged = list(
        db.session.scalars(
            select(Payment)
            .options(selectinload(Payment.attempts))
            .where(Payment.flag.is_not(None))
            .order_by(Payment.updated_at.desc(), Payment.id.desc())
            .limit(QUEUE_LIMIT)
        )
    )
    stuck = list(
        db.session.scalars(
            select(Payment)
            .where(_stuck_condition(now))
            .order_by(Payment.created_at, Payment.id)
            .limit(QUEUE_LIMIT)
        )
    )
    sections: dict[str, list[Payment]] = {
        "mismatches": [],
        "disputes": [],
        "failed_refunds": [],
        "missing_at_stripe": [],
        "other_flags": [],
    }
    for payment in flagged:
        sections[_section(payment.flag)].append(payment)
    failed_payouts = list(
        db.session.scalars(
            select(Payout)
            .where(Payout.status == "failed", Payout.flag.is_(None) | (Payout.flag != REVIEWED))
            .order_by(Payout.failed_at.desc().nulls_last(), Payout.id.desc())
            .limit(QUEUE_LIMIT)
        )
    )
    return Queue(stuck=stuck, last_check=_last_check(), failed_payouts=failed_payouts, **sections)


def _section(flag: str | None) -> str:
    if flag in MISMATCH_FLAGS:
        return "mismatches"
    if flag in (DISPUTE_FLAG, "dispute_lost"):
        return "disputes"
    if flag in (REFUND_FAILED_FLAG, "refund_unanswered"):
        return "failed_refunds"
    if flag == MISSING_FLAG:
        return "missing_at_stripe"
    return "other_flags"


def failed_refunds_of(payment: Payment) -> list[Refund]:
    """The refunds of ``payment`` that Stripe refused (loaded with the payment)."""
    return [refund for refund in payment.refunds if refund.status == "failed"]


# ---------------------------------------------------------------- actions


def mark_reviewed(payment_id: int, *, kind: ExceptionKind, note: str, actor: Any) -> Payment:
    """Close one exception of a payment with the treasurer's note (audited); flush only.

    A flag is cleared (the audit entry keeps it); a stuck payment is only recorded as
    reviewed, since its status stays what Stripe says.
    """
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise payment_services.PaymentNotFound()
    note = note.strip()[:500]
    if kind == ExceptionKind.STUCK:
        if payment.status not in payment_services.OPEN_STATUSES:
            raise NothingToReview()
        audit.record(
            STUCK_REVIEWED_ACTION,
            actor=actor,
            object_type="payment",
            object_id=payment.id,
            status=payment.status.value,
            note=note,
        )
        return payment
    if payment.flag is None:
        raise NothingToReview()
    audit.record(
        FLAG_REVIEWED_ACTION,
        actor=actor,
        object_type="payment",
        object_id=payment.id,
        flag=payment.flag,
        flag_detail=payment.flag_detail,
        note=note,
    )
    # Conditional: a webhook that flagged the row meanwhile keeps its newer flag.
    db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.flag == payment.flag)
        .values(flag=None, flag_detail=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)
    logger.info("payment %s: flag reviewed by %s", payment.id, getattr(actor, "id", None))
    return payment


def review_unknown_intent(intent_id: str, *, note: str, actor: Any) -> None:
    """Record that the treasurer looked at a PaymentIntent the ledger does not know; flush."""
    audit.record(
        INTENT_REVIEWED_ACTION,
        actor=actor,
        object_type="stripe_payment_intent",
        object_id=None,
        intent=intent_id[:80],
        note=note.strip()[:500],
    )


def resync(payment_id: int, *, actor: Any) -> Payment:
    """Re-read a payment (and its charge) from Stripe; commits, like the sync it calls.

    A ``missing_at_stripe`` flag is cleared when Stripe answered for the payment.
    """
    payment = payment_sync.sync_payment(payment_id)
    if payment.status in payment_services.PAID_STATUSES:
        payment_sync.sync_charge(payment_id)
    payment = db.session.get(Payment, payment_id)
    if payment.flag == MISSING_FLAG and payment.stripe_payment_intent_id:
        audit.record(
            FLAG_REVIEWED_ACTION,
            actor=actor,
            object_type="payment",
            object_id=payment.id,
            flag=payment.flag,
            flag_detail=payment.flag_detail,
            note="Stripe answered the re-sync",
        )
        payment.flag = None
        payment.flag_detail = None
    audit.record(
        RESYNC_ACTION,
        actor=actor,
        object_type="payment",
        object_id=payment.id,
        status=payment.status.value,
    )
    db.session.commit()
    return payment


@dataclass(frozen=True)
class CheckResult:
    """What a check against Stripe found."""

    checked_intents: int
    checked_rows: int
    missing: list[int]
    unknown: int


def check_against_stripe(*, actor: Any, now: datetime) -> CheckResult:
    """Compare the last ``CHECK_WINDOW`` of the ledger with Stripe's PaymentIntents; commits.

    Stripe is asked first (one list, then one look-up per ledger row absent from the list),
    with no database transaction open; then one transaction flags the rows Stripe answers
    404 for, clears that flag where Stripe knows the row again, and records the check with
    the PaymentIntents the ledger lacks.
    """
    since = now - CHECK_WINDOW
    client = gateway.get_gateway()
    rows = db.session.execute(
        select(Payment.id, Payment.stripe_payment_intent_id, Payment.flag).where(
            Payment.stripe_payment_intent_id.is_not(None),
            (Payment.created_at >= since) | (Payment.flag == MISSING_FLAG),
        )
    ).all()
    db.session.commit()  # no transaction (nor SQLite lock) is held while Stripe answers
    try:
        listed = client.list_payment_intents(int(since.timestamp()))
    except gateway.GatewayError as error:
        raise StripeCheckFailed() from error
    on_stripe = {intent.id for intent in listed}
    missing: list[int] = []
    found_again: list[int] = []
    lookups = [row for row in rows if row.stripe_payment_intent_id not in on_stripe]
    for row in lookups[:MAX_LOOKUPS]:
        try:
            client.retrieve_payment_intent(row.stripe_payment_intent_id)
        except gateway.GatewayNotFound:
            missing.append(row.id)
            continue
        except gateway.GatewayUnavailable as error:
            raise StripeCheckFailed() from error
        except gateway.GatewayError:
            logger.warning("check: payment %s not looked up", row.id)
            continue
        if row.flag == MISSING_FLAG:
            found_again.append(row.id)
    found_again += [
        row.id
        for row in rows
        if row.flag == MISSING_FLAG and row.stripe_payment_intent_id in on_stripe
    ]
    known = _known_intents(sorted(on_stripe))
    unknown = [intent for intent in listed if intent.id not in known]
    _flag_missing(missing, rows)
    if found_again:
        db.session.execute(
            update(Payment)
            .where(Payment.id.in_(found_again), Payment.flag == MISSING_FLAG)
            .values(flag=None, flag_detail=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    audit.record(
        CHECK_ACTION,
        actor=actor,
        object_type="stripe",
        object_id=None,
        since=since.isoformat(),
        checked_intents=len(listed),
        checked_rows=len(rows),
        missing=missing,
        unknown_count=len(unknown),
        unknown_intents=[
            {
                "id": intent.id,
                "amount": intent.amount,
                "currency": intent.currency,
                "status": intent.status,
                "created": intent.created,
                "payment_id": (intent.metadata or {}).get("payment_id"),
            }
            for intent in unknown[:MAX_UNKNOWN_KEPT]
        ],
    )
    db.session.commit()
    logger.info(
        "stripe check by %s: %s intents, %s rows, %s missing, %s unknown",
        getattr(actor, "id", None),
        len(listed),
        len(rows),
        len(missing),
        len(unknown),
    )
    return CheckResult(
        checked_intents=len(listed), checked_rows=len(rows), missing=missing, unknown=len(unknown)
    )


def _flag_missing(missing: list[int], rows: list[Any]) -> None:
    """Flag the rows Stripe answered 404 for, unless another flag already asks for a look."""
    intents = {row.id: row.stripe_payment_intent_id for row in rows}
    for payment_id in missing:
        db.session.execute(
            update(Payment)
            .where(
                Payment.id == payment_id,
                Payment.flag.is_(None) | (Payment.flag == MISSING_FLAG),
            )
            .values(
                flag=MISSING_FLAG,
                flag_detail=f"Stripe does not know PaymentIntent {intents[payment_id]} (404)",
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )


def review_failed_payout(payout_id: int, *, note: str, actor: Any) -> Payout:
    """Close a failed payout of the queue with the treasurer's note (audited); flush only."""
    payout = db.session.get(Payout, payout_id)
    if payout is None or payout.status != "failed" or payout.flag == REVIEWED:
        raise NothingToReview()
    audit.record(
        PAYOUT_REVIEWED_ACTION,
        actor=actor,
        object_type="payout",
        object_id=payout.id,
        failure_code=payout.failure_code,
        note=note.strip()[:500],
    )
    payout.flag = REVIEWED
    db.session.flush()
    return payout
