"""Saved-search alerts: the registry of alert sources and the e-mail digest service.

The core knows no domain: ``jobs/alerts.py`` and ``offers/alerts.py`` register a *source*
per kind (``register_alert_source``), a function that lists the published items matching a
member's criteria. ``send_due_digests`` (a ``tasks run-due`` job) then e-mails each member,
at the frequency they chose, the items not sent before: every item sent is recorded in
``saved_search_hits`` under a unique constraint, so an item never goes out twice, even when
two runs overlap. Each e-mail carries a one-click unsubscribe link and the headers of
RFC 2369 (``List-Unsubscribe``) and RFC 8058 (``List-Unsubscribe-Post``).

The unsubscribe token is an HMAC of the search's id under ``SECRET_KEY`` (256 bits, not
guessable) and only its SHA-256 is stored. A purely random token could not work here: with
only its hash kept, the link could not be written into the digests sent later by cron, and
a new token per e-mail would break the links of the earlier ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from marketplace.accounts.models import AlumniProfile, User, VerificationStatus
from marketplace.database import utcnow
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.extensions import db
from marketplace.notifications.models import SavedSearch, SavedSearchHit
from marketplace.notifications.services import deliver, queue_mail
from marketplace.privacy.services import digest_recipients_clause, withdraw_url
from marketplace.routing import absolute_url
from marketplace.security import new_token, token_digest

logger = logging.getLogger(__name__)

INSTANT, DAILY, WEEKLY = "instant", "daily", "weekly"
FREQUENCIES: dict[str, Any] = {
    INSTANT: _l("As soon as published"),
    DAILY: _l("Daily digest"),
    WEEKLY: _l("Weekly digest"),
}
# How long after the previous digest (or the search's creation) the next one is due.
PERIODS = {INSTANT: timedelta(0), DAILY: timedelta(days=1), WEEKLY: timedelta(days=7)}
# One e-mail lists at most this many items; the rest go in the next one (never lost).
MAX_ITEMS_PER_DIGEST = 25
# Each run looks back this far before the previous one, so an item committed a little after
# its publication date is not missed; the hits table keeps it from being sent twice.
LOOKBACK = timedelta(days=2)
MAX_SEARCHES_PER_MEMBER = 20
MAX_CRITERION_LENGTH = 200
# RFC 8058 §3.1: the exact body a mail client POSTs for a one-click unsubscribe.
ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class AlertItem:
    """One published item as a digest lists it (title and summary in the reader's language)."""

    id: int
    title: str
    url: str
    summary: str = ""


@dataclass(frozen=True)
class AlertSource:
    """What a domain registers: how to find its items and which criteria it understands.

    ``find(criteria, since, now)`` returns the published items matching ``criteria``,
    published at or after ``since``, oldest first; it runs inside the recipient's locale and
    a request context, so titles are localized (links come from ``absolute_url``).
    """

    kind: str
    find: Callable[[Mapping[str, str], datetime, datetime], list[AlertItem]]
    label: Any
    subject: str
    criteria: Mapping[str, Any]
    listing_endpoint: str


ALERT_SOURCES: dict[str, AlertSource] = {}


def register_alert_source(
    kind: str,
    *,
    find: Callable[[Mapping[str, str], datetime, datetime], list[AlertItem]],
    label: Any,
    subject: str,
    criteria: Mapping[str, Any],
    listing_endpoint: str,
) -> None:
    """Plug a domain's items into the alerts (called once per kind when the app starts).

    ``label`` names the kind on pages (a lazy string), ``subject`` is the digest's subject
    msgid (``N_``) with a ``%(count)d`` placeholder, ``criteria`` maps the query-string names
    the source understands to their labels, ``listing_endpoint`` is the listing they filter.
    """
    ALERT_SOURCES[kind] = AlertSource(kind, find, label, subject, criteria, listing_endpoint)


def alert_source(kind: str) -> AlertSource:
    """The source registered for ``kind``; unknown kinds are invalid input."""
    source = ALERT_SOURCES.get(kind)
    if source is None:
        raise InvalidInput(str(_l("Alerts are not available for this kind of search.")))
    return source


def clean_criteria(kind: str, values: Mapping[str, Any]) -> dict[str, str]:
    """Keep the criteria ``kind`` understands, trimmed and non-empty (paging and sort dropped)."""
    source = alert_source(kind)
    criteria: dict[str, str] = {}
    for name in source.criteria:
        value = str(values.get(name) or "").strip()[:MAX_CRITERION_LENGTH]
        if value:
            criteria[name] = value
    return criteria


# ---------------------------------------------------------------- unsubscribe tokens


def unsubscribe_token(search: SavedSearch) -> str:
    """The search's unsubscribe token: the same in every e-mail, unforgeable without the key."""
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, f"saved-search-unsubscribe:{search.id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def unsubscribe_url(search: SavedSearch) -> str:
    """The absolute one-click unsubscribe address of a saved search."""
    return absolute_url("notifications.unsubscribe", token=unsubscribe_token(search))


# ---------------------------------------------------------------- services


def get_own_search(search_id: int, *, user: User) -> SavedSearch:
    """The member's own saved search; anyone else's (or a missing one) is not found."""
    search = db.session.scalar(
        select(SavedSearch).where(SavedSearch.id == search_id, SavedSearch.user_id == user.id)
    )
    if search is None:
        raise NotFound()
    return search


def save_search(
    *, user: User, kind: str, criteria: Mapping[str, Any], frequency: str
) -> tuple[SavedSearch, bool]:
    """Save a search (or re-activate the same one) for alerts; returns it and whether it is new."""
    if frequency not in FREQUENCIES:
        raise InvalidInput()
    cleaned = clean_criteria(kind, criteria)
    searches = db.session.scalars(
        select(SavedSearch).where(SavedSearch.user_id == user.id).order_by(SavedSearch.id)
    ).all()
    for existing in searches:
        if existing.kind == kind and existing.criteria == cleaned:
            existing.frequency = frequency
            if existing.unsubscribed_at is not None:
                # Subscribing again starts afresh: nothing published meanwhile is sent.
                existing.unsubscribed_at = None
                existing.created_at = utcnow()
                existing.last_sent_at = None
            db.session.flush()
            logger.info("user %s updated saved search %s", user.id, existing.id)
            return existing, False
    if len(searches) >= MAX_SEARCHES_PER_MEMBER:
        raise Conflict(
            str(_l("You can save up to %(count)d searches.", count=MAX_SEARCHES_PER_MEMBER))
        )
    search = SavedSearch(
        user_id=user.id,
        kind=kind,
        criteria=cleaned,
        frequency=frequency,
        # A random placeholder until the id, which the token is derived from, is known.
        unsubscribe_token_hash=new_token()[1],
    )
    db.session.add(search)
    db.session.flush()
    search.unsubscribe_token_hash = token_digest(unsubscribe_token(search))
    db.session.flush()
    logger.info("user %s saved search %s (%s)", user.id, search.id, kind)
    return search, True


def change_frequency(search: SavedSearch, *, frequency: str) -> None:
    """Set how often a saved search is e-mailed; a change re-activates an unsubscribed one."""
    if frequency not in FREQUENCIES:
        raise InvalidInput()
    search.frequency = frequency
    if search.unsubscribed_at is not None:
        search.unsubscribed_at = None
        search.created_at = utcnow()
        search.last_sent_at = None
    db.session.flush()
    logger.info("user %s set saved search %s to %s", search.user_id, search.id, frequency)


def delete_search(search: SavedSearch) -> None:
    """Delete a saved search and the record of what it sent."""
    logger.info("user %s deleted saved search %s", search.user_id, search.id)
    db.session.delete(search)
    db.session.flush()


def find_by_unsubscribe_token(token: str) -> SavedSearch | None:
    """The saved search an unsubscribe link names, or None."""
    if not token or len(token) > 128:
        return None
    return db.session.scalar(
        select(SavedSearch).where(SavedSearch.unsubscribe_token_hash == token_digest(token))
    )


def unsubscribe(search: SavedSearch, *, now: datetime | None = None) -> bool:
    """Stop a saved search's e-mails (idempotent); returns whether it was active."""
    if search.unsubscribed_at is not None:
        return False
    search.unsubscribed_at = now or utcnow()
    db.session.flush()
    logger.info("saved search %s unsubscribed", search.id)
    return True


# ---------------------------------------------------------------- digests


def is_due(search: SavedSearch, now: datetime) -> bool:
    """Instant searches are due at every run; daily and weekly ones a period after the last."""
    period = PERIODS.get(search.frequency)
    if period is None:
        return False
    return (search.last_sent_at or search.created_at) <= now - period


@contextmanager
def _link_context() -> Iterator[None]:
    """A request context for absolute links when run from cron (``SITE_URL`` is the base)."""
    from marketplace.tasks import site_request_context

    with site_request_context():
        yield


def _record_new(search: SavedSearch, items: list[AlertItem], now: datetime) -> list[AlertItem]:
    """Insert a hit per item, each in its own savepoint; the items that were not sent before."""
    if not items:
        return []
    sent = set(
        db.session.scalars(
            select(SavedSearchHit.item_id).where(
                SavedSearchHit.saved_search_id == search.id,
                SavedSearchHit.item_id.in_([item.id for item in items]),
            )
        )
    )
    fresh: list[AlertItem] = []
    for item in items:
        if item.id in sent:
            continue
        try:
            # A concurrent run may have recorded it meanwhile: the unique constraint decides.
            with db.session.begin_nested():
                db.session.add(
                    SavedSearchHit(saved_search_id=search.id, item_id=item.id, sent_at=now)
                )
        except IntegrityError:
            continue
        fresh.append(item)
        if len(fresh) >= MAX_ITEMS_PER_DIGEST:
            break
    return fresh


def _recipients_query(now: datetime):
    # Only verified, active alumni get alerts; a member verified later gets them from then on.
    return (
        select(SavedSearch, User)
        .join(User, User.id == SavedSearch.user_id)
        .join(AlumniProfile, AlumniProfile.user_id == User.id)
        .where(
            SavedSearch.unsubscribed_at.is_(None),
            SavedSearch.kind.in_(tuple(ALERT_SOURCES)),
            AlumniProfile.status == VerificationStatus.VERIFIED,
            User.disabled_at.is_(None),
            # Not after a withdrawn "digests" consent, nor once a deletion is asked.
            digest_recipients_clause(),
        )
        .options(joinedload(User.alumni_profile))
        .order_by(SavedSearch.id)
    )


def send_digest(search: SavedSearch, user: User, *, now: datetime) -> int | None:
    """Queue one e-mail with the new items of ``search``; returns the message id, if any."""
    source = ALERT_SOURCES[search.kind]
    with force_locale(user.locale or "fr"):
        since = search.created_at
        if search.last_sent_at is not None:
            since = max(since, search.last_sent_at - LOOKBACK)
        items = source.find(search.criteria or {}, since, now)
        fresh = _record_new(search, items, now)
        search.last_sent_at = now
        if not fresh:
            db.session.flush()
            return None
        link = unsubscribe_url(search)
        listing = absolute_url(source.listing_endpoint, **(search.criteria or {}))
        message = queue_mail(
            to=user.email,
            template="notifications/digest",
            subject=source.subject,
            locale=user.locale or "fr",
            subject_args={"count": len(fresh)},
            user=user,
            search=search,
            kind_label=source.label,
            items=fresh,
            listing_url=listing,
            unsubscribe_url=link,
            manage_url=absolute_url("notifications.searches"),
            withdraw_url=withdraw_url(user, "digests"),
            frequency_label=FREQUENCIES[search.frequency],
        )
    message.headers = {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": ONE_CLICK}
    db.session.flush()
    logger.info("digest of saved search %s: %s item(s)", search.id, len(fresh))
    return message.id


def send_due_digests(now: datetime) -> str:
    """The ``tasks run-due`` job: e-mail every due saved search its new items; commit, send."""
    mails = 0
    checked = 0
    with _link_context():
        rows = db.session.execute(_recipients_query(now)).unique().all()
        for search, user in rows:
            if not is_due(search, now):
                continue
            checked += 1
            message_id = send_digest(search, user, now=now)
            # One transaction per search: its hits and its e-mail are kept or lost together.
            db.session.commit()
            if message_id is not None:
                mails += 1
                deliver([message_id])
    return f"{checked} saved search(es) due, {mails} digest(s) e-mailed"
