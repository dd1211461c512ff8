"""The partner portal's offer pages: list, form, actions, codes upload, history, access."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.markdown import render_markdown
from offers.models import Offer, OfferCode, OfferStatus, OfferStatusChange

EN = {"Accept-Language": "en"}
FORM = {
    "title_fr": "Dix pour cent",
    "summary_fr": "Pour les anciens.",
    "description_fr": "Texte **gras**",
    "title_en": "",
    "summary_en": "",
    "description_en": "",
    "category": "",
    "countries": ["PT", "FR"],
    "city": "Lisbonne",
    "online": "y",
    "starts_at": "",
    "ends_at": "",
    "audience": "alumni",
    "redemption_method": "shared_code",
    "shared_code": "ALUMNI",
    "link_url": "",
    "total_limit": "",
    "per_member_limit": "1",
    "limit_period": "ever",
    "reveal_ttl_minutes": "",
}


@pytest.fixture
def partner(create_partner):
    return create_partner(name="Librairie Lumière")


@pytest.fixture
def portal(client, login, partner):
    return login(client, partner.owner)


def reload(app, offer_id):
    with app.app_context():
        return db.session.get(Offer, offer_id)


def test_list_shows_status_redeemed_and_pool(portal, partner, create_offer, add_partner_member):
    assert b'id="no-offers"' in portal.get("/offers/manage/").data
    pool = create_offer(partner, method="unique_codes", codes=["A", "B", "C"], redeemed_count=2)
    draft = create_offer(partner, status="draft", title_en="Draft deal", title_fr=None)
    page = portal.get("/offers/manage/", headers=EN).get_data(as_text=True)
    assert f'id="offer-{pool.id}"' in page
    assert f'id="offer-{draft.id}"' in page
    assert "Draft deal" in page
    assert "Published" in page
    assert "Draft" in page
    row = page.split(f'id="offer-{pool.id}"')[1].split("</tr>")[0]
    assert "<td>2</td>" in row
    assert "<td>3</td>" in row


def test_list_issues_a_fixed_number_of_queries(
    portal, partner, create_offer, count_queries, create_partner
):
    create_offer(partner, method="unique_codes", codes=["A"], category="travel", countries=["FR"])
    with count_queries() as one:
        assert portal.get("/offers/manage/").status_code == 200
    for index in range(19):
        create_offer(
            partner,
            method="unique_codes" if index % 2 else "shared_code",
            codes=[f"C{index}"] if index % 2 else [],
            category="travel" if index % 3 else "books",
            countries=["PT", "ES"],
        )
    with count_queries() as twenty:
        page = portal.get("/offers/manage/").get_data(as_text=True)
    assert page.count('<tr id="offer-') == 20
    assert len(twenty) == len(one)


def test_create_edit_and_submit_through_the_pages(app, portal, partner):
    response = portal.post("/offers/manage/new", data=FORM)
    assert response.status_code == 302
    with app.app_context():
        offer = db.session.scalar(select(Offer).where(Offer.partner_id == partner.id))
        assert offer.status == OfferStatus.DRAFT
        assert offer.countries == ["FR", "PT"]
        assert offer.online is True
        offer_id = offer.id
    assert response.headers["Location"].endswith(f"/offers/manage/{offer_id}")
    edit = portal.get(f"/offers/manage/{offer_id}/edit")
    assert b'value="Dix pour cent"' in edit.data
    portal.post(f"/offers/manage/{offer_id}/edit", data={**FORM, "title_en": "Ten percent"})
    assert reload(app, offer_id).title_en == "Ten percent"
    portal.post(f"/offers/manage/{offer_id}/submit")
    assert reload(app, offer_id).status == OfferStatus.SUBMITTED
    page = portal.get(f"/offers/manage/{offer_id}", headers=EN).get_data(as_text=True)
    assert 'id="submit-offer"' not in page
    assert 'id="edit-offer"' not in page
    assert "Waiting for review" in page


def test_form_errors_are_shown_and_nothing_is_saved(app, portal, partner):
    response = portal.post(
        "/offers/manage/new",
        data={**FORM, "link_url": "http://not-https.example.com", "per_member_limit": "0"},
        headers=EN,
    )
    assert response.status_code == 200
    assert b'aria-invalid="true"' in response.data
    response = portal.post(
        "/offers/manage/new", data={**FORM, "link_url": "http://x.example.com"}, headers=EN
    )
    assert b"must start with https://" in response.data
    with app.app_context():
        assert db.session.scalar(select(func.count(Offer.id))) == 0


def test_submit_of_an_incomplete_offer_flashes_an_error(app, portal, partner, create_offer):
    offer = create_offer(partner, status="draft", summary_fr=None, summary_en=None)
    response = portal.post(f"/offers/manage/{offer.id}/submit", headers=EN, follow_redirects=True)
    assert b"The offer is incomplete" in response.data
    assert reload(app, offer.id).status == OfferStatus.DRAFT


def test_live_edit_shows_the_pending_banner_and_keeps_the_live_row(
    app, portal, partner, create_offer
):
    offer = create_offer(partner, title_fr="Version approuvée", city="Lisbonne", countries=["PT"])
    form = {**FORM, "title_fr": "Version proposée", "countries": ["PT"], "city": "Lisbonne"}
    assert portal.post(f"/offers/manage/{offer.id}/edit", data=form).status_code == 302
    row = reload(app, offer.id)
    assert row.title_fr == "Version approuvée"
    assert row.status == OfferStatus.PUBLISHED
    assert row.pending_changes["title_fr"] == "Version proposée"
    page = portal.get(f"/offers/manage/{offer.id}", headers=EN).get_data(as_text=True)
    assert 'id="pending-review"' in page
    assert "Version proposée" in page
    # The edit form starts from the proposal, not the live version.
    assert 'value="Version proposée"' in portal.get(f"/offers/manage/{offer.id}/edit").get_data(
        as_text=True
    )


def test_pause_resume_archive_buttons(app, portal, partner, create_offer):
    offer = create_offer(partner)
    page = portal.get(f"/offers/manage/{offer.id}").get_data(as_text=True)
    assert 'id="pause-offer"' in page
    assert 'id="resume-offer"' not in page
    portal.post(f"/offers/manage/{offer.id}/pause")
    assert reload(app, offer.id).status == OfferStatus.PAUSED
    assert 'id="resume-offer"' in portal.get(f"/offers/manage/{offer.id}").get_data(as_text=True)
    portal.post(f"/offers/manage/{offer.id}/resume")
    assert reload(app, offer.id).status == OfferStatus.PUBLISHED
    portal.post(f"/offers/manage/{offer.id}/archive")
    assert reload(app, offer.id).status == OfferStatus.ARCHIVED
    # Pausing an archived offer is refused, nothing changes.
    response = portal.post(f"/offers/manage/{offer.id}/pause", follow_redirects=True, headers=EN)
    assert b"Only a published offer can be paused." in response.data
    assert reload(app, offer.id).status == OfferStatus.ARCHIVED


def test_codes_upload_as_csv_counts_duplicates(app, portal, partner, create_offer):
    offer = create_offer(partner, method="unique_codes", codes=["EXISTING"])
    csv_file = (io.BytesIO(b"code\nNEW1\nNEW2\nNEW1\nEXISTING\n\n"), "codes.csv")
    response = portal.post(
        f"/offers/manage/{offer.id}/codes",
        data={"file": csv_file, "text": "NEW3"},
        content_type="multipart/form-data",
        headers=EN,
        follow_redirects=True,
    )
    assert b"3 code(s) added, 2 duplicate(s) skipped." in response.data
    assert b"4 code(s) left of 4." in response.data
    with app.app_context():
        codes = set(
            db.session.scalars(select(OfferCode.code).where(OfferCode.offer_id == offer.id))
        )
    assert codes == {"EXISTING", "NEW1", "NEW2", "NEW3"}


def test_a_wrong_file_type_is_refused(app, portal, partner, create_offer):
    offer = create_offer(partner, method="unique_codes")
    portal.post(
        f"/offers/manage/{offer.id}/codes",
        data={"file": (io.BytesIO(b"A\n"), "codes.exe")},
        content_type="multipart/form-data",
    )
    with app.app_context():
        assert db.session.scalar(select(func.count(OfferCode.id))) == 0


def test_history_shows_moderator_messages(app, portal, partner, create_offer, create_user):
    offer = create_offer(partner, status="changes_requested")
    moderator = create_user(roles=("moderator",), full_name="Maud Moderator")
    with app.app_context():
        db.session.add(
            OfferStatusChange(
                offer_id=offer.id,
                from_status="submitted",
                to_status="changes_requested",
                actor_id=moderator.id,
                message="Please add the conditions.",
            )
        )
        db.session.get(Offer, offer.id).moderator_message = "Please add the conditions."
        db.session.commit()
    page = portal.get(f"/offers/manage/{offer.id}").get_data(as_text=True)
    history = page.split('id="offer-history"')[1]
    assert "Please add the conditions." in history
    assert "Maud Moderator" in history
    assert 'id="moderator-message"' in page


def test_description_is_rendered_sanitised(portal, partner, create_offer):
    offer = create_offer(
        partner,
        description_fr='Bonjour <script>alert(1)</script> <img src="x" onerror="alert(2)"> '
        "[lien](https://example.com) [mal](javascript:alert(3))",
    )
    page = portal.get(f"/offers/manage/{offer.id}").get_data(as_text=True)
    section = page.split('id="version-fr"')[1].split("</section>")[0]
    assert "<script" not in section
    assert "onerror" not in section
    assert "javascript:" not in section.split("offer-description")[1].split("href")[0]
    assert '<a href="https://example.com" rel="nofollow noopener">lien</a>' in section


@pytest.mark.parametrize(
    ("source", "absent", "present"),
    [
        ("**ok** <script>alert(1)</script>", "<script", "<strong>ok</strong>"),
        ('<img src="x" onerror="alert(1)">', "onerror", ""),
        ('<a href="https://e.org" onclick="x()">l</a>', "onclick", 'rel="nofollow noopener"'),
        ("[x](javascript:alert(1))", 'href="javascript', ""),
        ('<p style="color:red">t</p>', "style=", "t"),
        ("<iframe src='https://e.org'></iframe>", "<iframe", ""),
    ],
)
def test_markdown_cases(source, absent, present):
    html = str(render_markdown(source))
    assert absent not in html
    assert present in html


def test_manager_and_owner_both_manage_offers(
    app, client, login, partner, create_offer, add_partner_member
):
    manager = add_partner_member(partner, role="manager")
    offer = create_offer(partner)
    login(client, manager)
    assert client.get(f"/offers/manage/{offer.id}").status_code == 200
    client.post(f"/offers/manage/{offer.id}/pause")
    assert reload(app, offer.id).status == OfferStatus.PAUSED
    login(client, partner.owner)
    client.post(f"/offers/manage/{offer.id}/resume")
    assert reload(app, offer.id).status == OfferStatus.PUBLISHED


def test_a_disabled_member_and_a_pending_partner_are_refused(
    client, login, create_partner, add_partner_member
):
    approved = create_partner()
    disabled = add_partner_member(approved, disabled=True)
    login(client, disabled)
    assert client.get("/offers/manage/").status_code == 403
    pending = create_partner(approved=False)
    login(client, pending.owner)
    assert client.get("/offers/manage/").status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/offers/manage/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


ROUTES = [
    ("get", "/offers/manage/{id}"),
    ("get", "/offers/manage/{id}/edit"),
    ("post", "/offers/manage/{id}/edit"),
    ("post", "/offers/manage/{id}/submit"),
    ("post", "/offers/manage/{id}/pause"),
    ("post", "/offers/manage/{id}/resume"),
    ("post", "/offers/manage/{id}/archive"),
    ("post", "/offers/manage/{id}/codes"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_another_partners_offer_is_404(
    app, client, login, partner, create_partner, create_offer, method, route
):
    other = create_partner(name="Concurrent")
    theirs = create_offer(other, method="unique_codes", codes=["X"])
    login(client, partner.owner)
    response = getattr(client, method)(route.format(id=theirs.id), data={**FORM, "text": "Y"})
    assert response.status_code == 404
    row = reload(app, theirs.id)
    assert row.status == OfferStatus.PUBLISHED
    assert row.pending_changes is None
    with app.app_context():
        assert db.session.scalar(select(func.count(OfferCode.id))) == 1


def test_a_partner_types_times_in_their_own_zone_and_ticks_countries(app, portal, partner):
    from datetime import UTC, datetime

    from marketplace.accounts.models import User

    with app.app_context():
        db.session.get(User, partner.owner.id).timezone = "Asia/Tokyo"
        db.session.commit()
    new = portal.get("/offers/manage/new", headers=EN).get_data(as_text=True)
    assert "(UTC)" not in new
    assert "Your time zone: Tokyo" in new
    assert 'type="checkbox" value="SN"' in new  # countries are ticked, not Ctrl-clicked
    assert "<select multiple" not in new

    portal.post(
        "/offers/manage/new",
        data={**FORM, "starts_at": "2027-01-10T09:00", "ends_at": "2027-02-01T00:30"},
    )

    with app.app_context():
        offer = db.session.scalar(select(Offer).where(Offer.partner_id == partner.id))
        assert offer.starts_at == datetime(2027, 1, 10, 0, 0, tzinfo=UTC)
        assert offer.ends_at == datetime(2027, 1, 31, 15, 30, tzinfo=UTC)
        offer_id = offer.id
    edit = portal.get(f"/offers/manage/{offer_id}/edit").get_data(as_text=True)
    assert 'value="2027-01-10T09:00"' in edit
    assert 'value="2027-02-01T00:30"' in edit
