"""ingest indexes: the submission path and the batcher search claims instead of scanning them

Revision ID: 0720_ingest_indexes
Revises: 0680_methodology_sets
Create Date: 2026-12-02

- ``ix_claims_trips`` (beneficiary, kind, activity_end): the overlap check reads only the
  citizen's trips that end after the new one starts, not every claim of the citizen.
- ``ix_claims_status_beneficiary`` (status, beneficiary): the batcher's every-round look for
  holders verified again (``status = 'unverified'``) was a scan of the whole table on SQLite.
- ``ix_claims_batch_id_status`` (batch_id, status), instead of ``ix_claims_batch_id``: a
  confirmed batch's claims (``batch_id = ? AND status = 'batched'``, grouped by beneficiary),
  which SQLite answered by walking the beneficiary index over the whole table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0720_ingest_indexes"
down_revision: str | Sequence[str] | None = "0700_corroboration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.create_index("ix_claims_trips", ["beneficiary", "kind", "activity_end"])
        batch.create_index("ix_claims_status_beneficiary", ["status", "beneficiary"])
        batch.create_index("ix_claims_batch_id_status", ["batch_id", "status"])
        batch.drop_index("ix_claims_batch_id")


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.create_index("ix_claims_batch_id", ["batch_id"])
        batch.drop_index("ix_claims_batch_id_status")
        batch.drop_index("ix_claims_status_beneficiary")
        batch.drop_index("ix_claims_trips")
