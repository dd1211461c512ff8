"""Offer pages, cards and the API know their reader: one state per (offer, reader), the same on
the page (what to do next), on the card and in the API's ``reader_state``; country targeting
enforced by the redemption service; listings default to the reader's country + worldwide."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from marketplace.accounts.models import AlumniProfile, User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.services import grant_membership
from offers import reader_state
from offers.models import Redemption, RedemptionMethod
from offers.reader_state import Reader, ReaderState

EN = {"Accept-Language": "en"}


def state_on_page(html: str) -> str:
    match = re.search(r'id="offer-action"[^>]*data-reader-state="([a-z_]+)"', html)
    assert match, "the offer page says nothing about what the reader can do"
    return match.group(1)


def card_states(html: str) -> dict[int, str]:
    states = {}
    for card in re.findall(r'(<article class="offer-card".*?</article>)', html, re.DOTALL):
        offer_id = int(re.search(r'data-offer-id="(\d+)"', card).group(1))
        found = re.search(r'data-reader-state="([a-z_]+)"', card)
        states[offer_id] = found.group(1) if found else None
    return states


def set_country(app, user, country: str | None) -> None:
    with app.app_context():
        db.session.execute(
            update(AlumniProfile).where(AlumniProfile.user_id == user.id).values(country=country)
        )
        db.session.commit()


def make_member(app, user) -> None:
    with app.app_context():
        grant_membership(db.session.get(User, user.id), actor=None)
        db.session.commit()


def redeem(app, offer, user, *, now=None) -> Redemption:
    from offers.redemption import redeem_offer

    with app.test_request_context():
        redemption = redeem_offer(offer.id, user=db.session.get(User, user.id), now=now)
        db.session.commit()
        return redemption


@pytest.fixture
def partner(create_partner):
    return create_partner(name="Librairie Étoile")


@pytest.fixture
def verified(create_user):
    """A verified alumna living in Portugal (the factory's country), not a member."""
    return create_user(alumni=True, status="verified", locale="en")


# ---------------------------------------------------------------- each state, on the page


def test_a_visitor_is_asked_to_sign_in_or_join(client, partner, create_offer):
    offer = create_offer(partner)
    html = client.get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "sign_in"
    assert f"/accounts/login?next=/offers/{offer.id}" in html
    assert 'href="/accounts/register"' in html


def test_a_pending_alumnus_is_told_what_is_left_to_do(
    client, login, create_user, partner, create_offer
):
    offer = create_offer(partner)
    pending = create_user(alumni=True, status="pending", confirmed=False, locale="en")
    html = login(client, pending).get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "pending_verification"
    assert 'id="offer-verify-email"' in html
    assert 'id="offer-verify-pending"' in html
    assert 'id="redeem-form"' not in html


def test_a_verified_non_member_sees_the_price_and_a_join_button_that_comes_back(
    client, login, verified, partner, create_offer, seed_reference
):
    offer = create_offer(partner, audience="members")
    html = login(client, verified).get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "members_only"
    # The lowest tier of seed_reference: 15.00 EUR, formatted by Babel for the reader.
    assert "€15.00" in html
    join = re.search(r'id="offer-join"|href="(/membership/\?offer=\d+)"', html)
    assert join
    assert f'href="/membership/?offer={offer.id}"' in html
    membership_page = client.get(f"/membership/?offer={offer.id}", headers=EN)
    assert f'name="offer" value="{offer.id}"' in membership_page.get_data(as_text=True)


def test_a_member_can_redeem_a_members_only_offer(
    app, client, login, verified, partner, create_offer
):
    offer = create_offer(partner, audience="members")
    make_member(app, verified)
    html = login(client, verified).get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "can_redeem"
    assert 'id="redeem-form"' in html


def test_an_alumnus_who_redeemed_sees_their_code_and_when_the_next_one_is_allowed(
    app, client, login, verified, partner, create_offer
):
    offer = create_offer(partner, shared_code="ETOILE-10", limit_period="month")
    redeem(app, offer, verified)
    html = login(client, verified).get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "already_redeemed"
    assert re.search(r'id="offer-redeemed-code">ETOILE-10<', html)
    assert 'id="offer-next-allowed"' in html
    assert 'id="redeem-form"' not in html


def test_a_used_up_benefit_reads_as_limit_reached(
    app, client, login, verified, partner, create_offer
):
    offer = create_offer(partner, reveal_ttl_minutes=5)
    redeem(app, offer, verified, now=utcnow() - timedelta(hours=1))
    html = login(client, verified).get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "limit_reached"
    assert 'id="offer-next-allowed"' not in html  # once ever: never again


def test_a_sold_out_offer_says_so_and_offers_no_button(
    client, login, verified, partner, create_offer
):
    offer = create_offer(partner, total_limit=3, redeemed_count=3)
    html = login(client, verified).get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "sold_out"
    assert 'id="redeem-form"' not in html


def test_an_empty_code_pool_is_sold_out(
    app, client, login, verified, create_user, partner, create_offer
):
    offer = create_offer(partner, method="unique_codes", codes=["ONLY-ONE"])
    redeem(app, offer, create_user(alumni=True, status="verified"))
    html = login(client, verified).get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "sold_out"


def test_an_offer_not_started_and_an_ended_one(client, login, verified, partner, create_offer):
    soon = create_offer(partner, starts_at=utcnow() + timedelta(days=3))
    over = create_offer(partner, status="expired", ends_at=utcnow() - timedelta(days=1))
    login(client, verified)

    assert state_on_page(client.get(f"/offers/{soon.id}", headers=EN).get_data(as_text=True)) == (
        "not_started"
    )
    assert state_on_page(client.get(f"/offers/{over.id}", headers=EN).get_data(as_text=True)) == (
        "ended"
    )


def test_outside_the_offers_countries_the_page_says_why(
    client, login, verified, partner, create_offer
):
    offer = create_offer(partner, countries=["BE", "FR"])
    html = login(client, verified).get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True)

    assert state_on_page(html) == "not_in_country"
    assert "only for members living in Belgium and France" in html
    assert "you live in Portugal" in html
    assert 'id="redeem-form"' not in html


# ---------------------------------------------------------------- targeting is enforced


@pytest.mark.parametrize("country", ["PT", "SN", None])
def test_the_redemption_service_refuses_a_member_living_elsewhere(
    app, client, login, verified, partner, create_offer, country
):
    offer = create_offer(partner, countries=["BE", "FR"])
    set_country(app, verified, country)

    response = login(client, verified).post(
        f"/offers/wallet/redeem/{offer.id}", headers=EN, follow_redirects=True
    )

    assert "only for members living in Belgium and France" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Redemption.id)) is None


def test_a_member_living_in_one_of_the_countries_redeems(
    app, client, login, verified, partner, create_offer
):
    offer = create_offer(partner, countries=["BE", "FR"])
    set_country(app, verified, "FR")

    response = login(client, verified).post(f"/offers/wallet/redeem/{offer.id}")

    assert response.status_code == 302
    assert "/offers/wallet/" in response.headers["Location"]


def test_the_api_refuses_with_the_reason(app, client, verified, partner, create_offer, api_headers):
    offer = create_offer(partner, countries=["SN"])

    response = client.post(
        f"/api/v1/offers/{offer.id}/redemptions", headers={**api_headers(verified), **EN}
    )

    assert response.status_code == 403
    body = response.get_json()
    assert body["errors"] == {"reason": "not_in_country"}
    assert "Senegal" in body["message"]


# ---------------------------------------------------------------- the API says the same


def test_the_api_gives_the_reader_state_with_a_token(
    app, client, verified, create_user, partner, create_offer, api_headers
):
    open_offer = create_offer(partner)
    elsewhere = create_offer(partner, countries=["FR"])
    members = create_offer(partner, audience="members")
    redeemed = create_offer(partner)
    soon = create_offer(partner, starts_at=utcnow() + timedelta(days=2))
    redeem(app, redeemed, verified)
    pending = create_user(alumni=True, status="pending")
    headers = api_headers(verified)

    def state(offer, headers=headers):
        response = client.get(f"/api/v1/offers/{offer.id}", headers=headers)
        assert response.status_code == 200
        return response.get_json().get("reader_state")

    assert state(open_offer) == "can_redeem"
    assert state(elsewhere) == "not_in_country"
    assert state(members) == "members_only"
    assert state(redeemed) == "already_redeemed"
    assert state(soon) == "not_started"
    assert state(open_offer, api_headers(pending)) == "pending_verification"
    assert state(open_offer, {}) is None  # anonymous: no reader to speak of


# ---------------------------------------------------------------- cards and listings


def test_cards_carry_each_readers_state_in_a_fixed_number_of_queries(
    app, client, login, verified, partner, create_offer, count_queries
):
    offers = {
        "can_redeem": create_offer(partner),
        "sold_out": create_offer(partner, total_limit=1, redeemed_count=1),
        "members_only": create_offer(partner, audience="members"),
        "already_redeemed": create_offer(partner, method="generated_codes"),
    }
    redeem(app, offers["already_redeemed"], verified)
    login(client, verified)
    client.get("/offers/", headers=EN)
    with count_queries() as few:
        html = client.get("/offers/", headers=EN).get_data(as_text=True)
    assert card_states(html) == {offer.id: state for state, offer in offers.items()}
    for _ in range(10):
        redeem(app, create_offer(partner, method="generated_codes"), verified)
    client.get("/offers/", headers=EN)  # the new offers' shared cards, as before the first count
    with count_queries() as many:
        client.get("/offers/", headers=EN)
    assert len(many) == len(few)


def test_the_listing_shows_the_readers_country_and_worldwide_by_default(
    client, login, verified, partner, create_offer
):
    here = create_offer(partner, countries=["PT"])
    everywhere = create_offer(partner)
    elsewhere = create_offer(partner, countries=["SN"])
    login(client, verified)

    html = client.get("/offers/", headers=EN).get_data(as_text=True)
    shown = set(card_states(html))
    assert shown == {here.id, everywhere.id}
    assert 'id="default-country"' in html
    assert "Portugal" in html

    everything = client.get("/offers/?country=", headers=EN).get_data(as_text=True)
    assert set(card_states(everything)) == {here.id, everywhere.id, elsewhere.id}
    assert 'id="default-country"' not in everything


def test_visitors_see_every_offer(client, partner, create_offer):
    offers = {create_offer(partner, countries=["SN"]).id, create_offer(partner).id}
    html = client.get("/offers/", headers=EN).get_data(as_text=True)
    assert set(card_states(html)) == offers
    assert set(card_states(html).values()) == {"sign_in"}


def test_reading_a_page_of_offers_is_one_query_for_a_signed_in_reader(
    app, verified, partner, create_offer, count_queries
):
    offers = [create_offer(partner) for _ in range(5)]
    offers.append(create_offer(partner, method=RedemptionMethod.GENERATED_CODES.value))
    with app.test_request_context():
        user = db.session.get(User, verified.id)
        reader = Reader.load(user)
        with count_queries() as queries:
            readings = reader_state.read_offers(offers, reader)
    assert {reading.state for reading in readings.values()} == {ReaderState.CAN_REDEEM}
    assert len(queries) == 1
