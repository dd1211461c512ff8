"""scale indexes

Revision ID: c5e7a9b1d3f5
Revises: b4d6f8a0c2e4
Create Date: 2026-11-28 18:00:00

Indexes the hot queries need at the target size (issue 8; ``benchmarks/explain.py`` shows
the plans): the treasury's yearly sums read ``payments`` by ``succeeded_at`` (on PostgreSQL
the index carries the summed columns, so the sums are an index-only scan), failed payments
by status and day, disputes by ``disputed_at``, membership counts group ``memberships`` by
person, and the "official partner" badge asks which partnership periods cover today.

Plain ``create_index`` only: no table is recreated (on SQLite a batch rebuild of ``offers``
or ``jobs`` would drop their FTS triggers; none of these tables is touched that way).
"""

from alembic import op
import sqlalchemy as sa  # noqa: F401

import marketplace.database  # noqa: F401


# revision identifiers, used by Alembic.
revision = "c5e7a9b1d3f5"
down_revision = "b4d6f8a0c2e4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_payments_succeeded_at_sums",
        "payments",
        ["succeeded_at", "status"],
        postgresql_include=["kind", "currency", "amount", "stripe_fee"],
    )
    op.create_index("ix_payments_status_created_at", "payments", ["status", "created_at"])
    op.create_index("ix_payments_disputed_at", "payments", ["disputed_at"])
    op.create_index(
        "ix_memberships_user_period", "memberships", ["user_id", "starts_on", "ends_on"]
    )
    op.create_index(
        "ix_partner_plan_periods_current",
        "partner_plan_periods",
        ["ends_on", "starts_on", "partner_id"],
    )


def downgrade():
    op.drop_index("ix_partner_plan_periods_current", table_name="partner_plan_periods")
    op.drop_index("ix_memberships_user_period", table_name="memberships")
    op.drop_index("ix_payments_disputed_at", table_name="payments")
    op.drop_index("ix_payments_status_created_at", table_name="payments")
    op.drop_index("ix_payments_succeeded_at_sums", table_name="payments")
