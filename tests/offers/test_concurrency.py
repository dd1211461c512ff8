"""Redemption under real concurrency: a gunicorn server, parallel HTTP calls, real commits.

The usual harness runs each test inside one rolled-back transaction on one connection, which
hides every race. Here the app runs under gunicorn (2 processes x 8 threads) on a database
of its own, migrated by ``flask db upgrade``; the tests seed it through a separate SQLAlchemy
engine, fire requests from a thread pool with bearer tokens, then read the database back.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import AlumniProfile, ApiToken, User, VerificationStatus
from marketplace.catalog.models import School
from marketplace.database import utcnow
from marketplace.security import new_token
from offers.models import (
    LimitPeriod,
    Offer,
    OfferCode,
    OfferStatus,
    Redemption,
    RedemptionMethod,
)
from partners.models import Partner, PartnerStatus
from tests.live_server import Server, serve

REQUEST_TIMEOUT = 60.0


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """The rolled-back transaction of tests/conftest.py would hide the races: not here."""


@pytest.fixture(scope="module")
def server(
    make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The app under gunicorn with threads, on a fresh migrated database."""
    with serve(
        make_database,
        tmp_path_factory.mktemp("concurrency"),
        workers=2,
        threads=8,
        SECRET_KEY="concurrency-secret-key-not-for-production-0123456789",
        RATELIMIT_ENABLED="false",
    ) as running:
        yield running


def seed_offer(server: Server, *, codes: int = 0, **fields) -> int:
    """A published offer of a fresh approved partner; ``codes`` unique codes in its pool."""
    suffix = uuid.uuid4().hex[:8]
    with Session(server.engine) as session:
        partner = Partner(
            name=f"Partner {suffix}",
            slug=f"partner-{suffix}",
            country="FR",
            contact_name="Olivia Owner",
            contact_email=f"contact-{suffix}@example.com",
            status=PartnerStatus.APPROVED,
        )
        session.add(partner)
        session.flush()
        offer = Offer(
            partner_id=partner.id,
            status=OfferStatus.PUBLISHED,
            title_en="Concurrent offer",
            published_at=utcnow(),
            **fields,
        )
        session.add(offer)
        session.flush()
        session.add_all(OfferCode(offer_id=offer.id, code=f"CODE-{i:04d}") for i in range(codes))
        session.commit()
        return offer.id


def seed_members(server: Server, count: int) -> list[str]:
    """``count`` verified alumni, each with an API token; their tokens."""
    tokens = []
    with Session(server.engine) as session:
        school = School(name=f"Lycée {uuid.uuid4().hex[:8]}", city="Lisbonne", country="PT")
        session.add(school)
        session.flush()
        for _ in range(count):
            user = User(
                email=f"member-{uuid.uuid4().hex[:10]}@example.org",
                password_hash="not-used",
                full_name="Camille Martin",
                email_confirmed_at=utcnow(),
            )
            session.add(user)
            session.flush()
            session.add(
                AlumniProfile(
                    user_id=user.id,
                    school_id=school.id,
                    graduation_year=2015,
                    country="PT",
                    status=VerificationStatus.VERIFIED,
                )
            )
            token, digest = new_token()
            session.add(
                ApiToken(
                    user_id=user.id, token_hash=digest, expires_at=utcnow() + timedelta(days=1)
                )
            )
            tokens.append(token)
        session.commit()
    return tokens


def fire(server: Server, offer_id: int, tokens: list[str]) -> list[requests.Response]:
    """POST one redemption per token, all at once."""
    url = f"{server.url}/api/v1/offers/{offer_id}/redemptions"

    def call(token: str) -> requests.Response:
        return requests.post(
            url, headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT
        )

    with ThreadPoolExecutor(max_workers=40) as pool:
        return list(pool.map(call, tokens))


def outcome(responses: list[requests.Response]) -> Counter:
    """``{201: n, "sold_out": n, "limit_reached": n, ...}``."""
    counted: Counter = Counter()
    for response in responses:
        if response.status_code == 201:
            counted[201] += 1
        elif response.status_code == 409:
            counted[response.json()["errors"]["reason"]] += 1
        else:
            counted[response.status_code] += 1
    return counted


def test_200_members_for_100_unique_codes(server: Server):
    offer_id = seed_offer(server, codes=100, redemption_method=RedemptionMethod.UNIQUE_CODES)
    responses = fire(server, offer_id, seed_members(server, 200))
    assert [r.status_code for r in responses if r.status_code >= 500] == [], server.log.read_text()[
        -3000:
    ]
    assert outcome(responses) == {201: 100, "sold_out": 100}
    given = [r.json()["code"] for r in responses if r.status_code == 201]
    assert len(set(given)) == 100
    with Session(server.engine) as session:
        assert session.get(Offer, offer_id).redeemed_count == 100
        rows = session.execute(
            select(Redemption.id, Redemption.code).where(Redemption.offer_id == offer_id)
        ).all()
        assert len(rows) == 100
        assert len({code for _id, code in rows}) == 100
        # Each code is tied to exactly the redemption that shows it.
        linked = session.execute(
            select(OfferCode.code, OfferCode.redemption_id).where(
                OfferCode.offer_id == offer_id, OfferCode.redemption_id.is_not(None)
            )
        ).all()
        assert sorted((rid, code) for code, rid in linked) == sorted(tuple(row) for row in rows)


def test_one_member_20_attempts_on_a_once_per_member_offer(server: Server):
    offer_id = seed_offer(
        server,
        redemption_method=RedemptionMethod.GENERATED_CODES,
        per_member_limit=1,
        limit_period=LimitPeriod.EVER,
    )
    token = seed_members(server, 1)[0]
    responses = fire(server, offer_id, [token] * 20)
    assert outcome(responses) == {201: 1, "limit_reached": 19}
    with Session(server.engine) as session:
        assert session.get(Offer, offer_id).redeemed_count == 1
        assert (
            session.scalar(select(func.count(Redemption.id)).where(Redemption.offer_id == offer_id))
            == 1
        )


def test_total_limit_of_15_with_40_members(server: Server):
    offer_id = seed_offer(server, redemption_method=RedemptionMethod.VOUCHER, total_limit=15)
    responses = fire(server, offer_id, seed_members(server, 40))
    assert outcome(responses) == {201: 15, "sold_out": 25}
    tokens = {r.json()["voucher_url"] for r in responses if r.status_code == 201}
    assert len(tokens) == 15
    with Session(server.engine) as session:
        assert session.get(Offer, offer_id).redeemed_count == 15
        assert (
            session.scalar(select(func.count(Redemption.id)).where(Redemption.offer_id == offer_id))
            == 15
        )
