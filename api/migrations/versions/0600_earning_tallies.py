"""earning tallies: grams credited per citizen and day, year and all time (caps as
conditional updates, filled from the claims already accepted)

Revision ID: 0600_earning_tallies
Revises: 0500_retirement
Create Date: 2026-12-02
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0600_earning_tallies"
down_revision: str | Sequence[str] | None = "0500_retirement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tallies = op.create_table(
        "earning_tallies",
        sa.Column("citizen", sa.String(length=42), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("grams", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("grams >= 0", name=op.f("ck_earning_tallies_grams_not_negative")),
        sa.PrimaryKeyConstraint("citizen", "period", name=op.f("pk_earning_tallies")),
    )
    claims = sa.table(
        "claims",
        sa.column("beneficiary", sa.String),
        sa.column("activity_day", sa.Date),
        sa.column("amount", sa.BigInteger),
    )
    totals: dict[tuple[str, str], int] = defaultdict(int)
    rows = op.get_bind().execute(
        sa.select(claims.c.beneficiary, claims.c.activity_day, claims.c.amount)
    )
    for citizen, day, amount in rows:
        day_text = day.isoformat() if hasattr(day, "isoformat") else str(day)
        for period in (day_text, day_text[:4], "*"):
            totals[(citizen, period)] += int(amount)
    if totals:
        op.bulk_insert(
            tallies,
            [{"citizen": c, "period": p, "grams": g} for (c, p), g in sorted(totals.items())],
        )


def downgrade() -> None:
    op.drop_table("earning_tallies")
