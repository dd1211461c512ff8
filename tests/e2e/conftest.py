"""Browser tests: the real app in a subprocess on its own database, driven by Chromium.

``live_app`` builds a new database of the run's backend (SQLite or PostgreSQL), migrates it
with ``flask db upgrade`` and serves the app with ``flask run`` in a subprocess configured
only through the environment, like a deployment; ``live_server`` is its base URL. Tests seed
it through the command line (``flask_cli``), read the e-mails it writes to its outbox folder
(``mail_outbox``) and drive Debian's Chromium through Playwright (``open_page``). When a test
fails, a screenshot of every page it opened and the server's log go to
``test-output/e2e/<test name>/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pyotp
import pytest

from tests.live_server import flask, free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Playwright waits this long (ms) for an element or a navigation before failing.
STEP_TIMEOUT_MS = 15_000


@pytest.fixture(autouse=True)
def _transaction() -> None:
    """The in-process rolled-back transaction of tests/conftest.py has no use here."""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item, so fixtures know whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(item: pytest.Item) -> bool:
    return any(
        getattr(item, f"report_{when}", None) is not None and getattr(item, f"report_{when}").failed
        for when in ("setup", "call")
    )


def output_dir(item: pytest.Item) -> Path:
    """``test-output/e2e/<test name>/``, the name made safe for a path."""
    return OUTPUT / re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name).strip("_")


# ---------------------------------------------------------------- the server


@dataclass
class LiveServer:
    """The running app: its address, environment, folders and log."""

    url: str
    env: dict[str, str]
    outbox: Path
    uploads: Path
    log: Path


STRIPE_SECRET_KEY = "sk_test_localstripe"
STRIPE_WEBHOOK_SECRET = "whsec_e2e_localstripe"


def _register_webhook(localstripe: str, url: str) -> None:
    """Have localstripe send its events, signed, to the live app."""
    request = urllib.request.Request(  # noqa: S310 - the session's localstripe
        f"{localstripe}/_config/webhooks/e2e",
        method="POST",
        data=urllib.parse.urlencode({"url": url, "secret": STRIPE_WEBHOOK_SECRET}).encode(),
        headers={"Authorization": f"Bearer {STRIPE_SECRET_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200


@pytest.fixture(scope="session")
def live_app(
    make_database: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
    localstripe: str,
) -> Iterator[LiveServer]:
    """The app served by ``flask run`` in a subprocess, on a migrated database of its own.

    Its Stripe is the session's localstripe (API and Stripe.js stand-in), which also sends
    its webhook events to the app.
    """
    folder = tmp_path_factory.mktemp("live")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "MAIL_", "STRIPE_"))
    }
    env.update(
        APP_ENV="development",
        DATABASE_URL=make_database(),
        SECRET_KEY="e2e-secret-key-not-for-production-0123456789",
        MAIL_SERVER="",
        MAIL_OUTBOX_FOLDER=str(folder / "outbox"),
        UPLOAD_FOLDER=str(folder / "uploads"),
        REDIS_URL="",
        PREFERRED_URL_SCHEME="http",
        PYTHONUNBUFFERED="1",
        STRIPE_SECRET_KEY=STRIPE_SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
        STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
        STRIPE_API_BASE=localstripe,
        STRIPE_JS_URL=f"{localstripe}/js.stripe.com/v3/",
    )
    migrated = flask(env, "db", "upgrade")
    if migrated.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{migrated.stderr[-3000:]}")
    port = free_port()
    # Links in mails are built on SITE_URL: this server's address.
    env["SITE_URL"] = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and app
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-reload",
                "--no-debugger",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log)
        _register_webhook(localstripe, f"{url}/payments/stripe/webhook")
        yield LiveServer(
            url=url,
            env=env,
            outbox=folder / "outbox",
            uploads=folder / "uploads",
            log=log,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(live_app: LiveServer) -> str:
    """The base URL of the running app, e.g. ``http://127.0.0.1:50123``."""
    return live_app.url


@pytest.fixture(scope="session")
def flask_cli(live_app: LiveServer) -> Callable[..., str]:
    """``flask_cli("users", "create", ...)`` runs a command on the live database; its stdout."""

    def run(*args: str) -> str:
        result = flask(live_app.env, *args)
        if result.returncode != 0:
            raise AssertionError(
                f"flask {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}"
            )
        return result.stdout

    return run


@pytest.fixture(scope="session")
def demo_data(flask_cli: Callable[..., str]) -> str:
    """The demo data (schools, staff with known two-factor secrets, alumni), loaded once."""
    return flask_cli("seed", "demo")


# ---------------------------------------------------------------- e-mail


class MailOutbox:
    """The e-mails the live app wrote as .eml files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def messages(self, to: str) -> list[EmailMessage]:
        """Every e-mail sent to ``to``, oldest first."""
        found = []
        for path in sorted(self.folder.glob("*.eml")) if self.folder.is_dir() else []:
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == to:
                found.append(message)
        return found

    def wait_for(self, to: str, *, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until at least ``count`` e-mails to ``to`` exist; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(to)
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(found) >= count, f"{len(found)} e-mail(s) to {to}, expected {count}"
        return found

    @staticmethod
    def text(message: EmailMessage) -> str:
        body = message.get_body(preferencelist=("plain",))
        assert body is not None, "the e-mail has no text part"
        return body.get_content()

    def link(self, message: EmailMessage, path: str) -> str:
        """The first absolute link of the e-mail's text whose path starts with ``path``."""
        match = re.search(rf"https?://[^\s/]+{re.escape(path)}\S*", self.text(message))
        assert match, f"no {path} link in:\n{self.text(message)}"
        return match.group(0)


@pytest.fixture(scope="session")
def mail_outbox(live_app: LiveServer) -> MailOutbox:
    return MailOutbox(live_app.outbox)


# ---------------------------------------------------------------- two-factor codes

_used_steps: dict[str, int] = {}


def totp_code(secret: str) -> str:
    """A fresh TOTP code; waits for the next 30-second step if this one was already used.

    The app accepts each step once per account (no replay), so two sign-ins of the same
    staff member within one step need the next code.
    """
    totp = pyotp.TOTP(secret)
    step = int(time.time()) // totp.interval
    if _used_steps.get(secret, -1) >= step:
        time.sleep((step + 1) * totp.interval - time.time() + 0.2)
        step = int(time.time()) // totp.interval
    _used_steps[secret] = step
    return totp.at(step * totp.interval)


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless (Playwright never downloads a browser here)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(
    request: pytest.FixtureRequest, browser, live_app: LiveServer
) -> Iterator[Callable[..., object]]:
    """``open_page(locale="en")``: a page in a new browser context (its own cookies).

    The locale sets the browser's language (``Accept-Language``). On failure, every page
    opened is saved as a screenshot, with the server's log, under ``test-output/e2e/``.
    """
    contexts = []
    pages = []

    def open_(locale: str = "fr") -> object:
        context = browser.new_context(
            base_url=live_app.url,
            locale={"fr": "fr-FR", "en": "en-GB"}.get(locale, locale),
            viewport={"width": 390, "height": 844},
        )
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield open_
    if _failed(request.node):
        folder = output_dir(request.node)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        for number, page in enumerate(pages, start=1):
            try:
                page.screenshot(path=str(folder / f"page-{number}.png"), full_page=True)
                (folder / f"page-{number}.html").write_text(page.content())
            except Exception as error:  # a closed page must not hide the failure itself
                (folder / f"page-{number}.error.txt").write_text(repr(error))
        shutil.copy(live_app.log, folder / "server.log")
    for context in contexts:
        context.close()
