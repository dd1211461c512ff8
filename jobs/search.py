"""Finding published jobs: filters, sorting, and the listing queries.

Full-text search is the core's (``marketplace.fulltext``) on the search objects of
``jobs`` created by migration ``172455a6f570``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from datetime import date, datetime

from sqlalchemy import Select, and_, exists, func, literal_column, or_, select
from sqlalchemy.orm import contains_eager
from sqlalchemy.sql.elements import ColumnElement

from jobs.models import Contract, Job, JobLanguage, JobStatus, Remote
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.fulltext import FullTextIndex, query_words
from marketplace.spelling import corrected_words

# Objects created by the search migration outside the models; autogenerate must skip them.
FULL_TEXT = FullTextIndex("jobs")
FTS_TABLE_PREFIX = FULL_TEXT.fts_table
is_search_object = FULL_TEXT.is_search_object

PAGE_SIZE = 20
# Statuses whose page stays reachable and says the job has ended.
ENDED_STATUSES = frozenset({JobStatus.CLOSED, JobStatus.EXPIRED, JobStatus.ARCHIVED})


class Sort(enum.StrEnum):
    """The orders the job list can be sorted in."""

    RELEVANCE = "relevance"
    NEWEST = "newest"
    DEADLINE = "deadline"


def _choice(kind: type[enum.StrEnum], value: str | None) -> str:
    value = (value or "").strip().lower()
    return value if value in kind.__members__.values() else ""


@dataclass(frozen=True)
class JobFilters:
    """What a reader asked the job list (page or API) for; empty values mean no filter."""

    q: str = ""
    contract: str = ""
    country: str = ""
    city: str = ""
    remote: str = ""
    language: str = ""
    sort: Sort | None = None

    @classmethod
    def from_args(cls, args) -> JobFilters:
        """Read the filters from a query string, ignoring values that make no sense."""
        sort_arg = (args.get("sort") or "").strip()
        return cls(
            q=(args.get("q") or "").strip()[:200],
            contract=_choice(Contract, args.get("contract")),
            country=(args.get("country") or "").strip().upper()[:2],
            city=(args.get("city") or "").strip()[:120],
            remote=_choice(Remote, args.get("remote")),
            language=(args.get("language") or "").strip().lower()[:2],
            sort=Sort(sort_arg) if sort_arg in Sort.__members__.values() else None,
        )

    @property
    def effective_sort(self) -> Sort:
        """Relevance needs words to rank by; without them the default is newest first."""
        has_words = bool(query_words(self.q))
        if self.sort is None or (self.sort == Sort.RELEVANCE and not has_words):
            return Sort.RELEVANCE if has_words else Sort.NEWEST
        return self.sort

    def as_args(self) -> dict[str, str]:
        """The non-empty filters as query-string values (for links that keep them)."""
        return {
            field.name: str(getattr(self, field.name))
            for field in fields(self)
            if getattr(self, field.name) not in (None, "")
        }


def _live(now: datetime, today: date) -> ColumnElement[bool]:
    """Published, still listed, and still open to applications."""
    return and_(
        Job.status == JobStatus.PUBLISHED,
        or_(Job.listed_until.is_(None), Job.listed_until > now),
        or_(Job.apply_deadline.is_(None), Job.apply_deadline >= today),
    )


def search_jobs(filters: JobFilters, *, now: datetime | None = None) -> Select:
    """The live jobs matching ``filters``, in the asked order, with their partner joined and
    their languages loaded in one more query (a fixed number of queries per page)."""
    now = now or utcnow()
    statement = (
        select(Job)
        .join(Job.partner)
        .options(contains_eager(Job.partner))
        .where(_live(now, now.date()))
    )
    rank = None
    if query_words(filters.q):
        condition, rank = FULL_TEXT.match(Job.id, filters.q)
        statement = statement.where(condition)
    elif filters.q:
        # Only punctuation was typed: nothing can match.
        statement = statement.where(literal_column("1") == 0)
    if filters.contract:
        statement = statement.where(Job.contract == Contract(filters.contract))
    if filters.country:
        statement = statement.where(Job.country == filters.country.upper())
    if filters.city:
        statement = statement.where(func.lower(Job.city) == filters.city.lower())
    if filters.remote:
        statement = statement.where(Job.remote == Remote(filters.remote))
    if filters.language:
        statement = statement.where(
            exists().where(
                JobLanguage.job_id == Job.id, JobLanguage.language == filters.language.lower()
            )
        )
    return statement.order_by(*_ordering(filters.effective_sort, rank))


def _ordering(sort: Sort, rank: ColumnElement | None) -> list:
    newest = [Job.published_at.desc(), Job.id.desc()]
    if sort == Sort.RELEVANCE and rank is not None:
        return [rank, *newest]
    if sort == Sort.DEADLINE:
        # Jobs without a deadline come last.
        return [Job.apply_deadline.is_(None), Job.apply_deadline.asc(), *newest]
    return newest


def suggest_query(filters: JobFilters, *, now: datetime | None = None) -> str | None:
    """A spelling of ``filters.q`` that finds open jobs when it finds none ("developeur" →
    "developpeur"), or None (``marketplace/spelling.py``)."""
    words = corrected_words(FTS_TABLE_PREFIX, query_words(filters.q))
    if words is None:
        return None
    suggestion = " ".join(words)
    statement = search_jobs(replace(filters, q=suggestion), now=now).limit(1)
    return suggestion if db.session.scalar(statement) is not None else None


def job_is_open(job: Job, *, now: datetime | None = None) -> bool:
    """True while a published job is listed and its application deadline has not passed."""
    now = now or utcnow()
    if job.status != JobStatus.PUBLISHED:
        return False
    if job.listed_until is not None and job.listed_until <= now:
        return False
    return job.apply_deadline is None or job.apply_deadline >= now.date()
