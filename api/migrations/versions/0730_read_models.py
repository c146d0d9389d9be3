"""read models: named versions bumped by triggers, so a process may keep a read exact

Revision ID: 0730_read_models
Revises: 0680_methodology_sets
Create Date: 2026-12-02

``read_versions`` holds one row per read model (``api/readversions.py``); triggers on the
tables a model summarises bump its version in the writing transaction. The public order book
(``market.book``) changes with an order's insertion, deletion, or an update of a column the
book reads (status, side, price, quantity, filled, expiry).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0730_read_models"
down_revision: str | Sequence[str] | None = "0720_ingest_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOOK_COLUMNS = "status, side, price, quantity, filled, expiry"


def upgrade() -> None:
    op.create_table(
        "read_versions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_read_versions")),
    )
    op.execute("INSERT INTO read_versions (name, version) VALUES ('market.book', 0)")
    bump = "UPDATE read_versions SET version = version + 1 WHERE name = 'market.book';"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION bump_read_version() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE read_versions SET version = version + 1 WHERE name = TG_ARGV[0];
                RETURN NULL;
            END $$
            """
        )
        # Deferred to the commit: the version row is locked after every other row the
        # transaction locked, so it never closes a lock-order cycle (a deadlock).
        op.execute(
            f"""
            CREATE CONSTRAINT TRIGGER market_orders_book
            AFTER INSERT OR DELETE OR UPDATE OF {BOOK_COLUMNS} ON market_orders
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION bump_read_version('market.book')
            """
        )
    else:
        for name, event in (
            ("insert", "INSERT"),
            ("delete", "DELETE"),
            ("update", f"UPDATE OF {BOOK_COLUMNS}"),
        ):
            op.execute(
                f"CREATE TRIGGER market_orders_book_{name} AFTER {event} ON market_orders "
                f"BEGIN {bump} END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS market_orders_book ON market_orders")
        op.execute("DROP FUNCTION IF EXISTS bump_read_version()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS market_orders_book_{name}")
    op.drop_table("read_versions")
