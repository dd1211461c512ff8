"""Fixtures of the treasury tests: ledger rows and a SQL statement counter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus


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
    ) -> int:
        created_at = created_at or datetime.now(UTC)
        paid = status not in (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.CANCELED)
        with app.app_context():
            payment = Payment(
                kind=kind,
                status=status,
                amount=amount,
                currency="EUR",
                payer_name=payer_name,
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
    """``with count_selects() as seen:`` counts the SELECT statements sent meanwhile."""

    @contextmanager
    def counting() -> Iterator[list[str]]:
        with app.app_context():
            engine = db.engine
        seen: list[str] = []

        def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", before_cursor_execute)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", before_cursor_execute)

    return counting


@pytest.fixture
def treasurer(create_user):
    return create_user("tresoriere@example.org", roles=("treasurer",), locale="en")
