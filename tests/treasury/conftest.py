"""Fixtures of the treasury tests: ledger rows, a SQL statement counter, Stripe with payouts."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import event
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from marketplace.accounts.services import issue_api_token
from marketplace.cache import cache
from marketplace.extensions import db
from marketplace.payments.gateway import EXTENSION_KEY
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, Refund


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
            engine = db.engine
            cache.clear()
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


class PayoutStandIn:
    """What localstripe lacks, answered in front of it: the balance transactions of a payout.

    localstripe refuses ``GET /v1/balance_transactions?payout=...`` and always reports zero
    fees. Every other call goes to localstripe unchanged; that one is answered with localstripe's
    own balance transactions that the test put in the payout (``contains``), with the fees the
    test gives (as Stripe would report them).
    """

    def __init__(self, localstripe: str) -> None:
        self.localstripe = localstripe
        self.payouts: dict[str, list[tuple[str, int]]] = {}
        self.base = ""

    def contains(self, payout_id: str, transactions: dict[str, int]) -> None:
        """Declare the balance transactions (id → fee) paid out in ``payout_id``."""
        self.payouts[payout_id] = list(transactions.items())

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/v1/balance_transactions" and "payout" in request.args:
            body = json.dumps(self._listing(request.args["payout"])).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        upstream = requests.request(
            request.method,
            f"{self.localstripe}{request.full_path.rstrip('?')}",
            headers={
                name: request.headers[name]
                for name in ("Authorization", "Content-Type")
                if name in request.headers
            },
            data=request.get_data(),
            timeout=10,
        )
        start_response(
            f"{upstream.status_code} {upstream.reason}",
            [("Content-Type", upstream.headers.get("Content-Type", "application/json"))],
        )
        return [upstream.content]

    def _listing(self, payout_id: str) -> dict:
        data = []
        for transaction_id, fee in self.payouts.get(payout_id, []):
            item = requests.get(
                f"{self.localstripe}/v1/balance_transactions/{transaction_id}",
                auth=("sk_test_localstripe", ""),
                timeout=10,
            ).json()
            item["fee"], item["net"] = fee, item["amount"] - fee
            data.append(item)
        return {
            "object": "list",
            "data": data,
            "has_more": False,
            "url": "/v1/balance_transactions",
        }


@pytest.fixture(scope="session")
def payout_stand_in_server(localstripe: str) -> Iterator[PayoutStandIn]:
    stand_in = PayoutStandIn(localstripe)
    server = make_server("127.0.0.1", 0, stand_in, threaded=True)
    stand_in.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def stripe_payouts(app, payout_stand_in_server: PayoutStandIn) -> Iterator[PayoutStandIn]:
    """The app talking to localstripe through the payout stand-in (its gateway rebuilt)."""
    payout_stand_in_server.payouts.clear()
    previous = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = payout_stand_in_server.base
    app.extensions.pop(EXTENSION_KEY, None)
    try:
        yield payout_stand_in_server
    finally:
        app.config["STRIPE_API_BASE"] = previous
        app.extensions.pop(EXTENSION_KEY, None)
