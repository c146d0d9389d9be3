"""methodology sets: each factor set recorded, content-addressed, with the first claim under it

Revision ID: 0680_methodology_sets
Revises: 0670_provider_keys
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0680_methodology_sets"
down_revision: str | Sequence[str] | None = "0670_provider_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by the platform, with the first claim under each set (claims made before this
    # revision are recomputed from the files, as before).
    op.create_table(
        "methodology_sets",
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_methodology_sets")),
        sa.UniqueConstraint("version", name=op.f("uq_methodology_sets_version")),
    )


def downgrade() -> None:
    op.drop_table("methodology_sets")
