"""Fixtures of the treasury tests: ledger rows, a SQL statement counter, Stripe with payouts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from marketplace.accounts.services import issue_api_token
from marketplace.cache import cache
from marketplace.extensions import db
from marketplace.payments.gateway import EXTENSION_KEY
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, Refund
from tests.conftest import counting_queries


@pytest.fixture
def create_payment(app) -> Callable[..., int]:
    """``create_payment(kind=..., status=..., created_at=..., amount=..., fee=...)`` → id."""

    def make(
        *,
        kind: PaymentKind = PaymentKind.MEMBERSHIP,
        status: PaymentStatus = PaymentStatus.SUCCEEDED,
        amount: int = 4000,
        created_at: datetime | None = None,
        succeeded_at: datetime | None = None,
        fee: int | None = None,
        refunded: int = 0,
        payer_name: str = "Léa Ledger",
        payer_email: str | None = None,
        document: tuple[int, int] | None = None,
        intent: str | None = None,
        charge: str | None = None,
        currency: str = "EUR",
    ) -> int:
        created_at = created_at or datetime.now(UTC)
        paid = status not in (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.CANCELED)
        with app.app_context():
            payment = Payment(
                kind=kind,
                status=status,
                amount=amount,
                currency=currency,
                payer_name=payer_name,
                payer_email=payer_email,
                document_number=f"{document[0]}-{document[1]:06d}" if document else None,
                stripe_payment_intent_id=intent,
                stripe_charge_id=charge,
                subject={},
                description=f"{kind.value} payment",
                created_at=created_at,
                succeeded_at=(succeeded_at or created_at) if paid else None,
                stripe_fee=fee,
                refunded_amount=refunded,
            )
            db.session.add(payment)
            db.session.commit()
            return payment.id

    return make


@pytest.fixture
def count_selects(app) -> Callable[[], contextmanager]:
    """``with count_selects() as seen:`` counts the SELECT statements sent meanwhile.

    The cache is emptied first: a budget is what a read costs when nothing is cached
    (tests/test_cache.py checks what the cache saves)."""

    @contextmanager
    def counting() -> Iterator[list[str]]:
        with app.app_context():
            cache.clear()
        with counting_queries(app, selects_only=True) as seen:
            yield seen

    return counting


@pytest.fixture
def treasurer(create_user):
    return create_user("tresoriere@example.org", roles=("treasurer",), locale="en")


@pytest.fixture
def signed_in(client, login, treasurer):
    return login(client, treasurer)


@pytest.fixture
def bearer(app) -> Callable[..., dict[str, str]]:
    """``bearer(user)``: the Authorization header of a fresh API token of ``user``."""

    def make(user) -> dict[str, str]:
        with app.app_context():
            token, _row = issue_api_token(db.session.get(type(user), user.id))
            db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def add_refund(app) -> Callable[..., int]:
    """``add_refund(payment_id, amount, created_at=..., status="succeeded", ...)`` → refund id."""

    def make(
        payment_id: int,
        amount: int,
        *,
        created_at: datetime | None = None,
        status: str = "succeeded",
        reason: str = "Remboursement",
        stripe_refund_id: str | None = None,
        created_by_id: int | None = None,
    ) -> int:
        with app.app_context():
            refund = Refund(
                payment_id=payment_id,
                amount=amount,
                reason=reason,
                status=status,
                stripe_refund_id=stripe_refund_id,
                created_by_id=created_by_id,
                created_at=created_at or datetime.now(UTC),
            )
            db.session.add(refund)
            db.session.commit()
            return refund.id

    return make


# ---------------------------------------------------------------- Stripe with payouts


@pytest.fixture
def stripe_payouts(app, strict_stripe) -> Iterator[Any]:
    """The app talking to the strict Stripe (tests/strict_stripe.py), which knows what
    localstripe lacks: the balance transactions a payout contains (``contains``), the fees."""
    strict_stripe.reset()
    previous = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = strict_stripe.base
    app.extensions.pop(EXTENSION_KEY, None)
    try:
        yield strict_stripe
    finally:
        app.config["STRIPE_API_BASE"] = previous
        app.extensions.pop(EXTENSION_KEY, None)
