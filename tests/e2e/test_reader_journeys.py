"""Pages that know their reader, in a real browser, on a phone and a desktop, in French and
English, with axe-core finding no serious or critical violation.

- Each reader state of an offer page (visitor, pending, verified, member, redeemed, limit,
  sold out, not started, ended, outside the offer's countries) is opened at both widths in
  both languages; a screenshot of each is kept in ``test-output/e2e/reader-states/``.
- The fixes of issue 16 are walked through: the listing by country, typo-tolerant search,
  the country and time-zone pickers, the privacy notice, pictures, the partner dashboard,
  the moderator's unconfirmed sign-ups and preview, the API reference page.
- axe-core (vendored) runs on more than 25 pages, each in French on a phone and in English
  on a desktop.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from marketplace.seed import DEMO_PASSWORD, DEMO_STAFF
from tests.e2e.axe import AxeAudit
from tests.e2e.conftest import OUTPUT, ROOT, STEP_TIMEOUT_MS, _failed, output_dir, totp_code
from tests.e2e.test_offer_journey import sign_in

pytestmark = pytest.mark.e2e

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
SHOTS = OUTPUT / "reader-states"
LANGUAGES = ("fr", "en")
# Each page is checked twice: French on a phone, English on a desktop.
AXE_RUNS = (("fr", "phone"), ("en", "desktop"))
# The admin moderates here: the other journeys sign the moderator in, and a two-factor code
# is taken once per 30-second step and account, so sharing the account could mean a wait.
ADMIN = next(staff for staff in DEMO_STAFF if staff[2] == "admin")
# The offer a state is read on, when it is not the offer of that state's name.
OFFER_OF = {"sign_in": "can_redeem", "pending_verification": "can_redeem"}


@pytest.fixture(scope="module")
def reader_offers(demo_data, live_app) -> dict[str, int]:
    """The journey's offers, one per reader state (tests/e2e/reader_data.py)."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.e2e.reader_data"],
        cwd=ROOT,
        env=live_app.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def new_page(request, browser, live_app) -> Iterator[Callable[..., object]]:
    """``new_page(lang, size)``: a page in a new context (its own cookies) at a width; every
    page is saved as a screenshot when the test fails."""
    contexts, pages = [], []

    def open_(lang: str = "fr", size: str = "phone", timezone: str = "Europe/Paris") -> object:
        context = browser.new_context(
            base_url=live_app.url,
            locale={"fr": "fr-FR", "en": "en-GB"}[lang],
            viewport=SIZES[size],
            timezone_id=timezone,
        )
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield open_
    if _failed(request.node):
        folder = output_dir(request.node)
        folder.mkdir(parents=True, exist_ok=True)
        for number, page in enumerate(pages, start=1):
            try:
                page.screenshot(path=str(folder / f"page-{number}.png"), full_page=True)
            except Exception as error:  # a closed page must not hide the failure itself
                (folder / f"page-{number}.error.txt").write_text(repr(error))
    for context in contexts:
        context.close()


def reader_state(page) -> str:
    return page.locator("#offer-action").get_attribute("data-reader-state")


def keep_screenshot(page, state: str, lang: str, size: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{state}-{lang}-{size}.png"), full_page=True)


def switch_language(page, lang: str) -> None:
    """Press the header's language button (kept on the account of a signed-in reader)."""
    page.locator(f".lang-switch button[value={lang}]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == lang


def check_states(
    pages: dict[str, object],
    offers: dict[str, int],
    states: list[str],
    audit: AxeAudit,
    lang: str,
    *,
    reader: str,
) -> None:
    """Each state's offer page at both widths: the state shown, a screenshot kept, axe run."""
    for state in states:
        for size, page in pages.items():
            page.goto(f"/offers/{offers[OFFER_OF.get(state, state)]}")
            shown = reader_state(page)
            assert shown == state, f"{reader} reads {shown} on the {state} offer"
            assert page.locator("#redeem-form").count() == (1 if state == "can_redeem" else 0)
            keep_screenshot(page, state, lang, size)
            if (lang, size) in AXE_RUNS:
                audit.check(page, f"offer page {state} ({reader}, {lang}, {size})")


def picture_bytes() -> bytes:
    """A small PNG, as a partner would send a photo."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (30, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def signed_in_pages(new_page, email: str) -> dict[str, object]:
    pages = {}
    for size in SIZES:
        page = new_page("fr", size)
        sign_in(page, email, DEMO_PASSWORD)
        pages[size] = page
    return pages


# ---------------------------------------------------------------- each reader state


def test_every_reader_state_at_both_widths_in_both_languages(reader_offers, new_page):
    audit = AxeAudit()
    # A visitor: sign in or join, in the language the browser asks for.
    for lang in LANGUAGES:
        visitor = {size: new_page(lang, size) for size in SIZES}
        check_states(visitor, reader_offers, ["sign_in"], audit, lang, reader="a visitor")

    readers = {
        "emma@example.org": ["pending_verification"],
        "alice@example.org": ["not_in_country"],
        "bruno@example.org": [
            "members_only",
            "already_redeemed",
            "limit_reached",
            "sold_out",
            "not_started",
            "ended",
            "can_redeem",
        ],
    }
    for email, states in readers.items():
        pages = signed_in_pages(new_page, email)
        first = pages["phone"]
        original = first.locator("html").get_attribute("lang")
        for lang in LANGUAGES:
            if first.locator("html").get_attribute("lang") != lang:
                switch_language(first, lang)
            check_states(pages, reader_offers, states, audit, lang, reader=email)
        if first.locator("html").get_attribute("lang") != original:
            switch_language(first, original)

    # What each state says, beyond its name.
    bruno = signed_in_pages(new_page, "bruno@example.org")["desktop"]
    bruno.goto(f"/offers/{reader_offers['members_only']}")
    assert re.search(r"\d+,\d{2}\s?€", bruno.locator("#offer-membership-price").inner_text())
    bruno.locator("#offer-join").click()
    bruno.wait_for_url(f"**/membership/?offer={reader_offers['members_only']}")
    bruno.goto(f"/offers/{reader_offers['already_redeemed']}")
    assert bruno.locator("#offer-redeemed-code").inner_text() == "PARCOURS-REDEEMED"
    assert bruno.locator("#offer-next-allowed").is_visible()
    # The verified reader redeems, and the page turns into their code.
    bruno.goto(f"/offers/{reader_offers['can_redeem']}")
    bruno.locator("#redeem-form button[type=submit]").click()
    bruno.wait_for_url(re.compile(r"/offers/wallet/\d+$"))
    assert bruno.locator("#benefit-code").inner_text() == "PARCOURS-OPEN"
    bruno.goto(f"/offers/{reader_offers['can_redeem']}")
    assert reader_state(bruno) == "already_redeemed"
    audit.assert_clean()
    assert len(list(SHOTS.glob("*.png"))) >= 40


# ---------------------------------------------------------------- the fixes, with axe


def test_the_fixes_of_the_issue_and_axe_on_more_than_25_pages(reader_offers, new_page):
    audit = AxeAudit()
    visitor_pages = [
        "/",
        "/offers/",
        f"/offers/{reader_offers['can_redeem']}",
        "/jobs/",
        "/accounts/login",
        "/accounts/register",
        "/accounts/password/forgot",
        "/partners/apply",
        "/privacy/",
        "/privacy/legal-notice",
        "/no-such-page",
    ]
    member_pages = [
        "/offers/",
        "/offers/wallet/",
        "/accounts/profile",
        f"/membership/?offer={reader_offers['members_only']}",
        "/jobs/applications/",
        "/notifications/searches",
        "/privacy/me",
    ]
    partner_pages = ["/partners/dashboard", "/offers/manage/", "/jobs/manage/"]
    for lang, size in AXE_RUNS:
        visitor = new_page(lang, size)
        for path in visitor_pages:
            visitor.goto(path)
            audit.check(visitor, f"{path} (visitor, {lang}, {size})")
        # Typo-tolerant search, with its "did you mean".
        visitor.goto("/offers/?q=formaton")
        assert visitor.locator("#search-suggestion").get_attribute("data-suggestion") == "formation"
        assert visitor.locator("article.offer-card").count() >= 1
        audit.check(visitor, f"offer search with a typo ({lang}, {size})")
        visitor.goto("/jobs/?q=fromateur")
        assert visitor.locator("#search-suggestion").get_attribute("data-suggestion") == "formateur"
        audit.check(visitor, f"job search with a typo ({lang}, {size})")
        visitor.locator("article.job-card h2 a").first.click()
        visitor.wait_for_url(re.compile(r"/jobs/\d+$"))
        audit.check(visitor, f"a job page ({lang}, {size})")

    # The registration form: the browser's time zone chosen, a searchable country picker,
    # a privacy notice.
    newcomer = new_page("en", "phone", timezone="Asia/Tokyo")
    newcomer.goto("/accounts/register")
    assert newcomer.locator("#timezone").input_value() == "Asia/Tokyo"
    newcomer.locator("#country-search").fill("senegal")
    assert newcomer.locator("#country").input_value() == "SN"
    assert newcomer.locator("#privacy-notice").is_visible()

    # A member: the listing by country (France and worldwide first), then every country.
    for lang, size in AXE_RUNS:
        member = new_page(lang, size)
        sign_in(member, "alice@example.org", DEMO_PASSWORD)
        for path in member_pages:
            member.goto(path)
            audit.check(member, f"{path} (alice, {lang}, {size})")
    alice = member
    alice.goto("/offers/")
    assert alice.locator("#default-country").is_visible()
    shown = alice.locator("article.offer-card").evaluate_all(
        "cards => cards.map(card => Number(card.dataset.offerId))"
    )
    assert reader_offers["not_in_country"] not in shown
    alice.locator("#all-countries").click()
    alice.wait_for_load_state()
    shown = alice.locator("article.offer-card").evaluate_all(
        "cards => cards.map(card => Number(card.dataset.offerId))"
    )
    assert reader_offers["not_in_country"] in shown

    # A partner owner: the dashboard's last 30 days and to-dos, a picture for an offer.
    for lang, size in AXE_RUNS:
        partner = new_page(lang, size)
        sign_in(partner, "horizon-owner@example.org", DEMO_PASSWORD)
        for path in partner_pages:
            partner.goto(path)
            audit.check(partner, f"{path} (partner, {lang}, {size})")
    partner.goto("/partners/dashboard")
    assert partner.locator("#recent-redemptions .figure-value").is_visible()
    assert partner.locator("#recent-applications .figure-value").is_visible()
    assert partner.locator("#todo").is_visible()
    partner.goto("/offers/manage/")
    offer_link = partner.locator("tr:has(.offer-status-published) a[href*='/offers/manage/']").first
    offer_link.click()
    partner.wait_for_url(re.compile(r"/offers/manage/\d+$"))
    offer_id = int(partner.url.rsplit("/", 1)[1])
    partner.locator("#picture-form input[type=file]").set_input_files(
        files=[{"name": "vols.png", "mimeType": "image/png", "buffer": picture_bytes()}]
    )
    partner.locator("#upload-picture").click()
    partner.wait_for_url(re.compile(rf"/offers/manage/{offer_id}"))
    assert partner.locator(".picture-preview img.offer-picture").get_attribute("srcset")
    visitor = new_page("fr", "phone")
    visitor.goto(f"/offers/{offer_id}")
    picture = visitor.locator("img.offer-picture")
    assert "480w" in picture.get_attribute("srcset")
    assert picture.evaluate("image => image.complete && image.naturalWidth > 0")

    # A moderator: the sign-ups still to confirm, and an offer previewed as alumni see it.
    moderator = new_page("fr", "desktop")
    email, _name, _role, secret = ADMIN
    sign_in(moderator, email, DEMO_PASSWORD)
    moderator.wait_for_url("**/accounts/two-factor**")
    moderator.locator("#code").fill(totp_code(secret))
    moderator.locator("form[action*='/accounts/two-factor'] button[type=submit]").click()
    moderator.wait_for_load_state()
    moderator.goto("/moderation/members")
    assert moderator.locator("#unconfirmed-waiting, #queue-empty, table").first.is_visible()
    audit.check(moderator, "verification queue (moderator, fr, desktop)")
    moderator.goto("/offers/moderation/")
    queued = moderator.locator("[id^=queued-] a").first
    queued.click()
    moderator.wait_for_url(re.compile(r"/offers/moderation/\d+$"))
    moderator.locator("#preview-link").click()
    moderator.wait_for_url(re.compile(r"/offers/moderation/\d+/preview$"))
    assert moderator.locator("#preview-banner").is_visible()
    assert moderator.locator("#preview-card article.offer-card").is_visible()
    audit.check(moderator, "offer preview (moderator, fr, desktop)")

    # The API reference, from vendored Swagger UI under the site's CSP.
    reader = new_page("en", "desktop")
    reader.goto("/api/v1/docs")
    reader.locator(".opblock").first.wait_for()
    assert reader.locator(".opblock").count() > 20

    audit.assert_clean()
    assert len(set(label.split(" (")[0] for label in audit.checked)) >= 25


def test_axe_as_run_here_finds_what_the_issue_saw(browser):
    """The harness itself: the old "EN" button and the old orange badge are caught."""
    from tests.e2e.axe import axe_violations

    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(
            '<html lang="en"><head><title>t</title></head><body><main>'
            '<button aria-label="Switch to English">EN</button>'
            '<span style="background:#ef6c00;color:#fff;font-size:13px">En attente</span>'
            "</main></body></html>"
        )
        rules = {violation["rule"] for violation in axe_violations(page)}
    finally:
        context.close()
    assert {"label-content-name-mismatch", "color-contrast"} <= rules
