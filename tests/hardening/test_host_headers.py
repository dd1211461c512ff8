"""No absolute link follows the request's Host or X-Forwarded-Host; unknown hosts get 400.

A real server behind a (pretend) proxy: ``PROXY_FIX_X_FOR=1`` as README recommends, so
``X-Forwarded-Host`` is honoured; ``SITE_URL`` is the public address and ``TRUSTED_HOSTS``
adds the server's own address and one more name. A hostile host is refused outright; a
trusted host that is not ``SITE_URL``'s still gets links on ``SITE_URL`` only, in every mail
(reset, confirmation, invitation) and API field (``voucher_url``, ``receipt_url``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.accounts.models import ApiToken, User
from marketplace.catalog.models import School
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications.models import OutboxMessage
from marketplace.payments import documents
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.security import token_digest
from offers.models import RedemptionMethod
from tests.conftest import PASSWORD
from tests.conftest import test_config as make_test_config
from tests.live_server import Server, app_env, flask, serve
from tests.offers.test_concurrency import seed_members, seed_offer

SITE = "https://alumni.example.org"
OTHER_TRUSTED = "alt.example.org"
HOSTILE = "evil.example"
TIMEOUT = 30
URL = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """Nothing to roll back: the server commits to a database of its own."""


@pytest.fixture(scope="module")
def server(
    make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("hosts")
    with serve(
        make_database,
        folder,
        SITE_URL=SITE,
        TRUSTED_HOSTS=f"127.0.0.1,{OTHER_TRUSTED}",
        PROXY_FIX_X_FOR="1",
    ) as running:
        yield running


def _cli(server: Server, folder: Path, *args: str) -> str:
    env = app_env(server.engine.url.render_as_string(hide_password=False), folder)
    env.update(SITE_URL=SITE, TRUSTED_HOSTS=f"127.0.0.1,{OTHER_TRUSTED}")
    done = flask(env, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _csrf(page: requests.Response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)


def _mails(server: Server, to: str) -> list[OutboxMessage]:
    with Session(server.engine) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == to)))


def _links(text: str) -> list[str]:
    return URL.findall(text)


@pytest.mark.parametrize(
    "headers",
    [{"Host": HOSTILE}, {"X-Forwarded-Host": HOSTILE}, {"Host": f"{HOSTILE}:443"}],
)
def test_a_hostile_host_is_refused_and_mails_nothing(server, tmp_path, headers):
    email = f"victim-{uuid.uuid4().hex[:6]}@example.org"
    _cli(server, tmp_path, "users", "create", email, "--password", PASSWORD)
    for method, path, kwargs in (
        ("get", "/", {}),
        ("get", "/api/v1/offers", {}),
        ("post", "/api/v1/tokens", {"json": {"email": email, "password": PASSWORD}}),
        ("post", "/accounts/password/forgot", {"data": {"email": email}}),
    ):
        response = getattr(requests, method)(
            server.url + path, headers=headers, timeout=TIMEOUT, allow_redirects=False, **kwargs
        )
        assert response.status_code == 400, (path, response.status_code)
    assert _mails(server, email) == []


# A trusted name that is not SITE_URL's, as Host and as X-Forwarded-Host, with a scheme.
STEERED = {"Host": OTHER_TRUSTED, "X-Forwarded-Host": OTHER_TRUSTED, "X-Forwarded-Proto": "http"}


def test_every_mailed_link_is_on_site_url(server, tmp_path):
    browser = requests.Session()
    browser.headers.update(STEERED)
    # A password reset.
    email = f"camille-{uuid.uuid4().hex[:6]}@example.org"
    _cli(server, tmp_path, "users", "create", email, "--password", PASSWORD)
    form = browser.get(f"{server.url}/accounts/password/forgot", timeout=TIMEOUT)
    asked = browser.post(
        f"{server.url}/accounts/password/forgot",
        data={"email": email, "csrf_token": _csrf(form)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert asked.status_code == 302
    # A registration's confirmation.
    school = f"Lycée {uuid.uuid4().hex[:6]}"
    with Session(server.engine) as session:
        session.add(School(name=school, city="Lisbonne", country="PT"))
        session.commit()
    newcomer = f"ines-{uuid.uuid4().hex[:6]}@example.org"
    form = browser.get(f"{server.url}/accounts/register", timeout=TIMEOUT)
    registered = browser.post(
        f"{server.url}/accounts/register",
        data={
            "csrf_token": _csrf(form),
            "full_name": "Inès Duval",
            "email": newcomer,
            "password": "a walk along the tagus river",
            "school": school,
            "graduation_year": "2012",
            "country": "PT",
            "city": "Lisbonne",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert registered.status_code == 302
    # A partner invitation, sent by a signed-in owner.
    owner = f"owner-{uuid.uuid4().hex[:6]}@example.org"
    _cli(server, tmp_path, "users", "create", owner, "--password", PASSWORD)
    _cli(
        server,
        tmp_path,
        "partners",
        "create",
        f"Acme {uuid.uuid4().hex[:6]}",
        "--owner",
        owner,
        "--approved",
    )
    owner_browser = requests.Session()
    owner_browser.headers.update(STEERED)
    form = owner_browser.get(f"{server.url}/accounts/login", timeout=TIMEOUT)
    owner_browser.post(
        f"{server.url}/accounts/login",
        data={"email": owner, "password": PASSWORD, "csrf_token": _csrf(form)},
        timeout=TIMEOUT,
    )
    team = owner_browser.get(f"{server.url}/partners/team", timeout=TIMEOUT)
    assert team.status_code == 200
    colleague = f"colleague-{uuid.uuid4().hex[:6]}@example.org"
    invited = owner_browser.post(
        f"{server.url}/partners/team/invitations",
        data={"email": colleague, "role": "manager", "csrf_token": _csrf(team)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert invited.status_code == 302

    paths = {
        email: "/accounts/password/reset/",
        newcomer: "/accounts/confirm/",
        colleague: "/partners/invitations/",
    }
    for recipient, path in paths.items():
        (mail,) = _mails(server, recipient)
        links = _links(mail.body_text) + _links(mail.body_html or "")
        assert any(link.startswith(SITE + path) for link in links), (recipient, links)
        assert all(link.startswith(SITE + "/") for link in links), (recipient, links)
        assert OTHER_TRUSTED not in mail.body_text + (mail.body_html or "")


def test_api_link_fields_are_on_site_url(server, tmp_path):
    (token,) = seed_members(server, 1)
    offer_id = seed_offer(server, redemption_method=RedemptionMethod.VOUCHER)
    bearer = {"Authorization": f"Bearer {token}", **STEERED}
    redeemed = requests.post(
        f"{server.url}/api/v1/offers/{offer_id}/redemptions", headers=bearer, timeout=TIMEOUT
    )
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["voucher_url"].startswith(f"{SITE}/offers/wallet/")
    with Session(server.engine) as session:
        payer_id = session.scalar(
            select(ApiToken.user_id).where(ApiToken.token_hash == token_digest(token))
        )
        payment = Payment(
            kind=PaymentKind.MEMBERSHIP,
            status=PaymentStatus.SUCCEEDED,
            amount=4000,
            currency="EUR",
            payer_id=payer_id,
            payer_name=session.get(User, payer_id).full_name,
            description="Membership standard, 12 months",
            succeeded_at=utcnow(),
        )
        session.add(payment)
        session.commit()
        payment_id = payment.id
    # Its attestation, issued as the success transaction's follow-up would issue it.
    database_url = server.engine.url.render_as_string(hide_password=False)
    app = create_app({**make_test_config(database_url, tmp_path), "SITE_URL": SITE})
    with app.app_context():
        documents.issue_payment_document(db.session.get(Payment, payment_id))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    read = requests.get(
        f"{server.url}/api/v1/payments/{payment_id}", headers=bearer, timeout=TIMEOUT
    )
    assert read.status_code == 200, read.text
    (document,) = read.json()["documents"]
    assert document["pdf_url"].startswith(f"{SITE}/api/v1/documents/")
    assert read.json()["receipt_url"] == document["pdf_url"]


def test_no_code_or_template_builds_a_link_on_the_request_host():
    """Links leaving the site use ``absolute_url`` (on SITE_URL); a new mail cannot slip back."""
    root = Path(__file__).resolve().parents[2]
    sources = [
        path
        for folder in ("marketplace", "offers", "jobs", "partners", "templates")
        for path in (root / folder).rglob("*")
        if path.suffix in {".py", ".html", ".txt"} and path.name != "routing.py"
    ]
    offending = re.compile(r"_external\s*=\s*True|host_url|url_root|request\.host\b")
    found = [
        f"{path.relative_to(root)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if offending.search(line)
    ]
    assert found == []
