"""loop leases: one holder per background loop (outbox worker, indexer) across processes

Revision ID: 0620_outbox_claims
Revises: 0610_signer_nonces
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0620_outbox_claims"
down_revision: str | Sequence[str] | None = "0610_signer_nonces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No rows to fill: a loop's row is made by its first run.
    op.create_table(
        "loop_leases",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_loop_leases")),
    )


def downgrade() -> None:
    op.drop_table("loop_leases")
