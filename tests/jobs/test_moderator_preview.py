"""The moderator's review shows the offer or job exactly as alumni will see it: the public page
(and the offer's card), with the proposed changes, its buttons inert, nothing saved."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.extensions import db
from offers.models import Offer, OfferCountry

EN = {"Accept-Language": "en"}


def test_a_submitted_offer_is_previewed_as_its_public_page_and_card(
    app, client, login, create_user, create_partner, create_offer
):
    offer = create_offer(
        create_partner(name="Librairie Voltaire"),
        status="submitted",
        title_en="Poetry week",
        description_en="Every **poem** at half price.",
        countries=["FR"],
    )
    login(client, create_user(roles=("moderator",), locale="en"))

    review = client.get(f"/offers/moderation/{offer.id}", headers=EN).get_data(as_text=True)
    assert f'href="/offers/moderation/{offer.id}/preview"' in review
    response = client.get(f"/offers/moderation/{offer.id}/preview", headers=EN)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="preview-banner"' in html
    assert "<h1>Poetry week</h1>" in html
    assert "<strong>poem</strong>" in html
    assert 'id="preview-card"' in html
    assert 'class="offer-card"' in html
    assert "France" in html
    assert 'id="redeem-form"' not in html  # the button is there, inert


def test_the_preview_shows_the_proposed_changes_and_saves_nothing(
    app, client, login, create_user, create_partner, create_offer
):
    offer = create_offer(create_partner(), title_en="Old title", countries=["FR"])
    with app.app_context():
        row = db.session.get(Offer, offer.id)
        row.pending_changes = {"title_en": "New title", "countries": ["BE", "FR"]}
        db.session.commit()
    login(client, create_user(roles=("moderator",), locale="en"))

    html = client.get(f"/offers/moderation/{offer.id}/preview", headers=EN).get_data(as_text=True)

    assert "<h1>New title</h1>" in html
    assert "Belgium and France" in html
    with app.app_context():
        row = db.session.get(Offer, offer.id)
        assert row.title_en == "Old title"
        assert row.countries == ["FR"]
        assert db.session.scalar(select(func.count(OfferCountry.id))) == 1


def test_a_submitted_job_is_previewed_as_its_public_page(
    client, login, create_user, create_partner, create_job
):
    job = create_job(create_partner(), status="submitted", title_en="Bookseller")
    login(client, create_user(roles=("moderator",), locale="en"))

    response = client.get(f"/jobs/moderation/{job.id}/preview", headers=EN)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="preview-banner"' in html
    assert "Bookseller" in html
    assert '<button type="button" disabled id="job-apply">' in html


def test_only_moderators_preview(client, login, create_user, create_partner, create_offer):
    offer = create_offer(create_partner(), status="submitted")
    login(client, create_user(alumni=True, status="verified"))
    assert client.get(f"/offers/moderation/{offer.id}/preview").status_code == 403
