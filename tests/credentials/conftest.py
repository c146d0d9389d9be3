"""The identity world (people, verifiers, the app over a real devnet and database)."""

from tests.world import app, client, platform, world

__all__ = ["app", "client", "platform", "world"]
