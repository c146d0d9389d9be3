"""corroboration: second records of an activity, claims' assurance, batches by class and vintage

A claim is corroborated once and a corroborating record corroborates one claim (unique
constraints); a claim the methodology holds for corroboration carries its deadline. Each
issuance batch records its credit class and vintage (the batcher splits by them): batches
formed before this revision get them when all their claims share one class and vintage.

Revision ID: 0700_corroboration
Revises: 0680_methodology_sets
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0700_corroboration"
down_revision: str | Sequence[str] | None = "0690_station_sets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as table:
        table.add_column(
            sa.Column(
                "assurance", sa.String(length=20), nullable=False, server_default="single-source"
            )
        )
        table.add_column(sa.Column("corroborate_by", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("issuance_batches") as table:
        table.add_column(sa.Column("credit_class", sa.String(length=80), nullable=True))
        table.add_column(sa.Column("vintage", sa.Integer(), nullable=True))
        table.create_index(op.f("ix_issuance_batches_credit_class"), ["credit_class"], unique=False)
    op.create_table(
        "corroborations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("evidence_hash", sa.String(length=66), nullable=False),
        sa.Column("signer_address", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_corroborations_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["data_providers.id"],
            name=op.f("fk_corroborations_provider_id_data_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corroborations")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_corroborations_claim_id")),
        sa.UniqueConstraint("provider_id", "record_id", name=op.f("uq_corroborations_provider_id")),
    )
    op.create_index(
        op.f("ix_corroborations_provider_id"), "corroborations", ["provider_id"], unique=False
    )
    # Batches formed before: a class and vintage where all their claims share one.
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT batch_id, kind, mode, methodology_version, activity_day FROM claims"
            " WHERE batch_id IS NOT NULL"
        )
    ).all()
    found: dict[int, set[tuple[str, int]]] = {}
    for batch, kind, mode, version, day in rows:
        activity = f"trip:{mode}" if kind == "trip" else kind
        year = int(str(day)[:4])
        found.setdefault(batch, set()).add((f"{activity}@{version}", year))
    for batch, classes in found.items():
        if len(classes) == 1:
            ((credit_class, vintage),) = classes
            connection.execute(
                sa.text(
                    "UPDATE issuance_batches SET credit_class = :c, vintage = :v WHERE id = :id"
                ),
                {"c": credit_class, "v": vintage, "id": batch},
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_corroborations_provider_id"), table_name="corroborations")
    op.drop_table("corroborations")
    with op.batch_alter_table("issuance_batches") as table:
        table.drop_index(op.f("ix_issuance_batches_credit_class"))
        table.drop_column("vintage")
        table.drop_column("credit_class")
    with op.batch_alter_table("claims") as table:
        table.drop_column("corroborate_by")
        table.drop_column("assurance")
