"""The lean redemption (issue 17): its SQL statements counted with real commits, and its body
the same as ``RedemptionSchema`` dumps from the stored row.

The usual harness runs each test in one rolled-back transaction (savepoints for commits, no
expiry on commit), which would hide both the transaction boundaries and a reload after the
commit. Here the app runs on a database of its own with real commits, like production.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event, func, select
from sqlalchemy.engine.default import CACHE_HIT

from marketplace import create_app
from marketplace.accounts.models import AlumniProfile, User, VerificationStatus
from marketplace.accounts.services import issue_api_token
from marketplace.catalog.models import School
from marketplace.database import utcnow
from marketplace.extensions import db, limiter
from marketplace.security import hash_password
from offers.models import Offer, OfferCode, OfferDailyStat, OfferStatus, Redemption
from offers.schemas import RedemptionSchema
from partners.models import Partner, PartnerStatus
from tests import conftest

EN = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """Real commits here (see the module's docstring)."""


@pytest.fixture(scope="module")
def lean_app(
    make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    application = create_app(
        conftest.test_config(make_database(), Path(tmp_path_factory.mktemp("lean-redemption")))
    )
    with application.app_context():
        upgrade()
        school = School(name="Lycée Molière", city="Rio", country="BR")
        partner = Partner(
            name="Lean Ltd",
            slug=f"lean-{uuid.uuid4().hex[:6]}",
            country="FR",
            contact_name="Lea",
            contact_email="lea@example.org",
            status=PartnerStatus.APPROVED,
        )
        db.session.add_all([school, partner])
        db.session.commit()
    limiter.enabled = False
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def _member(app: Flask) -> tuple[int, dict[str, str]]:
    with app.app_context():
        user = User(
            email=f"lean-{uuid.uuid4().hex[:8]}@example.org",
            password_hash=hash_password("irrelevant-password"),
            full_name="Léa Lean",
            locale="en",
            email_confirmed_at=utcnow(),
        )
        db.session.add(user)
        db.session.flush()
        school_id = db.session.scalar(select(School.id))
        db.session.add(
            AlumniProfile(
                user_id=user.id,
                school_id=school_id,
                country="BR",
                status=VerificationStatus.VERIFIED,
            )
        )
        token, _row = issue_api_token(user)
        db.session.commit()
        return user.id, {"Authorization": f"Bearer {token}", **EN}


def _offer(app: Flask, **values: Any) -> int:
    codes = values.pop("codes", ())
    with app.app_context():
        offer = Offer(
            partner_id=db.session.scalar(select(Partner.id)),
            status=OfferStatus.PUBLISHED,
            title_fr="Offre maigre",
            title_en="Lean offer",
            published_at=utcnow(),
            **values,
        )
        db.session.add(offer)
        db.session.flush()
        db.session.add_all(OfferCode(offer_id=offer.id, code=code) for code in codes)
        db.session.commit()
        return offer.id


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Every statement sent, with the transactions' BEGIN and COMMIT / ROLLBACK."""
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE: the begin event
            sent.append(" ".join(statement.split()))

    listeners = {
        "before_cursor_execute": on_execute,
        "begin": lambda conn: sent.append("BEGIN"),
        "commit": lambda conn: sent.append("COMMIT"),
        "rollback": lambda conn: sent.append("ROLLBACK"),
    }
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        yield sent
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)


def _kinds(sent: list[str]) -> list[str]:
    return [re.match(r"\w+", statement).group().upper() for statement in sent]


def test_a_shared_code_redemption_is_one_transaction_of_few_statements(lean_app):
    offer_id = _offer(lean_app, shared_code="LEAN10", total_limit=50)
    user_id, headers = _member(lean_app)
    client = lean_app.test_client()
    with statements(lean_app) as sent:
        response = client.post(f"/api/v1/offers/{offer_id}/redemptions", headers=headers)
    assert response.status_code == 201, response.get_json()
    kinds = _kinds(sent)
    # One transaction: BEGIN, the caller (token, user, roles, profile, membership, team),
    # the conditional UPDATE … RETURNING, the INSERT … SELECT, the day's upsert, COMMIT (and
    # on PostgreSQL the lock timeout). Nothing is read back after the commit.
    expected = ["BEGIN", "SELECT", "UPDATE", "INSERT", "INSERT", "COMMIT"]
    if conftest.BACKEND == "postgresql":
        expected.insert(2, "SET")
    assert kinds == expected, "\n".join(sent)
    assert kinds.count("BEGIN") == 1
    # The redemption's own statements, BEGIN and COMMIT included, the caller's SELECT apart.
    assert len(sent) - 1 <= 6
    with lean_app.app_context():
        assert db.session.get(Offer, offer_id).redeemed_count == 1
        stat = db.session.scalar(select(OfferDailyStat).where(OfferDailyStat.offer_id == offer_id))
        assert stat.redemptions == 1
        assert (
            db.session.scalar(
                select(func.count(Redemption.id)).where(Redemption.user_id == user_id)
            )
            == 1
        )


def test_a_script_with_a_known_token_redeems_without_reading_its_caller(lean_app):
    """With the cached reader (production's default), a token already seen costs no query:
    the redemption is its own three statements (and PostgreSQL's lock timeout)."""
    lean_app.config["READER_CACHE_ENABLED"] = True
    try:
        offers = [_offer(lean_app, shared_code=f"WARM{index}") for index in range(2)]
        _user_id, headers = _member(lean_app)
        client = lean_app.test_client()
        assert (
            client.post(f"/api/v1/offers/{offers[0]}/redemptions", headers=headers).status_code
            == 201
        )
        with statements(lean_app) as sent:
            response = client.post(f"/api/v1/offers/{offers[1]}/redemptions", headers=headers)
        assert response.status_code == 201, response.get_json()
        expected = ["BEGIN", "UPDATE", "INSERT", "INSERT", "COMMIT"]
        if conftest.BACKEND == "postgresql":
            expected.insert(1, "SET")
        assert _kinds(sent) == expected, "\n".join(sent)
    finally:
        lean_app.config["READER_CACHE_ENABLED"] = False


def test_a_second_redemption_of_the_day_updates_the_same_statistics_row(lean_app):
    offer_id = _offer(lean_app, shared_code="TWICE", per_member_limit=1)
    client = lean_app.test_client()
    for _ in range(2):
        _user_id, headers = _member(lean_app)
        assert (
            client.post(f"/api/v1/offers/{offer_id}/redemptions", headers=headers).status_code
            == 201
        )
    with lean_app.app_context():
        rows = db.session.scalars(
            select(OfferDailyStat).where(OfferDailyStat.offer_id == offer_id)
        ).all()
        assert [row.redemptions for row in rows] == [2]


@pytest.mark.parametrize(
    "values",
    [
        {"redemption_method": "shared_code", "shared_code": "SAME"},
        {"redemption_method": "generated_codes", "reveal_ttl_minutes": 30},
        {"redemption_method": "unique_codes", "codes": ["U-1", "U-2"]},
        {"redemption_method": "voucher", "reveal_ttl_minutes": 60},
        {"redemption_method": "link", "link_url": "https://shop.example/lean"},
    ],
    ids=lambda values: values["redemption_method"],
)
def test_the_body_is_what_the_schema_dumps_from_the_stored_row(lean_app, values):
    offer_id = _offer(lean_app, **values)
    _user_id, headers = _member(lean_app)
    response = lean_app.test_client().post(
        f"/api/v1/offers/{offer_id}/redemptions", headers=headers
    )
    assert response.status_code == 201
    body = response.get_json()
    with lean_app.test_request_context(headers=EN), lean_app.app_context():
        stored = db.session.get(Redemption, body["id"])
        assert body == RedemptionSchema().dump(stored)
    assert body["offer_title"] == "Lean offer"


def test_limits_hold_and_a_refusal_gives_the_counter_back(lean_app):
    offer_id = _offer(lean_app, shared_code="ONCE", total_limit=2, per_member_limit=1)
    client = lean_app.test_client()
    _user_id, headers = _member(lean_app)
    url = f"/api/v1/offers/{offer_id}/redemptions"
    assert client.post(url, headers=headers).status_code == 201
    again = client.post(url, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["errors"]["reason"] == "limit_reached"
    _other, other_headers = _member(lean_app)
    assert client.post(url, headers=other_headers).status_code == 201
    _third, third_headers = _member(lean_app)
    sold_out = client.post(url, headers=third_headers)
    assert sold_out.status_code == 409
    assert sold_out.get_json()["errors"]["reason"] == "sold_out"
    with lean_app.app_context():
        offer = db.session.get(Offer, offer_id)
        rows = db.session.scalar(
            select(func.count(Redemption.id)).where(Redemption.offer_id == offer_id)
        )
        assert offer.redeemed_count == rows == 2


def test_no_statement_of_a_redemption_is_compiled_again(lean_app):
    """Each statement comes from SQLAlchemy's compiled cache from the second redemption on:
    one compiled per request (an ``ON CONFLICT`` upsert has no cache key) costs CPU for
    nothing."""
    offer_id = _offer(lean_app, shared_code="CACHED", per_member_limit=1)
    client = lean_app.test_client()
    url = f"/api/v1/offers/{offer_id}/redemptions"
    assert client.post(url, headers=_member(lean_app)[1]).status_code == 201
    _user_id, headers = _member(lean_app)
    with lean_app.app_context():
        engine = db.engine
    compiled: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if context.compiled is not None and context.cache_hit is not CACHE_HIT:
            compiled.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        assert client.post(url, headers=headers).status_code == 201
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert compiled == []
