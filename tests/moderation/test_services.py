"""Moderation services: decisions on alumni, bulk decisions, roster import."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts.models import AlumniProfile, RosterEntry, User, VerificationStatus
from marketplace.accounts.services import answer_info_request
from marketplace.audit import AuditLog
from marketplace.errors import Conflict, InvalidInput
from marketplace.extensions import db
from marketplace.moderation import services


@pytest.fixture
def decide(app, moderator):
    """Run a service on a member's profile as the moderator, then commit (as a view does)."""

    def run(service, member, **kwargs):
        with app.test_request_context():
            profile = db.session.get(AlumniProfile, member.profile_id)
            actor = db.session.get(User, moderator.id)
            result = service(profile, actor=actor, **kwargs)
            db.session.commit()
            return result

    return run


def _attempt(app, moderator, service, member, **kwargs):
    """Call a service that must refuse, and roll back as the error handlers do."""
    with app.test_request_context():
        profile = db.session.get(AlumniProfile, member.profile_id)
        try:
            service(profile, actor=db.session.get(User, moderator.id), **kwargs)
        finally:
            db.session.rollback()


# ---------------------------------------------------------------- single decisions


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_approve_verifies_audits_and_mails_in_the_members_language(
    create_member, decide, profile_of, audit_rows, outbox, moderator, locale
):
    member = create_member(locale=locale)

    decide(services.approve_member, member)

    profile = profile_of(member)
    assert profile.status == VerificationStatus.VERIFIED
    assert profile.decided_by_id == moderator.id
    assert profile.decided_at is not None
    (row,) = audit_rows(member.user_id)
    assert (row.action, row.actor_id) == ("member.approved", moderator.id)
    (mail,) = outbox(to=member.email)
    assert mail.template == "moderation/member_approved"
    assert f'lang="{locale}"' in mail.body_html
    assert "/accounts/status" in mail.body_text


def test_english_member_gets_the_english_subject(create_member, decide, outbox):
    member = create_member(locale="en")
    decide(services.approve_member, member)
    (mail,) = outbox(to=member.email)
    assert mail.subject == "Your alumni status is verified"
    assert "Hello Camille," in mail.body_text


@pytest.mark.parametrize("status", ["pending", "info_requested", "refused"])
def test_approve_is_allowed_from_undecided_or_refused(create_member, decide, profile_of, status):
    member = create_member(status=status)
    decide(services.approve_member, member)
    assert profile_of(member).status == VerificationStatus.VERIFIED


def test_approving_a_verified_member_conflicts_and_changes_nothing(
    app, create_member, moderator, audit_rows, outbox
):
    member = create_member(status="verified")
    with pytest.raises(Conflict):
        _attempt(app, moderator, services.approve_member, member)
    assert audit_rows(member.user_id) == []
    assert outbox(to=member.email) == []


def test_refuse_records_the_reason_and_tells_the_member(
    create_member, decide, profile_of, audit_rows, outbox, moderator
):
    member = create_member(locale="en")

    decide(services.refuse_member, member, reason="identity_mismatch", message="  Name differs.  ")

    profile = profile_of(member)
    assert profile.status == VerificationStatus.REFUSED
    assert profile.refusal_reason == "identity_mismatch"
    assert profile.moderator_message == "Name differs."
    (row,) = audit_rows(member.user_id)
    assert row.action == "member.refused"
    assert row.actor_id == moderator.id
    assert row.details["reason"] == "identity_mismatch"
    (mail,) = outbox(to=member.email)
    assert mail.template == "moderation/member_refused"
    assert "The name does not match the school's records." in mail.body_text
    assert "Name differs." in mail.body_text


@pytest.mark.parametrize("reason", [None, "", "not_a_reason"])
def test_refuse_needs_a_reason_from_the_list(
    app, create_member, moderator, profile_of, audit_rows, outbox, reason
):
    member = create_member()
    with pytest.raises(InvalidInput):
        _attempt(app, moderator, services.refuse_member, member, reason=reason)
    assert profile_of(member).status == VerificationStatus.PENDING
    assert audit_rows(member.user_id) == []
    assert outbox(to=member.email) == []


@pytest.mark.parametrize("status", ["verified", "refused"])
def test_refuse_is_only_possible_before_a_decision(app, create_member, moderator, status):
    member = create_member(status=status)
    with pytest.raises(Conflict):
        _attempt(app, moderator, services.refuse_member, member, reason="duplicate")


def test_request_info_then_the_answer_puts_the_member_back_in_the_queue(
    app, create_member, decide, profile_of, audit_rows, outbox, moderator
):
    member = create_member(locale="en")

    decide(services.request_member_info, member, message="Please send your diploma.")

    profile = profile_of(member)
    assert profile.status == VerificationStatus.INFO_REQUESTED
    assert profile.moderator_message == "Please send your diploma."
    (row,) = audit_rows(member.user_id)
    assert (row.action, row.actor_id) == ("member.info_requested", moderator.id)
    (mail,) = outbox(to=member.email)
    assert mail.template == "moderation/member_info_requested"
    assert "Please send your diploma." in mail.body_text

    with app.test_request_context():
        user = db.session.get(User, member.user_id)
        answer_info_request(user, answer="Here is my diploma number: 1234.")
        db.session.commit()

    profile = profile_of(member)
    assert profile.status == VerificationStatus.PENDING
    assert profile.member_answer == "Here is my diploma number: 1234."
    assert profile.submitted_at > row.created_at


@pytest.mark.parametrize("message", ["", "   "])
def test_request_info_needs_a_message(app, create_member, moderator, profile_of, message):
    member = create_member()
    with pytest.raises(InvalidInput):
        _attempt(app, moderator, services.request_member_info, member, message=message)
    assert profile_of(member).status == VerificationStatus.PENDING


def test_request_info_is_only_possible_on_a_pending_member(app, create_member, moderator):
    member = create_member(status="info_requested")
    with pytest.raises(Conflict):
        _attempt(app, moderator, services.request_member_info, member, message="Again?")


# ---------------------------------------------------------------- bulk


def _bulk(app, moderator, members, **kwargs):
    with app.test_request_context():
        profiles = db.session.scalars(
            select(AlumniProfile).where(AlumniProfile.id.in_([m.profile_id for m in members]))
        ).all()
        result = services.bulk_decide(profiles, actor=db.session.get(User, moderator.id), **kwargs)
        db.session.commit()
        return result


def test_bulk_refusal_shares_one_reason_audits_and_mails_each_member(
    app, create_member, moderator, profile_of, audit_rows, outbox
):
    pending = [create_member(locale=locale) for locale in ("fr", "en", "fr")]
    verified = create_member(status="verified")

    result = _bulk(
        app,
        moderator,
        [*pending, verified],
        decision="refuse",
        reason="not_in_network",
        message="Shared message.",
    )

    assert (result.decided, result.skipped) == (3, 1)
    for member in pending:
        profile = profile_of(member)
        assert profile.status == VerificationStatus.REFUSED
        assert profile.refusal_reason == "not_in_network"
        (row,) = audit_rows(member.user_id)
        assert row.actor_id == moderator.id
        assert row.details["reason"] == "not_in_network"
        assert row.details["bulk"] is True
        (mail,) = outbox(to=member.email)
        assert "Shared message." in mail.body_text
    assert profile_of(verified).status == VerificationStatus.VERIFIED
    assert audit_rows(verified.user_id) == []
    assert outbox(to=verified.email) == []


def test_bulk_approval_skips_already_verified_members(
    app, create_member, moderator, profile_of, count_rows
):
    members = [create_member() for _ in range(4)]
    already = create_member(status="verified")

    result = _bulk(app, moderator, [*members, already], decision="approve")

    assert (result.decided, result.skipped) == (4, 1)
    assert {profile_of(m).status for m in members} == {VerificationStatus.VERIFIED}
    assert count_rows(AuditLog) == 4


def test_bulk_request_info_sends_the_same_message_to_each(app, create_member, moderator, outbox):
    members = [create_member() for _ in range(2)]
    result = _bulk(app, moderator, members, decision="request_info", message="Which class?")
    assert result.decided == 2
    assert all("Which class?" in outbox(to=m.email)[0].body_text for m in members)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"decision": "refuse"},
        {"decision": "refuse", "reason": "made_up"},
        {"decision": "request_info", "message": " "},
        {"decision": "delete"},
    ],
)
def test_bulk_with_bad_input_changes_nothing(
    app, create_member, moderator, profile_of, outbox, kwargs
):
    members = [create_member() for _ in range(2)]
    with pytest.raises(InvalidInput):
        _bulk(app, moderator, members, **kwargs)
    assert {profile_of(m).status for m in members} == {VerificationStatus.PENDING}
    assert outbox() == []


# ---------------------------------------------------------------- roster import


def _import(app, moderator, text):
    with app.test_request_context():
        result = services.import_roster(text, actor=db.session.get(User, moderator.id))
        db.session.commit()
        return result


def _roster(app):
    with app.app_context():
        return {
            (row.email, row.school_id, row.full_name, row.graduation_year)
            for row in db.session.scalars(select(RosterEntry))
        }


def test_roster_import_stores_good_lines_and_reports_bad_ones(
    app, moderator, school, create_school
):
    other = create_school(name="Lycée Pasteur", city="São Paulo", country="BR")
    text = (
        "name,email,school,year\n"
        f"Camille Martin,Camille.Martin@Example.org,{school.name.upper()},2015\n"  # line 2
        f"Jo Silva,jo@example.org,{other.id},\n"  # 3: school by id, no year
        "No Email,not-an-email,Lycée Pasteur,2010\n"  # 4
        "Lost Person,lost@example.org,Unknown school,2010\n"  # 5
        "Bad Year,year@example.org,Lycée Pasteur,20x0\n"  # 6
        "\n"
        "Camille Martin,camille.martin@example.org,"
        f"{school.name},2015\n"  # 8: duplicate of line 2
        ",nameless@example.org,Lycée Pasteur,2010\n"  # 9
        "Too,many,columns,2010,extra\n"  # 10
    )

    result = _import(app, moderator, text)

    assert result.created == 2
    assert result.duplicates == 1
    assert [line for line, _ in result.errors] == [4, 5, 6, 9, 10]
    assert _roster(app) == {
        ("camille.martin@example.org", school.id, "Camille Martin", 2015),
        ("jo@example.org", other.id, "Jo Silva", None),
    }
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "roster.imported"))
        assert row.actor_id == moderator.id
        assert row.details["created"] == 2


def test_roster_import_skips_lines_already_imported(app, moderator, school):
    line = f"Camille Martin,camille@example.org,{school.name},2015\n"
    first = _import(app, moderator, "name,email,school,year\n" + line)
    second = _import(app, moderator, "name,email,school,year\n" + line)
    assert (first.created, first.duplicates) == (1, 0)
    assert (second.created, second.duplicates) == (0, 1)
    assert len(_roster(app)) == 1


def test_roster_import_accepts_semicolons_and_a_byte_order_mark(app, moderator, school):
    result = _import(
        app,
        moderator,
        f"\ufeffName;Email;School;Year\r\nAna Lopes;ana@example.org;{school.id};2001\r\n",
    )
    assert result.created == 1
    assert result.errors == []


@pytest.mark.parametrize("text", ["", "\n\n", "nom,courriel,école,année\nA,a@example.org,1,2000\n"])
def test_roster_import_refuses_a_file_without_the_header(app, moderator, text):
    with pytest.raises(InvalidInput):
        _import(app, moderator, text)


def test_roster_import_verifies_matching_confirmed_registrations_at_once(
    app, moderator, school, create_member, profile_of, outbox, audit_rows
):
    match = create_member("camille@example.org", full_name="Camille Martin")
    wrong_name = create_member("dominique@example.org", full_name="Dominique Bernard")
    unconfirmed = create_member("lou@example.org", full_name="Lou Petit", confirmed=False)
    text = (
        "name,email,school,year\n"
        # Same person, name written in another order and without the accent's case.
        f"martin camille,camille@example.org,{school.name},2015\n"
        f"Someone Else,dominique@example.org,{school.name},2015\n"
        f"Lou Petit,lou@example.org,{school.name},2015\n"
    )

    result = _import(app, moderator, text)

    assert (result.created, result.verified) == (3, 1)
    profile = profile_of(match)
    assert profile.status == VerificationStatus.VERIFIED
    assert profile.verified_by_roster is True
    assert [row.action for row in audit_rows(match.user_id)] == ["member.verified_by_roster"]
    assert [mail.template for mail in outbox(to=match.email)] == ["moderation/member_approved"]
    assert profile_of(wrong_name).status == VerificationStatus.PENDING
    assert profile_of(unconfirmed).status == VerificationStatus.PENDING
    assert outbox(to=wrong_name.email) == []


def test_roster_import_does_not_match_another_school(
    app, moderator, create_school, create_member, profile_of
):
    declared = create_school(name="Lycée Molière")
    listed = create_school(name="Lycée Voltaire")
    member = create_member("camille@example.org", full_name="Camille Martin", school=declared)
    result = _import(
        app,
        moderator,
        f"name,email,school,year\nCamille Martin,camille@example.org,{listed.name},\n",
    )
    assert (result.created, result.verified) == (1, 0)
    assert profile_of(member).status == VerificationStatus.PENDING


def test_roster_import_leaves_a_moderators_refusal_alone(
    app, moderator, school, create_member, profile_of
):
    member = create_member("camille@example.org", full_name="Camille Martin", status="refused")
    result = _import(
        app,
        moderator,
        f"name,email,school,year\nCamille Martin,camille@example.org,{school.name},\n",
    )
    assert result.verified == 0
    assert profile_of(member).status == VerificationStatus.REFUSED


def test_the_moderators_message_is_escaped_in_the_html_mail(create_member, decide, outbox):
    member = create_member()
    decide(services.request_member_info, member, message='<a href="https://evil.example">x</a>\nok')
    (mail,) = outbox(to=member.email)
    assert '<a href="https://evil.example">' not in mail.body_html
    assert "&lt;a href=" in mail.body_html
    assert "<br>ok" in mail.body_html
