"""Saved-search pages: save, list, change, delete (own searches only), one-click unsubscribe."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.notifications.models import SavedSearch


def _searches_of(app, user):
    with app.app_context():
        return list(db.session.scalars(select(SavedSearch).where(SavedSearch.user_id == user.id)))


def test_save_search_keeps_known_criteria_and_redirects_back(app, client, create_user, login):
    user = create_user(alumni=True, status="verified", locale="en")
    login(client, user)
    response = client.post(
        "/notifications/searches?next=/offers/?q=train",
        data={
            "kind": "offers",
            "frequency": "daily",
            "q": "train",
            "country": "pt",
            "sort": "newest",
            "page": "2",
            "evil": "x",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/offers/?q=train"
    (search,) = _searches_of(app, user)
    assert search.kind == "offers"
    assert search.frequency == "daily"
    assert search.criteria == {"q": "train", "country": "pt"}
    # Saving the same search again updates it instead of adding a second one.
    client.post(
        "/notifications/searches",
        data={"kind": "offers", "frequency": "instant", "q": "train", "country": "pt"},
    )
    (search,) = _searches_of(app, user)
    assert search.frequency == "instant"


def test_save_search_refuses_an_unknown_kind_or_frequency(app, client, create_user, login):
    user = create_user(alumni=True, status="verified")
    login(client, user)
    client.post("/notifications/searches", data={"kind": "cars", "frequency": "daily"})
    client.post("/notifications/searches", data={"kind": "jobs", "frequency": "hourly"})
    assert _searches_of(app, user) == []


def test_save_search_needs_sign_in(app, client):
    response = client.post("/notifications/searches", data={"kind": "jobs", "frequency": "daily"})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_list_shows_only_own_searches(app, client, create_user, login, create_search):
    me = create_user(alumni=True, status="verified", locale="en")
    other = create_user(alumni=True, status="verified")
    mine, _t = create_search(me, kind="jobs", criteria={"q": "rust-lang-only"})
    theirs, _t = create_search(other, kind="offers", criteria={"q": "secret-hobby"})
    login(client, me)
    page = client.get("/notifications/searches").get_data(as_text=True)
    assert f'id="saved-search-{mine}"' in page
    assert "rust-lang-only" in page
    assert f'id="saved-search-{theirs}"' not in page
    assert "secret-hobby" not in page


def test_empty_list_has_an_empty_state(client, create_user, login):
    login(client, create_user(alumni=True, status="verified"))
    assert b'id="saved-searches-empty"' in client.get("/notifications/searches").data


def test_another_members_search_answers_404(
    app, client, create_user, login, create_search, read_search
):
    me = create_user(alumni=True, status="verified")
    other = create_user(alumni=True, status="verified")
    theirs, _t = create_search(other, frequency="weekly")
    login(client, me)
    assert client.post(f"/notifications/searches/{theirs}/delete").status_code == 404
    response = client.post(
        f"/notifications/searches/{theirs}/frequency", data={f"s{theirs}-frequency": "instant"}
    )
    assert response.status_code == 404
    assert read_search(theirs).frequency == "weekly"


def test_change_frequency_and_delete_own_search(
    app, client, create_user, login, create_search, read_search
):
    me = create_user(alumni=True, status="verified")
    search_id, _t = create_search(me, frequency="weekly")
    login(client, me)
    client.post(
        f"/notifications/searches/{search_id}/frequency", data={f"s{search_id}-frequency": "daily"}
    )
    assert read_search(search_id).frequency == "daily"
    assert client.post(f"/notifications/searches/{search_id}/delete").status_code == 302
    assert read_search(search_id) is None


def test_unsubscribe_get_changes_nothing(client, create_user, create_search, read_search):
    user = create_user(alumni=True, status="verified")
    search_id, token = create_search(user)
    response = client.get(f"/notifications/unsubscribe/{token}")
    assert response.status_code == 200
    assert b'id="unsubscribe-form"' in response.data
    assert read_search(search_id).unsubscribed_at is None


def test_one_click_unsubscribe_works_without_csrf_or_session(
    client, create_user, create_search, read_search, csrf_enabled
):
    user = create_user(alumni=True, status="verified")
    search_id, token = create_search(user)
    # What a mail client sends (RFC 8058): no cookie, no CSRF token.
    response = client.post(
        f"/notifications/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    first = read_search(search_id).unsubscribed_at
    assert first is not None
    # Idempotent: a second POST keeps the first date.
    assert client.post(f"/notifications/unsubscribe/{token}").status_code == 200
    assert read_search(search_id).unsubscribed_at == first


def test_unknown_unsubscribe_token_is_404(client, csrf_enabled):
    assert client.get("/notifications/unsubscribe/nope").status_code == 404
    assert client.post("/notifications/unsubscribe/nope").status_code == 404


def test_choosing_a_frequency_again_resubscribes(
    app, client, create_user, login, create_search, read_search
):
    me = create_user(alumni=True, status="verified")
    search_id, token = create_search(me)
    client.post(f"/notifications/unsubscribe/{token}")
    assert read_search(search_id).unsubscribed_at is not None
    login(client, me)
    client.post(
        f"/notifications/searches/{search_id}/frequency", data={f"s{search_id}-frequency": "daily"}
    )
    assert read_search(search_id).unsubscribed_at is None


def test_offer_listing_offers_save_this_search_to_signed_in_readers(client, create_user, login):
    assert b'id="save-search"' not in client.get("/offers/?q=train").data
    login(client, create_user(alumni=True, status="verified"))
    page = client.get("/offers/?q=train&page=1").get_data(as_text=True)
    assert 'id="save-search"' in page
    assert 'name="kind" value="offers"' in page
    assert 'name="q" value="train"' in page
    assert 'name="page"' not in page.split('id="save-search"')[1].split("</form>")[0]
