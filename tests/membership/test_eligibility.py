"""Tiers with an eligibility rule on the leaving year: the young-graduate tier is for the young.

A tier may say "left school at most N years ago"; the membership page offers it only to those
who qualify, and the checkout (page and API) refuses it to others.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select, update

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import MembershipTier
from marketplace.payments.models import Payment
from tests.conftest import PASSWORD

EN = {"Accept-Language": "en"}


@pytest.fixture
def young_tier_rule(app, seed_reference: None) -> int:
    """The seeded ``young`` tier: for those who left school at most 5 years ago."""
    with app.app_context():
        db.session.execute(
            update(MembershipTier)
            .where(MembershipTier.code == "young")
            .values(max_years_since_leaving=5)
        )
        db.session.commit()
    return 5


def _payments(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Payment))


def _bearer(client, email: str) -> dict[str, str]:
    response = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.get_json()['token']}", **EN}


def test_an_old_graduate_cannot_buy_the_young_tier(
    app, client, create_user: Callable[..., User], login, young_tier_rule
):
    year = utcnow().year
    create_user(
        "old@example.org", alumni=True, status="verified", graduation_year=year - 20, locale="en"
    )
    headers = _bearer(client, "old@example.org")
    response = client.post(
        "/api/v1/me/membership/checkout", json={"tier": "young"}, headers=headers
    )
    assert response.status_code == 403
    assert response.get_json()["errors"]["reason"] == "tier_not_eligible"
    assert _payments(app) == 0
    # The page neither offers it nor lets the form through.
    browser = login(app.test_client(), db_user(app, "old@example.org"))
    page = browser.get("/membership/", headers=EN).get_data(as_text=True)
    assert 'action="/membership/checkout/young"' not in page
    assert 'action="/membership/checkout/standard"' in page
    refused = browser.post("/membership/checkout/young", headers=EN, follow_redirects=True)
    assert "This membership tier is not open to you" in refused.get_data(as_text=True)
    assert _payments(app) == 0


def test_a_recent_graduate_is_offered_the_young_tier(
    app, create_user: Callable[..., User], login, young_tier_rule
):
    year = utcnow().year
    create_user("new@example.org", alumni=True, status="verified", graduation_year=year - 5)
    browser = login(app.test_client(), db_user(app, "new@example.org"))
    page = browser.get("/membership/", headers=EN).get_data(as_text=True)
    assert 'action="/membership/checkout/young"' in page


def db_user(app, email: str) -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))
