"""Queue e-mails with the change they tell about; deliver them after the commit.

Every e-mail is a row of the outbox, written in the transaction of the change it tells about
(``queue_mail``), rendered as text and HTML in the recipient's language. Once that transaction
is committed, the ids are dispatched: sent inline in the embedded default, or handed to the RQ
worker (``marketplace/notifications/queue.py``) when ``REDIS_URL`` is set. A failed send is
retried by the ``mail`` due task with an exponential back-off; after ``MAX_ATTEMPTS`` tries
the message is marked ``failed`` and logged. A message is claimed before it is sent, so the
request, the worker and the due task never send it twice.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from flask import current_app, g, has_request_context, render_template
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, or_, select, update

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.i18n import force_reader
from marketplace.notifications.models import OutboxAttachment, OutboxMessage

logger = logging.getLogger(__name__)

SUBJECTS: dict[str, Any] = {}


def queue_mail(
    *,
    to: str,
    template: str,
    subject: str,
    locale: str = "fr",
    timezone: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    **context: Any,
) -> OutboxMessage:
    """Render ``templates/mail/<template>.txt|.html`` in the recipient's language and time zone
    (``timezone``, else that of the ``user`` in the context) and queue it.

    ``subject`` is a msgid, translated here in the recipient's locale; ``attachments`` are
    ``(filename, content type, bytes)``, stored with the message until it is sent.
    """
    timezone = timezone or getattr(context.get("user"), "timezone", None)
    with force_reader(locale, timezone):
        translated_subject = _(subject, **context.get("subject_args", {}))
        text = render_template(f"mail/{template}.txt", **context)
        html = render_template(f"mail/{template}.html", **context)
    message = OutboxMessage(
        recipient=to, subject=translated_subject, body_text=text, body_html=html, template=template
    )
    db.session.add(message)
    db.session.flush()
    for filename, content_type, content in attachments:
        db.session.add(
            OutboxAttachment(
                message_id=message.id,
                filename=filename,
                content_type=content_type,
                content=content,
            )
        )
    if attachments:
        db.session.flush()
    if has_request_context():
        g.setdefault("outbox_ids", []).append(message.id)
    return message


# RFC 5322 lines may reach 998 characters. At the default 78, a long header without spaces
# (List-Unsubscribe: <https://…/token>) is turned into RFC 2047 encoded words, which mail
# clients do not read as a URL.
EMAIL_POLICY = email_policy.default.clone(max_line_length=998)


def _build(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage(policy=EMAIL_POLICY)
    email["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    for name, value in (message.headers or {}).items():
        email[name] = value
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    for attachment in db.session.scalars(
        select(OutboxAttachment)
        .where(OutboxAttachment.message_id == message.id)
        .order_by(OutboxAttachment.id)
    ):
        maintype, _sep, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return email


def _send(message: OutboxMessage) -> None:
    config = current_app.config
    email = _build(message)
    if config["MAIL_SERVER"]:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(email)
    else:
        folder = Path(config["MAIL_OUTBOX_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        # Ids repeat across databases (tests, resets): a random suffix keeps each file.
        name = f"{stamp}-{message.id:08d}-{secrets.token_hex(4)}.eml"
        (folder / name).write_bytes(bytes(email))
    # Recipient and subject only: bodies carry confirmation and reset links.
    logger.info("mail %s sent to %s: %s", message.id, message.recipient, message.subject)


# A message is tried at most this many times, the waits doubling from RETRY_BASE up to
# RETRY_CAP (1, 2, 4 ... 64 minutes): about two hours in all before it is marked ``failed``.
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)
# A sender's claim on a message: a sender that dies mid-send leaves it due again after this.
SEND_LEASE = timedelta(minutes=5)


class PermanentFailure(Exception):
    """The mail server refused the message for good (a 5xx answer): no retry."""


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: exponential, capped."""
    base = timedelta(seconds=current_app.config.get("MAIL_RETRY_BASE_SECONDS", 0)) or RETRY_BASE
    return min(base * 2 ** max(attempts - 1, 0), RETRY_CAP)


def _is_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.status == "pending",
        or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
    )


def _claim(message_id: int, now: datetime) -> bool:
    """Take a due message for one try (committed): two senders never send the same message."""
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _is_due(now))
        .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now + SEND_LEASE)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return claimed.rowcount == 1


def _record_failure(message: OutboxMessage, error: Exception, now: datetime) -> None:
    reason = type(error.__cause__ or error).__name__
    message.last_error = f"{reason}: {error}"[:255]
    max_attempts = current_app.config.get("MAIL_MAX_ATTEMPTS", MAX_ATTEMPTS)
    if isinstance(error, PermanentFailure) or message.attempts >= max_attempts:
        message.status = "failed"
        message.next_attempt_at = None
        # Recipient only: the body may hold a confirmation or reset link.
        logger.error(
            "mail %s to %s failed for good after %s attempt(s): %s",
            message.id,
            message.recipient,
            message.attempts,
            reason,
        )
        return
    message.next_attempt_at = now + retry_delay(message.attempts)
    logger.warning(
        "mail %s not sent (attempt %s): %s; next try at %s",
        message.id,
        message.attempts,
        reason,
        message.next_attempt_at.isoformat(timespec="seconds"),
    )


def send_one(message_id: int, *, now: datetime | None = None) -> bool:
    """Try to send one due message now; True if it went out (False: not due, taken, failed)."""
    now = now or utcnow()
    if not _claim(message_id, now):
        return False
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None:  # pragma: no cover - deleted between the claim and here
        return False
    try:
        try:
            _send(message)
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(str(error.smtp_code)) from error
            raise
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentFailure(", ".join(map(str, codes))) from error
            raise
    except (OSError, smtplib.SMTPException, PermanentFailure) as error:
        _record_failure(message, error, now)
        sent = False
    else:
        message.status = "sent"
        message.sent_at = utcnow()
        message.next_attempt_at = None
        message.last_error = None
        sent = True
    db.session.commit()
    return sent


def send_due(now: datetime | None = None) -> int:
    """Send every message due at ``now`` (new ones and retries whose wait is over); the count."""
    now = now or utcnow()
    ids = db.session.scalars(
        select(OutboxMessage.id).where(_is_due(now)).order_by(OutboxMessage.id)
    ).all()
    db.session.commit()
    return sum(send_one(message_id, now=now) for message_id in ids)


def dispatch(message_ids: list[int]) -> int:
    """Once their transaction is committed: hand the messages to the RQ worker when Redis is
    configured (``REDIS_URL``), else send them inline. Returns how many were sent here."""
    if not message_ids:
        return 0
    if current_app.config.get("REDIS_URL"):
        from marketplace.notifications.queue import enqueue

        # Should Redis be down, the messages stay pending and the due task sends them.
        enqueue(message_ids)
        return 0
    return sum(send_one(message_id) for message_id in message_ids)


def deliver(message_ids: list[int] | None = None, *, now: datetime | None = None) -> int:
    """Committed messages out: the given ids (dispatched), or every due one (``tasks run-due``)."""
    if message_ids is None:
        return send_due(now)
    return dispatch(message_ids)


def deliver_after_request() -> None:
    """Called once the request's transaction is committed: send (or enqueue) what it queued."""
    ids = g.pop("outbox_ids", None)
    if ids:
        dispatch(ids)
