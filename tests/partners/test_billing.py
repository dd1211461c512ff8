"""The partner billing page and what partners' payments show to the public: the page's content
and constant query count, featured offers listed first with their badge, and the "Official
partner" badge while a partnership runs (no query per offer)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from types import SimpleNamespace

import pytest

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.payments.document_models import Document, DocumentKind
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from offers.models import FeaturedPlacement, Offer
from partners import billing
from partners.models import PartnerPlan, PartnerPlanPeriod, PlanKind
from tests.offers import conftest as offer_fixtures
from tests.partners.conftest import Team

create_offer = offer_fixtures.create_offer

EN = {"Accept-Language": "en"}


@pytest.fixture
def count_selects(count_queries):
    """``with count_selects() as seen:`` lists the SELECT statements sent meanwhile."""
    return partial(count_queries, selects_only=True)


@pytest.fixture
def team(create_partner: Callable[..., Team]) -> Team:
    return create_partner("Librairie Billing")


@pytest.fixture
def offer_of(create_offer) -> Callable[..., int]:
    def make(team: Team, name: str = "Shop", **values) -> int:
        return create_offer(SimpleNamespace(id=team.partner_id, name=name), **values).id

    return make


def add_history(app, team: Team, offer_ids: list[int], rows: int) -> None:
    """``rows`` paid payments of each kind, periods and placements (what fulfilment writes)."""
    now = utcnow()
    today = now.date()
    with app.app_context():
        plan = PartnerPlan(
            code=f"annual-{rows}",
            kind=PlanKind.PARTNERSHIP,
            name_fr="Partenariat",
            name_en="Partnership",
            amount=120000,
            currency="eur",
            days=365,
        )
        db.session.add(plan)
        db.session.flush()
        for index in range(rows):
            for kind, subject in (
                (PaymentKind.PARTNER_PLAN, {"plan": plan.code, "days": 365}),
                (
                    PaymentKind.FEATURED,
                    {"plan": "f7", "offer_id": offer_ids[index % len(offer_ids)], "days": 7},
                ),
            ):
                payment = Payment(
                    kind=kind,
                    status=PaymentStatus.SUCCEEDED,
                    amount=1000,
                    currency="eur",
                    payer_id=team.owner.id,
                    payer_name="Owner",
                    partner_id=team.partner_id,
                    subject=subject,
                    description="test",
                )
                db.session.add(payment)
                db.session.flush()
                # Its invoice (a row without bytes: the page lists documents, never renders).
                sequence = team.partner_id * 1000 + index * 2 + len(subject)
                payment.document_number = f"F-2026-{sequence:06d}"
                db.session.add(
                    Document(
                        kind=DocumentKind.INVOICE,
                        series="F",
                        year=2026,
                        sequence=sequence,
                        number=payment.document_number,
                        payment_id=payment.id,
                        currency="EUR",
                        total=payment.amount,
                        counterparty="Owner",
                    )
                )
                if kind == PaymentKind.PARTNER_PLAN:
                    start = today + timedelta(days=365 * index)
                    db.session.add(
                        PartnerPlanPeriod(
                            partner_id=team.partner_id,
                            plan_id=plan.id,
                            starts_on=start,
                            ends_on=start + timedelta(days=365),
                            payment_id=payment.id,
                        )
                    )
                else:
                    start = now + timedelta(days=7 * index)
                    offer = db.session.get(Offer, subject["offer_id"])
                    db.session.add(
                        FeaturedPlacement(
                            offer_id=offer.id,
                            payment_id=payment.id,
                            starts_at=start,
                            ends_at=start + timedelta(days=7),
                        )
                    )
                    offer.featured_until = start + timedelta(days=7)
        db.session.commit()


def test_an_empty_billing_page(client, login, team):
    login(client, team.owner)
    page = client.get("/partners/billing/", headers=EN)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for empty in ('id="no-payments"', 'id="no-published-offers"', 'id="no-partnership-plans"'):
        assert empty in text
    assert 'data-active="0"' in text
    assert 'id="portal-billing"' in client.get("/partners/dashboard").get_data(as_text=True)


def test_the_billing_page_shows_everything_with_a_constant_number_of_queries(
    app, client, login, create_partner, offer_of, count_selects
):
    small, large = create_partner("Small"), create_partner("Large")
    add_history(app, small, [offer_of(small)], 1)
    large_offers = [offer_of(large, title_fr=f"Offre {n}") for n in range(6)]
    add_history(app, large, large_offers, 12)
    counts = []
    for team in (small, large):
        member = login(app.test_client(), team.owner)
        with count_selects() as seen:
            response = member.get("/partners/billing/", headers=EN)
        assert response.status_code == 200
        counts.append(len(seen))
        text = response.get_data(as_text=True)
        assert text.count('class="invoice-link"') == (2 if team is small else 24)
        assert text.count('id="placement-') == (1 if team is small else 12)
        assert 'data-active="1"' in text
    assert counts[0] == counts[1], counts
    # 18 before, plus the payments' documents and the billing identity, and the association's
    # SIREN (whether the legacy numbers not frozen yet will have a Factur-X XML).
    assert counts[1] <= 21, "\n".join(s[:120] for s in seen)


def test_partnership_end_follows_the_chain_of_periods(app, team):
    today = date(2026, 3, 1)
    with app.app_context():
        for start, end in (
            (date(2026, 1, 1), date(2026, 4, 1)),
            (date(2026, 4, 1), date(2026, 6, 1)),
            (date(2026, 9, 1), date(2026, 10, 1)),  # not contiguous: not counted
        ):
            db.session.add(
                PartnerPlanPeriod(partner_id=team.partner_id, starts_on=start, ends_on=end)
            )
        db.session.flush()
        assert billing.partnership_end(team.partner_id, today=today) == date(2026, 6, 1)
        assert billing.partnership_last_day(team.partner_id, today=today) == date(2026, 5, 31)
        assert billing.partnership_end(team.partner_id, today=date(2026, 7, 1)) is None
        assert team.partner_id in billing.official_partner_ids(today=today)
        assert team.partner_id not in billing.official_partner_ids(today=date(2026, 8, 1))
        db.session.rollback()


def _cards(text: str) -> list[tuple[int, str]]:
    """(offer id, card html) in page order."""
    cards = []
    for chunk in text.split('<article class="offer-card"')[1:]:
        offer_id = int(chunk.split('data-offer-id="')[1].split('"')[0])
        cards.append((offer_id, chunk.split("</article>")[0]))
    return cards


def test_featured_offers_come_first_with_badges_and_constant_queries(
    app, client, create_partner, offer_of, count_selects
):
    now = utcnow()
    plain = create_partner("Plain")
    official = create_partner("Official")
    old = offer_of(plain, "Plain", published_at=now - timedelta(days=10))
    newest = offer_of(plain, "Plain", published_at=now - timedelta(days=1))
    expired_feature = offer_of(plain, "Plain", published_at=now - timedelta(days=2))
    featured = offer_of(official, "Official", published_at=now - timedelta(days=30))
    with app.app_context():
        db.session.get(Offer, featured).featured_until = now + timedelta(days=3)
        db.session.get(Offer, expired_feature).featured_until = now - timedelta(minutes=1)
        db.session.add(
            PartnerPlanPeriod(
                partner_id=official.partner_id,
                starts_on=now.date(),
                ends_on=now.date() + timedelta(days=365),
            )
        )
        db.session.commit()
    client.get("/offers/?sort=ending", headers=EN)  # the categories, cached apart, are warm
    with count_selects() as few:
        text = client.get("/offers/", headers=EN).get_data(as_text=True)
    cards = _cards(text)
    assert [offer_id for offer_id, _html in cards] == [featured, newest, expired_feature, old]
    html = dict(cards)
    assert "data-featured" in html[featured]
    assert "data-official-partner" in html[featured]
    for offer_id in (newest, expired_feature, old):
        assert "data-featured" not in html[offer_id]
        assert "data-official-partner" not in html[offer_id]
    # Relevance and other sorts keep the featured offer first as well.
    for sort in ("ending", "popular", "newest"):
        cards = _cards(client.get(f"/offers/?sort={sort}").get_data(as_text=True))
        assert cards[0][0] == featured, sort
    # More offers (of both partners) → the same number of queries.
    for index in range(8):
        offer_of(official if index % 2 else plain, "More", published_at=now - timedelta(days=20))
    with count_selects() as many:
        text = client.get("/offers/", headers=EN).get_data(as_text=True)
    assert len(_cards(text)) == 12
    assert text.count("data-official-partner") == 5
    assert len(few) == len(many), (len(few), len(many))
