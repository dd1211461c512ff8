"""Job posting lifecycle services: create, edit, submit, moderate, close, repost, expire.

Every function flushes and never commits; each status change adds a ``JobStatusChange`` row
(the history the partner sees); moderator decisions are audited and e-mailed to the
partner's active team.

Editing: a draft, a posting sent back (changes requested) or a refused one is edited in
place. A published posting may be edited too: a change of its title, description (either
language) or contract sends it back to ``submitted`` for review (it leaves the listing until
a moderator approves it again); any other change (city, remote, languages, salary, deadline,
country) applies directly and the posting stays published.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from babel import Locale
from flask_babel import gettext as _

from jobs.models import Contract, Job, JobLanguage, JobStatus, JobStatusChange, Remote
from marketplace import audit
from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.errors import Conflict, InvalidInput
from marketplace.extensions import db
from marketplace.i18n import COUNTRY_CODES, N_
from marketplace.notifications.services import queue_mail
from marketplace.text import fold
from partners.access import active_members
from partners.models import Partner

logger = logging.getLogger(__name__)

LISTING_DAYS = 60
REMINDER_DAYS = 5
SEARCH_FIELDS = ("title", "description")
TEXT_FIELDS = ("title_fr", "title_en", "description_fr", "description_en", "city")
MAX_LENGTHS = {
    "title_fr": 160,
    "title_en": 160,
    "description_fr": 20000,
    "description_en": 20000,
    "city": 120,
}
# A change to one of these on a published posting sends it back for review.
REVIEWED_FIELDS = ("title_fr", "title_en", "description_fr", "description_en", "contract")
LANGUAGES = ("fr", "en", "es", "de", "it", "pt", "ar", "zh", "ja", "ru", "nl")
MAX_SALARY = 100_000_000
MESSAGE_MAX_LENGTH = 2000
EDITABLE = {JobStatus.DRAFT, JobStatus.CHANGES_REQUESTED, JobStatus.REJECTED}
# A published posting may be reposted too: its listing restarts for 60 days (the reminder's link).
REPOSTABLE = {JobStatus.PUBLISHED, JobStatus.CLOSED, JobStatus.EXPIRED}
CURRENCY_CODES = frozenset(Locale("en").currencies)


class JobStateConflict(Conflict):
    """The posting's status does not allow this action."""

    code = "job_state"


class InvalidJob(InvalidInput):
    """A field of the posting is not valid, or the posting is incomplete."""

    code = "invalid_job"


# ---------------------------------------------------------------- search text


def refresh_search_text(job: Job, *, partner_name: str | None = None) -> None:
    """Recompute ``search_fr`` and ``search_en`` from the job's fields."""
    name = partner_name if partner_name is not None else job.partner.name
    for lang in ("fr", "en"):
        parts = [getattr(job, f"{field}_{lang}") for field in SEARCH_FIELDS]
        parts += [job.city, name]
        setattr(job, f"search_{lang}", fold(" ".join(part for part in parts if part)))


# ---------------------------------------------------------------- fields


def _enum_value(kind: type, value: Any, field: str) -> Any:
    try:
        return kind(value)
    except ValueError as error:
        raise InvalidJob(_("%(field)s: unknown value", field=field)) from error


def _salary(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise InvalidJob(_("%(field)s: not a number", field=field)) from error
    if number < 0 or number > MAX_SALARY:
        raise InvalidJob(_("%(field)s: out of range", field=field))
    return number


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidJob(_("%(field)s: not a date", field=field)) from error


def clean_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The known fields of ``data``, validated and converted to column values."""
    fields: dict[str, Any] = {}
    for field in TEXT_FIELDS:
        if field in data:
            value = data[field]
            value = value.replace("\x00", "").strip() if isinstance(value, str) else value
            if value and len(value) > MAX_LENGTHS[field]:
                raise InvalidJob(_("%(field)s: too long", field=field))
            fields[field] = value or None
    if "contract" in data:
        fields["contract"] = _enum_value(Contract, data["contract"], "contract")
    if "remote" in data:
        fields["remote"] = _enum_value(Remote, data["remote"] or "onsite", "remote")
    if "country" in data:
        country = str(data["country"] or "").strip().upper()
        if country not in COUNTRY_CODES:
            raise InvalidJob(_("%(field)s: unknown country", field="country"))
        fields["country"] = country
    if "languages" in data:
        codes = sorted({str(code).strip().lower() for code in data["languages"] or () if code})
        unknown = [code for code in codes if code not in LANGUAGES]
        if unknown:
            raise InvalidJob(_("languages: unknown language %(codes)s", codes=", ".join(unknown)))
        fields["languages"] = codes
    for field in ("salary_min", "salary_max"):
        if field in data:
            fields[field] = _salary(data[field], field)
    if "currency" in data:
        currency = str(data["currency"] or "").strip().upper() or None
        if currency and currency not in CURRENCY_CODES:
            raise InvalidJob(_("%(field)s: unknown currency", field="currency"))
        fields["currency"] = currency
    if "apply_deadline" in data:
        fields["apply_deadline"] = _date(data["apply_deadline"], "apply_deadline")
    return fields


def _current(job: Job, field: str) -> Any:
    return job.languages if field == "languages" else getattr(job, field)


def _check(job: Job, fields: dict[str, Any]) -> None:
    """Checks across fields, on the values the job would have."""
    low = fields.get("salary_min", job.salary_min)
    high = fields.get("salary_max", job.salary_max)
    if low is not None and high is not None and low > high:
        raise InvalidJob(_("%(field)s: must not be below salary_min", field="salary_max"))
    currency = fields.get("currency", job.currency)
    if (low is not None or high is not None) and not currency:
        raise InvalidJob(_("%(field)s: required with a salary", field="currency"))


def _apply(job: Job, fields: dict[str, Any]) -> None:
    for field, value in fields.items():
        if field == "languages":
            wanted = set(value)
            job.language_rows = [row for row in job.language_rows if row.language in wanted]
            have = {row.language for row in job.language_rows}
            job.language_rows += [JobLanguage(language=code) for code in sorted(wanted - have)]
        else:
            setattr(job, field, value)
    refresh_search_text(job)


def completeness_problems(job: Job) -> list[str]:
    """What is missing before the posting can be reviewed."""
    problems = []
    if not any(
        getattr(job, f"title_{lang}") and getattr(job, f"description_{lang}")
        for lang in ("fr", "en")
    ):
        problems.append(_("a title and a description in at least one language"))
    if job.contract is None:
        problems.append(_("the contract"))
    if not job.country or job.country not in COUNTRY_CODES:
        problems.append(_("the country"))
    return problems


def _require_complete(job: Job) -> None:
    problems = completeness_problems(job)
    if problems:
        raise InvalidJob(_("The job is incomplete: missing %(what)s.", what="; ".join(problems)))


# ---------------------------------------------------------------- history and mail


def _history(
    job: Job,
    *,
    actor: User | None,
    from_status: JobStatus | None,
    to_status: JobStatus,
    message: str | None = None,
) -> None:
    db.session.add(
        JobStatusChange(
            job_id=job.id,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            actor_id=actor.id if actor else None,
            message=message,
        )
    )


def _move(
    job: Job, to_status: JobStatus, *, actor: User | None, message: str | None = None
) -> None:
    previous = job.status
    job.status = to_status
    _history(job, actor=actor, from_status=previous, to_status=to_status, message=message)
    logger.info("job %s %s -> %s by %s", job.id, previous, to_status, actor.id if actor else None)


DECISION_SUBJECTS = {
    "approved": N_("Your job posting is published"),
    "rejected": N_("Your job posting was not accepted"),
    "changes_requested": N_("Changes are requested on your job posting"),
}


def _decide(job: Job, *, actor: User, decision: str, message: str | None) -> None:
    audit.record(
        f"job.{decision}",
        actor=actor,
        object_type="job",
        object_id=job.id,
        partner_id=job.partner_id,
        message=message,
    )
    for user in active_members(job.partner_id):
        queue_mail(
            to=user.email,
            template="jobs/posting_decision",
            subject=DECISION_SUBJECTS[decision],
            locale=user.locale,
            user=user,
            job=job,
            decision=decision,
            message=message,
        )


def _required_message(message: str | None, what: str) -> str:
    text = (message or "").strip()
    if not text:
        raise InvalidJob(_("A %(what)s is required.", what=what))
    if len(text) > MESSAGE_MAX_LENGTH:
        raise InvalidJob(_("The %(what)s is too long.", what=what))
    return text


def _publish(job: Job, *, actor: User | None, now: datetime, message: str | None = None) -> None:
    job.published_at = now
    job.listed_until = now + timedelta(days=LISTING_DAYS)
    job.expiry_reminder_sent_at = None
    job.closed_at = None
    # The last closing's "filled through the network?" answer stays for the statistics.
    refresh_search_text(job)
    _move(job, JobStatus.PUBLISHED, actor=actor, message=message)


# ---------------------------------------------------------------- partner actions


def create_job(partner: Partner, *, actor: User, data: dict[str, Any]) -> Job:
    """A new draft posting of ``partner``."""
    fields = clean_fields(data)
    for field, default in (("contract", None), ("country", None)):
        if fields.get(field, default) is None:
            raise InvalidJob(_("%(field)s: required", field=field))
    job = Job(partner=partner, status=JobStatus.DRAFT, created_by_id=actor.id)
    _check(job, fields)
    db.session.add(job)
    _apply(job, fields)
    db.session.flush()
    _history(job, actor=actor, from_status=None, to_status=JobStatus.DRAFT)
    logger.info("job %s created for partner %s by %s", job.id, partner.id, actor.id)
    return job


def update_job(job: Job, *, actor: User, data: dict[str, Any]) -> bool:
    """Edit a posting; returns True when a published posting went back to review."""
    fields = clean_fields(data)
    if job.status not in EDITABLE | {JobStatus.PUBLISHED}:
        raise JobStateConflict(_("This job cannot be edited in its current state."))
    for field in ("contract", "country"):
        if field in fields and fields[field] is None:
            raise InvalidJob(_("%(field)s: required", field=field))
    _check(job, fields)
    changed = {field for field, value in fields.items() if _current(job, field) != value}
    _apply(job, fields)
    review = job.status == JobStatus.PUBLISHED and bool(changed & set(REVIEWED_FIELDS))
    if review:
        _require_complete(job)
        job.submitted_at = utcnow()
        _move(job, JobStatus.SUBMITTED, actor=actor, message="edited while published")
    db.session.flush()
    logger.info("job %s edited (%s) by %s", job.id, sorted(changed), actor.id)
    return review


def submit_job(job: Job, *, actor: User) -> None:
    """Send a draft (or a posting sent back) to the moderators."""
    if job.status not in EDITABLE:
        raise JobStateConflict(_("Only a draft or a job sent back can be submitted."))
    _require_complete(job)
    job.submitted_at = utcnow()
    job.moderator_message = None
    _move(job, JobStatus.SUBMITTED, actor=actor)
    db.session.flush()


def close_job(job: Job, *, actor: User, filled_through_network: bool | None) -> None:
    """Close a published posting, keeping whether it was filled through the network."""
    if job.status != JobStatus.PUBLISHED:
        raise JobStateConflict(_("Only a published job can be closed."))
    job.closed_at = utcnow()
    job.filled_through_network = filled_through_network
    _move(job, JobStatus.CLOSED, actor=actor)
    db.session.flush()


def repost_job(job: Job, *, actor: User) -> None:
    """Publish a closed, expired or published posting again for a fresh 60-day listing."""
    if job.status not in REPOSTABLE:
        raise JobStateConflict(_("Only a published, closed or expired job can be reposted."))
    if job.apply_deadline is not None and job.apply_deadline < utcnow().date():
        raise JobStateConflict(_("The application deadline has passed: change it first."))
    _publish(job, actor=actor, now=utcnow(), message="reposted")
    db.session.flush()


def archive_job(job: Job, *, actor: User) -> None:
    """Withdraw a posting for good (its history stays)."""
    if job.status == JobStatus.ARCHIVED:
        raise JobStateConflict(_("This job is already archived."))
    _move(job, JobStatus.ARCHIVED, actor=actor)
    db.session.flush()


# ---------------------------------------------------------------- moderation


def _reviewable(job: Job) -> None:
    if job.status != JobStatus.SUBMITTED:
        raise JobStateConflict(_("This job is not waiting for review."))


def approve_job(job: Job, *, actor: User) -> None:
    """Publish a submitted posting for 60 days."""
    _reviewable(job)
    job.refusal_reason = None
    job.moderator_message = None
    _publish(job, actor=actor, now=utcnow())
    _decide(job, actor=actor, decision="approved", message=None)
    db.session.flush()


def reject_job(job: Job, *, actor: User, reason: str | None) -> None:
    """Refuse a submitted posting with a reason."""
    _reviewable(job)
    reason = _required_message(reason, _("reason"))
    job.refusal_reason = reason
    _move(job, JobStatus.REJECTED, actor=actor, message=reason)
    _decide(job, actor=actor, decision="rejected", message=reason)
    db.session.flush()


def request_job_changes(job: Job, *, actor: User, message: str | None) -> None:
    """Send a submitted posting back to its partner with a message."""
    _reviewable(job)
    message = _required_message(message, _("message"))
    job.moderator_message = message
    _move(job, JobStatus.CHANGES_REQUESTED, actor=actor, message=message)
    _decide(job, actor=actor, decision="changes_requested", message=message)
    db.session.flush()


# ---------------------------------------------------------------- expiry


def expire_job(job: Job) -> None:
    """End a published posting's listing (its 60 days are over or its deadline passed)."""
    if job.status != JobStatus.PUBLISHED:
        raise JobStateConflict(_("Only a published job can expire."))
    _move(job, JobStatus.EXPIRED, actor=None)
    db.session.flush()
