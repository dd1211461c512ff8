"""readers: time zone, offer pictures, typo-tolerant search

Revision ID: e246ccb1b0ad
Revises: c5e7a9b1d3f5
Create Date: 2026-12-02 01:00:00

- ``users.timezone``: the IANA zone each person reads dates in (existing people get the
  association's, Europe/Paris).

Plain ``add_column`` only: on SQLite an added column needs no rebuild of the table, so the
FTS triggers of ``offers`` and ``jobs`` stay in place.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e246ccb1b0ad"
down_revision = "c5e7a9b1d3f5"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "users",
        sa.Column("timezone", sa.String(length=64), server_default="Europe/Paris", nullable=False),
    )


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("timezone")
