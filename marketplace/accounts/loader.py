"""The signed-in reader in one query: the user, roles, alumni profile, paid membership and
whatever the domains register (the partner team), for the session and bearer-token loaders;
for the pages that only read (GET), one cached row per user instead.

A page used to load the user, then its roles, then its profile, then ask for its membership
and its partner team, five round trips before the view ran (issue 17). Here one ``SELECT``
joins the roles and the profile and carries the other facts as scalar subqueries; the facts
are kept on the user object (``reader_fact``) so the code that asked the database for them
asks the object first. A fact holds for the request that loaded it: a request that changes it
(a membership paid, a team joined) reads it from the database again through the usual
functions when it does not go through ``reader_fact``.

A page that only reads (a GET) takes the reader from the application cache instead
(``load_cached_reader``): the row, roles, profile, school and facts as plain values, stored
under the versions of ``READER_TABLES`` (a committed write to one of them, a login, a role
granted, a profile verified, a membership paid, moves its version and the next page loads the
reader from the database again), and rebuilt into the same ORM objects without a query. The
password hash and the two-factor secret are never stored there: they stay unloaded, and a
page that reads them (none that is a GET does) loads them from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, bindparam, exists, inspect, select
from sqlalchemy.orm import joinedload, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from marketplace import cache as cache_module
from marketplace.accounts.models import AlumniProfile, ApiToken, User, UserRole
from marketplace.catalog.models import School
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership

# name → factory(user id column, today's bound parameter) of a scalar expression correlated
# to the user row.
ReaderColumn = Callable[[Any, Any], ColumnElement[Any]]
_COLUMNS: dict[str, ReaderColumn] = {}

FACTS = "_reader_facts"
MISSING = object()


# What a reader is read from: a committed write to one of these tables loads every reader
# from the database again (domains add the tables of their facts).
READER_TABLES = ["users", "user_roles", "alumni_profiles", "schools", "memberships"]
# One version for them all (read with one key), moved by a write to any of them.
cache_module.version_group("reader", READER_TABLES)
# Never copied into the cache: secrets that no page reading its reader needs.
UNCACHED_COLUMNS = frozenset({"password_hash", "totp_secret"})
READER_CACHE_SECONDS = 300


# name → (load(user id), names(user id)): facts of a query of their own, read only when the
# cached reader is (re)built and kept with it; ``names`` are the versions that rebuild it.
CachedFact = tuple[Callable[[int], Any], Callable[[int], tuple[str, ...]]]
_CACHED_FACTS: dict[str, CachedFact] = {}


def register_cached_fact(
    name: str, load: Callable[[int], Any], *, versions: Callable[[int], tuple[str, ...]]
) -> None:
    """Keep ``load(user id)`` with each cached reader, as the fact ``name``, until one of
    ``versions(user id)`` moves (``marketplace.cache.written``); readers loaded from the
    database (a form's POST) do not carry it: ``reader_fact`` says ``MISSING`` there."""
    _CACHED_FACTS[name] = (load, versions)


def _reader_versions(user_id: int, *extra: str) -> list[str]:
    """What a cached reader is stored under: the tables, its own facts' names, ``extra``."""
    own = [name for _load, versions in _CACHED_FACTS.values() for name in versions(user_id)]
    return [*READER_TABLES, *own, *extra]


def register_reader_column(
    name: str, factory: ReaderColumn, *, tables: tuple[str, ...] = ()
) -> None:
    """Load ``factory(User.id, today)`` with every signed-in user, as the fact ``name``;
    ``tables``: what the fact is read from (a write to them reloads cached readers)."""
    _COLUMNS[name] = factory
    READER_TABLES.extend(table for table in tables if table not in READER_TABLES)
    cache_module.version_group("reader", READER_TABLES)


def _paid_member(user_id: Any, today: Any) -> ColumnElement[bool]:
    return exists().where(
        Membership.user_id == user_id,
        Membership.starts_on <= today,
        Membership.ends_on > today,
    )


# The day the membership facts are computed for, bound at each execution: the statement is
# built once per process (building it, options and subqueries, cost more than running it).
TODAY = bindparam("reader_today", type_=Date())
_STATEMENTS: dict[tuple[str, ...], tuple[Select[Any], list[str]]] = {}


def _reader_select(*entities: Any) -> tuple[Select[Any], list[str]]:
    columns = {"paid_member": _paid_member, **_COLUMNS}
    names = list(columns)
    query = select(*entities, *(columns[name](User.id, TODAY).label(name) for name in names))
    query = query.options(
        joinedload(User.role_rows),
        joinedload(User.alumni_profile).joinedload(AlumniProfile.school),
    )
    return query, names


def _keep(user: User, row: Any, names: list[str], today: date) -> User:
    facts = {name: row._mapping[name] for name in names}
    facts["day"] = today
    setattr(user, FACTS, facts)
    return user


def _statement(kind: str) -> tuple[Select[Any], list[str]]:
    """The whole statement of ``kind`` ("session" or "token"), built once per process."""
    key = (kind, *_COLUMNS)
    if key not in _STATEMENTS:
        if kind == "token":
            query, names = _reader_select(ApiToken, User)
            query = query.join(User, User.id == ApiToken.user_id).where(
                ApiToken.token_hash == bindparam("token_hash")
            )
        else:
            query, names = _reader_select(User)
            query = query.where(User.id == bindparam("reader_id"))
        _STATEMENTS[key] = (query, names)
    return _STATEMENTS[key]


def load_reader(user_id: int) -> User | None:
    """The user with ``user_id`` and its facts, in one query."""
    query, names = _statement("session")
    today = utcnow().date()
    row = db.session.execute(query, {"reader_id": user_id, "reader_today": today}).unique().first()
    if row is None:
        return None
    return _keep(row[0], row, names, today)


def load_token_reader(token_hash: str) -> tuple[ApiToken, User] | None:
    """The API token stored as ``token_hash``, its user and the user's facts, in one query."""
    query, names = _statement("token")
    today = utcnow().date()
    row = (
        db.session.execute(query, {"token_hash": token_hash, "reader_today": today})
        .unique()
        .first()
    )
    if row is None:
        return None
    return row[0], _keep(row[1], row, names, today)


def reader_fact(user: Any, name: str, *, on: date | None = None) -> Any:
    """A fact loaded with ``user`` (``MISSING`` when it was not, or was for another day)."""
    facts = getattr(user, FACTS, None)
    if not facts or name not in facts or (on is not None and on != facts["day"]):
        return MISSING
    return facts[name]


def kind_facts(user: Any) -> tuple[tuple[str, Any], ...]:
    """The facts that say what kind of reader ``user`` is (member, partner), by name: the
    loaded columns, not the day nor the facts of their own (``register_cached_fact``)."""
    facts = getattr(user, FACTS, None) or {}
    return tuple(
        sorted(
            (name, value)
            for name, value in facts.items()
            if name != "day" and name not in _CACHED_FACTS
        )
    )


def forget_facts(user: Any) -> None:
    """Drop the facts loaded with ``user`` (after a change to one of them)."""
    if getattr(user, FACTS, None) is not None:
        setattr(user, FACTS, None)


# ---------------------------------------------------------------- the cached reader


def _columns(row: Any) -> dict[str, Any]:
    return {
        attribute.key: getattr(row, attribute.key)
        for attribute in inspect(type(row)).column_attrs
        if attribute.key not in UNCACHED_COLUMNS
    }


def _snapshot(user: User, *, cached_facts: bool = True) -> dict[str, Any]:
    """The reader as plain values (what ``_rebuild`` turns back into ORM objects), with the
    cached facts (``register_cached_fact``) read now and kept on ``user`` too."""
    facts = getattr(user, FACTS, None)
    if facts is not None and cached_facts:
        for name, (load, _versions) in _CACHED_FACTS.items():
            facts[name] = load(user.id)
    profile = user.alumni_profile
    return {
        "user": _columns(user),
        "roles": [_columns(row) for row in user.role_rows],
        "profile": _columns(profile) if profile is not None else None,
        "school": _columns(profile.school) if profile is not None and profile.school else None,
        "facts": dict(getattr(user, FACTS, None) or {}),
    }


def _rebuild(snapshot: dict[str, Any]) -> User:
    """The ORM objects of a snapshot, in the session as if a query had loaded them."""
    user = User(**snapshot["user"])
    rows: list[Any] = [user]
    user.role_rows = [UserRole(**values) for values in snapshot["roles"]]
    rows.extend(user.role_rows)
    profile = None
    if snapshot["profile"] is not None:
        profile = AlumniProfile(**snapshot["profile"])
        profile.school = School(**snapshot["school"]) if snapshot["school"] else None
        rows.append(profile)
        if profile.school is not None:
            rows.append(profile.school)
    user.alumni_profile = profile
    for row in rows:
        # Persistent without a query: the values count as loaded, the secrets left out are
        # expired (loaded from the database if something reads them).
        make_transient_to_detached(row)
    db.session.add(user)
    setattr(user, FACTS, dict(snapshot["facts"]))
    return user


def _through_cache(
    name: str,
    tables: list[str],
    key: str | int,
    load: Callable[[], Any],
    snapshot_of: Callable[[Any], dict[str, Any]],
) -> tuple[Any, dict[str, Any] | None]:
    """``load()`` through the application cache, kept as ``snapshot_of`` its result for the
    day: ``(row, None)`` when this request loaded it from the database (those objects serve
    it), ``(None, snapshot)`` from the cache, ``(None, None)`` when there is no such row."""
    loaded: list[Any] = []

    def compute() -> dict[str, Any] | bool:
        row = load()
        loaded.append(row)
        return snapshot_of(row) if row is not None else False  # False: no such row

    snapshot = cache_module.cached(
        name, tables, (key, utcnow().date().isoformat()), compute, timeout=READER_CACHE_SECONDS
    )
    if loaded:
        return loaded[0], None
    return None, (snapshot or None)


def load_cached_reader(user_id: int) -> User | None:
    """``load_reader`` through the application cache (for pages that only read)."""
    if db.session.identity_map.get(identity_key(User, user_id)) is not None:
        return load_reader(user_id)  # already in this session: its own state wins
    user, snapshot = _through_cache(
        "reader", _reader_versions(user_id), user_id, lambda: load_reader(user_id), _snapshot
    )
    return user if snapshot is None else _rebuild(snapshot)


def load_cached_token_reader(token_hash: str) -> tuple[ApiToken, User] | None:
    """``load_token_reader`` through the application cache: a script calling the API with
    one token reads it, its user and the facts once, then from the cache until a committed
    write to what they are read from (a token issued or revoked included)."""
    row, snapshot = _through_cache(
        "token-reader",
        [*READER_TABLES, "api_tokens"],
        token_hash,
        lambda: load_token_reader(token_hash),
        # Without the cached facts: the token's key cannot name the user's own versions.
        lambda row: {"token": _columns(row[0]), "reader": _snapshot(row[1], cached_facts=False)},
    )
    if snapshot is None:
        return row
    identity_map = db.session.identity_map
    if (
        identity_map.get(identity_key(User, snapshot["reader"]["user"]["id"])) is not None
        or identity_map.get(identity_key(ApiToken, snapshot["token"]["id"])) is not None
    ):
        return load_token_reader(token_hash)  # already in this session: its own state wins
    token = ApiToken(**snapshot["token"])
    make_transient_to_detached(token)
    db.session.add(token)
    return token, _rebuild(snapshot["reader"])
