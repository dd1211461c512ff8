"""Digest service: frequencies with a moved clock, never the same item twice, filters,
verified alumni only, and the unsubscribe headers in the outbox row and the written e-mail."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import func, select

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications import alerts
from marketplace.notifications.models import SavedSearchHit
from marketplace.tasks import DUE_TASKS, run_due


def _digests(outbox, user):
    return [m for m in outbox(to=user.email) if m.template == "notifications/digest"]


def _run(app, now):
    with app.app_context():
        return alerts.send_due_digests(now)


def _hits(app, search_id):
    with app.app_context():
        return sorted(
            db.session.scalars(
                select(SavedSearchHit.item_id).where(SavedSearchHit.saved_search_id == search_id)
            )
        )


@pytest.fixture
def member(create_user):
    return create_user(alumni=True, status="verified", locale="en")


@pytest.fixture
def partner(create_partner):
    return create_partner(name="Acme")


def test_the_digest_task_is_registered_with_run_due(app):
    assert "saved-search-digests" in [task.name for task in DUE_TASKS]


def test_instant_search_sends_new_offers_once_across_runs(
    app, member, partner, create_offer, create_search, outbox
):
    t0 = utcnow()
    search_id, _token = create_search(member, kind="offers", frequency="instant")
    first = create_offer(partner, title_en="Cheap flights", published_at=t0 + timedelta(minutes=5))
    _run(app, t0 + timedelta(minutes=10))
    mails = _digests(outbox, member)
    assert len(mails) == 1
    assert "Cheap flights" in mails[0].body_text
    assert mails[0].subject.startswith("New offers for your saved search")
    # The one-click withdrawal of the "digests" consent (marketplace/privacy) is in both parts.
    assert "/privacy/withdraw/" in mails[0].body_text
    assert "/privacy/withdraw/" in mails[0].body_html
    # Another run, nothing new: no mail; then a new offer: only that one.
    _run(app, t0 + timedelta(minutes=20))
    assert len(_digests(outbox, member)) == 1
    second = create_offer(partner, title_en="Free books", published_at=t0 + timedelta(minutes=25))
    _run(app, t0 + timedelta(minutes=30))
    mails = _digests(outbox, member)
    assert len(mails) == 2
    assert "Free books" in mails[1].body_text
    assert "Cheap flights" not in mails[1].body_text
    assert _hits(app, search_id) == sorted([first.id, second.id])


def test_items_published_before_the_search_are_not_sent(
    app, member, partner, create_offer, create_search, outbox
):
    t0 = utcnow()
    create_offer(partner, title_en="Old deal", published_at=t0 - timedelta(days=2))
    create_search(member, kind="offers", frequency="instant")
    _run(app, t0 + timedelta(minutes=1))
    assert _digests(outbox, member) == []


def test_daily_digest_waits_a_day(app, member, partner, create_offer, create_search, outbox):
    t0 = utcnow()
    search_id, _token = create_search(member, kind="offers", frequency="daily")
    create_offer(partner, title_en="Daily deal", published_at=t0 + timedelta(hours=1))
    _run(app, t0 + timedelta(hours=12))
    assert _digests(outbox, member) == []
    _run(app, t0 + timedelta(days=1, minutes=1))
    assert len(_digests(outbox, member)) == 1
    create_offer(partner, title_en="Next deal", published_at=t0 + timedelta(days=1, hours=2))
    # Not a day since the last digest yet.
    _run(app, t0 + timedelta(days=1, hours=12))
    assert len(_digests(outbox, member)) == 1
    _run(app, t0 + timedelta(days=2, minutes=2))
    mails = _digests(outbox, member)
    assert len(mails) == 2
    assert "Next deal" in mails[1].body_text
    assert "Daily deal" not in mails[1].body_text
    assert len(_hits(app, search_id)) == 2


def test_weekly_digest_waits_a_week(app, member, partner, create_offer, create_search, outbox):
    t0 = utcnow()
    create_search(member, kind="offers", frequency="weekly")
    create_offer(partner, title_en="Weekly deal", published_at=t0 + timedelta(hours=1))
    _run(app, t0 + timedelta(days=6, hours=23))
    assert _digests(outbox, member) == []
    _run(app, t0 + timedelta(days=7, minutes=1))
    assert len(_digests(outbox, member)) == 1


def test_an_item_already_recorded_is_never_sent_again(
    app, member, partner, create_offer, create_search, outbox
):
    # As if an overlapping run had sent it: the hit row (unique) wins, no second mail.
    t0 = utcnow()
    search_id, _token = create_search(member, kind="offers", frequency="instant")
    offer = create_offer(partner, published_at=t0 + timedelta(minutes=1))
    with app.app_context():
        db.session.add(SavedSearchHit(saved_search_id=search_id, item_id=offer.id))
        db.session.commit()
    _run(app, t0 + timedelta(minutes=2))
    assert _digests(outbox, member) == []
    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(SavedSearchHit)
            .where(SavedSearchHit.saved_search_id == search_id)
        )
    assert count == 1


def test_offer_criteria_are_respected(app, member, partner, create_offer, create_search, outbox):
    t0 = utcnow()
    create_search(member, kind="offers", criteria={"q": "voyage", "online": "0"})
    later = t0 + timedelta(minutes=1)
    create_offer(
        partner, title_fr="Voyage en train", title_en="Train trip", online=False, published_at=later
    )
    create_offer(
        partner, title_fr="Voyage en ligne", title_en="Online trip", online=True, published_at=later
    )
    create_offer(
        partner, title_fr="Livres", title_en="Books sale", online=False, published_at=later
    )
    _run(app, t0 + timedelta(minutes=5))
    (mail,) = _digests(outbox, member)
    assert "Train trip" in mail.body_text
    assert "Online trip" not in mail.body_text
    assert "Books sale" not in mail.body_text


def test_job_criteria_are_respected(app, member, partner, create_job, create_search, outbox):
    t0 = utcnow()
    search_id, _token = create_search(
        member, kind="jobs", criteria={"contract": "internship", "country": "PT", "sort": "x"}
    )
    later = t0 + timedelta(minutes=1)
    match = create_job(
        partner, title_en="Data intern", contract="internship", country="PT", published_at=later
    )
    create_job(
        partner, title_en="Paris intern", contract="internship", country="FR", published_at=later
    )
    create_job(
        partner, title_en="Lisbon CDI", contract="permanent", country="PT", published_at=later
    )
    create_job(
        partner, title_en="Draft intern", status="draft", contract="internship", country="PT"
    )
    _run(app, t0 + timedelta(minutes=5))
    (mail,) = _digests(outbox, member)
    assert mail.subject.startswith("New jobs for your saved search")
    assert "Data intern" in mail.body_text
    assert f"/jobs/{match.id}" in mail.body_text
    for other in ("Paris intern", "Lisbon CDI", "Draft intern"):
        assert other not in mail.body_text
    assert _hits(app, search_id) == [match.id]


def test_job_text_search_matches(app, member, partner, create_job, create_search, outbox):
    t0 = utcnow()
    create_search(member, kind="jobs", criteria={"q": "ingenieur"})
    later = t0 + timedelta(minutes=1)
    create_job(
        partner, title_fr="Ingénieur réseau", title_en="Network engineer", published_at=later
    )
    create_job(partner, title_fr="Comptable", title_en="Accountant", published_at=later)
    _run(app, t0 + timedelta(minutes=5))
    (mail,) = _digests(outbox, member)
    assert "Network engineer" in mail.body_text
    assert "Accountant" not in mail.body_text


@pytest.mark.parametrize("status", ["pending", "refused"])
def test_unverified_members_get_nothing(
    app, create_user, partner, create_offer, create_search, outbox, status
):
    t0 = utcnow()
    user = create_user(alumni=True, status=status)
    search_id, _token = create_search(user, kind="offers")
    create_offer(partner, published_at=t0 + timedelta(minutes=1))
    _run(app, t0 + timedelta(minutes=5))
    assert _digests(outbox, user) == []
    assert _hits(app, search_id) == []


def test_unsubscribed_searches_get_nothing(
    app, member, partner, create_offer, create_search, outbox
):
    t0 = utcnow()
    search_id, _token = create_search(member, kind="offers")
    with app.app_context():
        from marketplace.notifications.models import SavedSearch

        alerts.unsubscribe(db.session.get(SavedSearch, search_id))
        db.session.commit()
    create_offer(partner, published_at=t0 + timedelta(minutes=1))
    _run(app, t0 + timedelta(minutes=5))
    assert _digests(outbox, member) == []


def test_digest_carries_one_click_unsubscribe_headers_in_row_and_eml(
    app, member, partner, create_offer, create_search, outbox
):
    t0 = utcnow()
    _search_id, token = create_search(member, kind="offers")
    create_offer(partner, title_en="Header deal", published_at=t0 + timedelta(minutes=1))
    with app.app_context():
        lines = run_due(t0 + timedelta(minutes=5), echo=lambda line: None)
    assert any(line.startswith("saved-search-digests: ") for line in lines)
    (mail,) = _digests(outbox, member)
    link = f"{app.config['SITE_URL']}/notifications/unsubscribe/{token}"
    assert mail.headers["List-Unsubscribe"] == f"<{link}>"
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in mail.body_text
    assert link in mail.body_html
    # Delivered right after its commit: the written .eml has the same headers.
    assert mail.status == "sent"
    folder = Path(app.config["MAIL_OUTBOX_FOLDER"])
    emails = [message_from_bytes(path.read_bytes()) for path in folder.glob("*.eml")]
    ours = [e for e in emails if e["To"] == member.email]
    assert len(ours) == 1
    assert ours[0]["List-Unsubscribe"] == f"<{link}>"
    assert ours[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_digest_is_written_in_the_members_locale(
    app, create_user, partner, create_offer, create_search, outbox
):
    t0 = utcnow()
    user = create_user(alumni=True, status="verified", locale="fr")
    create_search(user, kind="offers")
    create_offer(
        partner,
        title_fr="Billets de train",
        title_en="Train tickets",
        published_at=t0 + timedelta(minutes=1),
    )
    _run(app, t0 + timedelta(minutes=5))
    (mail,) = _digests(outbox, user)
    assert "Billets de train" in mail.body_text
    assert "Train tickets" not in mail.body_text


def test_a_hit_recorded_concurrently_is_skipped_by_the_unique_constraint(
    app, member, partner, create_offer, create_search
):
    # An overlapping run inserted the hit after this run read the sent items: the insert in
    # a savepoint fails on the unique constraint and the item is skipped, the rest goes on.
    t0 = utcnow()
    search_id, _token = create_search(member, kind="offers")
    offer = create_offer(partner, published_at=t0 + timedelta(minutes=1))
    with app.app_context():
        from marketplace.notifications.models import SavedSearch

        search = db.session.get(SavedSearch, search_id)
        items = [alerts.AlertItem(id=offer.id, title="x", url="u"), alerts.AlertItem(9, "y", "v")]
        with db.session.no_autoflush:
            # Pending, unseen by the read of sent items; flushed when the savepoint opens.
            db.session.add(SavedSearchHit(saved_search_id=search_id, item_id=offer.id))
            fresh = alerts._record_new(search, items, t0)
        db.session.commit()
        assert [item.id for item in fresh] == [9]
        count = db.session.scalar(
            select(func.count())
            .select_from(SavedSearchHit)
            .where(SavedSearchHit.saved_search_id == search_id)
        )
    assert count == 2
