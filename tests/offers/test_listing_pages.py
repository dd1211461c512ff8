"""Listing pages at any size: featured offers first across page boundaries, a capped count,
and the same queries whatever the catalogue holds (issue 8: search cost must not grow)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from marketplace.cache import cache, table_versions
from marketplace.database import utcnow
from marketplace.extensions import db
from offers import search
from offers.models import Offer
from tests.conftest import counting_queries
from tests.offers.test_browse import offer_ids


def _catalogue(app, create_partner, create_offer, *, featured: int, regular: int):
    partner = create_partner()
    now = utcnow()
    ids = {"featured": [], "regular": []}
    for index in range(featured + regular):
        offer = create_offer(partner, published_at=now - timedelta(hours=index + 1))
        kind = "featured" if index < featured else "regular"
        if kind == "featured":
            with app.app_context():
                db.session.get(Offer, offer.id).featured_until = now + timedelta(days=index + 1)
                db.session.commit()
        ids[kind].append(offer.id)
    return ids


def test_featured_offers_fill_the_first_pages_then_the_others_follow_without_gaps(
    app, client, create_partner, create_offer
):
    ids = _catalogue(app, create_partner, create_offer, featured=23, regular=9)
    seen = []
    for number in (1, 2):
        page = client.get(f"/offers/?page={number}")
        assert page.status_code == 200
        seen += offer_ids(page.get_data(as_text=True))
    # 23 featured (newest first) fill page 1 and the top of page 2; then the 9 others.
    assert seen == ids["featured"] + ids["regular"]
    with app.app_context():
        listing = search.find_offers(search.OfferFilters(), page=2, per_page=20)
    assert listing.total == 32
    assert listing.pages == 2
    assert not listing.capped
    assert [offer.id for offer in listing.items] == ids["featured"][20:] + ids["regular"]


def test_a_count_beyond_the_cap_says_more_than_and_the_pages_still_work(
    app, client, create_partner, create_offer, monkeypatch
):
    ids = _catalogue(app, create_partner, create_offer, featured=2, regular=30)
    monkeypatch.setattr(search, "COUNT_CAP", 25)
    with app.app_context():
        listing = search.find_offers(search.OfferFilters(), page=2, count_cap=25)
        assert listing.capped
        assert listing.total == 26
        assert listing.pages == 2
        exact = search.find_offers(search.OfferFilters(), count_cap=None)
        assert exact.total == 32
        assert not exact.capped
    first = client.get("/offers/").get_data(as_text=True)
    assert "data-capped" in first
    assert 'data-count="26"' in first
    second = client.get("/offers/?page=2").get_data(as_text=True)
    # The count stops at the cap; the offers themselves do not.
    assert offer_ids(first) + offer_ids(second) == ids["featured"] + ids["regular"]


def test_the_listing_runs_the_same_queries_for_a_small_and_a_larger_catalogue(
    app, client, create_partner, create_offer
):
    _catalogue(app, create_partner, create_offer, featured=1, regular=3)
    client.get("/offers/?country=FR&q=voyages")  # warm-up: first-request work out of the count
    with app.app_context():
        cache.clear()  # the budget of a listing computed afresh
    with counting_queries(app) as small:
        client.get("/offers/?country=FR&q=voyages")
        client.get("/offers/")
    _catalogue(app, create_partner, create_offer, featured=4, regular=40)
    with app.app_context():
        cache.clear()
    with counting_queries(app) as large:
        client.get("/offers/?country=FR&q=voyages")
        client.get("/offers/")
    assert len(large) == len(small)


def test_results_are_cached_per_reader_kind_and_a_published_offer_shows_at_once(
    app, client, create_partner, create_offer, create_user, login
):
    ids = _catalogue(app, create_partner, create_offer, featured=0, regular=2)
    first = client.get("/offers/").get_data(as_text=True)
    with counting_queries(app) as again:
        second = client.get("/offers/").get_data(as_text=True)
    assert offer_ids(second) == offer_ids(first) == ids["regular"]
    assert not any("FROM offers" in statement for statement in again)  # served from the cache
    # A verified member gets the cards with their call to action; the visitor still does not.
    member = app.test_client()
    login(member, create_user(alumni=True, status="verified"))
    assert "offer-cta" in member.get("/offers/").get_data(as_text=True)
    assert "offer-cta" not in client.get("/offers/").get_data(as_text=True)
    # A committed write to the offers is seen by the next request.
    newest = create_offer(create_partner(), published_at=utcnow())
    assert offer_ids(client.get("/offers/").get_data(as_text=True))[0] == newest.id


def test_a_redemption_keeps_the_cached_listing_and_an_edit_does_not(
    app, client, create_partner, create_offer
):
    ids = _catalogue(app, create_partner, create_offer, featured=0, regular=1)
    with app.app_context():
        before = table_versions(["offers"])
        # The redemption's counter UPDATE, and a flush that only moves counters.
        db.session.execute(
            update(Offer)
            .where(Offer.id == ids["regular"][0])
            .values(redeemed_count=Offer.redeemed_count + 1)
        )
        db.session.get(Offer, ids["regular"][0]).low_stock_notified_at = utcnow()
        db.session.commit()
        assert table_versions(["offers"]) == before
        # A change a card shows moves the version.
        db.session.get(Offer, ids["regular"][0]).title_fr = "Nouveau titre"
        db.session.commit()
        assert table_versions(["offers"])[0] == before[0] + 1
