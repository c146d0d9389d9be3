"""retirement: certificates (idempotency keys come from 0400_market)

Revision ID: 0500_retirement
Revises: 0400_market
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0500_retirement"
down_revision: str | Sequence[str] | None = "0400_market"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("beneficiary_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("beneficiary_data_key", sa.LargeBinary(), nullable=False),
        sa.Column("beneficiary_salt", sa.String(length=66), nullable=False),
        sa.Column("beneficiary_hash", sa.String(length=66), nullable=False),
        sa.Column("publish_beneficiary", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("forward_nonce", sa.BigInteger(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.Column("error_name", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_certificates_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["chain_transactions.id"],
            name=op.f("fk_certificates_outbox_id_chain_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_certificates_outbox_id")),
        sa.UniqueConstraint("serial", name=op.f("uq_certificates_serial")),
    )
    op.create_index(op.f("ix_certificates_account_id"), "certificates", ["account_id"])
    op.create_index(op.f("ix_certificates_holder"), "certificates", ["holder"])
    op.create_index(op.f("ix_certificates_status"), "certificates", ["status"])


def downgrade() -> None:
    op.drop_table("certificates")
