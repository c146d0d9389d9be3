"""provider keys with validity periods, and claims unique by the provider's record id

A provider (the organisation) has keys; a record counts once per provider, whichever key
signed it, so rotating a key never re-credits a record.

Revision ID: 0670_provider_keys
Revises: 0660_earning_kind_tallies
Create Date: 2026-12-02
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0670_provider_keys"
down_revision: str | Sequence[str] | None = "0660_earning_kind_tallies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("signer_address", sa.String(length=42), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["data_providers.id"],
            name=op.f("fk_provider_keys_provider_id_data_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_keys")),
        sa.UniqueConstraint("signer_address", name=op.f("uq_provider_keys_signer_address")),
    )
    op.create_index(
        op.f("ix_provider_keys_provider_id"), "provider_keys", ["provider_id"], unique=False
    )
    # Each provider's one key so far: valid from the provider's start, still current.
    op.execute(
        "INSERT INTO provider_keys (provider_id, signer_address, valid_from, valid_until,"
        " created_at) SELECT id, signer_address, NULL, NULL, created_at FROM data_providers"
    )
    with op.batch_alter_table("claims") as table:
        table.add_column(sa.Column("record_id", sa.String(length=128), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT c.id, s.evidence FROM claims c JOIN earning_submissions s"
            " ON s.id = c.submission_id"
        )
    ).all()
    for claim_id, evidence in rows:
        record = json.loads(evidence) if isinstance(evidence, str) else evidence
        record_id = record.get("receiptId") or record.get("tripId")
        connection.execute(
            sa.text("UPDATE claims SET record_id = :record WHERE id = :id"),
            {"record": record_id, "id": claim_id},
        )
    with op.batch_alter_table("claims") as table:
        table.create_unique_constraint(
            op.f("uq_claims_provider_id"), ["provider_id", "kind", "record_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("claims") as table:
        table.drop_constraint(op.f("uq_claims_provider_id"), type_="unique")
        table.drop_column("record_id")
    op.drop_index(op.f("ix_provider_keys_provider_id"), table_name="provider_keys")
    op.drop_table("provider_keys")
