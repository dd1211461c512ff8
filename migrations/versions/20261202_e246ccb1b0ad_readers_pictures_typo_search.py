"""readers: time zone, offer pictures, typo-tolerant search

Revision ID: e246ccb1b0ad
Revises: 458a4ec1b859
Create Date: 2026-12-02 01:00:00

- ``users.timezone``: the IANA zone each person reads dates in (existing people get the
  association's, Europe/Paris).
- ``offers.picture``: the token of an offer's optional picture (offers/pictures.py).
- Typo-tolerant search (``marketplace/spelling.py``): the words each full-text index knows.
  PostgreSQL: ``pg_trgm``, the tables ``offers_fts_terms`` / ``jobs_fts_terms`` with a
  trigram GIN index, filled by a trigger on every write of the search text (COPY included)
  and here from the rows that exist. SQLite: ``fts5vocab`` tables over the FTS5 indexes
  (``offers_fts_vocab`` / ``jobs_fts_vocab``), nothing to maintain. Like the FTS objects,
  these live outside the models (their names start with the FTS prefixes, which
  ``migrations/env.py`` skips).
- The offers' search text now carries their category's name: recomputed for the offers
  that exist (the services keep it from now on).

Plain ``add_column`` only: on SQLite an added column needs no rebuild of the table, so the
FTS triggers of ``offers`` and ``jobs`` stay in place.
"""

from alembic import op
import sqlalchemy as sa

from marketplace.text import fold


# revision identifiers, used by Alembic.
revision = "e246ccb1b0ad"
down_revision = "458a4ec1b859"
branch_labels = None
depends_on = None


SEARCH_DOMAINS = ("offers", "jobs")
# The words of a row's search text, three letters or more (PostgreSQL's own split).
PG_TERMS_FUNCTION = """
CREATE OR REPLACE FUNCTION {table}_fts_terms_add() RETURNS trigger AS $$
BEGIN
  INSERT INTO {table}_fts_terms (term)
  SELECT DISTINCT word
  FROM regexp_split_to_table(
    coalesce(NEW.search_fr, '') || ' ' || coalesce(NEW.search_en, ''), '[^[:alnum:]]+'
  ) AS word
  WHERE length(word) >= 3
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def _create_typo_search(dialect):
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table in SEARCH_DOMAINS:
            op.execute(f"CREATE TABLE {table}_fts_terms (term text PRIMARY KEY)")
            op.execute(
                f"CREATE INDEX ix_{table}_fts_terms_trgm ON {table}_fts_terms "
                "USING GIN (term gin_trgm_ops)"
            )
            op.execute(PG_TERMS_FUNCTION.format(table=table))
            op.execute(
                f"CREATE TRIGGER {table}_fts_terms_after_write "
                f"AFTER INSERT OR UPDATE OF search_fr, search_en ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_fts_terms_add()"
            )
    elif dialect == "sqlite":
        for table in SEARCH_DOMAINS:
            op.execute(
                f"CREATE VIRTUAL TABLE {table}_fts_vocab USING fts5vocab('{table}_fts', 'row')"
            )


def _refresh_offer_search_text():
    """The services' ``refresh_search_text`` of every offer, category name included."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT o.id, o.title_fr, o.title_en, o.summary_fr, o.summary_en, "
            "o.description_fr, o.description_en, o.city, p.name AS partner, "
            "c.name_fr AS category_fr, c.name_en AS category_en "
            "FROM offers o JOIN partners p ON p.id = o.partner_id "
            "LEFT JOIN categories c ON c.id = o.category_id"
        )
    ).mappings()
    for row in list(rows):
        values = {"id": row["id"]}
        for lang in ("fr", "en"):
            parts = [row[f"{field}_{lang}"] for field in ("title", "summary", "description")]
            parts += [row["city"], row["partner"], row[f"category_{lang}"]]
            values[lang] = fold(" ".join(part for part in parts if part))
        bind.execute(
            sa.text("UPDATE offers SET search_fr = :fr, search_en = :en WHERE id = :id"), values
        )


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column(
        "users",
        sa.Column("timezone", sa.String(length=64), server_default="Europe/Paris", nullable=False),
    )
    op.add_column("offers", sa.Column("picture", sa.String(length=32), nullable=True))
    _create_typo_search(dialect)
    # After the trigger exists: the new text and every job's words reach the terms tables.
    _refresh_offer_search_text()
    if dialect == "postgresql":
        op.execute("UPDATE jobs SET search_fr = search_fr")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # A batch drop would rebuild the table and lose its FTS triggers: SQLite 3.35+
        # drops a plain column in place.
        op.execute("ALTER TABLE offers DROP COLUMN picture")
    else:
        op.drop_column("offers", "picture")
    for table in SEARCH_DOMAINS:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_terms_after_write ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_fts_terms_add()")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts_terms")
        elif dialect == "sqlite":
            op.execute(f"DROP TABLE IF EXISTS {table}_fts_vocab")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("timezone")
