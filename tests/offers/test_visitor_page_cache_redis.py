"""A visitor's page from Redis in one round trip, its offer view counted (issue 17).

The app here is production's shape (application cache and page cache in Redis). The Redis
client is the real one, wrapped to count what reaches the server: a command sent alone
(``execute_command``) or a pipeline sent in one go (``execute``) is one round trip.
"""

from __future__ import annotations

import os
import pickle
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from marketplace import cache as cache_module
from marketplace import create_app
from marketplace import page_cache as page_cache_module
from marketplace.database import utcnow
from marketplace.extensions import db
from offers import view_counts
from offers.models import Offer, OfferDailyStat, OfferStatus
from tests.conftest import test_config as app_config

EN = {"Accept-Language": "en"}
FR = {"Accept-Language": "fr"}


class RoundTrips:
    """Counts the round trips of one real Redis client (commands alone, pipelines whole)."""

    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[list[str]] = []
        send_one = client.execute_command
        make_pipeline = client.pipeline

        def execute_command(*args: Any, **options: Any) -> Any:
            self.sent.append([str(args[0]).upper()])
            return send_one(*args, **options)

        def pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = make_pipeline(*args, **kwargs)
            send_all = pipe.execute

            def execute(*a: Any, **k: Any) -> Any:
                self.sent.append([str(command[0][0]).upper() for command in pipe.command_stack])
                return send_all(*a, **k)

            pipe.execute = execute
            return pipe

        monkeypatch.setattr(client, "execute_command", execute_command)
        monkeypatch.setattr(client, "pipeline", pipeline)

    def __len__(self) -> int:
        return len(self.sent)

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
def served(database_url: str, tmp_path: Any) -> Iterator[Flask]:
    """An app whose caches are in Redis, under a key prefix of its own (removed after)."""
    prefix = f"test-pages-{uuid.uuid4().hex}:"
    config = app_config(database_url, tmp_path)
    config.update(
        CACHE_TYPE="RedisCache",
        CACHE_REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        CACHE_KEY_PREFIX=prefix,
        PAGE_CACHE_ENABLED=True,
        RATELIMIT_ENABLED=False,
    )
    application = create_app(config)
    client = application.extensions["cache"][cache_module.cache]._write_client
    try:
        yield application
    finally:
        view_counts.reset()  # nothing left for this process to send after the keys are gone
        keys = client.keys(f"{prefix}*")
        if keys:
            client.delete(*keys)


@pytest.fixture
def round_trips(served: Flask, monkeypatch: pytest.MonkeyPatch) -> RoundTrips:
    return RoundTrips(served.extensions["cache"][cache_module.cache]._write_client, monkeypatch)


@pytest.fixture
def offer(create_partner, create_offer) -> Offer:
    return create_offer(
        create_partner(name="Cinéma Rio"),
        title_en="Cheaper cinema tickets",
        title_fr="Cinéma moins cher",
    )


def _views(app: Flask, offer_id: int) -> list[int]:
    from marketplace.tasks import run_due

    with app.app_context():
        run_due(echo=lambda line: None)
        return list(
            db.session.scalars(
                select(OfferDailyStat.views).where(OfferDailyStat.offer_id == offer_id)
            )
        )


PAGES = ["/", "/offers/", "/offers/?q=cinema", "offer", "/jobs/", "/jobs/?q=developer", "/privacy/"]


@pytest.mark.parametrize("page", PAGES)
def test_a_visitor_hit_costs_one_redis_round_trip(
    served, round_trips, offer, count_queries, page, monkeypatch
):
    path = f"/offers/{offer.id}" if page == "offer" else page
    first = served.test_client().get(path, headers=EN)
    assert first.headers["Cache-Control"] == "public, max-age=60"
    unpickled = []
    loads = pickle.loads

    def counting_loads(*args: Any, **kwargs: Any) -> Any:
        unpickled.append(1)
        return loads(*args, **kwargs)

    monkeypatch.setattr(pickle, "loads", counting_loads)
    for _ in range(3):
        round_trips.clear()
        with count_queries() as statements:
            again = served.test_client().get(path, headers=EN)  # another visitor
        assert statements == []
        assert again.data == first.data
        assert len(round_trips) == 1, round_trips.sent  # versions, page and views at once
    assert unpickled == []  # this process served the page it had kept, as it was
    if page == "offer":
        assert _views(served, offer.id) == [4]  # every view counted, the cached ones too


def test_a_page_another_process_stored_costs_one_round_trip_too(
    served, round_trips, offer, count_queries
):
    path = f"/offers/{offer.id}"
    first = served.test_client().get(path, headers=EN)
    page_cache_module.clear(served)  # this process forgets it: another worker stored it
    round_trips.clear()
    with count_queries() as statements:
        again = served.test_client().get(path, headers=EN)
    assert statements == []
    assert again.data == first.data
    assert len(round_trips) == 1, round_trips.sent
    assert _views(served, offer.id) == [2]


def test_offer_views_ride_with_a_page_lookup(served, round_trips, offer, monkeypatch):
    """A view waits in the process, then goes with a lookup's round trip (one HINCRBY per
    offer and batch), not in one of its own."""
    monkeypatch.setattr(view_counts, "SEND_SECONDS", 600.0)  # no sender thread meanwhile
    path = f"/offers/{offer.id}"
    served.test_client().get(path, headers=EN)  # rendered: its view waits
    served.test_client().get(path, headers=EN)  # served: its view waits too
    client = served.extensions["cache"][cache_module.cache]._write_client
    prefix = served.config["CACHE_KEY_PREFIX"]
    assert client.hgetall(f"{prefix}offer-views") == {}
    monkeypatch.setattr(view_counts, "RIDE_SECONDS", 0.0)  # they are old enough now
    round_trips.clear()
    served.test_client().get(path, headers=EN)
    assert round_trips.sent == [["GET", "HINCRBY"]]
    field = f"{offer.id}:{utcnow().date().isoformat()}".encode()
    assert client.hgetall(f"{prefix}offer-views") == {field: b"2"}
    assert _views(served, offer.id) == [3]


def test_a_committed_write_is_seen_by_visitors_at_the_next_request(served, offer):
    visitor = served.test_client()
    assert "Cheaper cinema tickets" in visitor.get("/offers/", headers=EN).text
    assert "Cheaper cinema tickets" in visitor.get("/offers/", headers=EN).text  # kept
    with served.app_context():
        db.session.get(Offer, offer.id).status = OfferStatus.ARCHIVED
        db.session.commit()  # the offers' version moves in Redis
    assert "Cheaper cinema tickets" not in visitor.get("/offers/", headers=EN).text
    page_cache_module.clear(served)
    assert "Cheaper cinema tickets" not in visitor.get("/offers/", headers=EN).text


def test_languages_are_kept_apart(served, offer):
    visitor = served.test_client()
    english, french = visitor.get("/offers/", headers=EN), visitor.get("/offers/", headers=FR)
    assert '<html lang="en"' in english.text
    assert '<html lang="fr"' in french.text
    assert visitor.get("/offers/", headers=EN).data == english.data
    assert visitor.get("/offers/", headers=FR).data == french.data


def test_a_signed_in_reader_is_never_served_a_visitors_page(served, offer):
    served.test_client().get("/offers/", headers=EN)
    member = served.test_client()
    member.set_cookie("session", "anything")  # whatever it holds, the app reads it
    page = member.get("/offers/", headers=EN)
    assert page.headers["Cache-Control"] == "private"
    returning = served.test_client()
    returning.set_cookie("remember_token", "1|stale")
    assert returning.get("/offers/", headers=EN).headers["Cache-Control"] == "private"
    other = served.test_client()
    page = other.get("/offers/", headers={**EN, "Authorization": "Bearer x"})
    assert page.headers["Cache-Control"] != "public, max-age=60"


def test_repeated_headers_are_parsed_once(served, offer, monkeypatch):
    calls = {"cookie": 0, "language": 0}
    parse_cookie, parse_accept = (
        page_cache_module.parse_cookie,
        page_cache_module.parse_accept_header,
    )

    def counting_cookie(*args: Any, **kwargs: Any) -> Any:
        calls["cookie"] += 1
        return parse_cookie(*args, **kwargs)

    def counting_accept(*args: Any, **kwargs: Any) -> Any:
        calls["language"] += 1
        return parse_accept(*args, **kwargs)

    monkeypatch.setattr(page_cache_module, "parse_cookie", counting_cookie)
    monkeypatch.setattr(page_cache_module, "parse_accept_header", counting_accept)
    visitor = served.test_client()
    visitor.set_cookie("_pk_id", "a-tracker")  # a cookie that is neither session nor language
    headers = {"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"}
    first = visitor.get("/offers/", headers=headers)
    calls.update(cookie=0, language=0)
    for _ in range(3):
        assert visitor.get("/offers/", headers=headers).data == first.data
    assert calls == {"cookie": 0, "language": 0}


def test_with_redis_down_pages_are_rendered_and_views_kept(database_url, tmp_path, offer):
    config = app_config(database_url, tmp_path)
    config.update(
        CACHE_TYPE="RedisCache",
        CACHE_REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens there
        PAGE_CACHE_ENABLED=True,
        RATELIMIT_ENABLED=False,
    )
    down = create_app(config)
    try:
        for _ in range(2):
            page = down.test_client().get(f"/offers/{offer.id}", headers=EN)
            assert page.status_code == 200
            assert "Cheaper cinema tickets" in page.text
        assert view_counts.pending() == 2  # waiting in this process for the database
    finally:
        cache_module._unavailable_until = 0.0
