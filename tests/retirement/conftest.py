"""Retirement runs in the audit world (platform, indexer, the API over a real devnet)."""

from tests.audit.conftest import (
    activity,
    artifacts,
    audit_world,
    make_indexer,
    new_database,
    platform,
)

__all__ = ["activity", "artifacts", "audit_world", "make_indexer", "new_database", "platform"]
