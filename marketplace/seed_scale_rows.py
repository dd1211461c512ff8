"""How ``flask seed scale`` writes rows in bulk (COPY on PostgreSQL, batched ``executemany``
on SQLite) and the small helpers its steps share (weighted picks, slugs, month arithmetic)."""

from __future__ import annotations

import json
import random
import string
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import accumulate
from typing import Any

from sqlalchemy import Enum, insert, text

from marketplace.extensions import db
from marketplace.text import fold

SQLITE_BATCH = 2_000


class Writer(ABC):
    """Bulk-writes generated rows into one table; ``json_columns`` hold dicts."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @abstractmethod
    def write(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[tuple],
        *,
        json_columns: Sequence[str] = (),
    ) -> int:
        """Write ``rows`` (tuples in the order of ``columns``) and return how many."""

    def next_id(self, table: str) -> int:
        """The first free id of ``table`` (ids are chosen here, then sequences follow)."""
        current = self.connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}"))  # noqa: S608
        return int(current.scalar_one()) + 1

    @abstractmethod
    def finish(self, tables: Sequence[str]) -> None:
        """Work needed after the rows are in (sequences)."""


class PostgresWriter(Writer):
    """``COPY … FROM STDIN`` on the session's own psycopg connection (same transaction)."""

    def write(self, table, columns, rows, *, json_columns=()) -> int:
        raw = self.connection.connection.driver_connection
        json_at = [columns.index(name) for name in json_columns]
        count = 0
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for index in json_at:
                        row[index] = json.dumps(row[index])
                copy.write_row(row)
                count += 1
        return count

    def finish(self, tables: Sequence[str]) -> None:
        for table in tables:
            self.connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
            )


class SQLiteWriter(Writer):
    """Batched ``executemany`` of Core inserts (types converted by SQLAlchemy)."""

    def finish(self, tables: Sequence[str]) -> None:
        """Nothing: SQLite's next rowid follows the largest id written."""

    def write(self, table, columns, rows, *, json_columns=()) -> int:
        target = db.metadata.tables[table]
        statement = insert(target)
        count = 0
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) >= SQLITE_BATCH:
                self.connection.execute(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            self.connection.execute(statement, batch)
            count += len(batch)
        return count


# ---------------------------------------------------------------- helpers


class Picker:
    """Weighted choice by bisection over cumulative weights (fast for millions of draws)."""

    def __init__(self, rng: random.Random, items: Sequence[Any], weights: Sequence[float]):
        self.rng = rng
        self.items = list(items)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def __call__(self) -> Any:
        return self.items[bisect_right(self.cumulative, self.rng.random() * self.total)]


def slugify(value: str) -> str:
    allowed = set(string.ascii_lowercase + string.digits)
    folded = fold(value)
    return "-".join(
        "".join(c for c in word if c in allowed) for word in folded.split() if word
    ).strip("-")


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - 28 always exists


def enum_names(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> Iterable[tuple]:
    """Rows with enum values turned into what the column stores: SQLAlchemy's ``Enum(kind)``
    keeps the member's *name* (``PUBLISHED``), and COPY bypasses that conversion."""
    target = db.metadata.tables[table]
    lookups = {
        index: {member.value: member.name for member in target.c[name].type.enum_class}
        for index, name in enumerate(columns)
        if isinstance(target.c[name].type, Enum) and target.c[name].type.enum_class is not None
    }
    if not lookups:
        return rows
    return (
        tuple(lookups[i][value] if i in lookups else value for i, value in enumerate(row))
        for row in rows
    )


def period_key(period: str, moment: datetime) -> str:
    """The same keys as ``offers.redemption.period_key``."""
    if period == "week":
        year, week, _weekday = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{moment.year}-{moment.month:02d}"
    return "ever"
