"""The ledger's basics: errors, the fulfilment and reversal registries, the payment row lock,
forward-only transitions, flags for the treasurer, idempotency keys, creating a payment.

The payments package reads as saleor's Stripe plugin does: ``gateway.py`` (the only module
that talks to Stripe), ``checkout.py`` (card setup and payment attempts), ``sync.py`` (the one
function that brings a payment in line with Stripe, under the row lock), ``webhooks.py`` (the
handler table), ``refunds.py``, ``disputes.py`` and ``reconcile.py``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text, update

from marketplace import money
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.payments import gateway
from marketplace.payments.models import (
    STATUS_RANK,
    Payment,
    PaymentKind,
    PaymentStatus,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

PENDING_RESYNC_AFTER = timedelta(hours=1)
LOCK_TIMEOUT = "5s"
# Payment ids are 32-bit integers: a larger ``payment_id`` in Stripe metadata is not ours.
MAX_PAYMENT_ID = 2**31 - 1

# Statuses from which a refund or a dispute can follow (a payment that was paid).
PAID_STATUSES = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
    PaymentStatus.DISPUTED,
)
OPEN_STATUSES = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


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
    """Set what ends the benefit of ``kind`` (a full refund, a lost dispute)."""
    _REVERSALS[PaymentKind(kind)] = reverse


def fulfil(payment: Payment) -> None:
    """Deliver what ``payment`` paid for (the caller made sure it runs once)."""
    fulfilment = _FULFILMENTS.get(payment.kind)
    if fulfilment is not None:
        fulfilment(payment)


def reverse_benefit(payment: Payment, *, why: str) -> bool:
    """End what ``payment`` paid for, once (a full refund or a lost dispute); flush only."""
    if (payment.subject or {}).get("reversed_at") is not None:
        return False
    reversal = _REVERSALS.get(payment.kind)
    if reversal is not None:
        reversal(payment)
    payment.subject = {**(payment.subject or {}), "reversed_at": utcnow().isoformat()}
    db.session.flush()
    logger.info("payment %s: benefit ended (%s)", payment.id, why)
    return True


# -- the row, its lock and its changes ------------------------------------------------------


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def lock_payment(payment_id: int) -> Payment:
    """Lock the payment row for this transaction (FOR UPDATE; SQLite's BEGIN IMMEDIATE)."""
    query = select(Payment).where(Payment.id == payment_id)
    if is_postgresql():
        db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        query = query.with_for_update()
    payment = db.session.scalar(query.execution_options(populate_existing=True))
    if payment is None:
        raise PaymentNotFound()
    return payment


def end_read_transaction() -> None:
    """Commit before a network call so no lock (SQLite's write lock included) waits on Stripe."""
    db.session.commit()


def transition(payment: Payment, new_status: PaymentStatus, **values: Any) -> bool:
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


def reopen(payment: Payment) -> bool:
    """A failed payment gets a new attempt (another card): it is pending again.

    The only way back from FAILED: the status moves forward within each attempt, and the
    declined attempt's late events cannot touch the new one (they are matched to their own).
    """
    result = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == PaymentStatus.FAILED)
        .values(status=PaymentStatus.PENDING, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)
    return result.rowcount == 1


def flag(payment: Payment, code: str, detail: str) -> None:
    """Put a payment in the treasurer's exceptions queue (``code`` is shown translated)."""
    if payment.flag != code or payment.flag_detail != detail:
        payment.flag = code
        payment.flag_detail = detail[:2000]
        logger.warning("payment %s flagged %s: %s", payment.id, code, detail)


# -- Stripe ----------------------------------------------------------------------------------


def site_id() -> str:
    """This site's name in idempotency keys and metadata (several sites, one Stripe account)."""
    configured = current_app.config.get("STRIPE_SITE_ID") or ""
    if configured:
        return configured
    return urlsplit(current_app.config.get("SITE_URL") or "").netloc or "marketplace"


def idempotency_key(kind: str, *parts: Any) -> str:
    """A key for a create call that is the same on every retry of that call: the site, the
    kind of call and what makes it unique (rows are named with their creation time, so a
    restored database reusing an id does not reuse a key)."""
    return ":".join([site_id(), kind, *(str(part) for part in parts)])[:255]


def random_idempotency_key(kind: str) -> str:
    """A fresh key for one call, kept with its row (attempts, refunds)."""
    return idempotency_key(kind, uuid.uuid4().hex)


def call_stripe(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a gateway call; its errors become the ledger's (503 when Stripe does not answer)."""
    try:
        return function(*args, **kwargs)
    except gateway.GatewayUnavailable as error:
        raise PaymentServiceUnavailable(error.user_message) from error
    except gateway.GatewayError as error:
        raise PaymentError(error.user_message) from error


def payment_id_in(metadata: dict | None) -> int | None:
    """The payment id a Stripe object names in its metadata, if it is one of this site's."""
    metadata = metadata or {}
    site = metadata.get("site")
    if site is not None and site != site_id():
        return None
    raw = str(metadata.get("payment_id") or "")
    if not raw.isdigit() or len(raw) > 10 or not 0 < int(raw) <= MAX_PAYMENT_ID:
        return None
    return int(raw)


# -- creating and reading ------------------------------------------------------------------


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
    """Add a pending payment row (before Stripe is called); the currency must be chargeable."""
    if amount <= 0:
        raise PaymentError(_l("The amount must be positive."))
    try:
        entry = money.currency(currency)
    except money.UnknownCurrency as error:
        raise PaymentError(_l("This currency cannot be charged.")) from error
    if amount % entry.step:
        raise PaymentError(_l("This amount cannot be charged in this currency."))
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


def payment_for_user_or_404(payment_id: int, user: Any) -> Payment:
    """The payment if ``user`` paid it, else 404 (treasurers use their own views)."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or user is None or payment.payer_id != getattr(user, "id", None):
        raise PaymentNotFound()
    return payment
