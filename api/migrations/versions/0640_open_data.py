"""open data: the district where an activity happened, on the provider and on the claim

Revision ID: 0640_open_data
Revises: 0630_throttling
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0640_open_data"
down_revision: str | Sequence[str] | None = "0630_throttling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No backfill: claims accepted before this revision are published as "unassigned" (their
    # stations could be looked up again, but a published past bucket must not change).
    with op.batch_alter_table("data_providers") as batch:
        batch.add_column(sa.Column("district", sa.String(length=20), nullable=True))
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("district", sa.String(length=20), nullable=True))
        batch.create_index(batch.f("ix_claims_district"), ["district"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_index(batch.f("ix_claims_district"))
        batch.drop_column("district")
    with op.batch_alter_table("data_providers") as batch:
        batch.drop_column("district")
