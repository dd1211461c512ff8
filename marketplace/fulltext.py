"""Full-text search over a domain table, on what the database offers.

A searchable table (``offers``, ``jobs``) gets, from its search migration:

- PostgreSQL: the generated column ``<table>.search_vector`` (French and English
  configurations, GIN index ``ix_<table>_search_vector``), queried with
  ``websearch_to_tsquery`` and ranked by ``ts_rank``;
- SQLite: the FTS5 table ``<table>_fts`` (``unicode61 remove_diacritics 2``), kept in sync by
  triggers, queried with a MATCH expression built here from quoted words, so user input never
  reaches FTS syntax raw.

Both sides see accent-folded, lower-case text (``marketplace.text.fold``), so accents are
ignored. The domains describe their table with a ``FullTextIndex``; the rest is shared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, literal_column, select, text
from sqlalchemy.sql.elements import ColumnElement

from marketplace.extensions import db
from marketplace.text import fold

SEARCH_COLUMN = "search_vector"
MAX_QUERY_WORDS = 12


def query_words(query: str | None) -> list[str]:
    """The folded words of a user's query (letters and digits only, at most a dozen)."""
    return re.findall(r"\w+", fold(query))[:MAX_QUERY_WORDS]


def fts5_match(query: str | None) -> str:
    """A safe FTS5 MATCH expression: every word quoted and prefix-matched, all required.

    Quoting makes ``OR``, ``NEAR(``, ``-``, ``*`` and ``:`` plain text; a ``"`` inside a
    word is doubled, as FTS5 strings require.
    """
    return " ".join('"{}"*'.format(word.replace('"', '""')) for word in query_words(query))


@dataclass(frozen=True)
class FullTextIndex:
    """The search objects of one table, named after it (``offers`` → ``offers_fts``)."""

    table: str

    @property
    def index(self) -> str:
        return f"ix_{self.table}_{SEARCH_COLUMN}"

    @property
    def fts_table(self) -> str:
        return f"{self.table}_fts"

    def is_search_object(self, name: str | None, type_: str) -> bool:
        """True for the search column, index and FTS tables that the models do not declare."""
        if not name:
            return False
        if type_ == "column":
            return name == SEARCH_COLUMN
        if type_ == "index":
            return name == self.index
        if type_ == "table":
            return name.startswith(self.fts_table)
        return False

    def match(
        self, id_column: ColumnElement, query: str
    ) -> tuple[ColumnElement[bool], ColumnElement]:
        """The full-text condition on ``id_column`` and its rank (lower sorts first)."""
        if db.session.get_bind().dialect.name == "postgresql":
            terms = bindparam("fts_q", " ".join(query_words(query)))
            tsquery = func.websearch_to_tsquery(literal_column("'french'::regconfig"), terms).op(
                "||"
            )(func.websearch_to_tsquery(literal_column("'english'::regconfig"), terms))
            vector = literal_column(f"{self.table}.{SEARCH_COLUMN}")
            return vector.op("@@")(tsquery), -func.ts_rank(vector, tsquery)
        fts = self.fts_table
        match = bindparam("fts_q", fts5_match(query))
        condition = id_column.in_(
            text(f"SELECT rowid FROM {fts} WHERE {fts} MATCH :fts_q").bindparams(match)  # noqa: S608
        )
        # FTS5's built-in ``rank`` is bm25(): smaller is more relevant.
        rank = (
            select(literal_column("rank"))
            .select_from(text(fts))
            .where(text(f"{fts} MATCH :fts_q AND {fts}.rowid = {self.table}.id").bindparams(match))
            .scalar_subquery()
        )
        return condition, rank
