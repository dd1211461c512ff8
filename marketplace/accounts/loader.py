"""The signed-in reader in one query: the user, roles, alumni profile, paid membership and
whatever the domains register (the partner team), for the session and bearer-token loaders.

A page used to load the user, then its roles, then its profile, then ask for its membership
and its partner team, five round trips before the view ran (issue 17). Here one ``SELECT``
joins the roles and the profile and carries the other facts as scalar subqueries; the facts
are kept on the user object (``reader_fact``) so the code that asked the database for them
asks the object first. A fact holds for the request that loaded it: a request that changes it
(a membership paid, a team joined) reads it from the database again through the usual
functions when it does not go through ``reader_fact``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, bindparam, exists, select
from sqlalchemy.orm import joinedload

from marketplace.accounts.models import AlumniProfile, ApiToken, User
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.membership.models import Membership

# name → factory(user id column, today's bound parameter) of a scalar expression correlated
# to the user row.
ReaderColumn = Callable[[Any, Any], ColumnElement[Any]]
_COLUMNS: dict[str, ReaderColumn] = {}

FACTS = "_reader_facts"
MISSING = object()


def register_reader_column(name: str, factory: ReaderColumn) -> None:
    """Load ``factory(User.id, today)`` with every signed-in user, as the fact ``name``."""
    _COLUMNS[name] = factory


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


def forget_facts(user: Any) -> None:
    """Drop the facts loaded with ``user`` (after a change to one of them)."""
    if getattr(user, FACTS, None) is not None:
        setattr(user, FACTS, None)
