"""Signed-in offer pages rendered once per kind of reader, the reader's own name and CSRF
token spliced in (marketplace/reader_pages.py, issue 17)."""

from __future__ import annotations

import re

import pytest
from flask import template_rendered

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.services import grant_membership
from offers import view_counts

EN = {"Accept-Language": "en"}


@pytest.fixture
def offer(create_partner, create_offer):
    return create_offer(create_partner(), title_en="Cheaper cinema tickets", category="travel")


def _reader(app, create_user, login, name: str, **options):
    client = app.test_client()
    login(
        client, create_user(alumni=True, status="verified", locale="en", full_name=name, **options)
    )
    return client


def _states(html: str) -> set[str]:
    return set(re.findall(r'data-reader-state="(\w+)"', html))


def _record(rendered: list[str]):
    def record(sender, template, context, **extra):
        rendered.append(template.name)

    return record


def _csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([^"]+)"', html))


def test_a_second_reader_of_the_same_kind_gets_the_page_without_a_query(
    app, page_cache, reader_cache, csrf_enabled, offer, create_user, login, count_queries
):
    first = _reader(app, create_user, login, "Ana Sousa")
    second = _reader(app, create_user, login, "Bruno Lima")
    # The second reader's row and redeemed offers: one query each, then cached.
    with count_queries() as statements:
        second.get("/offers/?sort=newest", headers=EN)
    assert any("FROM users" in statement for statement in statements)
    for path in ("/offers/", "/offers/?q=cinema", f"/offers/{offer.id}"):
        mine = first.get(path, headers=EN)
        assert mine.status_code == 200, path
        rendered: list[str] = []
        record = _record(rendered)
        template_rendered.connect(record, app)
        try:
            with count_queries() as statements:
                theirs = second.get(path, headers=EN)
        finally:
            template_rendered.disconnect(record, app)
        assert statements == [], (path, statements)
        assert rendered == [], path  # the stored page, the reader's two strings spliced in
        assert theirs.status_code == 200
        assert theirs.headers["Cache-Control"] == "no-store"
        # Each reader's own name and token, nothing of the other's, no slot left.
        assert '<summary id="nav-me">Ana</summary>' in mine.text
        assert '<summary id="nav-me">Bruno</summary>' in theirs.text
        assert "Ana" not in theirs.text
        assert "slot-" not in theirs.text
        assert "slot-" not in mine.text
        assert len(_csrf_tokens(theirs.text)) == 1
        assert _csrf_tokens(theirs.text).isdisjoint(_csrf_tokens(mine.text))
        assert _states(theirs.text) == _states(mine.text) == {"can_redeem"}
    # The token spliced in is the reader's own: their form is accepted.
    token = _csrf_tokens(second.get(f"/offers/{offer.id}", headers=EN).text).pop()
    saved = second.post(
        "/notifications/searches", data={"csrf_token": token, "kind": "offers", "q": "cinema"}
    )
    assert saved.status_code in (302, 303)


def test_a_name_is_escaped_in_its_slot(app, page_cache, reader_cache, offer, create_user, login):
    _reader(app, create_user, login, "Ana Sousa").get("/offers/", headers=EN)
    page = _reader(app, create_user, login, "<b>Eve</b> X").get("/offers/", headers=EN)
    assert "<b>Eve</b>" not in page.text
    assert "&lt;b&gt;Eve&lt;/b&gt;" in page.text


def test_a_redemption_shows_on_the_readers_pages_at_once(
    app, client, page_cache, reader_cache, offer, create_user, login, api_headers
):
    other = _reader(app, create_user, login, "Ana Sousa")
    me = create_user(alumni=True, status="verified", locale="en")
    login(client, me)
    for path in ("/offers/", f"/offers/{offer.id}"):
        assert _states(other.get(path, headers=EN).text) == {"can_redeem"}
        assert _states(client.get(path, headers=EN).text) == {"can_redeem"}
    api = app.test_client()  # a script with a token, beside the browser
    created = api.post(f"/api/v1/offers/{offer.id}/redemptions", headers=api_headers(me))
    assert created.status_code == 201
    code = created.get_json()["code"]
    for path in ("/offers/", f"/offers/{offer.id}"):
        page = client.get(path, headers=EN).text
        assert _states(page) == {"already_redeemed"}, path
        theirs = other.get(path, headers=EN).text
        assert _states(theirs) == {"can_redeem"}, path
        if code:
            assert code not in theirs


def test_readers_of_other_kinds_and_staff_get_their_own_rendering(
    app, page_cache, reader_cache, create_partner, create_offer, create_user, login
):
    members_offer = create_offer(create_partner(), audience="members", title_en="Members deal")
    alumnus = _reader(app, create_user, login, "Ana Sousa")
    member_user = create_user(alumni=True, status="verified", locale="en")
    with app.app_context():
        grant_membership(member_user, actor=None, months=12)
        db.session.commit()
    member = login(app.test_client(), member_user)
    pending = login(app.test_client(), create_user(alumni=True, status="pending", locale="en"))
    moderator = login(
        app.test_client(), create_user(alumni=True, status="verified", roles=("moderator",))
    )
    path = f"/offers/{members_offer.id}"
    assert _states(alumnus.get(path, headers=EN).text) == {"members_only"}
    assert _states(member.get(path, headers=EN).text) == {"can_redeem"}
    assert _states(pending.get(path, headers=EN).text) == {"pending_verification"}
    assert 'id="nav-staff"' in moderator.get(path, headers=EN).text
    assert 'id="nav-staff"' not in alumnus.get(path, headers=EN).text
    assert _states(alumnus.get(path, headers=EN).text) == {"members_only"}


def test_an_offer_view_served_from_the_cache_is_counted(
    app, page_cache, reader_cache, offer, create_user, login
):
    first = _reader(app, create_user, login, "Ana Sousa")
    second = _reader(app, create_user, login, "Bruno Lima")
    first.get(f"/offers/{offer.id}", headers=EN)
    before = view_counts.pending()
    second.get(f"/offers/{offer.id}", headers=EN)
    second.get(f"/offers/{offer.id}", headers=EN)
    assert view_counts.pending() == before + 2


def test_a_withdrawn_offer_leaves_the_readers_pages_at_the_next_request(
    app, page_cache, reader_cache, offer, create_user, login
):
    from offers.models import Offer, OfferStatus

    reader = _reader(app, create_user, login, "Ana Sousa")
    assert "Cheaper cinema tickets" in reader.get("/offers/", headers=EN).text
    with app.app_context():
        db.session.get(Offer, offer.id).status = OfferStatus.ARCHIVED
        db.session.commit()
    assert "Cheaper cinema tickets" not in reader.get("/offers/", headers=EN).text


def test_flashed_messages_and_scheduled_deletions_are_the_readers_own(
    app, page_cache, reader_cache, offer, create_user, login
):
    from marketplace.accounts.models import User

    other = _reader(app, create_user, login, "Ana Sousa")
    other.get("/offers/", headers=EN)
    flashed = _reader(app, create_user, login, "Bruno Lima")
    with flashed.session_transaction() as session:
        session["_flashes"] = [("info", "A message for Bruno only")]
    assert "A message for Bruno only" in flashed.get("/offers/", headers=EN).text
    assert "A message for Bruno only" not in other.get("/offers/", headers=EN).text
    leaving = create_user(alumni=True, status="verified", locale="en")
    with app.app_context():
        db.session.get(User, leaving.id).deletion_due_at = utcnow()
        db.session.commit()
    page = login(app.test_client(), leaving).get("/offers/", headers=EN).text
    assert 'id="deletion-banner"' in page
    assert 'id="deletion-banner"' not in other.get("/offers/", headers=EN).text


def test_a_reader_who_redeemed_gets_their_own_rendering_kept_for_them(
    app,
    client,
    page_cache,
    reader_cache,
    create_partner,
    create_offer,
    create_user,
    login,
    api_headers,
    count_queries,
):
    partner = create_partner()
    first, second = (create_offer(partner, title_en=f"Deal {n}") for n in (1, 2))
    me = create_user(alumni=True, status="verified", locale="en")
    api = app.test_client()
    assert (
        api.post(f"/api/v1/offers/{first.id}/redemptions", headers=api_headers(me)).status_code
        == 201
    )
    login(client, me)
    other = _reader(app, create_user, login, "Ana Sousa")
    assert _states(other.get("/offers/", headers=EN).text) == {"can_redeem"}
    assert _states(client.get("/offers/", headers=EN).text) == {"already_redeemed", "can_redeem"}
    db.session.expunge_all()  # each request starts with an empty session, as in production
    rendered: list[str] = []
    record = _record(rendered)
    template_rendered.connect(record, app)
    try:
        with count_queries() as statements:
            again = client.get("/offers/", headers=EN).text
    finally:
        template_rendered.disconnect(record, app)
    assert statements == []
    assert rendered == []  # their own rendering, kept for them
    assert _states(again) == {"already_redeemed", "can_redeem"}
    # A second redemption moves their versions: their page shows it at once.
    assert (
        api.post(f"/api/v1/offers/{second.id}/redemptions", headers=api_headers(me)).status_code
        == 201
    )
    assert _states(client.get("/offers/", headers=EN).text) == {"already_redeemed"}
    assert _states(other.get("/offers/", headers=EN).text) == {"can_redeem"}


def test_the_first_reader_of_a_kind_who_redeemed_still_gets_their_page_kept(
    app, client, page_cache, reader_cache, offer, create_user, login, api_headers
):
    me = create_user(alumni=True, status="verified", locale="en")
    api = app.test_client()
    assert (
        api.post(f"/api/v1/offers/{offer.id}/redemptions", headers=api_headers(me)).status_code
        == 201
    )
    login(client, me)
    for path in ("/offers/", f"/offers/{offer.id}"):
        assert _states(client.get(path, headers=EN).text) == {"already_redeemed"}
        db.session.expunge_all()
        rendered: list[str] = []
        record = _record(rendered)
        template_rendered.connect(record, app)
        try:
            again = client.get(path, headers=EN).text
        finally:
            template_rendered.disconnect(record, app)
        assert rendered == [], path
        assert _states(again) == {"already_redeemed"}
