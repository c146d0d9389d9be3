"""The identity world (people, verifiers, the app over a real devnet and database)."""

from tests.world import world

__all__ = ["world"]
