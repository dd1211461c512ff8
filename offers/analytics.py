"""Offer analytics: the daily counters (views, reveals, redemptions) and the partner's reports.

Counters live in ``offer_daily_stats``, one row per offer and day (UTC). Views are counted by
the public offer page (``offers.search.count_offer_view``), redemptions by the redemption
service, reveals here, when a member opens the page that shows their code, pass or link.

The report queries run a fixed number of statements whatever the number of offers or days,
and the redemption export streams its rows in chunks, with no row cap.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from offers.models import Offer, OfferDailyStat, Redemption, RedemptionMethod
from partners.models import Partner

logger = logging.getLogger(__name__)

# The periods a partner can choose (days, ending today); the first one is the default.
PERIODS = (30, 7, 90)
COUNTERS = ("views", "reveals", "redemptions")
# Rows fetched per round trip by the export.
EXPORT_CHUNK = 500
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def count_stat(*, offer_id: int, day: date, counter: str) -> None:
    """Add one to ``counter`` of the offer's statistics of ``day`` (insert or increment)."""
    if counter not in COUNTERS:
        raise ValueError(f"unknown counter {counter!r}")
    # ON CONFLICT makes the first-event-of-the-day race harmless on both databases: two
    # concurrent first reveals end as one row with reveals = 2, never a unique violation.
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    values = dict.fromkeys(COUNTERS, 0) | {counter: 1}
    statement = insert(OfferDailyStat).values(offer_id=offer_id, day=day, **values)
    column = getattr(OfferDailyStat, counter)
    statement = statement.on_conflict_do_update(
        index_elements=[OfferDailyStat.offer_id, OfferDailyStat.day],
        set_={counter: column + 1},
    )
    db.session.execute(statement)


def count_reveal(*, offer_id: int, day: date) -> None:
    """Add one reveal (a member opened their code, pass or link) to the offer's ``day``."""
    count_stat(offer_id=offer_id, day=day, counter="reveals")


# ---------------------------------------------------------------- reports


def period_days(value: str | None) -> int:
    """The period asked for in the query string, or the default one."""
    try:
        days = int(value or "")
    except ValueError:
        return PERIODS[0]
    return days if days in PERIODS else PERIODS[0]


@dataclass(frozen=True)
class Totals:
    """Views, reveals and redemptions of one day or one period."""

    views: int = 0
    reveals: int = 0
    redemptions: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.views + other.views,
            self.reveals + other.reveals,
            self.redemptions + other.redemptions,
        )


@dataclass(frozen=True)
class DailyPoint:
    """One day of a series."""

    day: date
    totals: Totals


def date_range(days: int, *, today: date | None = None) -> tuple[date, date]:
    """The first and last day (both included) of the ``days`` days ending ``today``."""
    last = today or utcnow().date()
    return last - timedelta(days=days - 1), last


def _sums():
    return (
        func.coalesce(func.sum(OfferDailyStat.views), 0),
        func.coalesce(func.sum(OfferDailyStat.reveals), 0),
        func.coalesce(func.sum(OfferDailyStat.redemptions), 0),
    )


def _filled(rows: dict[date, Totals], first: date, last: date) -> list[DailyPoint]:
    """Every day from ``first`` to ``last``, zeros where nothing happened."""
    return [
        DailyPoint(day, rows.get(day, Totals()))
        for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
    ]


def daily_series(
    *, partner: Partner, days: int, offer: Offer | None = None, today: date | None = None
) -> list[DailyPoint]:
    """The per-day counts of the partner's offers (or of one of them), zero-filled; one query."""
    first, last = date_range(days, today=today)
    statement = (
        select(OfferDailyStat.day, *_sums())
        .join(Offer, Offer.id == OfferDailyStat.offer_id)
        .where(Offer.partner_id == partner.id, OfferDailyStat.day.between(first, last))
        .group_by(OfferDailyStat.day)
    )
    if offer is not None:
        statement = statement.where(OfferDailyStat.offer_id == offer.id)
    rows = {day: Totals(*map(int, sums)) for day, *sums in db.session.execute(statement)}
    return _filled(rows, first, last)


def offer_totals(
    *, partner: Partner, days: int, today: date | None = None
) -> list[tuple[Offer, Totals]]:
    """Each of the partner's offers with its totals over the period, newest first; one query."""
    first, last = date_range(days, today=today)
    stats = (
        select(
            OfferDailyStat.offer_id,
            *(sum_.label(name) for sum_, name in zip(_sums(), COUNTERS, strict=True)),
        )
        .where(OfferDailyStat.day.between(first, last))
        .group_by(OfferDailyStat.offer_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Offer, stats.c.views, stats.c.reveals, stats.c.redemptions)
        .outerjoin(stats, stats.c.offer_id == Offer.id)
        .where(Offer.partner_id == partner.id)
        .order_by(Offer.created_at.desc(), Offer.id.desc())
    )
    return [
        (offer, Totals(int(views or 0), int(reveals or 0), int(redemptions or 0)))
        for offer, views, reveals, redemptions in rows
    ]


def total_of(points: list[DailyPoint]) -> Totals:
    """The sum of a series."""
    total = Totals()
    for point in points:
        total += point.totals
    return total


def chart_data(points: list[DailyPoint], labels: dict[str, str]) -> dict:
    """The series as the chart script reads it (JSON): day labels and one list per counter."""
    return {
        "labels": [point.day.isoformat() for point in points],
        "datasets": [
            {"key": name, "label": labels[name], "data": [getattr(p.totals, name) for p in points]}
            for name in COUNTERS
        ],
    }


# ---------------------------------------------------------------- redemption export

EXPORT_HEADER = (
    "redemption_id",
    "offer_id",
    "offer_title",
    "redeemed_at",
    "code",
    "validated_at",
    "member_first_name",
)


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (a leading quote disarms it)."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _benefit(method: RedemptionMethod, code: str | None) -> str:
    # A pass's token is a bearer secret: the export names the kind, never the token.
    if method == RedemptionMethod.VOUCHER:
        return "voucher"
    if method == RedemptionMethod.LINK:
        return "link"
    return code or ""


def _first_name(full_name: str | None) -> str:
    # Data minimisation: the partner learns the first name only, as on the pass check page.
    return full_name.split(" ")[0] if full_name else ""


def export_redemptions(
    *, partner: Partner, english: bool, offer: Offer | None = None
) -> Iterator[str]:
    """The partner's redemptions as CSV text chunks (UTF-8 BOM first), fetched in chunks."""
    statement = (
        select(
            Redemption.id,
            Redemption.offer_id,
            Offer.title_fr,
            Offer.title_en,
            Redemption.redeemed_at,
            Offer.redemption_method,
            Redemption.code,
            Redemption.validated_at,
            User.full_name,
        )
        .join(Offer, Offer.id == Redemption.offer_id)
        .outerjoin(User, User.id == Redemption.user_id)
        .where(Offer.partner_id == partner.id)
        .order_by(Redemption.id)
        .execution_options(yield_per=EXPORT_CHUNK)
    )
    if offer is not None:
        statement = statement.where(Redemption.offer_id == offer.id)
    partner_id = partner.id
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel reads UTF-8 only with a byte order mark
    writer.writerow(EXPORT_HEADER)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    count = 0
    for chunk in db.session.execute(statement).partitions():
        for row in chunk:
            first, second = (
                (row.title_en, row.title_fr) if english else (row.title_fr, row.title_en)
            )
            writer.writerow(
                [
                    safe_cell(row.id),
                    safe_cell(row.offer_id),
                    safe_cell(first or second),
                    safe_cell(row.redeemed_at),
                    safe_cell(_benefit(row.redemption_method, row.code)),
                    safe_cell(row.validated_at),
                    safe_cell(_first_name(row.full_name)),
                ]
            )
        count += len(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    logger.info("partner %s exported %s redemption(s)", partner_id, count)
