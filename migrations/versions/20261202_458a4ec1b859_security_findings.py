"""security findings (issue 13): normalised e-mail addresses, tier eligibility

``membership_tiers.max_years_since_leaving``: a tier (the young graduates') may be open only
to alumni who left school at most that many years ago; empty for every other tier.

Revision ID: 458a4ec1b859
Revises: c5e7a9b1d3f5
Create Date: 2026-12-02 09:00:00

E-mail addresses are compared in one form (``marketplace.text.normalise_email``: NFKC, then
lower case), so a full-width look-alike cannot open a second account. Existing rows of
``users``, ``roster_entries``, ``partner_invitations`` and ``partners.contact_email`` are
rewritten in that form. Two accounts (or two roster lines of one school) that become the
same address cannot both be kept: the upgrade then stops before writing anything and names
them, so that staff merge or rename them by hand and run it again.
"""

import unicodedata

from alembic import op
import sqlalchemy as sa

import marketplace.database  # noqa: F401


# revision identifiers, used by Alembic.
revision = "458a4ec1b859"
down_revision = "c5e7a9b1d3f5"
branch_labels = None
depends_on = None


def normalise_email(email: str) -> str:
    """A frozen copy of ``marketplace.text.normalise_email`` (migrations never import the app)."""
    folded = unicodedata.normalize("NFKC", email).strip().lower()
    return unicodedata.normalize("NFKC", folded)


class EmailCollision(RuntimeError):
    """Rows that become one address once normalised; nothing was changed."""


def _normalise(connection, table: str, column: str, group_by: tuple[str, ...] = ()) -> list:
    """Rewrite ``table.column`` in normal form; refuse if two rows of a group would collide."""
    rows = connection.execute(
        sa.text(f"SELECT id, {column}{''.join(', ' + g for g in group_by)} FROM {table}")  # noqa: S608
    ).all()
    seen: dict[tuple, int] = {}
    changes: list[dict] = []
    for row in rows:
        value = row[1]
        if value is None:
            continue
        normal = normalise_email(value)
        key = (normal, *row[2:])
        if key in seen:
            raise EmailCollision(
                f"{table}: rows {seen[key]} and {row[0]} are the same address ({normal!r}) once "
                "normalised (NFKC, lower case). Merge or change one of them, then upgrade again."
            )
        seen[key] = row[0]
        if normal != value:
            changes.append({"row_id": row[0], "normal": normal})
    return changes


def upgrade():
    op.add_column(
        "membership_tiers", sa.Column("max_years_since_leaving", sa.Integer(), nullable=True)
    )
    connection = op.get_bind()
    # Every table is checked before any is written: a collision leaves the data as it was.
    plan = {
        ("users", "email"): _normalise(connection, "users", "email"),
        ("roster_entries", "email"): _normalise(
            connection, "roster_entries", "email", ("school_id",)
        ),
    }
    for table, column in (("partner_invitations", "email"), ("partners", "contact_email")):
        rows = connection.execute(sa.text(f"SELECT id, {column} FROM {table}")).all()  # noqa: S608
        plan[(table, column)] = [
            {"row_id": row_id, "normal": normalise_email(value)}
            for row_id, value in rows
            if value is not None and normalise_email(value) != value
        ]
    for (table, column), changes in plan.items():
        if changes:
            connection.execute(
                sa.text(f"UPDATE {table} SET {column} = :normal WHERE id = :row_id"),  # noqa: S608
                changes,
            )


def downgrade():
    with op.batch_alter_table("membership_tiers") as batch_op:
        batch_op.drop_column("max_years_since_leaving")
    # The original spellings of addresses are not kept: the normal form stays (it is valid).
