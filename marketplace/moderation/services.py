"""Moderators' decisions on alumni registrations, and the import of school rosters.

Every function flushes and never commits: the view or API call commits once. Each decision
is audited with its actor and tells the alumnus by e-mail, in the alumnus's language.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import selectinload

from marketplace import audit
from marketplace.accounts.models import (
    AlumniProfile,
    RosterEntry,
    User,
    VerificationStatus,
)
from marketplace.accounts.reasons import REFUSAL_REASONS
from marketplace.accounts.services import match_roster, send_confirmation
from marketplace.catalog.models import School
from marketplace.database import utcnow
from marketplace.errors import Conflict, InvalidInput
from marketplace.extensions import db
from marketplace.i18n import N_
from marketplace.notifications.services import queue_mail
from marketplace.text import normalise_email

logger = logging.getLogger(__name__)

MESSAGE_MAX_LENGTH = 2000
ROSTER_COLUMNS = ("name", "email", "school", "year")
# Keeps one IN (...) list well under SQLite's bound-parameter limit.
CHUNK = 500

APPROVE = "approve"
REFUSE = "refuse"
REQUEST_INFO = "request_info"
DECISIONS = (APPROVE, REFUSE, REQUEST_INFO)

# Which statuses each decision may start from.
ALLOWED_FROM: dict[str, frozenset[VerificationStatus]] = {
    APPROVE: frozenset(
        {
            VerificationStatus.PENDING,
            VerificationStatus.INFO_REQUESTED,
            VerificationStatus.REFUSED,
        }
    ),
    REFUSE: frozenset({VerificationStatus.PENDING, VerificationStatus.INFO_REQUESTED}),
    REQUEST_INFO: frozenset({VerificationStatus.PENDING}),
}


class DecisionNotAllowed(Conflict):
    """The member's current status does not allow this decision."""

    code = "wrong_status"
    message = _l("This decision is not possible in the member's current status.")


class InvalidDecision(InvalidInput):
    """A decision was asked with a missing or unknown reason or message."""

    code = "invalid_decision"


class InvalidRoster(InvalidInput):
    """The roster file cannot be read at all (wrong header, empty, not text)."""

    code = "invalid_roster"


@dataclass
class BulkResult:
    """How many members a bulk decision changed, and how many it left alone."""

    decided: int = 0
    skipped: int = 0


@dataclass
class RosterImportResult:
    """Counts of a roster import, with each refused line and why."""

    created: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    verified: int = 0


# ---------------------------------------------------------------- decisions


def approve_member(profile: AlumniProfile, *, actor: User) -> AlumniProfile:
    """Verify an alumnus (from pending, info requested or refused)."""
    _lock([profile])
    _check_allowed(profile, APPROVE)
    _approve(profile, actor=actor)
    return profile


def refuse_member(
    profile: AlumniProfile, *, actor: User, reason: str, message: str | None = None
) -> AlumniProfile:
    """Refuse an alumnus with a reason from the list (from pending or info requested)."""
    reason, message = _check_refusal(reason, message)
    _lock([profile])
    _check_allowed(profile, REFUSE)
    _refuse(profile, actor=actor, reason=reason, message=message)
    return profile


def request_member_info(profile: AlumniProfile, *, actor: User, message: str) -> AlumniProfile:
    """Ask a pending alumnus for more information; the answer puts the file back in the queue."""
    message = _check_question(message)
    _lock([profile])
    _check_allowed(profile, REQUEST_INFO)
    _request_info(profile, actor=actor, message=message)
    return profile


def bulk_decide(
    profiles: Iterable[AlumniProfile],
    *,
    actor: User,
    decision: str,
    reason: str | None = None,
    message: str | None = None,
) -> BulkResult:
    """Apply one decision, with one shared reason and message, to many members.

    Each member gets its own audit row and e-mail; members whose status does not allow
    the decision (typically already decided) are skipped and counted.
    """
    if decision not in DECISIONS:
        raise InvalidDecision(str(_l("Choose a decision.")))
    if decision == REFUSE:
        reason, message = _check_refusal(reason, message)
    elif decision == REQUEST_INFO:
        message = _check_question(message)
    result = BulkResult()
    for profile in _lock(list(profiles)):
        if profile.status not in ALLOWED_FROM[decision]:
            result.skipped += 1
            continue
        if decision == APPROVE:
            _approve(profile, actor=actor, bulk=True)
        elif decision == REFUSE:
            _refuse(profile, actor=actor, reason=reason or "", message=message, bulk=True)
        else:
            _request_info(profile, actor=actor, message=message or "", bulk=True)
        result.decided += 1
    return result


class AlreadyConfirmed(Conflict):
    code = "already_confirmed"
    message = _l("This address is already confirmed.")


def resend_confirmation(profile: AlumniProfile, *, actor: User) -> None:
    """Send a sign-up's confirmation link again (a moderator's nudge); audited."""
    user = profile.user
    if user.email_confirmed_at is not None:
        raise AlreadyConfirmed()
    send_confirmation(user)
    audit.record(
        "member.confirmation_resent",
        actor=actor,
        object_type="user",
        object_id=user.id,
        profile_id=profile.id,
    )
    logger.info("confirmation of user %s sent again by %s", user.id, actor.id)


def waiting_for_confirmation() -> int:
    """Sign-ups still to decide whose address is not confirmed (the queue hides them)."""
    return (
        db.session.scalar(
            select(func.count(AlumniProfile.id))
            .join(User, User.id == AlumniProfile.user_id)
            .where(
                AlumniProfile.status.in_(
                    (VerificationStatus.PENDING, VerificationStatus.INFO_REQUESTED)
                ),
                User.email_confirmed_at.is_(None),
                User.anonymised_at.is_(None),
            )
        )
        or 0
    )


def _lock(profiles: Sequence[AlumniProfile]) -> list[AlumniProfile]:
    """Re-read the rows under a lock so two moderators cannot decide the same member twice.

    PostgreSQL takes row locks (in id order, so bulk decisions cannot deadlock); SQLite
    already holds its write lock since BEGIN IMMEDIATE.
    """
    ids = sorted({profile.id for profile in profiles})
    locked: list[AlumniProfile] = []
    for start in range(0, len(ids), CHUNK):
        locked.extend(
            db.session.scalars(
                select(AlumniProfile)
                .where(AlumniProfile.id.in_(ids[start : start + CHUNK]))
                .order_by(AlumniProfile.id)
                .options(selectinload(AlumniProfile.user))
                .with_for_update(of=AlumniProfile)
                .execution_options(populate_existing=True)
            )
        )
    return locked


def _check_allowed(profile: AlumniProfile, decision: str) -> None:
    if profile.status not in ALLOWED_FROM[decision]:
        raise DecisionNotAllowed()


def _check_refusal(reason: str | None, message: str | None) -> tuple[str, str | None]:
    if not reason or reason not in REFUSAL_REASONS:
        raise InvalidDecision(str(_l("Choose a reason from the list.")))
    message = (message or "").strip() or None
    if message and len(message) > MESSAGE_MAX_LENGTH:
        raise InvalidDecision(str(_l("The message is too long.")))
    return reason, message


def _check_question(message: str | None) -> str:
    message = (message or "").strip()
    if not message:
        raise InvalidDecision(str(_l("Write the information you need from the member.")))
    if len(message) > MESSAGE_MAX_LENGTH:
        raise InvalidDecision(str(_l("The message is too long.")))
    return message


def _decided(profile: AlumniProfile, *, actor: User, status: VerificationStatus) -> str:
    previous = str(profile.status.value)
    profile.status = status
    profile.decided_at = utcnow()
    profile.decided_by_id = actor.id
    return previous


def _approve(profile: AlumniProfile, *, actor: User, bulk: bool = False) -> None:
    previous = _decided(profile, actor=actor, status=VerificationStatus.VERIFIED)
    profile.refusal_reason = None
    profile.verified_by_roster = False
    user = profile.user
    audit.record(
        "member.approved",
        actor=actor,
        object_type="user",
        object_id=user.id,
        profile_id=profile.id,
        previous_status=previous,
        bulk=bulk,
    )
    queue_mail(
        to=user.email,
        template="moderation/member_approved",
        subject=N_("Your alumni status is verified"),
        locale=user.locale,
        user=user,
    )
    logger.info("member %s approved by %s", user.id, actor.id)


def _refuse(
    profile: AlumniProfile,
    *,
    actor: User,
    reason: str,
    message: str | None,
    bulk: bool = False,
) -> None:
    previous = _decided(profile, actor=actor, status=VerificationStatus.REFUSED)
    profile.refusal_reason = reason
    profile.moderator_message = message
    user = profile.user
    audit.record(
        "member.refused",
        actor=actor,
        object_type="user",
        object_id=user.id,
        profile_id=profile.id,
        previous_status=previous,
        reason=reason,
        message=message,
        bulk=bulk,
    )
    queue_mail(
        to=user.email,
        template="moderation/member_refused",
        subject=N_("Your alumni registration was not accepted"),
        locale=user.locale,
        user=user,
        reason=REFUSAL_REASONS[reason],
        message=message,
    )
    logger.info("member %s refused by %s (%s)", user.id, actor.id, reason)


def _request_info(profile: AlumniProfile, *, actor: User, message: str, bulk: bool = False) -> None:
    previous = _decided(profile, actor=actor, status=VerificationStatus.INFO_REQUESTED)
    profile.moderator_message = message
    # A new question: an answer to an earlier one no longer applies.
    profile.member_answer = None
    user = profile.user
    audit.record(
        "member.info_requested",
        actor=actor,
        object_type="user",
        object_id=user.id,
        profile_id=profile.id,
        previous_status=previous,
        message=message,
        bulk=bulk,
    )
    queue_mail(
        to=user.email,
        template="moderation/member_info_requested",
        subject=N_("More information is needed to verify your alumni status"),
        locale=user.locale,
        user=user,
        message=message,
    )
    logger.info("information requested from member %s by %s", user.id, actor.id)


# ---------------------------------------------------------------- roster import


@dataclass
class _RosterLine:
    line: int
    full_name: str
    email: str
    school_id: int
    year: int | None


def import_roster(csv_text: str, *, actor: User) -> RosterImportResult:
    """Store the valid lines of a roster CSV (name,email,school,year) and verify who matches."""
    rows, header_line = _read_roster(csv_text)
    result = RosterImportResult()
    schools = db.session.scalars(select(School)).all()
    by_name = {school.name.strip().casefold(): school.id for school in schools}
    by_id = {school.id for school in schools}

    candidates: list[_RosterLine] = []
    seen: set[tuple[str, int]] = set()
    current_year = utcnow().year
    for line, values in rows:
        parsed = _parse_roster_line(line, values, by_name, by_id, current_year)
        if isinstance(parsed, str):
            result.errors.append((line, parsed))
            continue
        key = (parsed.email, parsed.school_id)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        candidates.append(parsed)

    existing = _existing_roster_keys(list(seen))
    now = utcnow()
    for entry in candidates:
        if (entry.email, entry.school_id) in existing:
            result.duplicates += 1
            continue
        db.session.add(
            RosterEntry(
                full_name=entry.full_name,
                email=entry.email,
                school_id=entry.school_id,
                graduation_year=entry.year,
                imported_at=now,
                imported_by_id=actor.id,
            )
        )
        result.created += 1
    db.session.flush()

    created_emails = sorted({e.email for e in candidates if (e.email, e.school_id) not in existing})
    result.verified = _verify_matching(created_emails)
    audit.record(
        "roster.imported",
        actor=actor,
        object_type="roster",
        object_id=None,
        created=result.created,
        duplicates=result.duplicates,
        errors=len(result.errors),
        verified=result.verified,
        header_line=header_line,
    )
    logger.info(
        "roster import by %s: %s created, %s duplicates, %s errors, %s verified",
        actor.id,
        result.created,
        result.duplicates,
        len(result.errors),
        result.verified,
    )
    return result


def _read_roster(csv_text: str) -> tuple[list[tuple[int, list[str]]], int]:
    """The data rows with their line numbers; refuses a file without the expected header."""
    text = csv_text.lstrip("\ufeff")
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise InvalidRoster(str(_l("The file is empty.")))
    header_text = lines[header_index]
    # Spreadsheets set to French save CSV with semicolons; accept both.
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    header_line = 0
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if header is None:
            header = [value.strip().lower() for value in values]
            header_line = line
            if tuple(header) != ROSTER_COLUMNS:
                raise InvalidRoster(
                    str(_l("The first line must be: %(columns)s", columns=",".join(ROSTER_COLUMNS)))
                )
            continue
        rows.append((line, values))
    return rows, header_line


def _parse_roster_line(
    line: int,
    values: list[str],
    by_name: dict[str, int],
    by_id: set[int],
    current_year: int,
) -> _RosterLine | str:
    """One roster line, or the reason it is refused (a message for the moderator)."""
    if len(values) != len(ROSTER_COLUMNS):
        return str(_l("Expected %(n)d columns, found %(found)d.", n=4, found=len(values)))
    name, email, school_value, year_value = (value.strip() for value in values)
    if not name:
        return str(_l("The name is missing."))
    if len(name) > 160:
        return str(_l("The name is too long."))
    try:
        # The form accounts compare (NFKC, lower case), so the roster matches registrations.
        email = normalise_email(validate_email(email, check_deliverability=False).normalized)
    except EmailNotValidError:
        return str(_l("The e-mail address is not valid."))
    school_id = by_name.get(school_value.casefold())
    if school_id is None and school_value.isdigit() and int(school_value) in by_id:
        school_id = int(school_value)
    if school_id is None:
        return str(_l("Unknown school: %(school)s", school=school_value[:200]))
    year: int | None = None
    if year_value:
        if not year_value.isdigit() or not 1900 <= int(year_value) <= current_year + 1:
            return str(_l("The year is not valid: %(year)s", year=year_value[:10]))
        year = int(year_value)
    return _RosterLine(line=line, full_name=name, email=email, school_id=school_id, year=year)


def _existing_roster_keys(keys: list[tuple[str, int]]) -> set[tuple[str, int]]:
    existing: set[tuple[str, int]] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        existing.update(
            (email, school_id)
            for email, school_id in db.session.execute(
                select(RosterEntry.email, RosterEntry.school_id).where(
                    tuple_(RosterEntry.email, RosterEntry.school_id).in_(chunk)
                )
            )
        )
    return existing


def _verify_matching(emails: list[str]) -> int:
    """Verify the confirmed, undecided registrations that the new entries now match.

    A moderator's refusal is left as it is: it was a human decision, to be reversed by one.
    """
    verified = 0
    for start in range(0, len(emails), CHUNK):
        users = db.session.scalars(
            select(User)
            .join(AlumniProfile, AlumniProfile.user_id == User.id)
            .where(
                User.email.in_(emails[start : start + CHUNK]),
                User.email_confirmed_at.is_not(None),
                AlumniProfile.status.in_(
                    [VerificationStatus.PENDING, VerificationStatus.INFO_REQUESTED]
                ),
            )
            .order_by(User.id)
        ).all()
        for user in users:
            if match_roster(user):
                verified += 1
    return verified
