"""The treasurer's dashboard tests' seeded ledger and members, the sums computed here from
them, and the page read by element id (test_dashboard*.py, test_summary_api.py, ...).

The seeded ledger mixes kinds and currencies (EUR, USD settled in euros by Stripe, a USD
payment not settled yet), fees, refunds made in another month than their payment, a failed,
a pending and a disputed payment (funds withdrawn with the dispute fee, then reinstated in
another month), and payments a few minutes either side of month boundaries in Paris time
(winter and summer time). Everything is booked in euros, as Stripe settled it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.membership.services import MembershipStatus, membership_status
from marketplace.payments.models import Dispute, Payment, PaymentKind, PaymentStatus, Refund

PARIS = ZoneInfo("Europe/Paris")
PAID = {
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
    PaymentStatus.DISPUTED,
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class Row:
    """One payment of the seeded ledger, with its refunds as (amount, status, made at).

    ``settled`` is what Stripe settled in euros (a payment in euros settles its amount; None
    for a foreign payment not settled yet); refunds of a foreign payment settle at the same
    rate. ``dispute`` is (withdrawn at, fee, reinstated at or None).
    """

    kind: PaymentKind
    currency: str
    amount: int
    status: PaymentStatus
    at: datetime  # created, and succeeded when paid
    fee: int | None = None
    refunds: tuple[tuple[int, str, datetime], ...] = ()
    disputed_at: datetime | None = None
    settled: int | None = -1  # -1: the amount itself (a payment in euros)
    dispute: tuple[datetime, int, datetime | None] | None = None

    @property
    def booked(self) -> int | None:
        return self.amount if self.settled == -1 else self.settled

    def booked_refund(self, amount: int) -> int | None:
        if self.booked is None:
            return None
        return amount * self.booked // self.amount


# January 2031 in Paris runs from 2030-12-31 23:00 UTC to 2031-01-31 23:00 UTC.
LEDGER: list[Row] = [
    Row(PaymentKind.MEMBERSHIP, "EUR", 4000, PaymentStatus.SUCCEEDED, utc(2031, 1, 15, 10), 85),
    # 00:30 on 1 January in Paris: January, although still December in UTC.
    Row(
        PaymentKind.MEMBERSHIP, "EUR", 1500, PaymentStatus.SUCCEEDED, utc(2030, 12, 31, 23, 30), 40
    ),
    # 00:30 on 1 February in Paris: February, although still January in UTC.
    Row(PaymentKind.MEMBERSHIP, "EUR", 4000, PaymentStatus.SUCCEEDED, utc(2031, 1, 31, 23, 30), 85),
    # 22:30 UTC on 31 January is 23:30 in Paris: still January.
    Row(PaymentKind.FEATURED, "EUR", 2500, PaymentStatus.SUCCEEDED, utc(2031, 1, 31, 22, 30), 60),
    # Paid in January, partly refunded in February (the refund counts in February).
    Row(
        PaymentKind.PARTNER_PLAN,
        "EUR",
        50000,
        PaymentStatus.PARTIALLY_REFUNDED,
        utc(2031, 1, 10, 9),
        1200,
        refunds=((10000, "succeeded", utc(2031, 2, 3, 8)),),
    ),
    # Disputed later: still in January's gross; the funds and the fee withdrawn in January
    # (won disputes, whose funds come back, are in tests/treasury/test_disputes.py).
    Row(
        PaymentKind.FEATURED,
        "EUR",
        9900,
        PaymentStatus.DISPUTED,
        utc(2031, 1, 20, 12),
        300,
        disputed_at=utc(2031, 1, 25, 12),
        dispute=(utc(2031, 1, 25, 12), 1500, None),
    ),
    # Refunds that do not count: failed, pending, and a merged duplicate.
    Row(
        PaymentKind.MEMBERSHIP,
        "EUR",
        10000,
        PaymentStatus.SUCCEEDED,
        utc(2031, 1, 16, 9),
        None,
        refunds=(
            (500, "failed", utc(2031, 1, 17, 9)),
            (100, "pending", utc(2031, 1, 18, 9)),
            (700, "merged", utc(2031, 1, 18, 10)),
        ),
    ),
    # 50.00 USD settled as 46.00 EUR, fee in euros.
    Row(
        PaymentKind.MEMBERSHIP,
        "USD",
        5000,
        PaymentStatus.SUCCEEDED,
        utc(2031, 1, 5, 15),
        94,
        settled=4600,
    ),
    # Paid in December, fully refunded in January: the refund counts in January.
    Row(
        PaymentKind.FEATURED,
        "USD",
        2000,
        PaymentStatus.REFUNDED,
        utc(2030, 12, 15, 15),
        53,
        refunds=((1200, "succeeded", utc(2031, 1, 2, 10)), (800, "succeeded", utc(2031, 1, 3, 10))),
        settled=1840,
    ),
    # Paid in dollars, not settled yet: beside the figures, never added as euros.
    Row(
        PaymentKind.MEMBERSHIP,
        "USD",
        3000,
        PaymentStatus.SUCCEEDED,
        utc(2031, 1, 8, 15),
        None,
        settled=None,
    ),
    Row(PaymentKind.MEMBERSHIP, "EUR", 4000, PaymentStatus.FAILED, utc(2031, 1, 12, 10)),
    Row(PaymentKind.MEMBERSHIP, "EUR", 1500, PaymentStatus.FAILED, utc(2031, 1, 13, 10)),
    Row(PaymentKind.MEMBERSHIP, "EUR", 4000, PaymentStatus.PENDING, utc(2031, 1, 13, 11)),
    Row(PaymentKind.PARTNER_PLAN, "EUR", 7000, PaymentStatus.CANCELED, utc(2031, 1, 14, 11)),
    # 00:30 on 1 April 2030 in Paris (summer time, UTC+2): April.
    Row(
        PaymentKind.PARTNER_PLAN,
        "EUR",
        30000,
        PaymentStatus.SUCCEEDED,
        utc(2030, 3, 31, 22, 30),
        700,
    ),
    # 23:30 on 31 March 2030 in Paris: March.
    Row(
        PaymentKind.PARTNER_PLAN,
        "EUR",
        20000,
        PaymentStatus.SUCCEEDED,
        utc(2030, 3, 31, 21, 30),
        500,
    ),
    # Long before the 24-month window.
    Row(PaymentKind.MEMBERSHIP, "EUR", 4000, PaymentStatus.SUCCEEDED, utc(2026, 6, 1, 10), 85),
]


def store_ledger(rows: list[Row]) -> list[int]:
    ids = []
    for number, row in enumerate(rows):
        paid = row.status in PAID
        payment = Payment(
            kind=row.kind,
            status=row.status,
            amount=row.amount,
            currency=row.currency,
            payer_name=f"Payeur {number}",
            subject={},
            description=f"{row.kind.value} {number}",
            created_at=row.at - timedelta(minutes=2),
            succeeded_at=row.at if paid else None,
            stripe_fee=row.fee,
            settled_amount=row.booked if paid else None,
            settled_currency="eur" if paid and row.booked is not None else None,
            refunded_amount=sum(a for a, status, _at in row.refunds if status == "succeeded"),
            disputed_at=row.disputed_at,
            failure_message="Carte refusée" if row.status == PaymentStatus.FAILED else None,
            flag="dispute" if row.disputed_at else None,
            flag_detail="dispute dp_1 opened: fraudulent" if row.disputed_at else None,
        )
        payment.refunds = [
            Refund(
                amount=amount,
                reason="Test",
                status=status,
                created_at=at,
                settled_amount=row.booked_refund(amount) if status == "succeeded" else None,
            )
            for amount, status, at in row.refunds
        ]
        if row.dispute is not None:
            withdrawn_at, fee, reinstated_at = row.dispute
            payment.disputes = [
                Dispute(
                    stripe_dispute_id=f"dp_test_{number}",
                    amount=row.amount,
                    currency=row.currency,
                    status="won" if reinstated_at else "needs_response",
                    settled_currency="eur",
                    withdrawn_amount=row.booked,
                    withdrawn_fee=fee,
                    reinstated_amount=row.booked if reinstated_at else 0,
                    withdrawn_at=withdrawn_at,
                    reinstated_at=reinstated_at,
                )
            ]
        db.session.add(payment)
        db.session.flush()
        ids.append(payment.id)
    db.session.commit()
    return ids


@pytest.fixture
def ledger(app) -> list[int]:
    with app.app_context():
        return store_ledger(LEDGER)


# ---------------------------------------------------------------- sums computed independently


def paris_day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def expected_sums(start: date, end: date) -> dict[tuple[str, str], dict[str, int]]:
    """("EUR", kind) → gross, fees, refunds, disputes, net, counts, booked in euros as Stripe
    settled them, straight from ``LEDGER`` (unsettled foreign payments are left out)."""
    names = ("gross", "fees", "refunds", "count", "refund_count", "disputes", "dispute_fees")
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(names, 0))
    for row in LEDGER:
        key = ("EUR", row.kind.value)
        if row.booked is None:
            continue
        if row.status in PAID and start <= paris_day(row.at) <= end:
            sums[key]["gross"] += row.booked
            sums[key]["fees"] += row.fee or 0
            sums[key]["count"] += 1
        for amount, status, at in row.refunds:
            if status == "succeeded" and start <= paris_day(at) <= end:
                sums[key]["refunds"] += row.booked_refund(amount)
                sums[key]["refund_count"] += 1
        if row.dispute is not None:
            withdrawn_at, fee, reinstated_at = row.dispute
            if start <= paris_day(withdrawn_at) <= end:
                sums[key]["disputes"] += row.booked
                sums[key]["dispute_fees"] += fee
            if reinstated_at is not None and start <= paris_day(reinstated_at) <= end:
                sums[key]["disputes"] -= row.booked
    for value in sums.values():
        value["net"] = (
            value["gross"]
            - value["fees"]
            - value["refunds"]
            - value["disputes"]
            - value["dispute_fees"]
        )
    return dict(sums)


def expected_totals(start: date, end: date) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for (currency, _kind), sums in expected_sums(start, end).items():
        total = totals.setdefault(currency, dict.fromkeys(sums, 0))
        for name, value in sums.items():
            total[name] += value
    return totals


def expected_month(currency: str, month: date) -> dict[str, dict[str, int]]:
    """kind → sums of the month (zeros included) in ``currency``."""
    last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    found = expected_sums(month, last)
    empty = dict.fromkeys(
        ("gross", "fees", "refunds", "net", "count", "refund_count", "disputes", "dispute_fees"),
        0,
    )
    return {kind.value: found.get((currency, kind.value), empty) for kind in PaymentKind}


def months_back(last: date, count: int) -> list[date]:
    months = []
    year, month = last.year, last.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


# ---------------------------------------------------------------- reading the page


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.elements[values["id"]] = values


def elements(html: str) -> dict[str, dict[str, str]]:
    parser = _Ids()
    parser.feed(html)
    return parser.elements


def page(client, query: str = "") -> tuple[str, dict[str, dict[str, str]]]:
    response = client.get(f"/treasury/{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, elements(html)


JANUARY = "?period=custom&start=2031-01-01&end=2031-01-31"

# ---------------------------------------------------------------- memberships


@pytest.fixture
def members(app, create_user) -> list[int]:
    """People in every membership situation (periods relative to today)."""
    today = utcnow().date()
    plans: list[list[tuple[int, int]]] = [
        [(-100, 200)],  # active
        [(-355, 10)],  # active, ends within 30 days
        [(-355, 10), (10, 375)],  # active, renewed ahead: not ending
        [(-355, 30)],  # active, covered 29 more days: ending
        [(-335, 31)],  # active, covered 30 more days
        [(-370, -5)],  # grace
        [(-365, 0)],  # ended today: grace
        [(-395, -30)],  # ended 30 days ago: grace
        [(-396, -31)],  # 31 days ago: lapsed
        [(-700, -400), (-465, -100)],  # lapsed
        [(5, 370)],  # only a future period: none of these
    ]
    ids = []
    for number, periods in enumerate(plans):
        user = create_user(f"member-{number}@example.org", alumni=True, status="verified")
        with app.app_context():
            for start, end in periods:
                db.session.add(
                    Membership(
                        user_id=user.id,
                        starts_on=today + timedelta(days=start),
                        ends_on=today + timedelta(days=end),
                        source="staff",
                    )
                )
            db.session.commit()
        ids.append(user.id)
    return ids


def expected_membership_counts(app, ids: list[int]) -> dict[str, int]:
    """Counted person by person with ``membership_status`` (the rule members see)."""
    counts = {"active": 0, "grace": 0, "lapsed": 0, "ending_soon": 0}
    today = utcnow().date()
    with app.app_context():
        for user_id in ids:
            state = membership_status(db.session.get(User, user_id))
            if state.status == MembershipStatus.ACTIVE:
                counts["active"] += 1
                if state.valid_until < today + timedelta(days=30):
                    counts["ending_soon"] += 1
            elif state.status in (MembershipStatus.GRACE, MembershipStatus.LAPSED):
                counts[state.status.value] += 1
    return counts


# ---------------------------------------------------------------- query budget


def _bulk(app, count: int, first: datetime) -> None:
    """``count`` paid payments with a refund each, spread over two years from ``first``."""
    with app.app_context():
        for number in range(count):
            at = first + timedelta(days=(number * 730) // max(count, 1), hours=number % 24)
            kind = list(PaymentKind)[number % 3]
            payment = Payment(
                kind=kind,
                status=PaymentStatus.PARTIALLY_REFUNDED,
                amount=1000 + number,
                currency="EUR" if number % 4 else "USD",
                payer_name="Bulk",
                subject={},
                description="bulk",
                created_at=at,
                succeeded_at=at,
                stripe_fee=30,
                refunded_amount=100,
                # Stripe settles dollars at 0.92.
                settled_amount=1000 + number if number % 4 else (1000 + number) * 92 // 100,
                settled_currency="eur",
            )
            payment.refunds = [Refund(amount=100, reason="bulk", status="succeeded", created_at=at)]
            db.session.add(payment)
            if number % 10 == 0:
                db.session.add(
                    Payment(
                        kind=kind,
                        status=PaymentStatus.FAILED,
                        amount=500,
                        currency="EUR",
                        payer_name="Bulk",
                        subject={},
                        description="failed",
                        created_at=at,
                    )
                )
        db.session.commit()
