"""Periodic work run by cron through ``flask tasks run-due``.

Each task is idempotent (running it again right away does nothing more) and returns one line
saying what it did. Packages register theirs (offer expiry, digests...) with ``add_due_task``
from their ``init_app``; they run in the order ``DUE_TASK_ORDER`` writes down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import current_app, has_request_context
from sqlalchemy import select

from marketplace.accounts.evidence import evidence_path
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.notifications.services import deliver

logger = logging.getLogger(__name__)

# DESIGN "Privacy": unconfirmed registrations are deleted after 30 days.
UNCONFIRMED_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class DueTask:
    """One periodic job: ``run(now)`` does the work and returns a one-line report."""

    name: str
    run: Callable[[datetime], str]


def deliver_pending_mail(now: datetime) -> str:
    """Send every e-mail due in the outbox: new ones, and failed ones whose back-off is over."""
    sent = deliver(now=now)
    return f"{sent} pending e-mail(s) sent"


def purge_unconfirmed_registrations(now: datetime) -> str:
    """Delete accounts whose address was never confirmed within 30 days, and their evidence."""
    cutoff = now - UNCONFIRMED_RETENTION
    users = db.session.scalars(
        select(User).where(
            User.email_confirmed_at.is_(None),
            User.created_at < cutoff,
            # Staff accounts are made by admins, not registrations: never purged here.
            ~User.role_rows.any(),
        )
    ).all()
    files: list[Path] = []
    for user in users:
        path = evidence_path(user.alumni_profile) if user.alumni_profile else None
        if path is not None:
            files.append(path)
        logger.info("retention: deleting unconfirmed account %s", user.id)
        db.session.delete(user)
    db.session.commit()
    # Files go only once the rows are gone for good, so a failed commit loses nothing.
    for path in files:
        path.unlink(missing_ok=True)
    return f"{len(users)} unconfirmed registration(s) older than 30 days deleted"


def site_request_context() -> AbstractContextManager[object]:
    """Outside a request (cron, commands), a request context on ``SITE_URL`` for e-mail links."""
    if has_request_context():
        return nullcontext()
    return current_app.test_request_context("/", base_url=current_app.config["SITE_URL"])


# The order ``tasks run-due`` runs the tasks in, whichever package registers them and whenever:
# a task must have its place here (the comment names the package that registers it).
DUE_TASK_ORDER: tuple[str, ...] = (
    "mail",
    "retention",
    "application-retention",  # jobs
    "cv-retention",  # jobs
    "job-expiry-reminders",  # jobs
    "job-expiry",  # jobs
    "documents",  # payments
    "membership-auto-renewal",  # membership
    "membership-reminders",  # membership
    "saved-search-digests",  # notifications
    "payouts",  # treasury
    "offer-expiry",  # offers
    "offer-views",  # offers
    "partner-applications",  # partners
    "account-deletion",  # privacy
    "payments-pending",  # payments
    "payments-refunds-unanswered",  # payments
    "payments-refund-sweep",  # payments
)


def add_due_task(name: str, run: Callable[[datetime], str]) -> None:
    """Register a periodic task once (by name), at its place in ``DUE_TASK_ORDER``."""
    if name not in DUE_TASK_ORDER:
        raise ValueError(f"Due task {name!r} has no place in DUE_TASK_ORDER.")
    if all(task.name != name for task in DUE_TASKS):
        DUE_TASKS.append(DueTask(name, run))
        DUE_TASKS.sort(key=lambda task: DUE_TASK_ORDER.index(task.name))


def run_due(now: datetime | None = None, *, echo: Callable[[str], None] = click.echo) -> list[str]:
    """Run every task at ``now`` (default: the current time), echo and return their reports."""
    now = now or utcnow()
    lines = []
    for task in DUE_TASKS:
        line = f"{task.name}: {task.run(now)}"
        echo(line)
        lines.append(line)
    return lines


DUE_TASKS: list[DueTask] = [
    DueTask("mail", deliver_pending_mail),
    DueTask("retention", purge_unconfirmed_registrations),
]
