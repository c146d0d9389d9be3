"""The migrations give exactly the models' schema (autogenerate finds nothing to add)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

import api.models  # noqa: F401  (every table on Base.metadata)
from api.db import Base


def test_migrated_schema_equals_the_models(migrated: str) -> None:
    engine = create_engine(migrated)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []
