"""Two instances behind one address: two gunicorn processes on two ports, one PostgreSQL
database (created for the run, migrated) and one Redis.

- the login limit is one budget across both (Flask-Limiter's storage is ``REDIS_URL``);
- a session cookie from instance A signs in on instance B (the same ``SECRET_KEY``);
- 150 members redeeming an offer of 100 unique codes, their requests split over both
  instances at once: exactly 100 distinct codes, 50 "sold out", no 5xx.

The instances are built by the real factory with one override, a Redis key prefix of this
run (``RATELIMIT_KEY_PREFIX``), so parallel runs on the shared Redis never share counters;
the prefix's keys are deleted at the end.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.security import hash_password
from offers.models import Offer, OfferCode, Redemption, RedemptionMethod
from tests import conftest as harness
from tests.conftest import BACKEND
from tests.live_server import Server, serve
from tests.offers.test_concurrency import REQUEST_TIMEOUT, outcome, seed_members, seed_offer

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "two instances, one passphrase"

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(BACKEND != "postgresql", reason="two instances share PostgreSQL"),
]


@dataclass
class Pair:
    a: str
    b: str
    engine: object
    logs: list[Path]
    password_hash: str

    def server(self) -> Server:
        return Server(url=self.a, engine=self.engine, log=self.logs[0])

    def tail(self) -> str:
        return "\n".join(log.read_text()[-2000:] for log in self.logs)


@pytest.fixture(scope="module")
def pair(
    make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("two-instances")
    database_url = make_database()
    migrating = create_app(harness.test_config(database_url, folder))
    with migrating.app_context():
        upgrade()
        db.engine.dispose()
        password_hash = hash_password(PASSWORD)
    prefix = f"two-instances-{uuid.uuid4().hex[:12]}"
    try:
        with ExitStack() as stack:
            servers = [
                stack.enter_context(
                    serve(
                        None,
                        folder,
                        database_url=database_url,
                        workers=2,
                        threads=4,
                        app=f"marketplace:create_app({{'RATELIMIT_KEY_PREFIX': '{prefix}', "
                        f"'CACHE_KEY_PREFIX': '{prefix}:cache:'}})",
                        # Two masters on one machine: no shared control socket path.
                        gunicorn_args=("--no-control-socket",),
                        log_name=f"gunicorn-{name}.log",
                        SECRET_KEY="two-instances-secret-key-not-for-production-0123456789",
                        REDIS_URL=REDIS_URL,
                    )
                )
                for name in ("a", "b")
            ]
            yield Pair(
                a=servers[0].url,
                b=servers[1].url,
                engine=servers[0].engine,
                logs=[server.log for server in servers],
                password_hash=password_hash,
            )
    finally:
        redis = Redis.from_url(REDIS_URL)
        for key in redis.scan_iter(f"*{prefix}*"):
            redis.delete(key)
        redis.close()


def make_member(pair: Pair) -> str:
    """A confirmed member with a password (no two-factor: not staff); their address."""
    email = f"two-{uuid.uuid4().hex[:10]}@example.org"
    with Session(pair.engine) as session:
        session.add(
            User(
                email=email,
                password_hash=pair.password_hash,
                full_name="Camille Martin",
                email_confirmed_at=utcnow(),
            )
        )
        session.commit()
    return email


def login_form(browser: requests.Session, base: str) -> str:
    """Open the login page; its CSRF token (bound to the browser's session cookie)."""
    page = browser.get(f"{base}/accounts/login", timeout=REQUEST_TIMEOUT)
    assert page.status_code == 200
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)


def post_login(browser: requests.Session, base: str, token: str, email: str, password: str):
    return browser.post(
        f"{base}/accounts/login",
        data={"csrf_token": token, "email": email, "password": password},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )


def test_the_login_limit_is_shared_by_both_instances(pair: Pair):
    email = make_member(pair)
    browser = requests.Session()
    token = login_form(browser, pair.a)
    # Ten wrong passwords, alternately on A and B: each refused (422), each counted once in
    # one shared window.
    statuses = [
        post_login(browser, base, token, email, "wrong password").status_code
        for base in [pair.a, pair.b] * 5
    ]
    assert statuses == [422] * 10, pair.tail()
    # The eleventh, on either instance, is refused, even with the right password.
    assert post_login(browser, pair.a, token, email, PASSWORD).status_code == 429
    assert post_login(browser, pair.b, token, email, PASSWORD).status_code == 429


def test_a_session_from_one_instance_works_on_the_other(pair: Pair):
    email = make_member(pair)
    browser = requests.Session()
    token = login_form(browser, pair.a)
    signed_in = post_login(browser, pair.a, token, email, PASSWORD)
    assert signed_in.status_code == 302, pair.tail()
    profile = browser.get(f"{pair.b}/accounts/profile", allow_redirects=False, timeout=30)
    assert profile.status_code == 200
    assert email in profile.text
    # Without the cookie, the same page asks to sign in: the cookie is what signed in on B.
    anonymous = requests.Session()
    assert (
        anonymous.get(f"{pair.a}/accounts/profile", allow_redirects=False, timeout=30).status_code
        == 302
    )


def test_redemptions_spread_over_both_instances_never_over_issue(pair: Pair):
    server = pair.server()
    offer_id = seed_offer(server, codes=100, redemption_method=RedemptionMethod.UNIQUE_CODES)
    tokens = seed_members(server, 150)

    def call(indexed: tuple[int, str]) -> requests.Response:
        index, token = indexed
        base = pair.a if index % 2 else pair.b
        return requests.post(
            f"{base}/api/v1/offers/{offer_id}/redemptions",
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT,
        )

    with ThreadPoolExecutor(max_workers=30) as pool:
        responses = list(pool.map(call, enumerate(tokens)))
    assert [r.status_code for r in responses if r.status_code >= 500] == [], pair.tail()
    assert outcome(responses) == {201: 100, "sold_out": 50}
    given = [r.json()["code"] for r in responses if r.status_code == 201]
    assert len(set(given)) == 100
    with Session(pair.engine) as session:
        assert session.get(Offer, offer_id).redeemed_count == 100
        assert (
            session.scalar(select(func.count(Redemption.id)).where(Redemption.offer_id == offer_id))
            == 100
        )
        assert (
            session.scalar(
                select(func.count(OfferCode.id)).where(
                    OfferCode.offer_id == offer_id, OfferCode.redemption_id.is_(None)
                )
            )
            == 0
        )
