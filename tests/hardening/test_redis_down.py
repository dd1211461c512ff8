"""Redis gone: a real server whose ``REDIS_URL`` points at a closed port keeps serving.

Rate limits fall back to a per-process store (with a logged warning) and still apply, the
cache to no cache, mail to the outbox that ``tasks run-due`` drains; ``/healthz`` says the
site is degraded. Before, every API call and every sign-in answered 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog.models import School
from marketplace.notifications.models import OutboxMessage
from tests.conftest import PASSWORD
from tests.live_server import Server, app_env, closed_port, flask, serve

TIMEOUT = 30


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """Nothing to roll back: the server commits to a database of its own."""


@pytest.fixture(scope="module")
def server(
    make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("redis-down")
    with serve(make_database, folder, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0") as running:
        yield running


def _user(server: Server, folder: Path, email: str) -> None:
    env = app_env(server.engine.url.render_as_string(hide_password=False), folder)
    created = flask(env, "users", "create", email, "--password", PASSWORD)
    assert created.returncode == 0, created.stderr[-2000:]


def test_pages_the_api_and_sign_in_keep_answering(server, tmp_path):
    for path in ("/", "/offers/", "/jobs/", "/api/v1/categories", "/api/v1/offers"):
        response = requests.get(server.url + path, timeout=TIMEOUT)
        assert response.status_code == 200, (path, response.status_code)
    _user(server, tmp_path, "camille@example.org")
    token = requests.post(
        f"{server.url}/api/v1/tokens",
        json={"email": "camille@example.org", "password": PASSWORD},
        timeout=TIMEOUT,
    )
    assert token.status_code == 201
    me = requests.get(
        f"{server.url}/api/v1/me",
        headers={"Authorization": f"Bearer {token.json()['token']}"},
        timeout=TIMEOUT,
    )
    assert me.status_code == 200
    # The sign-in page, with its CSRF token, as a browser does it.
    browser = requests.Session()
    page = browser.get(f"{server.url}/accounts/login", timeout=TIMEOUT)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    csrf = csrf or re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    signed_in = browser.post(
        f"{server.url}/accounts/login",
        data={"email": "camille@example.org", "password": PASSWORD, "csrf_token": csrf.group(1)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert signed_in.status_code == 302
    assert browser.get(f"{server.url}/accounts/profile", timeout=TIMEOUT).status_code == 200


def test_limits_still_apply_per_process_with_a_logged_warning(server, tmp_path):
    _user(server, tmp_path, "target@example.org")
    body = {"email": "target@example.org", "password": "wrong password"}
    answers = [
        requests.post(f"{server.url}/api/v1/tokens", json=body, timeout=TIMEOUT).status_code
        for _ in range(11)
    ]
    assert answers == [401] * 10 + [429]
    log = server.log.read_text()
    assert "falling back to in-memory storage" in log
    assert "Traceback" not in log


def test_mail_waits_in_the_outbox_and_cron_sends_it(server, tmp_path):
    with Session(server.engine) as session:
        session.add(School(name="Lycée Redis", city="Lisbonne", country="PT"))
        session.commit()
    browser = requests.Session()
    page = browser.get(f"{server.url}/accounts/register", timeout=TIMEOUT)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    registered = browser.post(
        f"{server.url}/accounts/register",
        data={
            "csrf_token": csrf,
            "full_name": "Inès Duval",
            "email": "ines@example.org",
            "password": "a walk along the tagus river",
            "school": "Lycée Redis",
            "graduation_year": "2012",
            "country": "PT",
            "city": "Lisbonne",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert registered.status_code == 302, registered.text[-500:]
    query = select(OutboxMessage.status).where(OutboxMessage.recipient == "ines@example.org")
    with Session(server.engine) as session:
        assert session.scalars(query).all() == ["pending"]
    env = app_env(server.engine.url.render_as_string(hide_password=False), tmp_path)
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"
    ran = flask(env, "tasks", "run-due")
    assert ran.returncode == 0, ran.stderr[-2000:]
    with Session(server.engine) as session:
        assert session.scalars(query).all() == ["sent"]


def test_healthz_says_redis_is_degraded(server):
    response = requests.get(f"{server.url}/healthz", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "redis": "unreachable"}
