"""Offer pages and the wallet show dates, times and countries the one way (marketplace/i18n.py):
in the reader's language and time zone, countries by name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketplace.accounts.models import User
from marketplace.extensions import db

EN = {"Accept-Language": "en"}
FR = {"Accept-Language": "fr"}
ENDS = datetime(2027, 5, 30, 21, 0, tzinfo=UTC)


def test_the_card_and_the_page_show_dates_and_countries_for_people(
    client, create_partner, create_offer
):
    offer = create_offer(create_partner(), ends_at=ENDS, countries=["SN", "PT"])

    listing = client.get("/offers/", headers=FR).get_data(as_text=True)
    page = client.get(f"/offers/{offer.id}", headers=FR).get_data(as_text=True)

    assert "Jusqu’au 30 mai 2027" in listing or "Jusqu'au 30 mai 2027" in listing
    assert "2027-05-30" not in listing.replace('datetime="2027-05-30', "")
    assert "Portugal et Sénégal" in listing
    assert "30 mai 2027, 23:00" in page  # Paris, the visitor's default zone
    assert "Portugal et Sénégal" in page


@pytest.mark.parametrize(("zone", "shown"), [("Asia/Tokyo", "8:30"), ("America/Lima", "6:30")])
def test_a_members_wallet_shows_times_in_their_zone(
    app, client, create_user, login, create_partner, create_offer, zone, shown
):
    from datetime import UTC, datetime

    from offers.redemption import redeem_offer

    user = create_user(alumni=True, status="verified", locale="en")
    offer = create_offer(create_partner())
    with app.test_request_context():
        row = db.session.get(User, user.id)
        row.timezone = zone
        redemption = redeem_offer(offer.id, user=row, now=datetime(2027, 5, 30, 23, 30, tzinfo=UTC))
        db.session.commit()
        redemption_id = redemption.id
    login(client, user, mfa=False)

    html = client.get(f"/offers/wallet/{redemption_id}", headers=EN).get_data(as_text=True)

    assert f"{shown}\u202f" in html
