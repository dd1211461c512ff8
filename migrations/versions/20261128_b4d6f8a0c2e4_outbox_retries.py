"""outbox retries

Revision ID: b4d6f8a0c2e4
Revises: a3c5e7f9b1d2
Create Date: 2026-11-28 18:00:00

Reserved for the notifications helper (issue 7 point 3); empty until it lands.
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

import marketplace.database  # noqa: F401


# revision identifiers, used by Alembic.
revision = "b4d6f8a0c2e4"
down_revision = "a3c5e7f9b1d2"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
