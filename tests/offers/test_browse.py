"""The public offer pages: listing (search, filters, pages, teasers) and the offer page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.cache import cache
from marketplace.database import utcnow
from marketplace.extensions import db
from offers.models import OfferDailyStat
from tests.conftest import counting_queries

EN = {"Accept-Language": "en"}


def offer_ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-offer-id="(\d+)"', html)]


@pytest.fixture
def verified(create_user):
    return create_user(alumni=True, status="verified", locale="en")


def test_listing_shows_live_offers_as_teasers_to_visitors(client, create_partner, create_offer):
    partner = create_partner(name="Rail Bleu")
    offer = create_offer(
        partner,
        category="travel",
        method="link",
        link_url="https://secret.example.com/deal",
        title_en="Train tickets",
    )
    coded = create_offer(partner, shared_code="SECRET-CODE-42", title_en="Night trains")
    create_offer(partner, status="draft", title_en="A draft")

    response = client.get("/offers/", headers=EN)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert set(offer_ids(html)) == {offer.id, coded.id}
    assert "Train tickets" in html
    assert "Rail Bleu" in html
    assert "A draft" not in html
    assert "SECRET-CODE-42" not in html
    assert "secret.example.com" not in html
    assert "offer-cta" not in html
    assert 'id="offers-join"' in html


@pytest.mark.parametrize("status", ["pending", "verified"])
def test_teasers_never_leak_codes_or_links(
    client, login, create_user, create_partner, create_offer, status
):
    partner = create_partner()
    create_offer(partner, shared_code="SECRET-CODE-42")
    create_offer(partner, method="link", link_url="https://secret.example.com/deal")
    login(client, create_user(alumni=True, status=status))

    html = client.get("/offers/").get_data(as_text=True)

    assert len(offer_ids(html)) == 2
    assert "SECRET-CODE-42" not in html
    assert "secret.example.com" not in html
    assert ("offer-cta" in html) is (status == "verified")


def test_members_only_offers_carry_a_badge(client, create_partner, create_offer):
    partner = create_partner()
    members = create_offer(partner, audience="members")
    create_offer(partner)

    html = client.get("/offers/").get_data(as_text=True)

    cards = re.findall(r'data-offer-id="(\d+)">(.*?)</article>', html, re.DOTALL)
    assert len(cards) == 2
    assert {int(offer_id) for offer_id, card in cards if "data-members-only" in card} == {
        members.id
    }


def test_listing_search_filters_and_sort_from_the_form(client, create_partner, create_offer):
    partner = create_partner()
    kayak = create_offer(partner, description_fr="Location de kayaks", countries=["PT"])
    create_offer(partner, description_fr="Cours de cuisine", countries=["FR"])
    worldwide = create_offer(partner, description_fr="Assurance voyage")

    assert offer_ids(client.get("/offers/?q=kayak").get_data(as_text=True)) == [kayak.id]
    by_country = offer_ids(client.get("/offers/?country=pt").get_data(as_text=True))
    assert set(by_country) == {kayak.id, worldwide.id}
    for attack in ['"', "NEAR(", "a OR", "-", "*"]:
        assert client.get("/offers/", query_string={"q": attack}).status_code == 200
    assert client.get("/offers/?sort=ending&online=maybe&page=x").status_code == 200


def test_empty_states(client, create_partner, create_offer):
    html = client.get("/offers/").get_data(as_text=True)
    assert 'id="offers-empty"' in html

    create_offer(create_partner())
    html = client.get("/offers/?q=zeppelin").get_data(as_text=True)
    assert 'id="offers-empty"' in html
    assert offer_ids(html) == []


def test_pages_of_twenty_keep_the_filters(client, create_partner, create_offer):
    partner = create_partner()
    now = utcnow()
    offers = [
        create_offer(partner, category="books", published_at=now - timedelta(minutes=index))
        for index in range(23)
    ]
    create_offer(partner, category="travel")

    first = client.get("/offers/?category=books", headers=EN).get_data(as_text=True)
    second = client.get("/offers/?category=books&page=2", headers=EN).get_data(as_text=True)

    assert offer_ids(first) == [offer.id for offer in offers[:20]]
    assert offer_ids(second) == [offer.id for offer in offers[20:]]
    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1)
    assert "category=books" in next_link
    assert "page=2" in next_link
    # A page past the end shows the last one.
    beyond = client.get("/offers/?category=books&page=9").get_data(as_text=True)
    assert offer_ids(beyond) == offer_ids(second)


def _listing_queries(app, client) -> int:
    with app.app_context():
        cache.clear()  # all of it cold: the reader, their redemptions, the results
    with counting_queries(app) as statements:
        response = client.get("/offers/?country=PT&sort=popular")
    assert response.status_code == 200
    return len(statements)


@pytest.fixture
def listing_budget(app, client, login, verified, create_partner, create_offer):
    login(client, verified)
    partners = [create_partner() for _ in range(3)]

    def add(count: int) -> int:
        for index in range(count):
            create_offer(partners[index % 3], category=f"cat{index % 4}", countries=["PT", "FR"])
        return _listing_queries(app, client)

    return add


def test_listing_query_count_does_not_grow_with_rows(listing_budget):
    one = listing_budget(1)
    twenty = listing_budget(19)

    assert one == twenty
    assert 3 <= one <= 12


def test_home_page_shows_the_latest_offers(client, create_partner, create_offer):
    offer = create_offer(create_partner(), title_en="Museum pass")

    html = client.get("/", headers=EN).get_data(as_text=True)

    assert 'id="latest-offers"' in html
    assert offer.id in offer_ids(html)
    assert "Museum pass" in html


# ---------------------------------------------------------------- the offer page


def test_offer_page_for_a_visitor_invites_to_sign_in(client, create_partner, create_offer):
    offer = create_offer(
        create_partner(name="Librairie Étoile"),
        shared_code="SECRET-CODE-42",
        description_en="Valid on **all** books.",
        countries=["PT"],
        category="books",
    )

    response = client.get(f"/offers/{offer.id}", headers=EN)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Librairie Étoile" in html
    assert "<strong>all</strong>" in html
    assert "Portugal" in html
    assert 'id="offer-signin"' in html
    assert 'id="redeem-form"' not in html
    assert "SECRET-CODE-42" not in html
    assert 'id="offer-ended"' not in html


def test_offer_page_for_a_pending_alumnus_asks_for_verification(
    client, login, create_user, create_partner, create_offer
):
    offer = create_offer(create_partner())
    login(client, create_user(alumni=True, status="pending"))

    html = client.get(f"/offers/{offer.id}").get_data(as_text=True)

    assert 'id="offer-verify"' in html
    assert 'id="redeem-form"' not in html


def test_offer_page_for_a_verified_alumnus_offers_to_redeem(
    app, client, login, verified, create_partner, create_offer
):
    offer = create_offer(create_partner(), shared_code="SECRET-CODE-42")
    login(client, verified)

    html = client.get(f"/offers/{offer.id}").get_data(as_text=True)

    assert "SECRET-CODE-42" not in html
    if "offers.wallet.redeem" in app.view_functions:
        with app.test_request_context():
            from flask import url_for

            action = url_for("offers.wallet.redeem", offer_id=offer.id)
        assert 'id="redeem-form"' in html
        assert f'action="{action}"' in html
    else:
        assert 'id="redeem-form"' not in html
        assert 'id="offer-signin"' not in html


def test_offer_page_falls_back_to_the_other_language(client, create_partner, create_offer):
    offer = create_offer(
        create_partner(), title_fr="Offre seulement en français", title_en=None, summary_en=None
    )

    html = client.get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert "Offre seulement en français" in html
    assert "Pour les anciens élèves." in html


def test_offer_page_uses_the_reader_language(client, create_partner, create_offer):
    offer = create_offer(create_partner(), title_fr="Billets de train", title_en="Train tickets")

    assert "Train tickets" in client.get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)
    french = client.get(f"/offers/{offer.id}", headers={"Accept-Language": "fr"})
    assert "Billets de train" in french.get_data(as_text=True)


@pytest.mark.parametrize("status", ["expired", "archived"])
def test_ended_offer_keeps_its_page(app, client, create_partner, create_offer, status):
    offer = create_offer(create_partner(), status=status, title_en="Old deal")

    response = client.get(f"/offers/{offer.id}", headers=EN)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="offer-ended"' in html
    assert "This offer has ended" in html
    assert "Old deal" in html
    assert 'id="redeem-form"' not in html
    with app.app_context():
        assert db.session.scalar(select(OfferDailyStat)) is None


def test_published_offer_past_its_end_date_says_it_has_ended(client, create_partner, create_offer):
    offer = create_offer(create_partner(), ends_at=utcnow() - timedelta(hours=1))

    response = client.get(f"/offers/{offer.id}")

    assert response.status_code == 200
    assert 'id="offer-ended"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "status", ["draft", "submitted", "rejected", "changes_requested", "paused"]
)
def test_hidden_offers_are_not_found(
    client, login, create_user, create_partner, create_offer, status
):
    offer = create_offer(create_partner(), status=status)
    login(client, create_user(roles=("moderator",)))

    assert client.get(f"/offers/{offer.id}").status_code == 404


def test_offer_not_yet_started_says_when_it_starts_and_is_not_listed(
    client, create_partner, create_offer
):
    offer = create_offer(create_partner(), starts_at=utcnow() + timedelta(days=1))

    response = client.get(f"/offers/{offer.id}", headers=EN)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="offer-not-started"' in html
    assert 'id="redeem-form"' not in html
    assert offer.id not in offer_ids(client.get("/offers/", headers=EN).get_data(as_text=True))


def test_each_view_is_counted_for_the_day_once_the_due_task_ran(
    app, client, create_partner, create_offer
):
    from marketplace.tasks import run_due

    offer = create_offer(create_partner())

    with counting_queries(app) as statements:
        client.get(f"/offers/{offer.id}")
        client.get(f"/offers/{offer.id}")
        client.get("/offers/999999999")
    # The page writes nothing: the views wait in a counter (Redis or this process).
    assert [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))] == []
    with app.app_context():
        assert db.session.scalars(select(OfferDailyStat)).all() == []
        lines = run_due(echo=lambda line: None)
        assert "offer-views: 2 offer view(s) written" in lines
        stats = db.session.scalars(select(OfferDailyStat)).all()
        assert [(row.offer_id, row.day, row.views) for row in stats] == [
            (offer.id, utcnow().date(), 2)
        ]
        run_due(echo=lambda line: None)  # nothing counted twice
        db.session.expire_all()
        assert db.session.scalars(select(OfferDailyStat.views)).all() == [2]


def test_views_served_from_the_page_cache_are_counted_too(
    app, client, page_cache, create_partner, create_offer
):
    from marketplace.tasks import run_due

    offer = create_offer(create_partner())
    client.get(f"/offers/{offer.id}")
    with counting_queries(app) as statements:
        client.get(f"/offers/{offer.id}")  # from the cache
        client.get(f"/offers/{offer.id}")
    assert statements == []
    with app.app_context():
        run_due(echo=lambda line: None)
        assert db.session.scalars(select(OfferDailyStat.views)).all() == [3]


def _offer_page_queries(app, client, offer_id: int) -> int:
    with app.app_context():
        cache.clear()  # the reader and their redemptions read afresh each time
    with counting_queries(app) as statements:
        response = client.get(f"/offers/{offer_id}")
    assert response.status_code == 200
    return len(statements)


def test_offer_page_runs_a_fixed_number_of_queries(
    app, client, login, verified, create_partner, create_offer
):
    login(client, verified)
    small = create_offer(create_partner(), countries=["PT"], category="travel")
    large = create_offer(
        create_partner(), countries=["PT", "FR", "BE", "ES", "IT", "DE"], category="books"
    )
    assert _offer_page_queries(app, client, small.id) == _offer_page_queries(app, client, large.id)
    assert 3 <= _offer_page_queries(app, client, large.id) <= 8


def test_without_redis_a_process_writes_its_views_itself_once_a_minute(
    app, create_partner, create_offer, monkeypatch
):
    """Cron runs in another process: a web process's buffer is written by that process, in a
    thread of its own (never inside the request, which may hold SQLite's write lock)."""
    import threading

    from offers import view_counts

    offer = create_offer(create_partner())
    # A write some earlier test's process state started (a fallback from Redis) ends first:
    # only one background write runs at a time.
    with view_counts._writing:
        pass
    view_counts.record(offer.id, app=app)
    assert view_counts.pending() == 1
    monkeypatch.setattr(view_counts, "FLUSH_SECONDS", 0.0)
    view_counts.record(offer.id, app=app)  # the oldest view is "a minute" old: written
    for thread in threading.enumerate():
        if thread.name == "offer-views":
            thread.join(timeout=30)
    assert view_counts.pending() == 0
    with app.app_context():
        assert db.session.scalars(select(OfferDailyStat.views)).all() == [2]
