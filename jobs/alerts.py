"""Saved-search alerts for jobs: the jobs source of ``marketplace.notifications.alerts``.

Registered by ``jobs.init_app``: a member's saved criteria are read
exactly as the job list reads its query string (``JobFilters``), so an alert holds what the
member would see on ``/jobs/`` with the same filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask_babel import lazy_gettext as _l

from jobs.models import Job
from jobs.search import JobFilters, search_jobs
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.alerts import AlertItem
from marketplace.routing import absolute_url

# The job list's filters a search may save (the sort order means nothing to an alert).
CRITERIA = {
    "q": _l("Words"),
    "contract": _l("Contract"),
    "country": _l("Country"),
    "city": _l("City"),
    "remote": _l("Remote work"),
    "language": _l("Language"),
}
SUMMARY_LENGTH = 200


def _summary(description: str) -> str:
    text = " ".join(description.split())
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1].rstrip() + "…"


def find_jobs(criteria: Mapping[str, str], since: datetime, now: datetime) -> list[AlertItem]:
    """Open jobs matching ``criteria`` published between ``since`` and ``now``, oldest first."""
    filters = JobFilters.from_args({name: criteria.get(name, "") for name in CRITERIA})
    statement = (
        search_jobs(filters, now=now)
        .where(Job.published_at >= since, Job.published_at <= now)
        .order_by(None)
        .order_by(Job.published_at, Job.id)
    )
    return [
        AlertItem(
            id=job.id,
            title=f"{job.title} — {job.partner.name}",
            url=absolute_url("jobs.detail", job_id=job.id),
            summary=_summary(job.description),
        )
        for job in db.session.scalars(statement).unique()
    ]


# How the alerts name this kind on pages, and the digest's subject (``register_alert_source``).
LABEL = _l("Jobs")
SUBJECT = N_("New jobs for your saved search (%(count)d)")
