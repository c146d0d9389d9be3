"""earning tallies per kind of activity: the period key grows to hold ``<kind>@<day>``

Revision ID: 0660_earning_kind_tallies
Revises: 0640_open_data
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0660_earning_kind_tallies"
down_revision: str | Sequence[str] | None = "0640_open_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("earning_tallies") as table:
        table.alter_column("period", existing_type=sa.String(length=10), type_=sa.String(length=40))


def downgrade() -> None:
    op.execute("DELETE FROM earning_tallies WHERE period LIKE '%@%'")
    with op.batch_alter_table("earning_tallies") as table:
        table.alter_column("period", existing_type=sa.String(length=40), type_=sa.String(length=10))
