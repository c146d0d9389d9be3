"""The schema is owned by Alembic: migrations reach head and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import api.models  # noqa: F401  (registers every table)
from api.db import Base
from api.migrate import current_revision, head_revision, upgrade


def test_migrations_reach_head_and_match_the_models(migrated: str) -> None:
    upgrade(migrated)  # a second run is a no-op
    engine = create_engine(migrated)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
