"""signer nonces: the next nonce of each platform signer, allocated in the database so that
several processes can sign with one key

Revision ID: 0610_signer_nonces
Revises: 0600_earning_tallies
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0610_signer_nonces"
down_revision: str | Sequence[str] | None = "0600_earning_tallies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No rows to fill: the first allocation of each signer starts from the node's count.
    op.create_table(
        "signer_nonces",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("genesis", sa.String(length=66), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "genesis", "address", name=op.f("pk_signer_nonces")),
    )


def downgrade() -> None:
    op.drop_table("signer_nonces")
