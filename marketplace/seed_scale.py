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

import json
import logging
import random
import string
import time
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

import click
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import Enum, func, insert, select, text

from marketplace.catalog.models import Category, School
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import MembershipTier
from marketplace.payments.document_models import SERIES, DocumentCounter, DocumentKind
from marketplace.payments.documents import ACCOUNTING_ZONE, DOCUMENT_STATUSES, format_number
from marketplace.payments.models import PaymentStatus
from marketplace.security import hash_password
from marketplace.seed import seed_categories, seed_schools, seed_tiers
from marketplace.text import fold

logger = logging.getLogger(__name__)

# The password of every account this command creates (never in production: the command refuses).
SCALE_PASSWORD = "scale-password-2026"  # noqa: S105 - benchmark data, refused in production
EMAIL_DOMAIN = "scale.example.org"
DAYS = 730  # dates spread over two years
SQLITE_BATCH = 2_000


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


# ---------------------------------------------------------------- reference lists

# (ISO country, weight, cities): where the network's alumni live.
COUNTRIES: list[tuple[str, int, tuple[str, ...]]] = [
    ("FR", 22, ("Paris", "Lyon", "Marseille", "Bordeaux", "Lille")),
    ("US", 8, ("New York", "San Francisco", "Washington", "Miami")),
    ("GB", 6, ("London", "Manchester")),
    ("ES", 6, ("Madrid", "Barcelone", "Valence")),
    ("MA", 6, ("Casablanca", "Rabat", "Marrakech")),
    ("DE", 5, ("Munich", "Berlin", "Francfort")),
    ("BE", 5, ("Bruxelles", "Liège")),
    ("CH", 4, ("Genève", "Lausanne", "Zurich")),
    ("CA", 4, ("Montréal", "Toronto", "Vancouver")),
    ("SN", 3, ("Dakar",)),
    ("BR", 3, ("São Paulo", "Rio de Janeiro")),
    ("MX", 3, ("Mexico", "Guadalajara")),
    ("SG", 3, ("Singapour",)),
    ("CN", 3, ("Shanghai", "Pékin", "Hong Kong")),
    ("AE", 3, ("Dubaï", "Abou Dabi")),
    ("IT", 3, ("Rome", "Milan")),
    ("PT", 3, ("Lisbonne", "Porto")),
    ("JP", 2, ("Tokyo",)),
    ("LB", 2, ("Beyrouth",)),
    ("TN", 2, ("Tunis", "La Marsa")),
    ("VN", 2, ("Hanoï", "Hô Chi Minh-Ville")),
    ("TH", 2, ("Bangkok",)),
    ("IN", 2, ("Pondichéry", "New Delhi")),
    ("AR", 2, ("Buenos Aires",)),
    ("CL", 2, ("Santiago",)),
    ("EG", 2, ("Le Caire",)),
    ("AT", 2, ("Vienne",)),
    ("CI", 2, ("Abidjan",)),
    ("MG", 1, ("Antananarivo",)),
    ("NL", 2, ("Amsterdam",)),
]

FIRST_NAMES = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Emma",
    "Jade",
    "Louise",
    "Zoé",
    "Sarah",
    "Yasmine",
    "Aïcha",
    "Mei",
    "Sofia",
    "Ana",
    "Lucas",
    "Hugo",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Adam",
    "Mohamed",
    "Karim",
    "Théo",
    "Noé",
    "Rafael",
    "Kenji",
    "Omar",
    "Paul",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "Fernandez",
    "Nguyen",
    "Diallo",
    "Benali",
    "Haddad",
    "Kowalski",
    "Rossi",
    "Müller",
    "Silva",
    "Tanaka",
    "Chen",
    "Traoré",
    "Mercier",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Girard",
    "Bonnet",
    "Faure",
]

PARTNER_PREFIXES = [
    "Librairie",
    "Maison",
    "Atelier",
    "Groupe",
    "Studio",
    "Cabinet",
    "Hôtel",
    "Café",
    "Agence",
    "Institut",
    "Éditions",
    "Comptoir",
    "Académie",
    "Clinique",
    "Boutique",
    "Bureau",
]
PARTNER_NAMES = [
    "Voltaire",
    "Horizon",
    "Lumière",
    "Atlas",
    "Méridien",
    "Étoile",
    "Boréal",
    "Saint-Exupéry",
    "Colibri",
    "Baobab",
    "Mistral",
    "Alizé",
    "Calypso",
    "Orion",
    "Zénith",
    "Cèdre",
    "Olivier",
    "Corail",
    "Sirocco",
    "Aurore",
]

# Category slug → (French noun, English noun) pairs used to write offer titles.
OFFER_NOUNS: dict[str, list[tuple[str, str]]] = {
    "travel": [
        ("vols", "flights"),
        ("hôtels", "hotels"),
        ("séjours", "stays"),
        ("billets de train", "train tickets"),
        ("location de voiture", "car rental"),
    ],
    "culture": [
        ("musées", "museums"),
        ("théâtre", "theatre"),
        ("concerts", "concerts"),
        ("livres", "books"),
        ("cinéma", "cinema"),
    ],
    "training": [
        ("cours de langue", "language courses"),
        ("formations", "training courses"),
        ("certifications", "certifications"),
        ("ateliers", "workshops"),
        ("coaching de carrière", "career coaching"),
    ],
    "tech": [
        ("ordinateurs portables", "laptops"),
        ("logiciels", "software"),
        ("stockage en ligne", "cloud storage"),
        ("téléphones", "phones"),
        ("casques audio", "headphones"),
    ],
    "food": [
        ("restaurants", "restaurants"),
        ("cafés", "coffee"),
        ("pâtisseries", "pastries"),
        ("épicerie fine", "delicatessen"),
        ("livraison de repas", "meal delivery"),
    ],
    "services": [
        ("assurance", "insurance"),
        ("compte bancaire", "bank account"),
        ("déménagement", "moving"),
        ("conseil juridique", "legal advice"),
        ("coworking", "coworking"),
    ],
}
GENERIC_NOUNS = [("produits", "products"), ("services", "services"), ("abonnements", "plans")]

JOB_TITLES = [
    ("Développeur·se Python", "Python developer"),
    ("Chef·fe de projet", "Project manager"),
    ("Analyste financier·ère", "Financial analyst"),
    ("Responsable marketing", "Marketing manager"),
    ("Ingénieur·e données", "Data engineer"),
    ("Juriste d'affaires", "Corporate lawyer"),
    ("Chargé·e de communication", "Communications officer"),
    ("Consultant·e en stratégie", "Strategy consultant"),
    ("Professeur·e de français", "French teacher"),
    ("Commercial·e export", "Export sales representative"),
    ("Designer UX", "UX designer"),
    ("Comptable", "Accountant"),
]

CONTRACTS = [
    ("permanent", 40),
    ("fixed_term", 15),
    ("internship", 20),
    ("apprenticeship", 5),
    ("vie", 8),
    ("freelance", 8),
    ("volunteer", 4),
]
LANGUAGES = [("fr", 80), ("en", 60), ("es", 15), ("de", 10), ("ar", 6), ("zh", 4), ("pt", 5)]
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


# ---------------------------------------------------------------- writers


class Writer(ABC):
    """Bulk-writes generated rows into one table; ``json_columns`` hold dicts."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @abstractmethod
    def write(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[tuple],
        *,
        json_columns: Sequence[str] = (),
    ) -> int:
        """Write ``rows`` (tuples in the order of ``columns``) and return how many."""

    def next_id(self, table: str) -> int:
        """The first free id of ``table`` (ids are chosen here, then sequences follow)."""
        current = self.connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}"))  # noqa: S608
        return int(current.scalar_one()) + 1

    @abstractmethod
    def finish(self, tables: Sequence[str]) -> None:
        """Work needed after the rows are in (sequences)."""


class PostgresWriter(Writer):
    """``COPY … FROM STDIN`` on the session's own psycopg connection (same transaction)."""

    def write(self, table, columns, rows, *, json_columns=()) -> int:
        raw = self.connection.connection.driver_connection
        json_at = [columns.index(name) for name in json_columns]
        count = 0
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for index in json_at:
                        row[index] = json.dumps(row[index])
                copy.write_row(row)
                count += 1
        return count

    def finish(self, tables: Sequence[str]) -> None:
        for table in tables:
            self.connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
            )


class SQLiteWriter(Writer):
    """Batched ``executemany`` of Core inserts (types converted by SQLAlchemy)."""

    def finish(self, tables: Sequence[str]) -> None:
        """Nothing: SQLite's next rowid follows the largest id written."""

    def write(self, table, columns, rows, *, json_columns=()) -> int:
        target = db.metadata.tables[table]
        statement = insert(target)
        count = 0
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) >= SQLITE_BATCH:
                self.connection.execute(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            self.connection.execute(statement, batch)
            count += len(batch)
        return count


# ---------------------------------------------------------------- helpers


class Picker:
    """Weighted choice by bisection over cumulative weights (fast for millions of draws)."""

    def __init__(self, rng: random.Random, items: Sequence[Any], weights: Sequence[float]):
        self.rng = rng
        self.items = list(items)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def __call__(self) -> Any:
        return self.items[bisect_right(self.cumulative, self.rng.random() * self.total)]


def _slug(value: str) -> str:
    allowed = set(string.ascii_lowercase + string.digits)
    folded = fold(value)
    return "-".join(
        "".join(c for c in word if c in allowed) for word in folded.split() if word
    ).strip("-")


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - 28 always exists


def _enum_names(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> Iterable[tuple]:
    """Rows with enum values turned into what the column stores: SQLAlchemy's ``Enum(kind)``
    keeps the member's *name* (``PUBLISHED``), and COPY bypasses that conversion."""
    target = db.metadata.tables[table]
    lookups = {
        index: {member.value: member.name for member in target.c[name].type.enum_class}
        for index, name in enumerate(columns)
        if isinstance(target.c[name].type, Enum) and target.c[name].type.enum_class is not None
    }
    if not lookups:
        return rows
    return (
        tuple(lookups[i][value] if i in lookups else value for i, value in enumerate(row))
        for row in rows
    )


def _period_key(period: str, moment: datetime) -> str:
    """The same keys as ``offers.redemption.period_key``."""
    if period == "week":
        year, week, _weekday = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{moment.year}-{moment.month:02d}"
    return "ever"


# ---------------------------------------------------------------- the generator


@dataclass
class _Offer:
    id: int
    partner_id: int
    status: str
    method: str
    shared_code: str | None
    ttl: int | None
    per_member_limit: int
    period: str
    window: tuple[datetime, datetime] | None  # when it could be redeemed
    total_limit: int | None = None
    redeemed: int = 0


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

    def _write(self, table: str, columns: Sequence[str], rows: Iterable[tuple], **kw) -> None:
        count = self.writer.write(table, columns, _enum_names(table, columns, rows), **kw)
        self.counts[table] = self.counts.get(table, 0) + count
        self.progress(f"{table}: {count} rows")

    # -- the run

    def run(self) -> dict[str, int]:
        self.prepare_reference_data()
        self.password_hash = hash_password(SCALE_PASSWORD)
        self.seed_alumni()
        self.seed_partners()
        self.seed_offers()
        self.seed_redemptions()
        self.seed_jobs()
        self.seed_applications()
        self.seed_payments()
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
        self.plans = self._partner_plans()

    def _partner_plans(self) -> dict[str, tuple[int, str, int, int]]:
        """An active plan of each kind: (id, code, amount, days); created when missing."""
        from partners.models import PartnerPlan, PlanKind

        defaults = {
            PlanKind.PARTNERSHIP: ("scale-partnership", "Partenariat annuel", 60000, 365),
            PlanKind.FEATURED: ("scale-featured", "Mise en avant 30 jours", 9900, 30),
        }
        plans: dict[str, tuple[int, str, int, int]] = {}
        for kind, (code, name, amount, days) in defaults.items():
            plan = db.session.scalar(
                select(PartnerPlan)
                .where(PartnerPlan.kind == kind, PartnerPlan.active.is_(True))
                .order_by(PartnerPlan.position, PartnerPlan.id)
                .limit(1)
            )
            if plan is None:
                plan = PartnerPlan(
                    code=code,
                    kind=kind,
                    name_fr=name,
                    name_en=name,
                    amount=amount,
                    currency="eur",
                    days=days,
                )
                db.session.add(plan)
                db.session.flush()
            plans[str(kind.value)] = (plan.id, plan.code, plan.amount, plan.days)
        return plans

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
        self._write(
            "users",
            USER_COLUMNS,
            users,
        )
        self._write(
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

    def seed_partners(self) -> None:
        """Partner companies (mostly approved), each with an owner account."""
        first_partner = self.writer.next_id("partners")
        first_user = self.writer.next_id("users")
        first_member = self.writer.next_id("partner_members")
        statuses = Picker(self.rng, ["approved", "pending", "refused"], [95, 3, 2])
        partners, users, members = [], [], []
        self.partner_rows: list[tuple[int, str, str, str]] = []  # approved: id, name, country, city
        self.partner_owner: dict[int, tuple[int, str, str]] = {}
        for n in range(self.sizes.partners):
            partner_id = first_partner + n
            owner_id = first_user + n
            name = (
                f"{self.rng.choice(PARTNER_PREFIXES)} {self.rng.choice(PARTNER_NAMES)} {partner_id}"
            )
            country, city = self.place()
            applied = self.moment(before=self.now - timedelta(days=30))
            status = statuses()
            contact = self.person_name()
            email = f"partner{owner_id}@{EMAIL_DOMAIN}"
            users.append((owner_id, email, self.password_hash, contact, "fr", applied, applied, 1))
            partners.append(
                (
                    partner_id,
                    name,
                    f"scale-{_slug(name)}",
                    country,
                    f"https://partner{partner_id}.{EMAIL_DOMAIN}",
                    f"{name} : partenaire du réseau à {city}.",
                    contact,
                    email,
                    status,
                    "Activité hors du champ du réseau." if status == "refused" else None,
                    applied,
                    applied + timedelta(days=2) if status != "pending" else None,
                )
            )
            members.append((first_member + n, partner_id, owner_id, "owner", applied))
            if status == "approved":
                self.partner_rows.append((partner_id, name, country, city))
            self.partner_owner[partner_id] = (owner_id, contact, email)
        self._write("users", USER_COLUMNS, users)
        self._write(
            "partners",
            (
                "id",
                "name",
                "slug",
                "country",
                "website",
                "description",
                "contact_name",
                "contact_email",
                "status",
                "refusal_reason",
                "applied_at",
                "decided_at",
            ),
            partners,
        )
        self._write(
            "partner_members",
            ("id", "partner_id", "user_id", "role", "created_at"),
            members,
        )

    # -- offers

    def seed_offers(self) -> None:
        """Offers of approved partners: mostly published, dated over two years."""
        if not self.partner_rows:
            self.offers: list[_Offer] = []
            return
        first_offer = self.writer.next_id("offers")
        first_country = self.writer.next_id("offer_countries")
        statuses = Picker(
            self.rng,
            [
                "published",
                "paused",
                "expired",
                "archived",
                "draft",
                "submitted",
                "changes_requested",
                "rejected",
            ],
            [75, 3, 10, 3, 4, 3, 1, 1],
        )
        methods = Picker(
            self.rng, ["shared_code", "generated_codes", "voucher", "link"], [45, 25, 15, 15]
        )
        periods = Picker(self.rng, ["ever", "month", "week"], [70, 18, 12])
        # A few big partners hold many offers (long tail).
        partner_pick = Picker(
            self.rng,
            self.partner_rows,
            [1.0 / (i + 1) ** 0.6 for i in range(len(self.partner_rows))],
        )
        category_pick = Picker(
            self.rng, self.categories or [(None, "")], [1] * max(len(self.categories), 1)
        )
        self.offers = []
        offer_rows, country_rows = [], []
        country_id = first_country
        for n in range(self.sizes.offers):
            offer_id = first_offer + n
            partner_id, partner_name, partner_country, partner_city = partner_pick()
            category_id, slug = category_pick()
            noun_fr, noun_en = self.rng.choice(OFFER_NOUNS.get(slug, GENERIC_NOUNS))
            pct = self.rng.choice((5, 10, 15, 20, 25, 30, 40, 50))
            online = self.rng.random() < 0.25
            city = (
                None if online else (partner_city if self.rng.random() < 0.7 else self.place()[1])
            )
            status = statuses()
            created = self.moment()
            published = starts = ends = submitted = None
            window = None
            if status in ("published", "paused", "expired", "archived"):
                submitted = created + timedelta(hours=self.rng.randint(1, 48))
                published = submitted + timedelta(hours=self.rng.randint(1, 72))
                if published >= self.now:
                    published = self.now - timedelta(minutes=5)
                starts = published if self.rng.random() < 0.5 else None
                if status == "expired":
                    ends = self.moment(after=published, before=self.now - timedelta(hours=1))
                elif status == "published" and self.rng.random() < 0.5:
                    ends = self.now + timedelta(days=self.rng.randint(7, 365))
                window = (published, min(ends or self.now, self.now))
            elif status != "draft":
                submitted = created + timedelta(hours=self.rng.randint(1, 48))
            method = methods()
            period = periods()
            per_member = (
                1 if period == "ever" and self.rng.random() < 0.85 else self.rng.choice((1, 2, 3))
            )
            shared = f"ALUMNI{pct}-{offer_id}" if method == "shared_code" else None
            ttl = (
                self.rng.choice((15, 60))
                if method == "generated_codes" and self.rng.random() < 0.2
                else None
            )
            audience = "members" if self.rng.random() < 0.15 else "alumni"
            title_fr = f"-{pct} % sur {noun_fr} chez {partner_name}"
            title_en = f"{pct}% off {noun_en} at {partner_name}"
            summary_fr = f"Remise de {pct} % pour les anciens élèves du réseau."
            summary_en = f"{pct}% discount for alumni of the network."
            description_fr = (
                f"Présentez votre code pour bénéficier de {pct} % de réduction sur {noun_fr}."
                f"\n\nValable {'en ligne' if online else 'à ' + (city or '')}."
            )
            description_en = (
                f"Show your code to get {pct}% off {noun_en}."
                f"\n\nValid {'online' if online else 'in ' + (city or '')}."
            )
            search = {
                "fr": fold(
                    " ".join(
                        p for p in (title_fr, summary_fr, description_fr, city, partner_name) if p
                    )
                ),
                "en": fold(
                    " ".join(
                        p for p in (title_en, summary_en, description_en, city, partner_name) if p
                    )
                ),
            }
            english_only = self.rng.random() < 0.1
            offer_rows.append(
                (
                    offer_id,
                    partner_id,
                    category_id,
                    status,
                    None if english_only else title_fr,
                    title_en,
                    None if english_only else summary_fr,
                    summary_en,
                    None if english_only else description_fr,
                    description_en,
                    city,
                    online,
                    starts,
                    ends,
                    audience,
                    method,
                    shared,
                    f"https://partner{partner_id}.{EMAIL_DOMAIN}/alumni"
                    if method == "link"
                    else None,
                    None,  # total_limit: set after the redemptions are drawn
                    per_member,
                    period,
                    ttl,
                    0,  # redeemed_count: idem
                    "" if english_only else search["fr"],
                    search["en"],
                    created,
                    published or submitted or created,
                    submitted,
                    published,
                )
            )
            self.offers.append(
                _Offer(
                    offer_id, partner_id, status, method, shared, ttl, per_member, period, window
                )
            )
            # Where it applies: the partner's country mostly, sometimes two, sometimes worldwide.
            draw = self.rng.random()
            countries: list[str] = []
            if online and draw < 0.4 or draw < 0.05:
                countries = []
            else:
                countries = [partner_country]
                if draw > 0.9:
                    extra = self.country()[0]
                    if extra != partner_country:
                        countries.append(extra)
            for code in countries:
                country_rows.append((country_id, offer_id, code))
                country_id += 1
        self.offer_rows = offer_rows
        self.offer_country_rows = country_rows

    def seed_redemptions(self) -> None:
        """Redemptions by verified alumni within each offer's dates and limits; then the
        offers themselves, with ``redeemed_count`` equal to their redemptions."""
        redeemable = [offer for offer in self.offers if offer.window is not None]
        redemptions: list[tuple] = []
        if redeemable and self.verified and self.sizes.redemptions:
            first = self.writer.next_id("redemptions")
            # Popular offers take most redemptions (Zipf-like).
            offer_pick = Picker(
                self.rng, redeemable, [1.0 / (i + 1) ** 0.8 for i in range(len(redeemable))]
            )
            used: Counter[tuple[int, int, str]] = Counter()
            verified = self.verified
            attempts = 0
            while (
                len(redemptions) < self.sizes.redemptions and attempts < self.sizes.redemptions * 3
            ):
                attempts += 1
                offer = offer_pick()
                user_id = verified[int(self.rng.random() * len(verified))]
                moment = self.moment(*offer.window)
                key = _period_key(offer.period, moment)
                slot = (offer.id, user_id, key)
                sequence = used[slot] + 1
                if sequence > offer.per_member_limit:
                    continue
                used[slot] = sequence
                offer.redeemed += 1
                code = voucher = expires = validated = None
                if offer.method == "shared_code":
                    code = offer.shared_code
                elif offer.method == "generated_codes":
                    code = "".join(self.rng.choices(CODE_ALPHABET, k=10))
                elif offer.method == "voucher":
                    # The id makes it unique across runs; the random part makes it unguessable.
                    voucher = f"{first + len(redemptions):x}-{self.rng.getrandbits(128):032x}"
                    if self.rng.random() < 0.5:
                        validated = moment + timedelta(minutes=self.rng.randint(1, 600))
                if offer.ttl:
                    expires = moment + timedelta(minutes=offer.ttl)
                redemptions.append(
                    (
                        first + len(redemptions),
                        offer.id,
                        user_id,
                        key,
                        sequence,
                        code,
                        voucher,
                        moment,
                        expires,
                        validated,
                    )
                )
        # A third of the offers that were published carry a total limit above what they gave.
        limits: dict[int, int] = {}
        for offer in self.offers:
            if offer.window is not None and self.rng.random() < 0.3:
                headroom = self.rng.choice((50, 200, 1000, 10000))
                offer.total_limit = offer.redeemed + headroom
                limits[offer.id] = offer.total_limit
        counts = {offer.id: offer.redeemed for offer in self.offers}
        limit_at = OFFER_COLUMNS.index("total_limit")
        count_at = OFFER_COLUMNS.index("redeemed_count")

        def offer_rows() -> Iterator[tuple]:
            for row in self.offer_rows:
                row = list(row)
                row[limit_at] = limits.get(row[0])
                row[count_at] = counts.get(row[0], 0)
                yield tuple(row)

        self._write("offers", OFFER_COLUMNS, offer_rows())
        self._write("offer_countries", ("id", "offer_id", "country"), self.offer_country_rows)
        self._write(
            "redemptions",
            (
                "id",
                "offer_id",
                "user_id",
                "period_key",
                "sequence",
                "code",
                "voucher_token",
                "redeemed_at",
                "expires_at",
                "validated_at",
            ),
            redemptions,
        )
        del self.offer_rows, self.offer_country_rows

    # -- jobs

    def seed_jobs(self) -> None:
        """Job postings: live ones published in the last 60 days, older ones ended."""
        self.jobs: list[tuple[int, datetime, datetime]] = []  # id, open from, open until
        if not self.partner_rows:
            return
        first_job = self.writer.next_id("jobs")
        first_language = self.writer.next_id("job_languages")
        statuses = Picker(
            self.rng,
            ["published", "closed", "expired", "archived", "draft", "submitted"],
            [55, 15, 20, 3, 4, 3],
        )
        contract = Picker(self.rng, [c for c, _w in CONTRACTS], [w for _c, w in CONTRACTS])
        remote = Picker(self.rng, ["onsite", "hybrid", "remote"], [55, 35, 10])
        partner_pick = Picker(
            self.rng,
            self.partner_rows,
            [1.0 / (i + 1) ** 0.6 for i in range(len(self.partner_rows))],
        )
        jobs, languages = [], []
        language_id = first_language
        for n in range(self.sizes.jobs):
            job_id = first_job + n
            partner_id, partner_name, partner_country, partner_city = partner_pick()
            title_fr, title_en = self.rng.choice(JOB_TITLES)
            country, city = (
                (partner_country, partner_city) if self.rng.random() < 0.7 else self.place()
            )
            status = statuses()
            kind = contract()
            published = listed_until = closed = submitted = None
            filled = None
            if status == "published":
                published = self.now - timedelta(seconds=self.rng.random() * 55 * 86400)
            elif status in ("closed", "expired", "archived"):
                published = self.moment(before=self.now - timedelta(days=61))
            if published is not None:
                listed_until = published + timedelta(days=60)
                submitted = published - timedelta(hours=self.rng.randint(2, 72))
                if status == "closed":
                    closed = self.moment(after=published, before=listed_until)
                    filled = self.rng.random() < 0.4
                self.jobs.append((job_id, published, min(closed or listed_until, self.now)))
            elif status == "submitted":
                submitted = self.now - timedelta(hours=self.rng.randint(1, 200))
            created = (submitted or self.now) - timedelta(hours=self.rng.randint(1, 96))
            salary_min = salary_max = currency = None
            if kind in ("permanent", "fixed_term", "vie") and self.rng.random() < 0.7:
                salary_min = self.rng.randrange(25_000, 70_000, 1000)
                salary_max = salary_min + self.rng.randrange(0, 30_000, 1000)
                currency = "EUR"
            description_fr = (
                f"{partner_name} recrute un·e {title_fr.lower()} à {city}. "
                "Vous rejoindrez une équipe internationale ; le français est un atout."
            )
            description_en = (
                f"{partner_name} is hiring a {title_en.lower()} in {city}. "
                "You will join an international team; French is a plus."
            )
            jobs.append(
                (
                    job_id,
                    partner_id,
                    status,
                    title_fr,
                    title_en,
                    description_fr,
                    description_en,
                    kind,
                    country,
                    city,
                    remote(),
                    salary_min,
                    salary_max,
                    currency,
                    listed_until,
                    filled,
                    closed,
                    fold(" ".join((title_fr, description_fr, city, partner_name))),
                    fold(" ".join((title_en, description_en, city, partner_name))),
                    created,
                    closed or published or created,
                    submitted,
                    published,
                )
            )
            chosen = {code for code, weight in LANGUAGES if self.rng.random() * 100 < weight}
            for code in sorted(chosen or {"fr"}):
                languages.append((language_id, job_id, code))
                language_id += 1
        self._write(
            "jobs",
            (
                "id",
                "partner_id",
                "status",
                "title_fr",
                "title_en",
                "description_fr",
                "description_en",
                "contract",
                "country",
                "city",
                "remote",
                "salary_min",
                "salary_max",
                "currency",
                "listed_until",
                "filled_through_network",
                "closed_at",
                "search_fr",
                "search_en",
                "created_at",
                "updated_at",
                "submitted_at",
                "published_at",
            ),
            jobs,
        )
        self._write("job_languages", ("id", "job_id", "language"), languages)

    def seed_applications(self) -> None:
        """Applications of verified alumni, one per member and job, at every pipeline stage."""
        if not self.jobs or not self.verified or not self.sizes.applications:
            return
        first = self.writer.next_id("applications")
        statuses = Picker(
            self.rng,
            ["submitted", "in_review", "interview", "offer", "hired", "rejected", "withdrawn"],
            [30, 20, 10, 3, 2, 30, 5],
        )
        job_pick = Picker(
            self.rng, self.jobs, [1.0 / (i + 1) ** 0.5 for i in range(len(self.jobs))]
        )
        taken: set[tuple[int, int]] = set()
        rows = []
        attempts = 0
        target = self.sizes.applications
        while len(rows) < target and attempts < target * 3:
            attempts += 1
            job_id, opened, closed = job_pick()
            user_id = self.verified[int(self.rng.random() * len(self.verified))]
            if (job_id, user_id) in taken:
                continue
            taken.add((job_id, user_id))
            submitted = self.moment(after=opened, before=closed)
            status = statuses()
            changed = self.moment(after=submitted) if status != "submitted" else submitted
            rows.append(
                (
                    first + len(rows),
                    job_id,
                    user_id,
                    status,
                    "Madame, Monsieur, votre offre correspond à mon parcours.",
                    self.rng.random() < 0.5,
                    submitted,
                    changed,
                    changed if status == "rejected" else None,
                    changed if status == "withdrawn" else None,
                )
            )
        self._write(
            "applications",
            (
                "id",
                "job_id",
                "user_id",
                "status",
                "cover_letter",
                "retention_consent",
                "submitted_at",
                "updated_at",
                "rejected_at",
                "withdrawn_at",
            ),
            rows,
        )

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
        self._write("payments", PAYMENT_COLUMNS, rows, json_columns=("subject",))
        self._write(
            "refunds",
            ("id", "payment_id", "amount", "reason", "status", "stripe_refund_id", "created_at"),
            refund_rows,
        )
        self._save_document_counters(sequences)
        self._write_fulfilments(membership_pay, plan_pay, featured_pay)

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

    def _write_fulfilments(self, memberships, plan_periods, placements) -> None:
        """What each paid payment bought: membership periods, partner plan periods, placements."""
        first = self.writer.next_id("memberships")
        self._write(
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
                (first + n, user_id, tier_id, day, _add_months(day, 12), "payment", payment_id, at)
                for n, (user_id, tier_id, day, payment_id, at) in enumerate(memberships)
            ),
        )
        first = self.writer.next_id("partner_plan_periods")
        self._write(
            "partner_plan_periods",
            ("id", "partner_id", "plan_id", "starts_on", "ends_on", "payment_id", "created_at"),
            (
                (first + n, partner_id, plan_id, day, day + timedelta(days=days), payment_id, at)
                for n, (partner_id, plan_id, day, days, payment_id, at) in enumerate(plan_periods)
            ),
        )
        first = self.writer.next_id("featured_placements")
        featured_until: dict[int, datetime] = {}
        rows = []
        for n, (offer, payment_id, at, days) in enumerate(placements):
            ends = at + timedelta(days=days)
            rows.append((first + n, offer.id, payment_id, at, ends, at))
            if ends > self.now:
                featured_until[offer.id] = max(ends, featured_until.get(offer.id, ends))
        self._write(
            "featured_placements",
            ("id", "offer_id", "payment_id", "starts_at", "ends_at", "created_at"),
            rows,
        )
        # Offers with a placement still running are listed first until it ends.
        from offers.models import Offer

        for offer_id, until in featured_until.items():
            db.session.execute(
                Offer.__table__.update().where(Offer.id == offer_id).values(featured_until=until)
            )


USER_COLUMNS = (
    "id",
    "email",
    "password_hash",
    "full_name",
    "locale",
    "created_at",
    "email_confirmed_at",
    "session_version",
)
OFFER_COLUMNS = (
    "id",
    "partner_id",
    "category_id",
    "status",
    "title_fr",
    "title_en",
    "summary_fr",
    "summary_en",
    "description_fr",
    "description_en",
    "city",
    "online",
    "starts_at",
    "ends_at",
    "audience",
    "redemption_method",
    "shared_code",
    "link_url",
    "total_limit",
    "per_member_limit",
    "limit_period",
    "reveal_ttl_minutes",
    "redeemed_count",
    "search_fr",
    "search_en",
    "created_at",
    "updated_at",
    "submitted_at",
    "published_at",
)
PAYMENT_COLUMNS = (
    "id",
    "kind",
    "status",
    "amount",
    "currency",
    "payer_id",
    "payer_name",
    "payer_email",
    "partner_id",
    "subject",
    "description",
    "off_session",
    "stripe_customer_id",
    "stripe_payment_intent_id",
    "stripe_charge_id",
    "stripe_fee",
    "refunded_amount",
    "failure_message",
    "disputed_at",
    "succeeded_at",
    "fulfilled_at",
    "document_number",
    "created_at",
    "updated_at",
)
# Tables whose ids this command chose: their sequences must move past the new rows.
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
