"""What each package holds about a person, for the export and the anonymisation.

The core knows no domain (as with the alert sources of notifications/alerts.py): every
package that stores personal data registers a *source* here — how to export its rows about a
person, which of their files to put in the zip, how to anonymise them — and may register a
*deletion check* that refuses a deletion (a partner's last owner). ``privacy.init_app``
registers the core's sources (``privacy/sources.py``); the ``init_app`` of jobs, offers and
partners theirs (each package's ``privacy.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import inspect

from marketplace.accounts.models import User

# Columns never exported: credentials a zip lying in a download folder must not carry.
SECRET_COLUMNS = frozenset(
    {
        "password_hash",
        "totp_secret",
        "totp_last_step",
        "token_hash",
        "code_hash",
        "unsubscribe_token_hash",
        "voucher_token",
        "ip_hash",
    }
)


@dataclass(frozen=True)
class PersonalDataSource:
    """One package's data about a person.

    ``export(user)`` returns JSON-ready rows; ``files(user)`` the person's stored files as
    ``(name in the zip, path)``; ``anonymise(user, now)`` changes the rows (flushes, never
    commits) and returns the files to remove once the transaction has committed.
    """

    name: str
    export: Callable[[User], list[dict[str, Any]] | dict[str, Any] | None]
    files: Callable[[User], Iterable[tuple[str, Path]]] | None = None
    anonymise: Callable[[User, datetime], list[Path]] | None = None


SOURCES: dict[str, PersonalDataSource] = {}
# Each returns why ``user`` may not delete their account now, or None.
DELETION_CHECKS: list[Callable[[User], str | None]] = []


def register_personal_data(
    name: str,
    *,
    export: Callable[[User], list[dict[str, Any]] | dict[str, Any] | None],
    files: Callable[[User], Iterable[tuple[str, Path]]] | None = None,
    anonymise: Callable[[User, datetime], list[Path]] | None = None,
) -> None:
    """Plug a package's personal data into the export and the anonymisation (once per name)."""
    SOURCES[name] = PersonalDataSource(name, export, files, anonymise)


def register_deletion_check(check: Callable[[User], str | None]) -> None:
    """Add a rule that may refuse an account deletion (registered once)."""
    if check not in DELETION_CHECKS:
        DELETION_CHECKS.append(check)


def plain(value: Any) -> Any:
    """A column value as JSON can hold it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_dict(row: Any, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Every column of a model row but the secret ones (and ``exclude``)."""
    skip = SECRET_COLUMNS | set(exclude)
    return {
        column.key: plain(getattr(row, column.key))
        for column in inspect(type(row)).column_attrs
        if column.key not in skip
    }
