"""job full-text search: tsvector + GIN on PostgreSQL, FTS5 on SQLite

Revision ID: 172455a6f570
Revises: 6574ec769d45
Create Date: 2026-11-28 20:00:00

Written by hand, like the offer search (``5f3c2a9d1b7e``): these objects live outside the
models (``Job`` does not declare ``search_vector``; ``jobs_fts`` is a virtual table), and
``migrations/env.py`` skips them in autogenerate (``jobs.search.is_search_object``) so
``flask db check`` reports no drift. Both sides index ``search_fr`` / ``search_en``, the
accent-folded lower-case text kept by the job services.

SQLite: a later batch migration that rebuilds the ``jobs`` table drops these triggers with
the old table; such a migration must create them again (see ``SQLITE_TRIGGERS``).
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "172455a6f570"
down_revision = "6574ec769d45"
branch_labels = None
depends_on = None

# Both languages' configurations weigh the same; the query side ORs the two tsqueries.
PG_VECTOR = (
    "setweight(to_tsvector('french'::regconfig, coalesce(search_fr, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(search_en, '')), 'A')"
)

# https://www.sqlite.org/fts5.html#external_content_tables
SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER jobs_fts_after_insert AFTER INSERT ON jobs BEGIN
      INSERT INTO jobs_fts (rowid, search_fr, search_en)
      VALUES (new.id, new.search_fr, new.search_en);
    END
    """,
    """
    CREATE TRIGGER jobs_fts_after_delete AFTER DELETE ON jobs BEGIN
      INSERT INTO jobs_fts (jobs_fts, rowid, search_fr, search_en)
      VALUES ('delete', old.id, old.search_fr, old.search_en);
    END
    """,
    """
    CREATE TRIGGER jobs_fts_after_update AFTER UPDATE OF search_fr, search_en ON jobs BEGIN
      INSERT INTO jobs_fts (jobs_fts, rowid, search_fr, search_en)
      VALUES ('delete', old.id, old.search_fr, old.search_en);
      INSERT INTO jobs_fts (rowid, search_fr, search_en)
      VALUES (new.id, new.search_fr, new.search_en);
    END
    """,
)


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            f"ALTER TABLE jobs ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_jobs_search_vector ON jobs USING GIN (search_vector)")
    elif dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE jobs_fts USING fts5("
            "search_fr, search_en, content='jobs', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
        # Index the jobs that already exist.
        op.execute("INSERT INTO jobs_fts (jobs_fts) VALUES ('rebuild')")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_jobs_search_vector")
        op.execute("ALTER TABLE jobs DROP COLUMN IF EXISTS search_vector")
    elif dialect == "sqlite":
        for name in ("after_update", "after_delete", "after_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS jobs_fts_{name}")
        op.execute("DROP TABLE IF EXISTS jobs_fts")
