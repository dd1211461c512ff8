"""Rate limiting costs one Redis round trip per request (issue 17), with the same semantics.

The API redemption carries two limits (the API-wide ``300/minute`` and its own ``30/minute``)
and answers with ``X-RateLimit-*`` headers. Flask-Limiter on its own sends one script per limit
and one more read for the headers; marketplace/rate_limits.py sends one script for all of them.
Here the app's limiter runs on the real Redis (``TEST_REDIS_URL``) under a key prefix of its
own, and the commands sent are counted on the real client.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from limits import parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from marketplace.extensions import limiter
from tests.offers.conftest import api_headers, create_offer, create_partner  # noqa: F401

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EN = {"Accept-Language": "en"}


@contextmanager
def limiter_on(app: Flask, uri: str, prefix: str) -> Iterator[None]:
    """The app's limiter on ``uri`` for the block, then back on the tests' in-memory storage."""
    saved = dict(app.config)
    app.config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=uri,
        RATELIMIT_KEY_PREFIX=prefix,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 1, "socket_timeout": 1},
    )
    limiter._key_prefix = ""  # Flask-Limiter keeps the first prefix it was given
    limiter.init_app(app)
    try:
        yield
    finally:
        app.config.clear()
        app.config.update(saved)
        limiter._key_prefix = ""
        limiter._storage_dead = False
        limiter.init_app(app)
        limiter.enabled = False


@pytest.fixture
def redis_limits(app: Flask) -> Iterator[str]:
    """The limiter on Redis with a fresh prefix; its keys are deleted afterwards."""
    prefix = f"test-limits-{uuid.uuid4().hex[:12]}"
    with limiter_on(app, REDIS_URL, prefix):
        try:
            yield prefix
        finally:
            client = limiter.storage.get_connection()
            keys = list(client.scan_iter(f"*{prefix}*"))
            if keys:
                client.delete(*keys)


@contextmanager
def redis_commands() -> Iterator[list[str]]:
    """The commands the limiter's Redis client sends during the block (a counting wrapper)."""
    client = limiter.storage.get_connection()
    sent: list[str] = []
    real = client.execute_command

    def counting(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return real(*args, **options)

    client.execute_command = counting
    try:
        yield sent
    finally:
        del client.execute_command


@pytest.fixture
def redeemer(
    client,
    create_user,
    create_partner,  # noqa: F811
    create_offer,  # noqa: F811
    api_headers,  # noqa: F811
) -> tuple[Callable[[], Any], int]:
    """``redeem()`` posts one API redemption of a roomy offer; the caller's user id."""
    member = create_user(alumni=True, status="verified", locale="en")
    offer = create_offer(create_partner(), method="generated_codes", per_member_limit=1000)
    headers = {**api_headers(member), **EN}

    def redeem():
        return client.post(f"/api/v1/offers/{offer.id}/redemptions", headers=headers)

    return redeem, member.id


def stock_window(prefix: str, limit: str, *identifiers: str) -> tuple[float, int]:
    """The window as the stock ``limits`` moving window reads it from the same keys."""
    storage = RedisStorage(REDIS_URL)
    return MovingWindowRateLimiter(storage).get_window_stats(parse(limit), prefix, *identifiers)


def test_a_redemption_costs_one_round_trip_for_both_limits_and_the_headers(redis_limits, redeemer):
    redeem, user_id = redeemer
    assert redeem().status_code == 201  # the first call may load the script into Redis
    with redis_commands() as sent:
        response = redeem()
    assert response.status_code == 201, response.get_json()
    assert sent == ["EVALSHA"]
    assert response.headers["X-RateLimit-Limit"] == "30"
    assert response.headers["X-RateLimit-Remaining"] == "28"
    reset = int(response.headers["X-RateLimit-Reset"])
    assert time.time() + 50 < reset <= time.time() + 61
    # Both budgets are counted, on the keys (and in the lists) the stock strategy reads.
    scope = "redemptions_api.redeem"
    assert stock_window(redis_limits, "30/minute", f"user:{user_id}", scope)[1] == 28
    assert stock_window(redis_limits, "300/minute", f"user:{user_id}", "api")[1] == 298


def test_an_api_call_with_the_api_wide_limit_alone_is_one_round_trip(
    client, redis_limits, seed_reference
):
    assert client.get("/api/v1/categories").status_code == 200
    with redis_commands() as sent:
        response = client.get("/api/v1/categories")
    assert response.status_code == 200
    assert sent == ["EVALSHA"]
    assert response.headers["X-RateLimit-Limit"] == "300"
    assert response.headers["X-RateLimit-Remaining"] == "298"


def test_the_thirty_first_redemption_of_the_minute_is_refused_in_one_round_trip(
    redis_limits, redeemer
):
    redeem, user_id = redeemer
    assert [redeem().status_code for _ in range(30)] == [201] * 30
    with redis_commands() as sent:
        refused = redeem()
    assert sent == ["EVALSHA"]
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["code"] == 429
    assert body["status"] == "Too Many Requests"
    assert body["message"]
    assert refused.headers["X-RateLimit-Limit"] == "30"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    # The refusal stopped at the first limit broken: the API-wide budget was not charged.
    assert stock_window(redis_limits, "300/minute", f"user:{user_id}", "api")[1] == 270


def test_a_sign_in_attempt_costs_one_round_trip_for_its_two_limits(client, redis_limits):
    """The sign-in page: 10 a minute per account and 60 per address, both in one script."""

    def attempt():
        data = {"email": "nobody@example.org", "password": "not the password"}
        return client.post("/accounts/login", data=data, headers=EN)

    assert attempt().status_code == 422
    with redis_commands() as sent:
        assert attempt().status_code == 422
    assert sent == ["EVALSHA"]
    with redis_commands() as sent:
        assert client.get("/accounts/login").status_code == 200  # a GET is not counted
    assert sent == []
    statuses = [attempt().status_code for _ in range(9)]
    assert statuses == [422] * 8 + [429]


def test_the_window_slides_over_entries_the_stock_strategy_wrote(redis_limits, redeemer):
    redeem, user_id = redeemer
    stock = MovingWindowRateLimiter(RedisStorage(REDIS_URL))
    item = parse("30/minute")
    identifiers = (redis_limits, f"user:{user_id}", "redemptions_api.redeem")
    key = f"LIMITS:{item.key_for(*identifiers)}"
    client = stock.storage.get_connection()
    # Thirty hits 59 seconds ago, as the stock strategy writes them: still inside the window.
    client.rpush(key, *[time.time() - 59] * 30)
    assert redeem().status_code == 429
    # The same thirty a little over a minute ago: out of the window, the budget is back.
    client.delete(key)
    client.rpush(key, *[time.time() - 61] * 30)
    allowed = redeem()
    assert allowed.status_code == 201
    assert allowed.headers["X-RateLimit-Remaining"] == "29"
    assert stock.get_window_stats(item, *identifiers)[1] == 29


def test_with_redis_down_limits_go_on_in_memory(app, redeemer):
    redeem, _user_id = redeemer
    prefix = f"test-limits-{uuid.uuid4().hex[:12]}"
    with limiter_on(app, "redis://127.0.0.1:1/0", prefix):
        statuses = [redeem().status_code for _ in range(31)]
    assert statuses == [201] * 30 + [429]


def test_memory_storage_keeps_the_stock_moving_window(client, rate_limits, redeemer):
    redeem, _user_id = redeemer
    responses = [redeem() for _ in range(31)]
    assert [response.status_code for response in responses] == [201] * 30 + [429]
    assert responses[0].headers["X-RateLimit-Remaining"] == "29"
    assert responses[-1].headers["X-RateLimit-Remaining"] == "0"
