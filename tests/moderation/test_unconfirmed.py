"""The moderator sees the sign-ups whose e-mail is not confirmed yet, and can resend the link."""

from __future__ import annotations

EN = {"Accept-Language": "en"}


def test_the_queue_says_how_many_sign_ups_wait_for_their_confirmation(
    client, login, moderator, create_member
):
    create_member(confirmed=False, full_name="Ulysse Unconfirmed")
    create_member(confirmed=False)
    create_member(full_name="Clara Confirmed")
    login(client, moderator)

    html = client.get("/moderation/members", headers=EN).get_data(as_text=True)

    assert 'id="unconfirmed-waiting"' in html
    assert "2 sign-ups have not confirmed their e-mail address yet" in html
    assert "Ulysse Unconfirmed" not in html
    shown = client.get("/moderation/members?unconfirmed=y", headers=EN).get_data(as_text=True)
    assert "Ulysse Unconfirmed" in shown
    assert 'id="unconfirmed-waiting"' not in shown
    assert "Send the link again" in shown


def test_no_notice_when_every_sign_up_is_confirmed(client, login, moderator, create_member):
    create_member()
    html = login(client, moderator).get("/moderation/members", headers=EN).get_data(as_text=True)
    assert 'id="unconfirmed-waiting"' not in html


def test_the_moderator_resends_the_confirmation_link(
    client, login, moderator, create_member, outbox, audit_rows
):
    member = create_member(confirmed=False)
    login(client, moderator)

    response = client.post(
        f"/moderation/members/{member.profile_id}/resend-confirmation?back=queue", headers=EN
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/moderation/members?unconfirmed=y")
    mails = outbox(to=member.email)
    assert [mail.template for mail in mails] == ["accounts/confirm"]
    assert "/accounts/confirm/" in mails[0].body_text
    assert len(audit_rows(member.user_id, "member.confirmation_resent")) == 1


def test_a_confirmed_address_gets_no_second_link(client, login, moderator, create_member, outbox):
    member = create_member()
    login(client, moderator)

    response = client.post(
        f"/moderation/members/{member.profile_id}/resend-confirmation",
        headers=EN,
        follow_redirects=True,
    )

    assert "already confirmed" in response.get_data(as_text=True)
    assert outbox(to=member.email) == []


def test_only_moderators_resend(client, login, create_user, create_member, outbox):
    member = create_member(confirmed=False)
    login(client, create_user(alumni=True, status="verified"))

    response = client.post(f"/moderation/members/{member.profile_id}/resend-confirmation")

    assert response.status_code == 403
    assert outbox(to=member.email) == []
