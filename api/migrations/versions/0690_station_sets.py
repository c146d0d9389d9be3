"""station sets and journeys: station graphs recorded beside factor sets (one content-addressed
table, by kind), and transit journeys credited once

Revision ID: 0690_station_sets
Revises: 0680_methodology_sets
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0690_station_sets"
down_revision: str | Sequence[str] | None = "0680_methodology_sets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every row recorded so far is a factor set; a version is unique per kind from now on.
    with op.batch_alter_table("methodology_sets") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=20), server_default="factors", nullable=False)
        )
        batch.drop_constraint("uq_methodology_sets_version", type_="unique")
        batch.create_unique_constraint(batch.f("uq_methodology_sets_kind"), ["kind", "version"])
    op.create_table(
        "earning_journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen", sa.String(length=42), nullable=False),
        sa.Column("methodology_version", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taps", sa.Integer(), nullable=False),
        sa.Column("exact_g", sa.Text(), nullable=False),
        sa.Column("credited_g", sa.BigInteger(), nullable=False),
        sa.Column("claim_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earning_journeys")),
    )
    op.create_index(
        op.f("ix_earning_journeys_citizen"), "earning_journeys", ["citizen"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_earning_journeys_citizen"), table_name="earning_journeys")
    op.drop_table("earning_journeys")
    with op.batch_alter_table("methodology_sets") as batch:
        batch.drop_constraint("uq_methodology_sets_kind", type_="unique")
        batch.create_unique_constraint(batch.f("uq_methodology_sets_version"), ["version"])
        batch.drop_column("kind")
