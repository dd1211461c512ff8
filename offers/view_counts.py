"""Offer views counted without a write per view.

The public offer page adds one view to a counter instead of writing ``offer_daily_stats``:
in Redis (one ``HINCRBY`` on one hash, shared by every worker) when the application cache is
Redis, else in a buffer of this process. The due task ``offer-views`` (``flask tasks
run-due``) moves the counts into the daily statistics, in one upsert per offer and day. An
in-process buffer is also written by the process itself once its oldest view is
``FLUSH_SECONDS`` old, and when the process exits (cron runs in another process, which
cannot see it).

A view is counted when the page is served from the whole-page cache too
(``marketplace.page_cache.register_hit_action``, from ``offers.init_app``): the page says so
when it is rendered.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections import Counter
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app
from flask_caching.backends.rediscache import RedisCache
from sqlalchemy import select

from marketplace import cache as cache_module
from marketplace.database import utcnow
from marketplace.extensions import db
from offers.models import Offer
from offers.search import count_offer_view

logger = logging.getLogger(__name__)

REDIS_KEY = "offer-views"
FLUSH_SECONDS = 60.0

_lock = threading.Lock()
_buffer: Counter[str] = Counter()
_oldest: float | None = None  # monotonic time of the first view in the buffer


def _field(offer_id: int, day: date) -> str:
    return f"{offer_id}:{day.isoformat()}"


def _redis(app: Flask) -> tuple[Any, str] | None:
    """The Redis client and the counters' key, when the cache is Redis and answering."""
    backend = app.extensions["cache"][cache_module.cache]
    if isinstance(backend, RedisCache) and cache_module.available():
        return backend._write_client, f"{backend.key_prefix}{REDIS_KEY}"
    return None


def record(offer_id: int, *, app: Flask | None = None, day: date | None = None) -> None:
    """One view of the offer today: a Redis increment, or one more in this process's buffer."""
    global _oldest
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    field = _field(offer_id, day or utcnow().date())
    redis = _redis(app)
    if redis is not None:
        client, key = redis
        try:
            client.hincrby(key, field, 1)
            return
        except Exception as error:  # Redis down: the view waits in this process
            cache_module._failed("counting an offer view", error)
    with _lock:
        _buffer[field] += 1
        if _oldest is None:
            _oldest = time.monotonic()
        due = time.monotonic() - _oldest >= FLUSH_SECONDS
        first_for_app = id(app) not in _flushed_at_exit
        _flushed_at_exit.add(id(app))
    if first_for_app:
        # A worker that stops (deploy, restart) writes what it still holds.
        atexit.register(_write_at_exit, app)
    if due:
        _write_in_background(app)


_flushed_at_exit: set[int] = set()
_writing = threading.Lock()  # held while a background write runs


def _write_in_background(app: Flask) -> None:
    """Write the buffer from a thread of its own: never inside the request that counted the
    view, whose transaction may hold the database's write lock (SQLite's BEGIN IMMEDIATE)."""
    if not _writing.acquire(blocking=False):
        return  # one is on its way; it takes what is buffered when it starts

    def write() -> None:
        try:
            with app.app_context():
                _write_buffer_quietly()
                db.session.remove()
        finally:
            _writing.release()

    threading.Thread(target=write, name="offer-views", daemon=True).start()


def _write_at_exit(app: Flask) -> None:
    if pending():
        with app.app_context():
            _write_buffer_quietly()


def served_from_cache(app: Flask, offer_id: int) -> None:
    record(offer_id, app=app)


def _take_buffer() -> Counter[str]:
    global _buffer, _oldest
    with _lock:
        taken, _buffer, _oldest = _buffer, Counter(), None
    return taken


def _give_back(counts: Counter[str]) -> None:
    global _oldest
    with _lock:
        _buffer.update(counts)
        if _oldest is None and counts:
            _oldest = time.monotonic()


def _take_redis(app: Flask) -> Counter[str]:
    redis = _redis(app)
    if redis is None:
        return Counter()
    client, key = redis
    # RENAME is atomic: views counted from now on start a new hash, none is lost or doubled.
    moving = f"{key}:flushing:{uuid.uuid4().hex}"
    try:
        if not client.exists(key):
            return Counter()
        client.rename(key, moving)
        raw = client.hgetall(moving)
        client.delete(moving)
    except Exception as error:
        cache_module._failed("reading the offer views", error)
        return Counter()
    return Counter({k.decode(): int(v) for k, v in raw.items()})


def _write(counts: Counter[str]) -> int:
    """Add ``counts`` to the daily statistics and commit; returns the views written."""
    parsed: dict[tuple[int, date], int] = {}
    for field, views in counts.items():
        raw_id, raw_day = field.split(":", 1)
        parsed[(int(raw_id), date.fromisoformat(raw_day))] = views
    ids = {offer_id for offer_id, _day in parsed}
    existing = set(db.session.scalars(select(Offer.id).where(Offer.id.in_(ids)))) if ids else set()
    written = 0
    for (offer_id, day), views in sorted(parsed.items()):
        if offer_id in existing and views > 0:  # an offer deleted since: nothing to count
            count_offer_view(offer_id=offer_id, day=day, views=views)
            written += views
    db.session.commit()
    return written


def _write_buffer_quietly() -> None:
    counts = _take_buffer()
    if not counts:
        return
    try:
        _write(counts)
    except Exception:
        db.session.rollback()
        _give_back(counts)  # tried again with the next batch
        logger.exception("offer views: writing the buffered views failed")


def flush(now: datetime | None = None) -> str:
    """The due task: every counted view (Redis and this process) into the daily statistics."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    counts = _take_buffer() + _take_redis(app)
    if not counts:
        return "0 offer view(s) written"
    try:
        written = _write(counts)
    except Exception:
        db.session.rollback()
        _give_back(counts)
        raise
    return f"{written} offer view(s) written"


def pending() -> int:
    """Views waiting in this process's buffer (not yet in the statistics)."""
    with _lock:
        return sum(_buffer.values())


def reset() -> None:
    """Forget this process's buffer (tests: views of rolled-back offers)."""
    _take_buffer()
