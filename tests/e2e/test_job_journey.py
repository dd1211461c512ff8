"""Journey of the job board: a partner posts a job in the portal and sends it for review, a
moderator approves it, a verified alumnus finds it and applies with a PDF CV, the partner moves
the application to "interview" in the pipeline, and the alumnus sees the new status (and is told
by e-mail)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from marketplace.seed import DEMO_STAFF

pytestmark = pytest.mark.e2e

MODERATOR = next(staff for staff in DEMO_STAFF if staff[2] == "moderator")
PASSWORD = "a long and unusual passphrase 2026"
# Not one of the demo partners (nor the offer journey's).
PARTNER_NAME = "Verrerie Lumière de Nantes"
# A word no other job (demo data included) has: the alumnus finds the job by it.
WORD = "vitrailliste"
TITLE_FR = f"Apprenti {WORD} en atelier"
TITLE_EN = f"Apprentice {WORD} in a workshop"
# The smallest file the app accepts as a PDF (it checks the magic bytes).
CV = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
COVER_LETTER = "I have restored stained glass windows for three years."


# ---------------------------------------------------------------- helpers


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form[action*='/accounts/login'] button[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/login" not in page.url, f"{email} could not sign in"


def api(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """A JSON API call with a bearer token: (status, decoded body)."""
    request = urllib.request.Request(  # noqa: S310 - the live test server
        f"{base}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def partner_owner(demo_data, flask_cli) -> str:
    """The owner of an approved partner (their e-mail)."""
    email = f"owner-{uuid.uuid4().hex[:8]}@verrerie.example"
    flask_cli("users", "create", email, "--password", PASSWORD, "--name", "Hugo Lefèvre")
    flask_cli("partners", "create", PARTNER_NAME, "--owner", email, "--approved")
    return email


@pytest.fixture(scope="module")
def alumnus(demo_data, flask_cli) -> str:
    """A verified alumnus who reads the site in English (their e-mail)."""
    email = f"candidate-{uuid.uuid4().hex[:8]}@example.org"
    flask_cli(
        "users", "create", email, "--password", PASSWORD, "--alumni", "--verified",
        "--name", "Nora Benali", "--locale", "en",
    )  # fmt: skip
    return email


# ---------------------------------------------------------------- the journey


def test_job_is_posted_approved_applied_to_and_moved_to_interview(
    partner_owner, alumnus, flask_cli, live_server, open_page, mail_outbox
):
    # The partner writes a job in the portal, in French and English.
    partner = open_page("fr")
    sign_in(partner, partner_owner, PASSWORD)
    partner.goto("/jobs/manage/")
    assert partner.locator("#no-jobs").is_visible()
    partner.locator("#new-job").click()
    partner.wait_for_url("**/jobs/manage/new")
    partner.locator("#title_fr").fill(TITLE_FR)
    partner.locator("#description_fr").fill(
        "Vous restaurez des vitraux anciens avec notre maître verrier."
    )
    partner.locator("#title_en").fill(TITLE_EN)
    partner.locator("#description_en").fill("You restore old stained glass with our master.")
    partner.locator("#contract").select_option("apprenticeship")
    partner.locator("#country").select_option("FR")
    partner.locator("#city").fill("Nantes")
    partner.locator("#remote").select_option("onsite")
    partner.locator("#languages").select_option(["fr", "en"])
    partner.locator("#save-job").click()
    partner.wait_for_url(re.compile(r"/jobs/manage/\d+$"))
    job_id = int(partner.url.rsplit("/", 1)[1])
    assert partner.locator(".job-status-draft").is_visible()
    assert partner.locator("#missing").count() == 0

    # …and sends it for review.
    partner.locator("#submit-job").click()
    partner.wait_for_url(f"**/jobs/manage/{job_id}")
    assert partner.locator(".flash-success").is_visible()
    assert partner.locator(".job-status-submitted").is_visible()
    assert partner.locator("#submit-job").count() == 0

    # A moderator approves it (through the API: the moderation pages have their own tests,
    # and a second two-factor sign-in in this session would wait for the next code).
    moderator_token = flask_cli("users", "token", MODERATOR[0]).strip()
    status, body = api(
        live_server, "POST", f"/api/v1/moderation/jobs/{job_id}/approve", moderator_token, {}
    )
    assert status == 200, body
    assert body["status"] == "published"
    partner.reload()
    assert partner.locator(".job-status-published").is_visible()
    assert partner.locator("#submit-job").count() == 0

    # The alumnus finds it by a word of its title and opens it.
    member = open_page("en")
    sign_in(member, alumnus, PASSWORD)
    member.goto("/jobs/")
    member.locator("#filter-q").fill(WORD)
    member.locator("#filter-q").press("Enter")
    member.wait_for_url(re.compile(rf"/jobs/\?.*q={WORD}"))
    cards = member.locator("article.job-card")
    assert cards.count() == 1
    assert cards.first.get_attribute("data-job-id") == str(job_id)
    assert PARTNER_NAME in cards.first.locator(".job-partner").inner_text()
    cards.first.locator("h2 a").click()
    member.wait_for_url(f"**/jobs/{job_id}")
    assert member.locator("h1").inner_text().strip() == TITLE_EN
    assert member.locator("#job-ended").count() == 0

    # …and applies with a PDF CV and a cover letter.
    member.locator("#job-apply").click()
    member.wait_for_url(f"**/jobs/applications/apply/{job_id}")
    member.locator("#cv").set_input_files(
        files=[{"name": "cv-nora.pdf", "mimeType": "application/pdf", "buffer": CV}]
    )
    member.locator("#cover_letter").fill(COVER_LETTER)
    member.locator("#send-application").click()
    member.wait_for_url("**/jobs/applications/")
    assert member.locator(".flash-success").is_visible()

    # "My applications" lists it, submitted.
    mine = member.locator("article.application", has=member.locator(f"a[href$='/jobs/{job_id}']"))
    assert mine.count() == 1
    application_id = int(mine.get_attribute("id").removeprefix("application-"))
    assert mine.locator(".application-status").get_attribute("data-status") == "submitted"
    assert mine.locator(".application-history li[data-status=interview]").count() == 0
    received = mail_outbox.wait_for(alumnus)
    assert received[-1]["Subject"] == "Your application was sent"

    # The partner sees one application and opens the pipeline of the job.
    partner.reload()
    assert re.search(r"\b1\b", partner.locator("#application-total").inner_text())
    partner.locator("#pipeline-link").click()
    partner.wait_for_url(f"**/jobs/manage/pipeline/{job_id}")
    row = partner.locator(f"#application-{application_id}")
    assert row.is_visible()
    assert "Nora Benali" in row.inner_text()
    assert row.locator("td[data-status]").get_attribute("data-status") == "submitted"
    # The CV downloads, as sent, through the permission-checked view (an attachment).
    cv_link = row.locator(f"a[href$='/applications/{application_id}/cv']")
    download = partner.request.get(cv_link.get_attribute("href"))
    assert download.status == 200
    assert download.body() == CV
    assert download.headers["content-disposition"].startswith("attachment")

    # The partner opens the application and moves it to "interview".
    row.get_by_role("link", name="Nora Benali").click()
    partner.wait_for_url(f"**/jobs/manage/pipeline/applications/{application_id}")
    assert partner.locator("#current-status").get_attribute("data-status") == "submitted"
    assert COVER_LETTER in partner.locator("#cover-letter").inner_text()
    partner.locator("#change-status select#status").select_option("interview")
    partner.locator("#change-status button[type=submit]").click()
    partner.wait_for_url(f"**/jobs/manage/pipeline/applications/{application_id}")
    assert partner.locator(".flash-success").is_visible()
    assert partner.locator("#current-status").get_attribute("data-status") == "interview"
    partner.goto(f"/jobs/manage/pipeline/{job_id}")
    assert (
        partner.locator(f"#application-{application_id} td[data-status]").get_attribute(
            "data-status"
        )
        == "interview"
    )

    # The alumnus reloads "My applications": the new status, and its step in the history.
    member.reload()
    mine = member.locator(f"#application-{application_id}")
    assert mine.locator(".application-status").get_attribute("data-status") == "interview"
    assert mine.locator(".application-history li[data-status=interview]").count() == 1

    # …and was told by e-mail, in English, with a link to their applications.
    news = mail_outbox.wait_for(alumnus, count=2)[-1]
    assert news["Subject"] == "News about your application"
    text = mail_outbox.text(news)
    assert TITLE_EN in text
    assert "Interview" in text
    member.goto(mail_outbox.link(news, "/jobs/applications/"))
    assert member.locator(f"#application-{application_id}").is_visible()
