"""privacy consents deletion legal pages

Revision ID: a3c5e7f9b1d2
Revises: 9b1f4c2d7e10
Create Date: 2026-11-28 18:00:00

Reserved for the privacy helper (issue 7 points 1-2); empty until it lands.
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import marketplace.database  # noqa: F401


# revision identifiers, used by Alembic.
revision = "a3c5e7f9b1d2"
down_revision = "9b1f4c2d7e10"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
