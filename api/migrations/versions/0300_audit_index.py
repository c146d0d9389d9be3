"""Audit index: events, accepted blocks, checkpoint and derived state (balances, supply, ...).

Revision ID: 0300_audit_index
Revises: 0100_identity
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0300_audit_index"
down_revision: str | Sequence[str] | None = "0100_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# api.audit.models.UInt256: NUMERIC(78, 0), and zero-padded text on SQLite (exact above 2**63).
UINT256 = sa.Numeric(78, 0).with_variant(sa.String(78), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_attestations",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("actor", sa.String(length=42), nullable=False),
        sa.Column("credential_hash", sa.String(length=66), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_audit_attestations")),
    )
    with op.batch_alter_table("audit_attestations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_attestations_account", ["account", "block_number"], unique=False
        )

    op.create_table(
        "audit_balances",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("balance", UINT256, nullable=False),
        sa.Column("retired", UINT256, nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_audit_balances")),
    )
    with op.batch_alter_table("audit_balances", schema=None) as batch_op:
        batch_op.create_index("ix_audit_balances_balance", ["balance", "address"], unique=False)

    op.create_table(
        "audit_batch_claims",
        sa.Column("batch_id", sa.String(length=66), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("claim_id", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "position", name=op.f("pk_audit_batch_claims")),
    )
    with op.batch_alter_table("audit_batch_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_batch_claims_block_number"), ["block_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_batch_claims_claim_id"), ["claim_id"], unique=False
        )

    op.create_table(
        "audit_batches",
        sa.Column("batch_id", sa.String(length=66), nullable=False),
        sa.Column("merkle_root", sa.String(length=66), nullable=False),
        sa.Column("total_amount", UINT256, nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_audit_batches")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_audit_batches_batch_id")),
    )
    op.create_table(
        "audit_blocks",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_audit_blocks")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_blocks_hash")),
    )
    with op.batch_alter_table("audit_blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_blocks_timestamp"), ["timestamp"], unique=False)

    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("deployment_key", sa.String(length=1000), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("reorgs", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint(
            "chain_id", "deployment_key", name=op.f("uq_audit_checkpoints_chain_id")
        ),
    )
    op.create_table(
        "audit_events",
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("block_hash", "log_index", name=op.f("uq_audit_events_block_hash")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_audit_events_tx_hash")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_event_block", ["event", "block_number"], unique=False
        )

    op.create_table(
        "audit_identities",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("verifier", sa.String(length=42), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("credential_hash", sa.String(length=66), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_audit_identities")),
    )
    op.create_table(
        "audit_retirements",
        sa.Column("certificate_id", UINT256, nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("beneficiary_hash", sa.String(length=66), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_audit_retirements")),
        sa.UniqueConstraint("certificate_id", name=op.f("uq_audit_retirements_certificate_id")),
    )
    with op.batch_alter_table("audit_retirements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_retirements_holder", ["holder", "block_number"], unique=False
        )

    op.create_table(
        "audit_supply",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("minted", UINT256, nullable=False),
        sa.Column("burnt", UINT256, nullable=False),
        sa.Column("retired", UINT256, nullable=False),
        sa.PrimaryKeyConstraint("block_number", name=op.f("pk_audit_supply")),
    )
    with op.batch_alter_table("audit_supply", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_supply_block_time"), ["block_time"], unique=False
        )

    op.create_table(
        "audit_transfers",
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_audit_transfers")),
    )
    with op.batch_alter_table("audit_transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_transfers_recipient", ["recipient", "block_number"], unique=False
        )
        batch_op.create_index("ix_audit_transfers_sender", ["sender", "block_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_transfers_sender")
        batch_op.drop_index("ix_audit_transfers_recipient")

    op.drop_table("audit_transfers")
    with op.batch_alter_table("audit_supply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_supply_block_time"))

    op.drop_table("audit_supply")
    with op.batch_alter_table("audit_retirements", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_retirements_holder")

    op.drop_table("audit_retirements")
    op.drop_table("audit_identities")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_event_block")

    op.drop_table("audit_events")
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_blocks_timestamp"))

    op.drop_table("audit_blocks")
    op.drop_table("audit_batches")
    with op.batch_alter_table("audit_batch_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_batch_claims_claim_id"))
        batch_op.drop_index(batch_op.f("ix_audit_batch_claims_block_number"))

    op.drop_table("audit_batch_claims")
    with op.batch_alter_table("audit_balances", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_balances_balance")

    op.drop_table("audit_balances")
    with op.batch_alter_table("audit_attestations", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_attestations_account")

    op.drop_table("audit_attestations")
