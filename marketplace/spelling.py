"""Search that forgives typos: the closest indexed word to each word of a query.

Offers and jobs each keep the words their full-text index knows (migration ``e246ccb1b0ad``):

- PostgreSQL: ``<prefix>_terms`` (one row per word, filled by a trigger on every insert or
  update of the search text, COPY included) with a ``pg_trgm`` GIN index, queried with the
  trigram operator ``%`` and ranked by ``similarity``;
- SQLite: the ``fts5vocab`` table ``<prefix>_vocab`` over the FTS5 index itself, whose words
  of a similar length are compared here with the same trigram similarity as ``pg_trgm``
  (``similarity`` below), so both backends suggest the same word.

Nothing runs unless a search found nothing: a search that matches costs nothing more.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text

from marketplace.extensions import db

# pg_trgm's similarity of a typo to its word: "formaton"/"formation" 0.58, "librarie"/"librairie"
# 0.58; unrelated words of similar length stay under 0.3.
MIN_SIMILARITY = 0.4
# Words shorter than this are left as typed (too few trigrams to tell a typo from a word).
MIN_WORD_LENGTH = 4
# At most this many words of one query are looked up (each is one indexed query).
MAX_CORRECTED_WORDS = 5


def trigrams(word: str) -> set[str]:
    """The trigrams of ``word`` as pg_trgm counts them: lower case, two spaces before, one after."""
    padded = f"  {word.lower()} "
    return {padded[index : index + 3] for index in range(len(padded) - 2)}


def similarity(first: str, second: str) -> float:
    """pg_trgm's ``similarity``: shared trigrams over all trigrams of the two words."""
    mine, theirs = trigrams(first), trigrams(second)
    if not mine or not theirs:
        return 0.0
    return len(mine & theirs) / len(mine | theirs)


def _is_known(prefix: str, word: str, dialect: str) -> bool:
    table = f"{prefix}_terms" if dialect == "postgresql" else f"{prefix}_vocab"
    statement = text(f"SELECT 1 FROM {table} WHERE term = :word LIMIT 1")  # noqa: S608 - ours
    return db.session.execute(statement, {"word": word}).first() is not None


def closest_term(prefix: str, word: str) -> str | None:
    """The indexed word most like ``word`` (at least ``MIN_SIMILARITY``), or None."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        row = db.session.execute(
            text(
                f"SELECT term, similarity(term, :word) AS score FROM {prefix}_terms "  # noqa: S608
                "WHERE term % :word ORDER BY score DESC, term LIMIT 1"
            ),
            {"word": word},
        ).first()
        return row.term if row is not None and row.score >= MIN_SIMILARITY else None
    # SQLite: the FTS5 vocabulary, read in the length range a close word can have.
    statement = text(
        f"SELECT term FROM {prefix}_vocab "  # noqa: S608 - our own table name
        "WHERE length(term) BETWEEN :shortest AND :longest"
    ).bindparams(bindparam("shortest"), bindparam("longest"))
    candidates = db.session.scalars(
        statement, {"shortest": max(len(word) - 3, 1), "longest": len(word) + 3}
    )
    best, best_score = None, 0.0
    for term in candidates:
        score = similarity(word, term)
        if score > best_score or (score == best_score and best is not None and term < best):
            best, best_score = term, score
    return best if best_score >= MIN_SIMILARITY else None


def corrected_words(prefix: str, words: list[str]) -> list[str] | None:
    """``words`` with each one the index does not know replaced by its closest indexed word;
    None when nothing changed."""
    dialect = db.session.get_bind().dialect.name
    corrected, changed, looked_up = [], False, 0
    for word in words:
        if (
            len(word) < MIN_WORD_LENGTH
            or word.isdigit()
            or looked_up >= MAX_CORRECTED_WORDS
            or _is_known(prefix, word, dialect)
        ):
            corrected.append(word)
            continue
        looked_up += 1
        closest = closest_term(prefix, word)
        if closest and closest != word:
            corrected.append(closest)
            changed = True
        else:
            corrected.append(word)
    return corrected if changed else None
