"""The signed-in path (issue 17): the reader loaded in one query (none while its cached row
holds), no partner lookup for people who are not partners, cached categories, listing results
shared between readers of a kind."""

from __future__ import annotations

import re

import pytest

from marketplace.cache import bump
from marketplace.extensions import db
from marketplace.membership.services import grant_membership
from tests.conftest import counting_queries
from tests.offers.test_browse import offer_ids

EN = {"Accept-Language": "en"}


def _states(html: str) -> dict[int, str]:
    """Each card's reader state, by offer id."""
    cards = re.findall(r'data-offer-id="(\d+)".*?data-reader-state="(\w+)"', html, re.DOTALL)
    return {int(offer_id): state for offer_id, state in cards}


@pytest.fixture
def catalogue(create_partner, create_offer):
    def make(count: int) -> list[int]:
        partner = create_partner()
        return [create_offer(partner, category="travel").id for _ in range(count)]

    return make


def _listing_statements(app, client) -> list[str]:
    client.get("/offers/", headers=EN)  # the shared rendering is computed once
    with counting_queries(app) as statements:
        response = client.get("/offers/", headers=EN)
    assert response.status_code == 200
    return statements


def test_a_signed_in_listing_costs_no_query_once_warm_whatever_the_catalogue(
    app, client, reader_cache, create_user, login, catalogue
):
    ids = catalogue(3)
    login(client, create_user(alumni=True, status="verified", locale="en"))
    # The reader's row, their redeemed offers, the search, the cards and the categories are
    # all cached (the row and the redemptions per reader, the rest shared).
    assert _listing_statements(app, client) == []
    # A committed write to the users' table: the reader (user, roles, profile, membership,
    # partner team) is read again, in one query, their redeemed offers in one more (kept
    # with the reader's row), and nothing else is.
    with app.app_context():
        bump(["users"])
    with counting_queries(app) as reloaded:
        client.get("/offers/", headers=EN)
    assert len(reloaded) == 2, reloaded
    assert "FROM redemptions" in reloaded[1]
    assert "FROM users" in reloaded[0]
    assert "user_roles" in reloaded[0]
    assert "alumni_profiles" in reloaded[0]
    assert "FROM partner_members" not in reloaded[0].split("WHERE")[0]
    ids += catalogue(12)
    assert _listing_statements(app, client) == []
    assert set(offer_ids(client.get("/offers/", headers=EN).get_data(as_text=True))) <= set(ids)


def test_a_reader_who_redeemed_an_offer_gets_their_own_cards(
    app, client, create_user, login, catalogue, api_headers
):
    ids = catalogue(2)
    other = app.test_client()
    login(other, create_user(alumni=True, status="verified", locale="en"))
    assert set(_states(other.get("/offers/", headers=EN).get_data(as_text=True)).values()) == {
        "can_redeem"
    }
    me = create_user(alumni=True, status="verified", locale="en")
    assert (
        client.post(f"/api/v1/offers/{ids[0]}/redemptions", headers=api_headers(me)).status_code
        == 201
    )
    login(client, me)
    mine = _states(client.get("/offers/", headers=EN).get_data(as_text=True))
    assert mine[ids[0]] == "already_redeemed"
    assert mine[ids[1]] == "can_redeem"
    # The other reader still gets the shared cards, without the first reader's code.
    theirs = _states(other.get("/offers/", headers=EN).get_data(as_text=True))
    assert theirs == {ids[0]: "can_redeem", ids[1]: "can_redeem"}


def test_members_and_alumni_do_not_share_their_cards(
    app, client, create_user, login, create_partner, create_offer
):
    offer = create_offer(create_partner(), audience="members")
    alumnus = app.test_client()
    login(alumnus, create_user(alumni=True, status="verified", locale="en"))
    member = create_user(alumni=True, status="verified", locale="en")
    with app.app_context():
        grant_membership(member, actor=None, months=12)
        db.session.commit()
    login(client, member)
    assert _states(alumnus.get("/offers/", headers=EN).get_data(as_text=True)) == {
        offer.id: "members_only"
    }
    assert _states(client.get("/offers/", headers=EN).get_data(as_text=True)) == {
        offer.id: "can_redeem"
    }
    pending = app.test_client()
    login(pending, create_user(alumni=True, status="pending", locale="en"))
    assert _states(pending.get("/offers/", headers=EN).get_data(as_text=True)) == {
        offer.id: "pending_verification"
    }


def test_a_partner_representative_is_known_from_the_same_query(app, client, create_partner, login):
    partner = create_partner()
    login(client, partner.owner)
    client.get("/offers/", headers=EN)
    with counting_queries(app) as statements:
        html = client.get("/offers/", headers=EN).get_data(as_text=True)
    assert 'id="nav-partner"' in html
    # The membership row itself is read once, by id, for the link.
    assert sum("FROM partner_members" in s.split("WHERE")[0] for s in statements) <= 1


def test_me_by_token_or_by_session_is_one_query_then_none_once_cached(
    app, client, reader_cache, create_user, login, api_headers
):
    user = create_user(alumni=True, status="verified", locale="en")
    headers = api_headers(user)
    browser = login(app.test_client(), user)
    for caller, options in ((client, {"headers": headers}), (browser, {})):
        with app.app_context():
            bump(["users"])  # the caller's cached row is stale: read again, in one query
        db.session.expunge_all()  # each request starts with an empty session, as in production
        with counting_queries(app) as cold:
            body = caller.get("/api/v1/me", **options).get_json()
        # The token or the user, the profile and the facts (a signed-in page's reader also
        # brings their redeemed offers, kept with it).
        assert len(cold) == (1 if caller is client else 2), cold
        assert "FROM users" in cold[0] or "FROM api_tokens" in cold[0]
        assert body["id"] == user.id
        assert body["alumni"]["status"] == "verified"
        db.session.expunge_all()
        with counting_queries(app) as warm:
            assert caller.get("/api/v1/me", **options).get_json() == body
        assert warm == []


def test_a_category_added_shows_in_the_filter_at_once(app, client, catalogue):
    from marketplace.catalog.models import Category

    catalogue(1)
    assert 'value="books"' not in client.get("/offers/", headers=EN).get_data(as_text=True)
    with app.app_context():
        db.session.add(Category(slug="books", name_fr="Livres", name_en="Books", position=9))
        db.session.commit()
    html = client.get("/offers/", headers=EN).get_data(as_text=True)
    assert 'value="books"' in html
    assert ">Books</option>" in html
