"""Journey: a visitor registers as an alumnus, confirms the address, a moderator verifies
them, and the alumnus sees the verified status — in French and in English."""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path

import pytest
from babel.support import Translations

from marketplace.seed import DEMO_PASSWORD, DEMO_STAFF
from tests.e2e.conftest import totp_code

pytestmark = pytest.mark.e2e

TRANSLATIONS = Path(__file__).resolve().parents[2] / "marketplace" / "translations"
MODERATOR = next(staff for staff in DEMO_STAFF if staff[2] == "moderator")
SCHOOL = ("Lycée français de Madrid", "ES", "Madrid")
PASSWORD = "a long and unusual passphrase 2026"
# The smallest file the app accepts as a PDF (it checks the magic bytes).
DIPLOMA = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@cache
def catalogue(locale: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [locale])


def translated(locale: str, msgid: str) -> str:
    """What the app shows for ``msgid`` in ``locale`` (the msgid until a catalogue has it)."""
    return catalogue(locale).gettext(msgid)


def expect_language(page, locale: str) -> None:
    assert page.locator("html").get_attribute("lang") == locale


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form[action*='/accounts/login'] button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_alumnus_is_verified_by_a_moderator(locale, demo_data, open_page, mail_outbox):
    email = f"journey-{locale}-{uuid.uuid4().hex[:8]}@example.org"
    full_name = "Inès Laurent" if locale == "fr" else "Oliver Grant"
    school, country, city = SCHOOL

    # A visitor registers, in the browser's language.
    alumnus = open_page(locale)
    alumnus.goto("/accounts/register")
    expect_language(alumnus, locale)
    alumnus.locator("#full_name").fill(full_name)
    alumnus.locator("#email").fill(email)
    alumnus.locator("#password").fill(PASSWORD)
    alumnus.locator("#school").fill(school)
    alumnus.locator("#graduation_year").fill("2015")
    alumnus.locator("#country").select_option(country)
    alumnus.locator("#city").fill(city)
    alumnus.locator("#evidence").set_input_files(
        files=[{"name": "diplome.pdf", "mimeType": "application/pdf", "buffer": DIPLOMA}]
    )
    alumnus.locator("form[action*='/accounts/register'] button[type=submit]").click()
    alumnus.wait_for_url("**/accounts/register/check-inbox")
    assert alumnus.locator("#check-inbox").is_visible()

    # The confirmation e-mail, in the same language, holds the link.
    [confirmation] = mail_outbox.wait_for(email)
    assert confirmation["Subject"] == translated(locale, "Confirm your e-mail address")
    alumnus.goto(mail_outbox.link(confirmation, "/accounts/confirm/"))
    expect_language(alumnus, locale)
    alumnus.locator("form[action*='/accounts/confirm/'] button[type=submit]").click()
    alumnus.wait_for_url("**/accounts/login**")
    assert alumnus.locator(".flash-success").is_visible()

    # A moderator signs in (password, then a two-factor code) and approves the member.
    moderator_email, _name, _role, secret = MODERATOR
    moderator = open_page("fr")
    sign_in(moderator, moderator_email, DEMO_PASSWORD)
    moderator.wait_for_url("**/accounts/two-factor**")
    moderator.locator("#code").fill(totp_code(secret))
    moderator.locator("form[action*='/accounts/two-factor'] button[type=submit]").click()
    moderator.wait_for_load_state()
    # Staff pages follow the moderator's own account language, not the member's.
    moderator.goto("/moderation/members")
    row = moderator.locator("table.queue-table tbody tr", has_text=email)
    assert row.count() == 1
    assert row.locator(".badge-pending").is_visible()
    row.get_by_role("link", name=full_name).click()
    moderator.wait_for_url("**/moderation/members/*")
    assert moderator.locator("#declared").get_by_text(email).is_visible()
    moderator.locator("#approve-form button[type=submit]").click()
    moderator.wait_for_load_state()
    assert moderator.locator(".flash-success").is_visible()
    assert moderator.locator("hgroup .badge-verified").is_visible()
    assert moderator.locator("#approve-form").count() == 0

    # The member is told by e-mail, in their language.
    approval = mail_outbox.wait_for(email, count=2)[-1]
    assert approval["Subject"] == translated(locale, "Your alumni status is verified")

    # The alumnus signs in and sees the verified status, in their language.
    sign_in(alumnus, email, PASSWORD)
    alumnus.goto("/accounts/status")
    expect_language(alumnus, locale)
    status = alumnus.locator("#verification-status")
    assert status.get_attribute("data-status") == "verified"
    badge = status.locator(".badge-verified")
    assert badge.is_visible()
    assert badge.inner_text().strip() == translated(locale, "Verified")
    assert alumnus.locator("h1").inner_text().strip() == translated(locale, "Your alumni status")
