"""Consents for digests and news: append-only proof, settings page, one-click withdrawal link,
and digests skipped once withdrawn."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications import alerts
from marketplace.privacy import services
from marketplace.privacy.models import Consent


def _rows(app, user):
    with app.app_context():
        return [
            (row.purpose, row.granted, row.source)
            for row in db.session.scalars(
                select(Consent).where(Consent.user_id == user.id).order_by(Consent.id)
            )
        ]


def _set(app, user, purpose, granted):
    with app.app_context():
        services.set_consent(db.session.get(User, user.id), purpose, granted, source="settings")
        db.session.commit()


def test_settings_page_records_each_change_as_a_new_row(app, client, login, create_user):
    user = create_user(alumni=True, status="verified")
    login(client, user)
    assert client.get("/privacy/me").status_code == 200
    # The first save is the explicit choice of both; the next ones record changes only.
    client.post("/privacy/me/consents", data={"digests": "y", "news": "y"})
    assert _rows(app, user) == [("digests", True, "settings"), ("news", True, "settings")]
    client.post("/privacy/me/consents", data={"digests": "y", "news": "y"})
    assert len(_rows(app, user)) == 2
    client.post("/privacy/me/consents", data={"digests": "y"})
    assert _rows(app, user)[-1] == ("news", False, "settings")
    with app.app_context():
        latest = db.session.scalars(select(Consent).order_by(Consent.id.desc())).first()
        assert latest.text_version == services.CONSENT_VERSION
        assert latest.text_shown
        assert latest.ip_hash
        assert "127.0.0.1" not in latest.ip_hash
    page = client.get("/privacy/me").get_data(as_text=True)
    assert 'id="consent-history"' in page
    assert 'data-purpose="news" data-granted="no"' in page


def test_one_click_withdrawal_link(app, client, create_user, csrf_enabled):
    user = create_user(alumni=True, status="verified")
    _set(app, user, services.NEWS, True)
    with app.test_request_context():
        token = services.withdraw_token(user, services.NEWS)
        url = services.withdraw_url(user, services.NEWS)
    assert url.endswith(f"/privacy/withdraw/{token}")
    # Not signed in: the link alone works. GET only asks.
    page = client.get(f"/privacy/withdraw/{token}")
    assert page.status_code == 200
    assert b'id="withdraw-form"' in page.data
    assert _rows(app, user)[-1][1] is True
    # POST without the form token is refused; with it, the consent is withdrawn.
    assert client.post(f"/privacy/withdraw/{token}").status_code == 400
    assert _rows(app, user)[-1][1] is True
    html = page.get_data(as_text=True)
    csrf = html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    done = client.post(f"/privacy/withdraw/{token}", data={"csrf_token": csrf})
    assert done.status_code == 200
    assert b'id="withdrawn"' in done.data
    assert _rows(app, user)[-1] == ("news", False, "email-link")


def test_a_forged_or_foreign_token_is_not_found(app, client, create_user):
    user = create_user()
    with app.app_context():
        token = services.withdraw_token(user, services.NEWS)
    assert client.get(f"/privacy/withdraw/{token}x").status_code == 404
    assert client.get("/privacy/withdraw/not-a-token").status_code == 404
    from itsdangerous import URLSafeSerializer

    forged = URLSafeSerializer("another key", salt="privacy-consent-withdraw").dumps(
        {"u": user.id, "p": "news"}
    )
    assert client.get(f"/privacy/withdraw/{forged}").status_code == 404


def test_digests_are_skipped_after_a_withdrawal(
    app, create_user, create_partner, create_job, create_search, outbox
):
    member = create_user(alumni=True, status="verified", locale="en")
    partner = create_partner(name="Acme")
    t0 = utcnow()
    create_search(member, kind="jobs", frequency="instant")

    def digests():
        return [m for m in outbox(to=member.email) if m.template == "notifications/digest"]

    _set(app, member, services.DIGESTS, False)
    create_job(partner, title_en="Data engineer", published_at=t0 + timedelta(minutes=5))
    with app.app_context():
        alerts.send_due_digests(t0 + timedelta(minutes=10))
    assert digests() == []
    # Granted again: the next run sends.
    _set(app, member, services.DIGESTS, True)
    create_job(partner, title_en="Data analyst", published_at=t0 + timedelta(minutes=15))
    with app.app_context():
        alerts.send_due_digests(t0 + timedelta(minutes=20))
    assert len(digests()) == 1


def test_no_digest_once_a_deletion_is_scheduled(
    app, create_user, create_partner, create_job, create_search, outbox
):
    member = create_user(alumni=True, status="verified", locale="en")
    partner = create_partner(name="Acme")
    t0 = utcnow()
    create_search(member, kind="jobs", frequency="instant")
    with app.app_context():
        user = db.session.get(User, member.id)
        user.deletion_requested_at = t0
        user.deletion_due_at = t0 + timedelta(days=7)
        db.session.commit()
    create_job(partner, title_en="Data engineer", published_at=t0 + timedelta(minutes=5))
    with app.app_context():
        alerts.send_due_digests(t0 + timedelta(minutes=10))
    assert [m for m in outbox(to=member.email) if m.template == "notifications/digest"] == []


def test_news_recipients_are_those_who_agreed(app, create_user):
    yes = create_user()
    no = create_user()
    never = create_user()
    _set(app, yes, services.NEWS, True)
    _set(app, no, services.NEWS, True)
    _set(app, no, services.NEWS, False)
    with app.app_context():
        ids = set(
            db.session.scalars(
                select(User.id).where(
                    User.id.in_([yes.id, no.id, never.id]), services.news_recipients_clause()
                )
            )
        )
    assert ids == {yes.id}
