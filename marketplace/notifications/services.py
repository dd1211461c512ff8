"""Queue e-mails with the change they tell about; deliver them after the commit."""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from flask import current_app, g, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications.models import OutboxMessage

logger = logging.getLogger(__name__)

SUBJECTS: dict[str, Any] = {}


def queue_mail(
    *, to: str, template: str, subject: str, locale: str = "fr", **context: Any
) -> OutboxMessage:
    """Render ``templates/mail/<template>.txt|.html`` in the recipient's language and queue it.

    ``subject`` is a msgid, translated here in the recipient's locale.
    """
    with force_locale(locale):
        translated_subject = _(subject, **context.get("subject_args", {}))
        text = render_template(f"mail/{template}.txt", **context)
        html = render_template(f"mail/{template}.html", **context)
    message = OutboxMessage(
        recipient=to, subject=translated_subject, body_text=text, body_html=html, template=template
    )
    db.session.add(message)
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


def deliver(message_ids: list[int] | None = None) -> int:
    """Send pending messages (all, or the given ids) and commit their status; return the count."""
    query = select(OutboxMessage).where(OutboxMessage.status == "pending")
    if message_ids is not None:
        if not message_ids:
            return 0
        query = query.where(OutboxMessage.id.in_(message_ids))
    sent = 0
    for message in db.session.scalars(query.order_by(OutboxMessage.id)).all():
        message.attempts += 1
        try:
            _send(message)
        except (OSError, smtplib.SMTPException) as error:
            message.last_error = type(error).__name__
            logger.warning("mail %s not sent: %s", message.id, type(error).__name__)
        else:
            message.status = "sent"
            message.sent_at = utcnow()
            sent += 1
    db.session.commit()
    return sent


def deliver_after_request() -> None:
    """Called once the request's transaction is committed: send what it queued."""
    ids = g.pop("outbox_ids", None)
    if ids:
        deliver(ids)
