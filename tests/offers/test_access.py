"""One loader per resource: ``get_offer_or_404`` applies the reader's rules."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound

from marketplace.extensions import db
from offers.access import get_offer_or_404


def test_a_partner_loads_its_own_offer_and_not_another_partners(app, create_partner, create_offer):
    mine, theirs = create_partner(), create_partner()
    offer = create_offer(theirs, status="draft")
    with app.test_request_context():
        assert get_offer_or_404(offer.id, partner=db.session.get(type(theirs), theirs.id)).id == (
            offer.id
        )
        with pytest.raises(NotFound):
            get_offer_or_404(offer.id, partner=db.session.get(type(mine), mine.id))


@pytest.mark.parametrize(
    ("status", "public"),
    [("published", True), ("expired", True), ("draft", False), ("submitted", False)],
)
def test_the_public_loads_published_or_ended_offers_only(
    app, create_partner, create_offer, status, public
):
    offer = create_offer(create_partner(), status=status)
    with app.test_request_context():
        assert get_offer_or_404(offer.id).id == offer.id
        if public:
            assert get_offer_or_404(offer.id, published=True).id == offer.id
        else:
            with pytest.raises(NotFound):
                get_offer_or_404(offer.id, published=True)


def test_an_unknown_offer_is_a_404_saying_so_in_the_api(app):
    with app.test_request_context(), pytest.raises(NotFound) as caught:
        get_offer_or_404(10**9)
    assert caught.value.data["message"] == "No such offer."
