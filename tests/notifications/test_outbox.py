"""The outbox with a real SMTP server: down during the request, back later, each mail once.

The mail server is ``MAIL_SERVER``/``MAIL_PORT`` on a local port: first closed (nothing
listens, the send fails at once), later a real SMTP server (aiosmtpd) on the same port.
The job application or the membership payment goes through while the server is down; the
``mail`` due task, run on a moved clock, sends each message once when it is back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from jobs.models import Application
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership
from marketplace.notifications import services
from marketplace.notifications.models import OutboxMessage
from marketplace.payments.models import Payment, PaymentStatus
from marketplace.tasks import run_due
from tests.jobs.conftest import MINIMAL_PDF
from tests.jobs.test_apply import apply_form
from tests.live_server import closed_port
from tests.offers import conftest as offer_fixtures
from tests.payments import conftest as payment_fixtures

# Fixtures of other suites used here.
add_partner_member = offer_fixtures.add_partner_member
stripe_app = payment_fixtures.stripe_app


class SmtpSink:
    """A real SMTP server keeping what it receives (parsed), on a port chosen by the test."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[EmailMessage] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd hook
        self.received.append(message_from_bytes(envelope.content, policy=email_policy.default))
        return "250 OK"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [mail for mail in self.received if mail["To"] == address]


@pytest.fixture
def mail_server(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], SmtpSink]]:
    """Point the app at a closed SMTP port; calling the fixture's value starts a real server
    on that port (the mail server "coming back")."""
    port = closed_port()
    for key, value in {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USE_TLS": False,
        "MAIL_USERNAME": "",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    sinks: list[SmtpSink] = []

    def back() -> SmtpSink:
        sink = SmtpSink(port).start()
        sinks.append(sink)
        return sink

    yield back
    for sink in sinks:
        sink.stop()


def messages(app: Flask, *recipients: str) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient.in_(recipients))
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def run_mail_task(app: Flask, now: datetime) -> str:
    with app.app_context():
        lines = run_due(now, echo=lambda line: None)
    return next(line for line in lines if line.startswith("mail: "))


def translated(app: Flask, locale: str, msgid: str) -> str:
    """``msgid`` in ``locale`` (French once `make translations` has compiled the catalogue)."""
    with app.test_request_context(), force_locale(locale):
        return gettext(msgid)


def parts(mail: EmailMessage) -> dict[str, str]:
    """``{"text/plain": ..., "text/html": ...}`` of a mail (alternative parts; attachments, if
    any, beside them in a multipart/mixed)."""
    assert mail.get_content_type() in ("multipart/alternative", "multipart/mixed")
    found = {}
    for subtype in ("plain", "html"):
        body = mail.get_body(preferencelist=(subtype,))
        if body is not None:
            found[body.get_content_type()] = body.get_content()
    return found


@pytest.fixture
def job_setup(create_partner, add_partner_member, create_job, create_user):
    partner = create_partner(name=f"Acme {uuid.uuid4().hex[:6]}")
    manager = add_partner_member(partner)  # English, by the fixture's default
    job = create_job(partner)
    candidate = create_user(
        f"candidat-{uuid.uuid4().hex[:6]}@example.org",
        alumni=True,
        status="verified",
        locale="fr",
        full_name="Ada Lovelace",
    )
    return job, manager, candidate


def newest_id(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(OutboxMessage.id))) or 0


def queued_since(app: Flask, after_id: int) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id > after_id)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def test_application_goes_through_with_the_mail_server_down_and_each_mail_goes_once_later(
    app, client, login, job_setup, mail_server
):
    job, manager, candidate = job_setup
    login(client, candidate)
    before = newest_id(app)
    response = client.post(
        f"/jobs/applications/apply/{job.id}",
        data=apply_form(MINIMAL_PDF),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Application).where(Application.job_id == job.id))
    queued = queued_since(app, before)
    # The candidate's receipt, the team's notice (the manager, the partner's contact).
    assert {candidate.email, manager.email} <= {m.recipient for m in queued}
    tried_at = utcnow()
    for message in queued:
        # Tried once right after the commit, refused, kept for a retry a minute later.
        assert message.status == "pending"
        assert message.attempts == 1
        assert message.last_error.startswith("ConnectionRefusedError")
        assert tried_at < message.next_attempt_at <= tried_at + timedelta(minutes=1, seconds=5)

    # Before the back-off is over, the due task leaves them alone.
    assert run_mail_task(app, utcnow()) == "mail: 0 pending e-mail(s) sent"
    assert {m.attempts for m in queued_since(app, before)} == {1}

    sink = mail_server()
    later = utcnow() + timedelta(minutes=2)
    assert run_mail_task(app, later) == f"mail: {len(queued)} pending e-mail(s) sent"
    assert run_mail_task(app, later + timedelta(hours=1)) == "mail: 0 pending e-mail(s) sent"

    # Each message exactly once, in its recipient's language, as text and HTML.
    assert sorted(mail["To"] for mail in sink.received) == sorted(m.recipient for m in queued)
    (to_candidate,) = sink.to(candidate.email)
    (to_manager,) = sink.to(manager.email)
    assert to_candidate["Subject"] == translated(app, "fr", "Your application was sent")
    assert to_manager["Subject"] == translated(app, "en", "A new application")
    for mail in sink.received:
        bodies = parts(mail)
        assert bodies["text/plain"].strip()
        assert "<" in bodies["text/html"]
    assert "Ada Lovelace" in parts(to_manager)["text/plain"]
    for message in queued_since(app, before):
        assert message.status == "sent"
        assert message.attempts == 2
        assert message.sent_at is not None
        assert message.next_attempt_at is None


def test_membership_payment_goes_through_with_the_mail_server_down(
    app, client, login, stripe_app, localstripe, create_user, seed_reference, mail_server
):
    from tests.payments.test_membership_api import confirm_setup
    from tests.payments.test_membership_checkout import setup_secret, start

    alumnus = create_user(
        f"payeur-{uuid.uuid4().hex[:6]}@example.org", alumni=True, status="verified", locale="en"
    )
    login(client, alumnus)
    payment_id, page, _csrf = start(client)
    method = confirm_setup(localstripe, setup_secret(page))
    answer = client.post(f"/membership/pay/{payment_id}/confirm", json={"payment_method": method})
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "succeeded"
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED
        assert db.session.scalar(select(Membership).where(Membership.payment_id == payment_id))
    # The receipt, then the payment attestation issued after the payment's commit.
    receipt, attestation = messages(app, alumnus.email)
    assert [m.template for m in (receipt, attestation)] == ["payments/receipt", "payments/document"]
    assert (receipt.status, receipt.attempts) == ("pending", 1)
    assert (attestation.status, attestation.attempts) == ("pending", 1)

    sink = mail_server()
    assert run_mail_task(app, utcnow() + timedelta(minutes=2)) == "mail: 2 pending e-mail(s) sent"
    assert run_mail_task(app, utcnow() + timedelta(days=1)) == "mail: 0 pending e-mail(s) sent"
    mail, document = sink.to(alumnus.email)
    assert mail["Subject"] == receipt.subject
    assert set(parts(mail)) == {"text/plain", "text/html"}
    # The attestation travels as a PDF attachment, beside the text and HTML parts.
    assert set(parts(document)) == {"text/plain", "text/html"}
    [attached] = list(document.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename().startswith("attestation-AT-")
    assert attached.get_content().startswith(b"%PDF-1.7")


def _message(app: Flask, recipient: str) -> int:
    with app.app_context():
        message = OutboxMessage(
            recipient=recipient, subject="Hello", body_text="Body", template="test/hello"
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def test_retries_back_off_exponentially_then_the_message_fails_and_is_logged(
    app, mail_server, caplog
):
    recipient = f"nobody-{uuid.uuid4().hex[:6]}@example.org"
    message_id = _message(app, recipient)
    now = utcnow()
    waits = []
    caplog.set_level(logging.WARNING, logger="marketplace.notifications.services")
    for _attempt in range(services.MAX_ATTEMPTS):
        assert run_mail_task(app, now) == "mail: 0 pending e-mail(s) sent"
        (message,) = messages(app, recipient)
        if message.status == "failed":
            break
        waits.append(message.next_attempt_at - now)
        # One second early, it is not due yet; at its time, it is.
        assert run_mail_task(app, message.next_attempt_at - timedelta(seconds=1)).startswith(
            "mail: 0"
        )
        assert messages(app, recipient)[0].attempts == message.attempts
        now = message.next_attempt_at
    assert waits == [timedelta(minutes=2**n) for n in range(services.MAX_ATTEMPTS - 1)]
    (message,) = messages(app, recipient)
    assert message.status == "failed"
    assert message.attempts == services.MAX_ATTEMPTS
    assert message.next_attempt_at is None
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert f"mail {message_id} to {recipient} failed for good" in failures[0].getMessage()
    # A failed message is not tried again, even when the server is back.
    sink = mail_server()
    assert run_mail_task(app, now + timedelta(days=30)) == "mail: 0 pending e-mail(s) sent"
    assert sink.received == []


def test_a_message_claimed_by_one_sender_is_not_sent_by_another(app, mail_server):
    """The claim is committed before the send: a second sender (the due task, a worker)
    running meanwhile finds nothing due, so a slow send is never doubled."""
    recipient = f"once-{uuid.uuid4().hex[:6]}@example.org"
    message_id = _message(app, recipient)
    sink = mail_server()
    now = utcnow()
    with app.app_context():
        assert services._claim(message_id, now)
        # Another sender within the lease: not due, nothing sent.
        assert services.send_one(message_id, now=now + timedelta(seconds=30)) is False
        assert services.send_due(now + timedelta(minutes=1)) == 0
    assert sink.received == []
    # A sender that died holding the claim: due again once its lease is over.
    with app.app_context():
        assert services.send_due(now + services.SEND_LEASE + timedelta(seconds=1)) == 1
    assert len(sink.to(recipient)) == 1
    assert messages(app, recipient)[0].attempts == 2


def test_a_refusal_for_good_is_not_retried(app, mail_server):
    """A 5xx answer (unknown mailbox...) is final: no retry, the message is failed."""

    class Refusing(SmtpSink):
        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            return "550 No such user here"

    recipient = f"refused-{uuid.uuid4().hex[:6]}@example.org"
    _message(app, recipient)
    port = app.config["MAIL_PORT"]
    sink = Refusing(port).start()
    try:
        assert run_mail_task(app, utcnow()) == "mail: 0 pending e-mail(s) sent"
    finally:
        sink.stop()
    (message,) = messages(app, recipient)
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error.startswith("SMTPRecipientsRefused")
