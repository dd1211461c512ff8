"""scale indexes

Revision ID: c5e7a9b1d3f5
Revises: b4d6f8a0c2e4
Create Date: 2026-11-28 18:00:00

Reserved for the scale helper (issue 8); empty until it lands.
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import marketplace.database  # noqa: F401


# revision identifiers, used by Alembic.
revision = "c5e7a9b1d3f5"
down_revision = "b4d6f8a0c2e4"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
