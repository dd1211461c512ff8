"""The application cache: Flask-Caching, in Redis when ``REDIS_URL`` is set, in-process otherwise.

Used only where the benchmark showed it pays (benchmarks/README.md): aggregates over tables
that change far less often than they are read, such as the treasury's sums over a year of
payments. A cached value is stored under the *versions* of the tables it was computed from;
a commit that wrote one of those tables moves its version, so the next read computes afresh.

Writes are seen by SQLAlchemy session events, for every session: ORM flushes (new, changed,
deleted rows) and ORM ``UPDATE`` / ``DELETE`` statements. Versions move only once the
transaction commits, so a rolled-back change never invalidates anything, and a reader never
caches what another transaction has not committed yet. With Redis, every instance sees the
same versions at once; with the in-process cache (the embedded default), another worker
process may serve a value up to ``CACHE_DEFAULT_TIMEOUT`` seconds old.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from flask import Flask, has_app_context
from flask_caching import Cache
from flask_caching.backends.rediscache import RedisCache
from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

logger = logging.getLogger(__name__)

cache = Cache()

T = TypeVar("T")
_CHANGED = "cache_changed_tables"


def _version_key(table: str) -> str:
    return f"table-version:{table}"


def redis_of(app: Flask) -> tuple[Any, str] | None:
    """The Redis client and key prefix of ``app``'s cache, when that cache is Redis: for the
    hot paths that send their commands in one round trip (``marketplace.page_cache``)."""
    backend = app.extensions["cache"][cache]
    if not isinstance(backend, RedisCache):
        return None
    return backend._write_client, backend._get_prefix()


# Groups of tables read together on a hot path, each with one version of its own that moves
# with any of theirs: one key to read instead of one per table (the visitor pages: 12).
_GROUPS: dict[str, frozenset[str]] = {}


def group_version_key(name: str) -> str:
    """The key of group ``name``'s version: a plain integer (``INCRBY``), read raw."""
    return f"table-group-version:{name}"


def version_group(name: str, tables: Iterable[str]) -> None:
    """Give ``tables`` one version together (read with ``group_version_key``)."""
    _GROUPS[name] = frozenset(tables)


def table_versions(tables: Iterable[str]) -> tuple[int, ...]:
    """The current version of each table (0 until its first committed write)."""
    names = list(tables)
    values = cache.get_many(*[_version_key(name) for name in names])
    return tuple(int(value or 0) for value in values)


def bump(tables: Iterable[str]) -> None:
    """Move the version of ``tables``: values cached from them are not read again."""
    if not available():
        return
    changed = set(tables)
    keys = [_version_key(table) for table in sorted(changed)]
    keys += [group_version_key(n) for n, members in sorted(_GROUPS.items()) if members & changed]
    for key in keys:
        try:
            if isinstance(cache.cache, RedisCache):
                cache.cache.inc(key)  # INCRBY: atomic across instances, never expires
            else:
                # In-process: a lost race only means two commits share one new version, and
                # both committed before either moved it. Versions never expire (timeout 0).
                cache.set(key, int(cache.get(key) or 0) + 1, timeout=0)
        except Exception as error:  # an outage must never fail the write just committed
            _failed(f"moving {key}", error)
            return


# After a cache failure (Redis down) this process leaves the cache alone for this long: an
# outage costs one failed connection per interval, not one per request, and pages are
# computed afresh meanwhile (no cache rather than no page).
RETRY_AFTER_SECONDS = 30.0
_unavailable_until = 0.0


def available() -> bool:
    """Whether the cache is worth asking (no failure in the last ``RETRY_AFTER_SECONDS``)."""
    return time.monotonic() >= _unavailable_until


def _failed(what: str, error: Exception) -> None:
    global _unavailable_until
    if available():  # one warning per outage and interval, not one per request
        logger.warning(
            "cache unavailable (%s while %s): serving without it for %d s",
            type(error).__name__,
            what,
            RETRY_AFTER_SECONDS,
        )
    _unavailable_until = time.monotonic() + RETRY_AFTER_SECONDS


class Slot(NamedTuple):
    """Where ``lookup`` found (or did not find) a value: its key and the versions it needs."""

    key: str
    versions: tuple[int, ...]


def _version_keys(tables: Iterable[str]) -> list[str]:
    """The keys of the versions of ``tables``: one group's key for all the tables of a group
    (``version_group``), one key per table for the others."""
    rest = set(tables)
    keys = []
    for group, members in sorted(_GROUPS.items()):
        if members and members <= rest:
            keys.append(group_version_key(group))
            rest -= members
    return keys + [_version_key(table) for table in sorted(rest)]


def lookup(name: str, tables: Iterable[str], key: Iterable[Any]) -> tuple[Slot | None, Any]:
    """The value kept for ``key`` while ``tables`` have not changed (None when missing), and
    the slot to ``store`` a fresh one in (None when the cache is unavailable).

    One round trip: the value is kept beside the versions it was computed under, and read
    with the current versions in one ``MGET``; it counts only if they are the same."""
    if not available():
        return None, None
    cache_key = f"{name}:{':'.join(map(str, key))}"
    try:
        *raw, kept = cache.get_many(*_version_keys(tables), cache_key)
    except Exception as error:
        _failed(f"reading {name}", error)
        return None, None
    versions = tuple(int(value or 0) for value in raw)
    value = kept[1] if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == versions else None
    return Slot(cache_key, versions), value


def store(slot: Slot | None, value: Any, *, timeout: int | None = None) -> None:
    """Keep ``value``, computed after ``lookup`` gave ``slot``, under that slot's versions."""
    if slot is None:
        return
    try:
        cache.set(slot.key, (slot.versions, value), timeout=timeout)
    except Exception as error:
        _failed(f"storing {slot.key.split(':', 1)[0]}", error)


def cached(
    name: str,
    tables: Iterable[str],
    key: Iterable[Any],
    compute: Callable[[], T],
    *,
    timeout: int | None = None,
) -> T:
    """``compute()``, or its cached value for ``key`` while ``tables`` have not changed (and
    for at most ``timeout`` seconds; the configured default when None)."""
    slot, value = lookup(name, tables, key)
    if value is None:
        value = compute()
        store(slot, value, timeout=timeout)
    return value


# ---------------------------------------------------------------- invalidation


# Columns no cached read depends on, per table: a write that changes only these moves no
# version (a redemption bumps an offer's counter; the listings do not show it).
_IGNORED_COLUMNS: dict[str, frozenset[str]] = {}


def ignore_writes_to(table: str, columns: Iterable[str]) -> None:
    """Declare ``columns`` of ``table`` as read by no cached value (see ``_IGNORED_COLUMNS``)."""
    _IGNORED_COLUMNS[table] = _IGNORED_COLUMNS.get(table, frozenset()) | frozenset(columns)


def _note(session: Session, tables: Iterable[str]) -> None:
    session.info.setdefault(_CHANGED, set()).update(tables)


def written(session: Session, *names: str) -> None:
    """Note that ``session``'s transaction changed ``names``, tables or named sets of rows
    that SQLAlchemy's events do not see (one member's redemptions, written by a Core
    statement): their versions move when it commits."""
    _note(session, names)


def _only_ignored(table: str, columns: Iterable[str]) -> bool:
    ignored = _IGNORED_COLUMNS.get(table)
    names = set(columns)
    return bool(ignored and names and names <= ignored)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    changed = set()
    new, dirty, deleted = list(session.new), list(session.dirty), list(session.deleted)
    for instance in (*new, *dirty, *deleted):
        table = getattr(type(instance), "__table__", None)
        if table is None:
            continue
        if instance in dirty and instance not in deleted:
            state = inspect(instance)
            modified = [attr.key for attr in state.attrs if attr.history.has_changes()]
            if not modified or _only_ignored(table.name, modified):
                continue
        changed.add(table.name)
    if changed:
        _note(session, changed)


@event.listens_for(Session, "do_orm_execute")
def _orm_write(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if not name:
        return
    if state.is_update:
        # The SET clause's columns (no public accessor); unknown shapes count as a change.
        values = getattr(state.statement, "_values", None) or {}
        columns = [getattr(column, "key", column) for column in values]
        if _only_ignored(name, columns):
            return
    _note(state.session, [name])


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    # Outside an application (a script on the models), no cache belongs to this session.
    if changed and has_app_context():
        bump(changed)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
