"""The partner dashboard shows the last 30 days (views, reveals, redemptions, applications)
and what needs the team's action, from the offers' and the jobs' registered sources."""

from __future__ import annotations

from datetime import timedelta

from marketplace.database import utcnow
from marketplace.extensions import db
from offers.models import OfferDailyStat

EN = {"Accept-Language": "en"}


def figure(html: str, key: str) -> int:
    import re

    match = re.search(rf'id="recent-{key}">\s*<p class="figure-value">(\d+)<', html)
    assert match, f"no {key} figure"
    return int(match.group(1))


def test_the_last_30_days_and_the_to_dos(
    app, client, login, create_user, create_partner, create_offer, create_job, create_application
):
    partner = create_partner(name="Librairie Voltaire")
    other = create_partner(name="Air Horizon")
    offer = create_offer(partner, title_en="Books")
    sent_back = create_offer(partner, status="changes_requested", title_en="Bookmarks")
    pool = create_offer(partner, method="unique_codes", codes=["A1", "A2"], title_en="Pool")
    create_offer(partner, ends_at=utcnow() + timedelta(days=3), title_en="Ending")
    foreign = create_offer(other)
    today = utcnow().date()
    with app.app_context():
        db.session.add_all(
            [
                OfferDailyStat(offer_id=offer.id, day=today, views=12, reveals=4, redemptions=3),
                OfferDailyStat(
                    offer_id=offer.id, day=today - timedelta(days=10), views=8, reveals=1
                ),
                # Older than 30 days, and another partner's: not counted.
                OfferDailyStat(offer_id=offer.id, day=today - timedelta(days=45), views=100),
                OfferDailyStat(offer_id=foreign.id, day=today, views=500, redemptions=50),
            ]
        )
        db.session.commit()
    job = create_job(partner, title_en="Bookseller")
    for _ in range(2):
        create_application(job, create_user(alumni=True, status="verified"))
    create_application(
        job,
        create_user(alumni=True, status="verified"),
        status="in_review",
        submitted_at=utcnow() - timedelta(days=40),
    )
    login(client, partner.owner)

    html = client.get("/partners/dashboard", headers=EN).get_data(as_text=True)

    assert (figure(html, "views"), figure(html, "reveals"), figure(html, "redemptions")) == (
        20,
        5,
        3,
    )
    assert figure(html, "applications") == 2
    assert f'id="todo-offer-{sent_back.id}-review"' in html
    assert f'id="todo-offer-{pool.id}-pool"' in html
    assert "2 codes left" in html
    assert "“Ending” ends soon" in html
    assert f'id="todo-job-{job.id}-applicants"' in html
    assert "2 applications to review" in html
    assert f"/jobs/manage/pipeline/{job.id}" in html or f"pipeline/{job.id}" in html


def test_a_quiet_partner_has_nothing_waiting(client, login, create_partner):
    partner = create_partner()
    html = login(client, partner.owner).get("/partners/dashboard", headers=EN)
    page = html.get_data(as_text=True)
    assert 'id="todo-empty"' in page
    assert figure(page, "views") == 0
    assert figure(page, "applications") == 0
