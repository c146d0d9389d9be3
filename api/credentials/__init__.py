"""Verifier organisations, identities (uniqueness keys), credentials, attestations, revocation."""
