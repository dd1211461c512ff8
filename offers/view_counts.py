"""Offer views counted without a write per view.

The public offer page adds one view to a counter instead of writing ``offer_daily_stats``:
in Redis (a hash shared by every worker, ``HINCRBY``) when the application cache is Redis,
else in a buffer of this process. The due task ``offer-views`` (``flask tasks run-due``)
moves the counts into the daily statistics, in one upsert per offer and day. An in-process
buffer is also written by the process itself once its oldest view is ``FLUSH_SECONDS`` old,
and when the process exits (cron runs in another process, which cannot see it).

With Redis, a view costs no round trip of its own either: the process keeps its views for
Redis a moment (``RedisViews``) and sends them with the next page lookup's pipeline
(``marketplace.page_cache.register_rider``), or from a thread of its own ``SEND_SECONDS``
after the first of them when no lookup came, or when the process exits. Redis down: they
join the in-process buffer, written to the database by the process.

A view is counted when the page is served from the whole-page cache too
(``marketplace.page_cache.register_hit_action``, from ``offers.init_app``): the page says so
when it is rendered.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable
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
# With Redis: views wait this long at most in the process (a thread sends them), and ride
# with a page lookup once the first of them is RIDE_SECONDS old: one HINCRBY per offer and
# batch, not one per view, and most lookups stay a single command.
SEND_SECONDS = 1.0
RIDE_SECONDS = 0.5

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


class RedisViews:
    """Views of one app waiting in this process for Redis, sent in one pipeline: with a page
    lookup once ``RIDE_SECONDS`` old (``ride``), else by a thread ``SEND_SECONDS`` after the
    first (``send``)."""

    def __init__(self, app: Flask, client: Any, key: str) -> None:
        self.app, self.client, self.key = app, client, key
        self._counts: Counter[str] = Counter()
        self._since = 0.0  # monotonic time of the first waiting view
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._sender_pid = 0  # the process whose thread sends (a forked worker starts its own)

    def add(self, field: str) -> None:
        with self._lock:
            first = not self._counts
            if first:
                self._since = time.monotonic()
            self._counts[field] += 1
        if first:
            if self._sender_pid != os.getpid():
                self._start_sender()
            self._wake.set()

    def take(self) -> Counter[str]:
        with self._lock:
            taken, self._counts = self._counts, Counter()
        return taken

    def commands(self, counts: Counter[str]) -> list[tuple[Any, ...]]:
        return [("HINCRBY", self.key, field, views) for field, views in counts.items()]

    def ride(self) -> tuple[list[tuple[Any, ...]], Callable[[], None]] | None:
        """The waiting views as commands for a page lookup's pipeline, and their way back."""
        if not self._counts or time.monotonic() - self._since < RIDE_SECONDS:
            return None
        counts = self.take()
        if not counts:
            return None
        return self.commands(counts), lambda: _buffer_views(self.app, counts)  # Redis down

    def send(self) -> None:
        counts = self.take()
        if not counts:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for command in self.commands(counts):
                pipe.execute_command(*command)
            pipe.execute()
        except Exception as error:  # Redis down: the views wait in this process
            cache_module._failed("counting offer views", error)
            _buffer_views(self.app, counts)

    def pending(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def _start_sender(self) -> None:
        with self._lock:
            if self._sender_pid == os.getpid():
                return
            self._sender_pid = os.getpid()
        threading.Thread(target=self._send_forever, name="offer-views-sender", daemon=True).start()
        atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        """A worker that stops sends what it still holds (to the database if Redis is down)."""
        self.send()
        _write_at_exit(self.app)

    def _send_forever(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(SEND_SECONDS)  # what comes meanwhile goes in the same pipeline
            self._wake.clear()
            self.send()


_queues: weakref.WeakSet[RedisViews] = weakref.WeakSet()


def _queue(app: Flask) -> RedisViews | None:
    """The app's views waiting for Redis, when its cache is Redis and answering."""
    queue = app.extensions.get("offer_views")
    if queue is None:
        redis = _redis(app)
        if redis is None:
            return None
        queue = app.extensions.setdefault("offer_views", RedisViews(app, *redis))
        _queues.add(queue)
    return queue if cache_module.available() else None


def ride(app: Flask) -> tuple[list[tuple[Any, ...]], Callable[[], None]] | None:
    """``marketplace.page_cache``'s rider: the waiting views go with the page lookup."""
    queue = app.extensions.get("offer_views")
    return queue.ride() if queue is not None else None


def send(app: Flask) -> None:
    """Send the views waiting for Redis now (what the sender thread does within a second)."""
    queue = app.extensions.get("offer_views")
    if queue is not None:
        queue.send()


def record(offer_id: int, *, app: Flask | None = None, day: date | None = None) -> None:
    """One view of the offer today: on its way to Redis, or one more in this process's buffer."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    field = _field(offer_id, day or utcnow().date())
    queue = _queue(app)
    if queue is not None:
        queue.add(field)
        return
    _buffer_views(app, Counter({field: 1}))


def _buffer_views(app: Flask, counts: Counter[str]) -> None:
    """Views for the database, written by this process within ``FLUSH_SECONDS``."""
    global _oldest
    with _lock:
        _buffer.update(counts)
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
    queue = app.extensions.get("offer_views")
    counts = _take_buffer() + (queue.take() if queue is not None else Counter()) + _take_redis(app)
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
    """Views waiting in this process (for the database or for Redis)."""
    with _lock:
        buffered = sum(_buffer.values())
    return buffered + sum(queue.pending() for queue in list(_queues))


def reset() -> None:
    """Forget the views waiting in this process (tests: views of rolled-back offers)."""
    _take_buffer()
    for queue in list(_queues):
        queue.take()
