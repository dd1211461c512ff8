"""The database fails under a request: its connection is cut, or a lock is held too long.

"PostgreSQL restarted" is played without touching the shared server: an admin connection
holds a lock the request needs, and once the request waits on it, every backend of the
app's database (busy and idle pooled ones alike) is ended with ``pg_terminate_backend``, as
a restart would. The request must answer 503 with nothing written; the next one succeeds
(``pool_pre_ping`` drops the dead pooled connections).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.database import utcnow
from offers.models import Offer, OfferCode, OfferDailyStat, Redemption, RedemptionMethod
from tests.conftest import BACKEND
from tests.live_server import Server
from tests.offers.test_concurrency import seed_members, seed_offer
from tests.reliability.conftest import admin_url

REQUEST_TIMEOUT = 120.0


def redeem_in_background(app: Flask, offer_id: int, token: str) -> Future:
    """POST a redemption from another thread (the test keeps the lock meanwhile)."""

    def call():
        with app.test_client() as client:
            return client.post(
                f"/api/v1/offers/{offer_id}/redemptions",
                headers={"Authorization": f"Bearer {token}"},
            )

    return ThreadPoolExecutor(max_workers=1).submit(call)


def wait_for(condition: Callable[[], list[int]], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the request never waited on the lock")


def nothing_written(server: Server, offer_id: int, codes: int) -> None:
    with Session(server.engine) as session:
        assert session.get(Offer, offer_id).redeemed_count == 0
        assert (
            session.scalar(select(func.count(Redemption.id)).where(Redemption.offer_id == offer_id))
            == 0
        )
        free = session.scalar(
            select(func.count(OfferCode.id)).where(
                OfferCode.offer_id == offer_id, OfferCode.redemption_id.is_(None)
            )
        )
        assert free == codes
        stat = session.scalar(select(OfferDailyStat).where(OfferDailyStat.offer_id == offer_id))
        assert stat.redemptions == 0


def seed(server: Server) -> tuple[int, list[str]]:
    """An offer of 3 unique codes with today's statistics row, and two members' tokens."""
    offer_id = seed_offer(server, codes=3, redemption_method=RedemptionMethod.UNIQUE_CODES)
    with Session(server.engine) as session:
        session.add(OfferDailyStat(offer_id=offer_id, day=utcnow().date(), redemptions=0))
        session.commit()
    return offer_id, seed_members(server, 2)


POSTGRES_ONLY = (
    pytest.mark.postgres_only,
    pytest.mark.skipif(BACKEND != "postgresql", reason="terminates PostgreSQL backends"),
)


@POSTGRES_ONLY[0]
@POSTGRES_ONLY[1]
def test_connection_cut_mid_request_answers_503_writes_nothing_and_the_next_succeeds(
    app, engine_server
):
    offer_id, (first, second) = seed(engine_server)
    # Warm the pool: idle pooled connections are cut too, as by a real restart.
    with app.test_client() as client:
        assert client.get("/healthz").status_code == 200
    with psycopg.connect(admin_url(app)) as admin:
        # The request takes the offer's count, its redemption row and a code, then waits on
        # today's statistics row, held here: it is cut with all of that unwritten.
        admin.execute(
            "SELECT id FROM offer_daily_stats WHERE offer_id = %s FOR UPDATE", (offer_id,)
        )
        pending = redeem_in_background(app, offer_id, first)
        waiting = wait_for(
            lambda: [
                row[0]
                for row in admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                )
            ]
        )
        assert len(waiting) == 1
        cut = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        assert len(cut) >= 1
        response = pending.result(timeout=REQUEST_TIMEOUT)
        admin.rollback()
    assert response.status_code == 503
    assert response.get_json()["message"]
    nothing_written(engine_server, offer_id, codes=3)

    # The next request (and the first member's retry) go through on fresh connections.
    with app.test_client() as client:
        for token in (second, first):
            again = client.post(
                f"/api/v1/offers/{offer_id}/redemptions",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert again.status_code == 201, again.get_json()
    with Session(engine_server.engine) as session:
        assert session.get(Offer, offer_id).redeemed_count == 2


def hold_write_lock(app: Flask, offer_id: int):
    """Another session holding what a redemption needs: the offer row (PostgreSQL) or the
    database's write lock (SQLite). Returns the connection; closing it releases the lock."""
    if BACKEND == "postgresql":
        connection = psycopg.connect(admin_url(app))
        connection.execute("SELECT id FROM offers WHERE id = %s FOR UPDATE", (offer_id,))
        return connection
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN IMMEDIATE")
    return connection


def test_a_lock_held_too_long_ends_in_503_within_a_bounded_time(app, engine_server):
    offer_id, (token, _other) = seed(engine_server)
    holder = hold_write_lock(app, offer_id)
    try:
        started = time.monotonic()
        pending = redeem_in_background(app, offer_id, token)
        # PostgreSQL's lock_timeout (10 s) or SQLite's busy timeout (15 s), never a hang.
        response = pending.result(timeout=REQUEST_TIMEOUT)
        elapsed = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code in (409, 503), response.get_json()
    assert response.get_json()["message"]
    assert elapsed < 20, elapsed
    nothing_written(engine_server, offer_id, codes=3)
    # The lock released, the same member gets a code.
    with app.test_client() as client:
        again = client.post(
            f"/api/v1/offers/{offer_id}/redemptions", headers={"Authorization": f"Bearer {token}"}
        )
    assert again.status_code == 201, again.get_json()


@POSTGRES_ONLY[0]
@POSTGRES_ONLY[1]
def test_a_page_request_cut_mid_way_shows_the_503_page(app, engine_server, create_user, login):
    """The same fault on a page: the error page, in HTML, not a traceback."""
    offer_id, _tokens = seed(engine_server)
    member = create_user(alumni=True, status="verified")
    client = app.test_client()
    login(client, member)
    result: dict = {}
    with psycopg.connect(admin_url(app)) as admin:
        admin.execute(
            "SELECT id FROM offer_daily_stats WHERE offer_id = %s FOR UPDATE", (offer_id,)
        )
        thread = threading.Thread(
            target=lambda: result.update(response=client.post(f"/offers/wallet/redeem/{offer_id}"))
        )
        thread.start()
        wait_for(
            lambda: [
                row[0]
                for row in admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                )
            ]
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        thread.join(timeout=REQUEST_TIMEOUT)
        admin.rollback()
    response = result["response"]
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert b"Traceback" not in response.data
    nothing_written(engine_server, offer_id, codes=3)
    assert client.get("/offers/wallet/").status_code == 200
