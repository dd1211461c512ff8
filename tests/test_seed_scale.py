"""``flask seed scale``: bulk benchmark data that respects every constraint (issue 8).

Two levels: the command itself, run as a real process on a database of its own (COPY on
PostgreSQL, executemany on SQLite, commit and ANALYZE included); and the loader inside the
test's transaction, followed by the pages people use, on the seeded rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from jobs.models import Job
from marketplace.accounts.models import AlumniProfile, User, VerificationStatus
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.payments.documents import DOCUMENT_STATUSES
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, Refund
from marketplace.security import verify_password
from marketplace.seed_scale import SCALE_PASSWORD, ScaleSizes, seed_scale
from offers.models import Offer, OfferStatus, Redemption
from partners.models import PartnerMember, TeamRole

ROOT = Path(__file__).resolve().parent.parent
TINY = ScaleSizes(
    alumni=120,
    partners=8,
    offers=40,
    jobs=12,
    redemptions=400,
    applications=60,
    payments=150,
)
TINY_OPTIONS = [f"--{name}={value}" for name, value in vars(TINY).items()]


def _flask(database_url: str, *command: str, env: dict[str, str] | None = None):
    environment = {**os.environ, "DATABASE_URL": database_url, "MAIL_SERVER": "", **(env or {})}
    environment.pop("APP_ENV", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *command],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


# ---------------------------------------------------------------- the command, for real


@pytest.fixture(scope="module")
def seeded_database(make_database: Callable[[], str]) -> str:
    """A database of its own, migrated and seeded twice by the command (ids must not collide)."""
    url = make_database()
    upgrade = _flask(url, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    for _run in range(2):
        result = _flask(url, "seed", "scale", "--quiet", *TINY_OPTIONS)
        assert result.returncode == 0, result.stdout + result.stderr
        assert SCALE_PASSWORD in result.stdout
    return url


def _scalar(url: str, sql: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def test_command_loads_the_asked_sizes_twice_without_collisions(seeded_database: str) -> None:
    url = seeded_database
    assert _scalar(url, "SELECT count(*) FROM alumni_profiles") == 2 * TINY.alumni
    assert _scalar(url, "SELECT count(*) FROM partners") == 2 * TINY.partners
    assert _scalar(url, "SELECT count(*) FROM users") == 2 * (TINY.alumni + TINY.partners)
    assert _scalar(url, "SELECT count(*) FROM offers") == 2 * TINY.offers
    assert _scalar(url, "SELECT count(*) FROM jobs") == 2 * TINY.jobs
    assert _scalar(url, "SELECT count(*) FROM payments") == 2 * TINY.payments
    # Draws that would break a per-member limit are skipped, so "up to".
    assert 0 < _scalar(url, "SELECT count(*) FROM redemptions") <= 2 * TINY.redemptions
    assert 0 < _scalar(url, "SELECT count(*) FROM applications") <= 2 * TINY.applications


def test_command_keeps_counters_limits_and_numbers_consistent(seeded_database: str) -> None:
    url = seeded_database
    drift = (
        "SELECT count(*) FROM offers o LEFT JOIN (SELECT offer_id, count(*) AS n "
        "FROM redemptions GROUP BY offer_id) r ON r.offer_id = o.id "
        "WHERE o.redeemed_count <> coalesce(r.n, 0)"
    )
    assert _scalar(url, drift) == 0
    over = (
        "SELECT count(*) FROM offers WHERE total_limit IS NOT NULL AND redeemed_count > total_limit"
    )
    assert _scalar(url, over) == 0
    per_member = (
        "SELECT count(*) FROM (SELECT offer_id, user_id, period_key, count(*) AS n "
        "FROM redemptions GROUP BY 1, 2, 3) x JOIN offers o ON o.id = x.offer_id "
        "WHERE x.n > o.per_member_limit"
    )
    assert _scalar(url, per_member) == 0
    # Gap-free document numbers: each series' numbers of a year run 1..counter.
    gaps = (
        "SELECT count(*) FROM document_series_counters c WHERE c.last_sequence <> "
        "(SELECT count(*) FROM payments p WHERE p.document_number LIKE "
        "c.series || '-' || CAST(c.year AS TEXT) || '-%')"
    )
    assert _scalar(url, gaps) == 0
    # New rows get ids after the seeded ones (sequences moved on PostgreSQL).
    if url.startswith("postgresql"):
        for table in ("users", "offers", "redemptions", "payments"):
            after = f"SELECT nextval('{table}_id_seq') > (SELECT max(id) FROM {table})"
            assert _scalar(url, f"SELECT ({after})::int") == 1


def test_command_fills_the_search_text(seeded_database: str) -> None:
    url = seeded_database
    assert _scalar(url, "SELECT count(*) FROM offers WHERE search_en = ''") == 0
    assert _scalar(url, "SELECT count(*) FROM offers WHERE search_en <> lower(search_en)") == 0
    if url.startswith("postgresql"):
        matched = (
            "SELECT count(*) FROM offers "
            "WHERE search_vector @@ plainto_tsquery('english', 'discount')"
        )
        assert _scalar(url, matched) > 0
    else:
        matched = "SELECT count(*) FROM offers_fts WHERE offers_fts MATCH '\"discount\"'"
        assert _scalar(url, matched) > 0


def test_command_is_refused_in_production(make_database: Callable[[], str]) -> None:
    result = _flask(
        make_database(),
        "seed",
        "scale",
        "--alumni=1",
        env={
            "APP_ENV": "production",
            "SECRET_KEY": "a-production-secret-key-of-enough-length-0123456789",
            "PREFERRED_URL_SCHEME": "https",
            "SITE_URL": "https://alumni.example.org",
        },
    )
    assert result.returncode != 0
    assert "refused in production" in result.stderr


# ---------------------------------------------------------------- the loader, in the test


@pytest.fixture
def seeded(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = seed_scale(TINY, seed=7)
        # Like a command: committed (to a savepoint of the test's transaction), so leaving
        # the app context, which removes the session, keeps the rows.
        db.session.commit()
    return counts


def test_loader_rows_follow_the_domain_rules(app: Flask, seeded: dict[str, int]) -> None:
    with app.app_context():
        rows = db.session.execute(select(Offer.status, func.count()).group_by(Offer.status))
        statuses = {status: count for status, count in rows}
        assert statuses.get(OfferStatus.PUBLISHED, 0) > sum(statuses.values()) / 2, statuses
        # Only verified alumni redeem, within the offer's dates.
        unverified = db.session.scalar(
            select(func.count(Redemption.id))
            .join(AlumniProfile, AlumniProfile.user_id == Redemption.user_id)
            .where(AlumniProfile.status != VerificationStatus.VERIFIED)
        )
        assert unverified == 0
        early = db.session.scalar(
            select(func.count(Redemption.id))
            .join(Offer, Offer.id == Redemption.offer_id)
            .where(Redemption.redeemed_at < Offer.published_at)
        )
        assert early == 0
        # The three kinds of payment, fees on paid ones, refunds that add up.
        kinds = set(db.session.scalars(select(Payment.kind).distinct()))
        assert kinds == set(PaymentKind)
        unpaid_fee = db.session.scalar(
            select(func.count(Payment.id)).where(
                Payment.status.in_(sorted(DOCUMENT_STATUSES)), Payment.stripe_fee.is_(None)
            )
        )
        assert unpaid_fee == 0
        for payment in db.session.scalars(
            select(Payment).where(
                Payment.status.in_([PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED])
            )
        ):
            refunded = sum(refund.amount for refund in payment.refunds)
            assert refunded == payment.refunded_amount
        assert db.session.scalar(select(func.count(Refund.id))) >= 0
        # Membership payments that went through bought a membership.
        paid = db.session.scalar(
            select(func.count(Payment.id)).where(
                Payment.kind == PaymentKind.MEMBERSHIP, Payment.status == PaymentStatus.SUCCEEDED
            )
        )
        assert db.session.scalar(select(func.count(Membership.id))) >= paid
        # Every seeded account signs in with the documented password.
        user = db.session.scalar(select(User).where(User.email.like("alumnus%")).limit(1))
        assert verify_password(user.password_hash, SCALE_PASSWORD)


def _published_offer(app: Flask) -> Offer:
    with app.app_context():
        return db.session.scalar(
            select(Offer)
            .where(Offer.status == OfferStatus.PUBLISHED, Offer.starts_at.is_(None))
            .order_by(Offer.redeemed_count.desc())
            .limit(1)
        )


def test_pages_work_on_seeded_data(
    app: Flask, client: FlaskClient, seeded: dict[str, int], login, create_user
) -> None:
    offer = _published_offer(app)
    for path in (
        "/offers/",
        "/offers/?q=off&country=FR",
        "/offers/?category=travel&sort=popular",
        f"/offers/{offer.id}",
        "/jobs/",
        "/jobs/?q=developer",
        "/api/v1/offers?q=off",
    ):
        response = client.get(path)
        assert response.status_code == 200, path

    with app.app_context():
        alumnus = db.session.scalar(
            select(User)
            .join(AlumniProfile, AlumniProfile.user_id == User.id)
            .where(AlumniProfile.status == VerificationStatus.VERIFIED)
            .limit(1)
        )
        owner_link = db.session.execute(
            select(PartnerMember.user_id, Job.id)
            .join(Job, Job.partner_id == PartnerMember.partner_id)
            .where(PartnerMember.role == TeamRole.OWNER)
            .limit(1)
        ).first()
        owner = db.session.get(User, owner_link[0])
    member = login(app.test_client(), alumnus)
    assert member.get("/offers/?q=off").status_code == 200
    partner = login(app.test_client(), owner)
    assert partner.get(f"/jobs/manage/pipeline/{owner_link[1]}").status_code == 200

    treasurer = login(app.test_client(), create_user(roles=("treasurer",)))
    year = date.today().year
    assert treasurer.get(f"/treasury/?start={year}-01-01&end={year}-12-31").status_code == 200
    assert treasurer.get("/treasury/payments").status_code == 200
