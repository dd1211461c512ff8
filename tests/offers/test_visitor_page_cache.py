"""Whole public pages for visitors, from the cache before the app's request work (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import render_template_string
from flask.sessions import SecureCookieSessionInterface

from marketplace import cache as cache_module
from marketplace.database import utcnow
from marketplace.extensions import db

EN = {"Accept-Language": "en"}
FR = {"Accept-Language": "fr"}


class CountingSessions(SecureCookieSessionInterface):
    """The app's session interface, counting the sessions it opens."""

    def __init__(self) -> None:
        self.opened = 0

    def open_session(self, app: Any, request: Any) -> Any:
        self.opened += 1
        return super().open_session(app, request)


@pytest.fixture
def sessions(app, monkeypatch) -> CountingSessions:
    counting = CountingSessions()
    monkeypatch.setattr(app, "session_interface", counting)
    return counting


@pytest.fixture
def partner(create_partner):
    return create_partner(name="Cinéma Rio")


@pytest.fixture
def offer(partner, create_offer):
    return create_offer(partner, title_en="Cheaper cinema tickets", title_fr="Cinéma moins cher")


def test_a_visitor_page_is_served_again_without_session_or_database(
    app, client, page_cache, offer, count_queries, sessions
):
    paths = ["/", "/offers/", "/offers/?q=cinema", f"/offers/{offer.id}", "/jobs/", "/privacy/"]
    for path in paths:
        first = client.get(path, headers=EN)
        assert first.status_code == 200, path
        assert first.headers["Cache-Control"] == "public, max-age=60", path
        assert "Set-Cookie" not in first.headers, path
        assert {"Cookie", "Accept-Language"} <= set(first.vary), path
        opened = sessions.opened
        with count_queries() as statements:
            second = client.get(path, headers=EN)
        assert statements == [], path
        assert sessions.opened == opened, path  # answered before the session was opened
        assert second.status_code == 200
        assert second.data == first.data
        assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
        assert "Set-Cookie" not in second.headers
    assert client.get_cookie("session") is None


def test_a_moderators_approval_is_seen_by_visitors_at_the_next_request(
    app, client, page_cache, partner, create_offer, create_user, login
):
    pending = create_offer(partner, status="submitted", title_en="A brand new deal")
    assert "A brand new deal" not in client.get("/offers/", headers=EN).text
    assert client.get(f"/offers/{pending.id}", headers=EN).status_code == 404
    staff = login(app.test_client(), create_user(roles=("moderator",)))
    assert staff.post(f"/offers/moderation/{pending.id}/approve").status_code == 302
    assert "A brand new deal" in client.get("/offers/", headers=EN).text
    assert client.get(f"/offers/{pending.id}", headers=EN).status_code == 200


def test_a_withdrawn_offer_leaves_the_visitors_pages_at_the_next_request(
    app, client, page_cache, offer, count_queries
):
    from offers.models import Offer, OfferStatus

    assert "Cheaper cinema tickets" in client.get("/offers/", headers=EN).text
    with count_queries() as statements:
        client.get("/offers/", headers=EN)
    assert statements == []
    with app.app_context():
        db.session.get(Offer, offer.id).status = OfferStatus.ARCHIVED
        db.session.commit()  # a committed write moves the offers' version
    assert "Cheaper cinema tickets" not in client.get("/offers/", headers=EN).text


def test_signed_in_requests_never_get_a_cached_page(
    app, client, page_cache, offer, create_user, login, count_queries
):
    visitor_page = client.get("/offers/", headers=EN)
    assert visitor_page.headers["Cache-Control"].startswith("public")
    member = login(app.test_client(), create_user(alumni=True, status="verified"))
    with count_queries() as statements:
        page = member.get("/offers/", headers=EN)
    assert statements != []  # rendered for the member
    assert 'id="nav-me"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.data != visitor_page.data
    # A remember-me cookie alone (even a stale one) goes through the app too: a stored page
    # would say "public" (the app's own rendering may need no query, its categories cached).
    returning = app.test_client()
    returning.set_cookie("remember_token", "1|stale")
    page = returning.get("/offers/", headers=EN)
    assert page.headers["Cache-Control"] == "private"


def test_a_page_with_a_flashed_message_is_neither_stored_nor_served_from_the_cache(
    app, client, page_cache, offer
):
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "A message for this reader only")]
    page = client.get("/offers/", headers=EN)
    assert "A message for this reader only" in page.text
    assert page.headers["Cache-Control"] == "private"
    assert "A message for this reader only" not in app.test_client().get("/offers/").text


def test_a_page_with_a_form_for_the_reader_is_not_cached(
    app, client, page_cache, csrf_enabled, monkeypatch
):
    rendered = []

    def home_with_a_form():
        rendered.append(1)
        return render_template_string('<form><input value="{{ csrf_token() }}"></form>')

    monkeypatch.setitem(app.view_functions, "main.index", home_with_a_form)
    for _ in range(2):
        page = client.get("/")
        assert page.headers["Cache-Control"] == "private"
        assert "public" not in page.headers["Cache-Control"]
        assert "Set-Cookie" in page.headers
        client.delete_cookie("session")
    assert len(rendered) == 2


def test_french_and_english_are_kept_apart(client, page_cache, offer, count_queries):
    english = client.get("/offers/", headers=EN)
    french = client.get("/offers/", headers=FR)
    assert '<html lang="en"' in english.text
    assert '<html lang="fr"' in french.text
    with count_queries() as statements:
        assert client.get("/offers/", headers=EN).data == english.data
        assert client.get("/offers/", headers=FR).data == french.data
        assert client.get("/offers/").data == french.data  # French by default
    assert statements == []


def test_the_language_switch_needs_no_token_nor_session_for_a_visitor(
    client, page_cache, csrf_enabled, offer
):
    switched = client.post("/language", data={"locale": "en", "next": "/offers/"}, headers=FR)
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/offers/"
    assert client.get_cookie("locale").value == "en"
    assert client.get_cookie("session") is None
    page = client.get("/offers/", headers=FR)  # the choice beats the browser's language
    assert '<html lang="en"' in page.text
    assert page.headers["Cache-Control"] == "public, max-age=60"
    assert 'name="csrf_token"' not in page.text


def test_without_a_working_cache_pages_are_rendered(app, client, page_cache, offer, monkeypatch):
    backend = app.extensions["cache"][cache_module.cache]

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(backend, "get", down)  # the pages' version
    monkeypatch.setattr(backend, "get_many", down)
    monkeypatch.setattr(cache_module, "_unavailable_until", 0.0)
    try:
        assert "Cheaper cinema tickets" in client.get("/offers/", headers=EN).text
        assert "Cheaper cinema tickets" in client.get("/offers/", headers=EN).text
    finally:
        cache_module._unavailable_until = 0.0


def test_with_redis_pages_and_view_counts_are_shared_and_flushed(
    database_url, tmp_path, offer, count_queries
):
    """Production's shape: pages and view counters in Redis, the due task writes the views."""
    import os
    import uuid

    from sqlalchemy import select

    from marketplace import create_app
    from marketplace.tasks import run_due
    from offers import view_counts
    from offers.models import OfferDailyStat
    from tests.conftest import test_config

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-pages-{uuid.uuid4().hex}:"
    config = test_config(database_url, tmp_path)
    config.update(
        CACHE_TYPE="RedisCache",
        CACHE_REDIS_URL=url,
        CACHE_KEY_PREFIX=prefix,
        PAGE_CACHE_ENABLED=True,
        RATELIMIT_ENABLED=False,
    )
    served = create_app(config)
    backend = served.extensions["cache"][cache_module.cache]
    client = served.test_client()
    try:
        first = client.get(f"/offers/{offer.id}", headers=EN)
        assert first.status_code == 200
        with count_queries() as statements:
            second = served.test_client().get(f"/offers/{offer.id}", headers=EN)  # another reader
        assert statements == []
        assert second.data == first.data
        view_counts.send(served)  # what waits in this process goes within a second
        assert backend._read_client.hgetall(f"{prefix}offer-views") == {
            f"{offer.id}:{utcnow().date().isoformat()}".encode(): b"2"
        }
        with served.app_context():
            assert "offer-views: 2 offer view(s) written" in run_due(echo=lambda line: None)
            views = db.session.scalars(
                select(OfferDailyStat.views).where(OfferDailyStat.offer_id == offer.id)
            ).all()
        assert views == [2]
        assert backend._read_client.exists(f"{prefix}offer-views") == 0
    finally:
        view_counts.reset()  # nothing left for this process to send after the keys are gone
        keys = backend._write_client.keys(f"{prefix}*")
        if keys:
            backend._write_client.delete(*keys)
