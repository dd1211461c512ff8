"""Benchmark data at the association's target size, loaded by ``flask seed scale``.

Rows are generated in Python from a seeded random generator and written in bulk, never one
ORM object at a time:

- PostgreSQL: ``COPY … FROM STDIN`` (psycopg 3 ``cursor.copy()``) inside the session's
  transaction, tables in foreign-key order, then every ``id`` sequence moved past the new rows
  and the tables analysed, so the planner sees their real size;
- SQLite: batched ``executemany`` through SQLAlchemy Core (same rows, smaller default sizes).

Identifiers are chosen here (from the table's current maximum), so child rows can point at
their parents without reading them back; e-mails, slugs and Stripe ids are derived from those
ids, so a second run adds more rows instead of colliding with the first. Offers and jobs get
the accent-folded ``search_fr`` / ``search_en`` the services keep (the PostgreSQL
``search_vector`` columns are generated from them; SQLite's FTS triggers index them).

Every seeded account has the password ``SCALE_PASSWORD`` (one argon2 hash computed once). No
CV files and no offer code pools are created: applications show their CV as removed, and no
offer uses the unique-codes model.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select, text

from marketplace.catalog.models import Category, School
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import MembershipTier
from marketplace.payments.document_models import SERIES, DocumentCounter, DocumentKind
from marketplace.payments.document_series import ACCOUNTING_ZONE, DOCUMENT_STATUSES, format_number
from marketplace.payments.models import PaymentStatus
from marketplace.security import hash_password
from marketplace.seed import seed_categories, seed_schools, seed_tiers
from marketplace.seed_scale_data import (
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    PAYMENT_COLUMNS,
    USER_COLUMNS,
)
from marketplace.seed_scale_rows import (
    Picker,
    PostgresWriter,
    SQLiteWriter,
    Writer,
    add_months,
    enum_names,
)

logger = logging.getLogger(__name__)

# The password of every account this command creates (never in production: the command refuses).
SCALE_PASSWORD = "scale-password-2026"  # noqa: S105 - benchmark data, refused in production
EMAIL_DOMAIN = "scale.example.org"
DAYS = 730  # dates spread over two years


@dataclass(frozen=True)
class ScaleSizes:
    """How many rows of each kind to add (the defaults are issue 8's target size)."""

    alumni: int = 300_000
    partners: int = 3_000
    offers: int = 20_000
    jobs: int = 5_000
    redemptions: int = 1_000_000
    applications: int = 100_000
    payments: int = 200_000


# ---------------------------------------------------------------- the generator


class ScaleSeeder:
    """Generates and writes the rows of one ``seed scale`` run."""

    def __init__(
        self,
        writer: Writer,
        sizes: ScaleSizes,
        *,
        seed: int = 2026,
        now: datetime | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.writer = writer
        self.sizes = sizes
        self.rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
        self.now = (now or utcnow()).astimezone(UTC)
        self.start = self.now - timedelta(days=DAYS)
        self.progress = progress or (lambda message: None)
        self.counts: dict[str, int] = {}
        self.country = Picker(self.rng, COUNTRIES, [weight for _c, weight, _cities in COUNTRIES])

    # -- small draws

    def moment(self, after: datetime | None = None, before: datetime | None = None) -> datetime:
        low = after or self.start
        high = before or self.now
        span = max((high - low).total_seconds(), 1.0)
        return low + timedelta(seconds=self.rng.random() * span)

    def person_name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def place(self) -> tuple[str, str]:
        code, _weight, cities = self.country()
        return code, self.rng.choice(cities)

    def write_rows(self, table: str, columns: Sequence[str], rows: Iterable[tuple], **kw) -> None:
        count = self.writer.write(table, columns, enum_names(table, columns, rows), **kw)
        self.counts[table] = self.counts.get(table, 0) + count
        self.progress(f"{table}: {count} rows")

    # -- the run

    def run(self) -> dict[str, int]:
        self.prepare_reference_data()
        self.password_hash = hash_password(SCALE_PASSWORD)
        for step in SCALE_STEPS:
            step.run(self)
        self.writer.finish(SEQUENCED_TABLES)
        return self.counts

    def prepare_reference_data(self) -> None:
        """Schools, categories, tiers and two partner plans (created when missing)."""
        seed_schools()
        seed_categories()
        seed_tiers()
        db.session.flush()
        self.schools = list(
            db.session.execute(select(School.id, School.country, School.city)).tuples()
        )
        self.categories = list(db.session.execute(select(Category.id, Category.slug)).tuples())
        self.tiers = list(
            db.session.execute(
                select(MembershipTier.id, MembershipTier.code, MembershipTier.amount)
                .where(MembershipTier.amount > 0)
                .order_by(MembershipTier.position)
            ).tuples()
        )

    # -- people

    def seed_alumni(self) -> None:
        """Alumni accounts and profiles: mostly verified, some waiting or refused."""
        first_user = self.writer.next_id("users")
        first_profile = self.writer.next_id("alumni_profiles")
        statuses = Picker(
            self.rng,
            ["verified", "pending", "info_requested", "refused"],
            [86, 8, 2, 4],
        )
        schools = self.schools
        self.verified: list[int] = []
        self.alumni_names: dict[int, str] = {}
        users: list[tuple] = []
        profiles: list[tuple] = []
        for n in range(self.sizes.alumni):
            user_id = first_user + n
            name = self.person_name()
            created = self.moment()
            status = statuses()
            school_id, school_country, school_city = self.rng.choice(schools)
            country, city = (
                (school_country, school_city) if self.rng.random() < 0.4 else self.place()
            )
            users.append(
                (
                    user_id,
                    f"alumnus{user_id}@{EMAIL_DOMAIN}",
                    self.password_hash,
                    name,
                    "fr" if self.rng.random() < 0.75 else "en",
                    created,
                    created,
                    1,
                )
            )
            decided = created + timedelta(hours=self.rng.randint(1, 96))
            profiles.append(
                (
                    first_profile + n,
                    user_id,
                    school_id,
                    self.rng.randint(1975, 2025),
                    country,
                    city,
                    status,
                    created,
                    decided if status in ("verified", "refused") else None,
                    "evidence_insufficient" if status == "refused" else None,
                    False,
                )
            )
            if status == "verified":
                self.verified.append(user_id)
                self.alumni_names[user_id] = name
        self.write_rows(
            "users",
            USER_COLUMNS,
            users,
        )
        self.write_rows(
            "alumni_profiles",
            (
                "id",
                "user_id",
                "school_id",
                "graduation_year",
                "country",
                "city",
                "status",
                "submitted_at",
                "decided_at",
                "refusal_reason",
                "verified_by_roster",
            ),
            profiles,
        )

    # -- offers

    # -- jobs

    # -- payments

    def seed_payments(self) -> None:
        """Memberships, partner plans and featured placements paid over 24 months, with
        Stripe fees, failures, refunds and disputes; gap-free document numbers per year."""
        total = self.sizes.payments
        if not total or not self.verified:
            return
        first = self.writer.next_id("payments")
        kinds = Picker(self.rng, ["membership", "partner_plan", "featured"], [88, 8, 4])
        statuses = Picker(
            self.rng,
            [
                "succeeded",
                "failed",
                "canceled",
                "pending",
                "refunded",
                "partially_refunded",
                "disputed",
            ],
            [90.5, 4, 1.5, 0.5, 1.5, 1.5, 0.5],
        )
        tiers = Picker(self.rng, self.tiers, [30, 55, 15][: len(self.tiers)] or [1])
        # More payments in recent months (the network grows): density rises over the period.
        span = DAYS * 86400
        moments = sorted(
            self.start + timedelta(seconds=span * self.rng.random() ** 0.8) for _ in range(total)
        )
        sequences = self._document_sequences()
        featured_offers = [o for o in self.offers if o.status == "published"]
        membership_pay, plan_pay, featured_pay, refund_rows = [], [], [], []
        rows = []
        first_refund = self.writer.next_id("refunds")
        for n, created in enumerate(moments):
            payment_id = first + n
            kind = kinds()
            if kind != "membership" and not self.partner_rows:
                kind = "membership"
            if kind == "featured" and not featured_offers:
                kind = "partner_plan"
            status = statuses()
            if status == "pending" and created < self.now - timedelta(days=2):
                status = "failed"
            partner_id = None
            if kind == "membership":
                tier_id, tier_code, amount = tiers()
                payer_id = self.verified[int(self.rng.random() * len(self.verified))]
                payer_name = self.alumni_names[payer_id]
                payer_email = f"alumnus{payer_id}@{EMAIL_DOMAIN}"
                subject: dict[str, Any] = {"tier": tier_code, "months": 12}
                description = f"Membership {tier_code}, 12 months"
            elif kind == "partner_plan":
                plan_id, plan_code, amount, days = self.plans["partnership"]
                partner_id = self.rng.choice(self.partner_rows)[0]
                subject = {"plan": plan_code}
                description = f"Partner plan {plan_code}"
            else:
                plan_id, plan_code, amount, days = self.plans["featured"]
                offer = self.rng.choice(featured_offers)
                partner_id = offer.partner_id
                subject = {"plan": plan_code, "offer_id": offer.id, "days": days}
                description = f"Featured offer {offer.id}, {days} days"
            if partner_id is not None:
                payer_id, payer_name, payer_email = self.partner_owner[partner_id]
            paid = PaymentStatus(status) in DOCUMENT_STATUSES
            succeeded = created + timedelta(seconds=self.rng.randint(3, 90)) if paid else None
            fee = round(amount * 0.015) + 25 if paid else None
            refunded = 0
            if status == "refunded":
                refunded = amount
            elif status == "partially_refunded":
                refunded = max(1, amount // 2)
            number = None
            if paid:
                # Numbers only (no frozen PDF: a benchmark does not download documents).
                year = succeeded.astimezone(ACCOUNTING_ZONE).year
                series = SERIES[
                    DocumentKind.ATTESTATION if kind == "membership" else DocumentKind.INVOICE
                ]
                sequences[series, year] = sequences.get((series, year), 0) + 1
                number = format_number(series, year, sequences[series, year])
            rows.append(
                (
                    payment_id,
                    kind,
                    status,
                    amount,
                    "eur",
                    payer_id,
                    payer_name,
                    payer_email,
                    partner_id,
                    subject,
                    description,
                    kind == "membership" and self.rng.random() < 0.2,  # auto-renewals
                    f"cus_scale{payer_id}",
                    f"pi_scale{payment_id}",
                    f"ch_scale{payment_id}" if paid else None,
                    fee,
                    refunded,
                    "Your card was declined." if status == "failed" else None,
                    succeeded + timedelta(days=20) if status == "disputed" else None,
                    succeeded,
                    succeeded,
                    number,
                    created,
                    succeeded or created,
                )
            )
            if refunded:
                refund_rows.append(
                    (
                        first_refund + len(refund_rows),
                        payment_id,
                        refunded,
                        "requested_by_customer",
                        "succeeded",
                        f"re_scale{payment_id}",
                        succeeded + timedelta(days=self.rng.randint(1, 30)),
                    )
                )
            if status in ("succeeded", "partially_refunded", "disputed"):
                start_day = succeeded.astimezone(ACCOUNTING_ZONE).date()
                if kind == "membership":
                    membership_pay.append((payer_id, tier_id, start_day, payment_id, succeeded))
                elif kind == "partner_plan":
                    plan_pay.append((partner_id, plan_id, start_day, days, payment_id, succeeded))
                else:
                    featured_pay.append((offer, payment_id, succeeded, days))
        self.write_rows("payments", PAYMENT_COLUMNS, rows, json_columns=("subject",))
        self.write_rows(
            "refunds",
            ("id", "payment_id", "amount", "reason", "status", "stripe_refund_id", "created_at"),
            refund_rows,
        )
        self._save_document_counters(sequences)
        self.write_memberships(membership_pay)
        # What partner plans and placements bought: the partners and offers steps write it.
        self.paid_plans = plan_pay
        self.paid_placements = featured_pay

    def write_memberships(self, memberships) -> None:
        """The membership periods the paid membership payments bought."""
        first = self.writer.next_id("memberships")
        self.write_rows(
            "memberships",
            (
                "id",
                "user_id",
                "tier_id",
                "starts_on",
                "ends_on",
                "source",
                "payment_id",
                "created_at",
            ),
            (
                (first + n, user_id, tier_id, day, add_months(day, 12), "payment", payment_id, at)
                for n, (user_id, tier_id, day, payment_id, at) in enumerate(memberships)
            ),
        )

    def _document_sequences(self) -> dict[tuple[str, int], int]:
        return {
            (series, year): last
            for series, year, last in db.session.execute(
                select(DocumentCounter.series, DocumentCounter.year, DocumentCounter.last_sequence)
            ).tuples()
        }

    def _save_document_counters(self, sequences: dict[tuple[str, int], int]) -> None:
        for (series, year), last in sequences.items():
            counter = db.session.get(DocumentCounter, (series, year))
            if counter is None:
                db.session.add(DocumentCounter(series=series, year=year, last_sequence=last))
            else:
                counter.last_sequence = max(counter.last_sequence, last)
        db.session.flush()


@dataclass(frozen=True)
class ScaleStep:
    """One part of a ``seed scale`` run: ``run(seeder)`` writes its rows."""

    name: str
    run: Callable[[ScaleSeeder], None]


# The order of the steps, whichever package registers them (``add_scale_step`` in the
# packages' ``init_app``): each reads what the earlier ones left on the seeder (ids, rows).
SCALE_STEP_ORDER = (
    "alumni",
    "partners",  # partners: also the partner plans
    "offers",  # offers
    "redemptions",  # offers
    "jobs",  # jobs
    "applications",  # jobs
    "payments",  # with the memberships they bought
    "partner plan periods",  # partners
    "featured placements",  # offers
)


def add_scale_step(name: str, run: Callable[[ScaleSeeder], None]) -> None:
    """Register a step of ``seed scale`` once (by name), at its place in ``SCALE_STEP_ORDER``."""
    if name not in SCALE_STEP_ORDER:
        raise ValueError(f"Scale step {name!r} has no place in SCALE_STEP_ORDER.")
    if all(step.name != name for step in SCALE_STEPS):
        SCALE_STEPS.append(ScaleStep(name, run))
        SCALE_STEPS.sort(key=lambda step: SCALE_STEP_ORDER.index(step.name))


SCALE_STEPS: list[ScaleStep] = [
    ScaleStep("alumni", ScaleSeeder.seed_alumni),
    ScaleStep("payments", ScaleSeeder.seed_payments),
]


SEQUENCED_TABLES = (
    "users",
    "alumni_profiles",
    "partners",
    "partner_members",
    "partner_plans",
    "offers",
    "offer_countries",
    "redemptions",
    "jobs",
    "job_languages",
    "applications",
    "payments",
    "refunds",
    "memberships",
    "partner_plan_periods",
    "featured_placements",
)
# Tables written by this command, in foreign-key order (locked against writers meanwhile).
WRITTEN_TABLES = SEQUENCED_TABLES + ("document_series_counters",)


def seed_scale(
    sizes: ScaleSizes,
    *,
    seed: int = 2026,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Add ``sizes`` rows of benchmark data in the session's transaction (no commit).

    On PostgreSQL the written tables are locked against other writers for the run, since the
    ids are chosen here; readers are not blocked.
    """
    connection = db.session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text(f"LOCK TABLE {', '.join(WRITTEN_TABLES)} IN EXCLUSIVE MODE"))
        writer: Writer = PostgresWriter(connection)
    else:
        writer = SQLiteWriter(connection)
    logger.info("seed scale %s on %s", asdict(sizes), dialect)
    return ScaleSeeder(writer, sizes, seed=seed, progress=progress).run()


def analyze() -> None:
    """Refresh the planner's statistics of the written tables (after the commit).

    On PostgreSQL, ``VACUUM ANALYZE`` also sets the visibility map, so the planner can use
    index-only scans on the freshly loaded tables (it cannot run inside a transaction).
    """
    engine = db.session.get_bind()
    if engine.dialect.name != "postgresql":
        db.session.execute(text("ANALYZE"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in WRITTEN_TABLES:
            connection.execute(text(f"VACUUM ANALYZE {table}"))


def row_counts() -> dict[str, int]:
    """Rows per written table (for the command's report and the tests)."""
    return {
        table: int(db.session.scalar(select(func.count()).select_from(text(table))) or 0)
        for table in WRITTEN_TABLES
    }


# ---------------------------------------------------------------- command

SIZE_OPTIONS = tuple(
    (field, getattr(ScaleSizes, field)) for field in ScaleSizes.__dataclass_fields__
)


def _size_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for name, default in reversed(SIZE_OPTIONS):
        command = click.option(
            f"--{name}",
            type=click.IntRange(min=0),
            default=default,
            show_default=True,
            help=f"How many {name} to add.",
        )(command)
    return command


@click.command("scale")
@_size_options
@click.option("--seed", "random_seed", type=int, default=2026, show_default=True)
@click.option("--quiet", is_flag=True, help="Print only the totals.")
def seed_scale_command(random_seed: int, quiet: bool, **sizes: int) -> None:
    """Load benchmark data in bulk (COPY on PostgreSQL), in one transaction.

    Every account created has the password ``scale-password-2026``.
    """
    # Known passwords must never reach a public site (like ``seed demo``).
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("Loading benchmark accounts is refused in production.")
    started = time.monotonic()
    echo = None if quiet else (lambda message: click.echo(f"  {message}"))
    with force_locale("en"):
        counts = seed_scale(ScaleSizes(**sizes), seed=random_seed, progress=echo)
    db.session.commit()
    analyze()
    db.session.commit()
    elapsed = time.monotonic() - started
    total = sum(counts.values())
    click.echo(f"seed scale: {total} rows in {elapsed:.1f} s")
    click.echo(f"Every seeded account's password: {SCALE_PASSWORD}")
