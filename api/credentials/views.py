"""Model to response-body conversions shared by the routes."""

from __future__ import annotations

from api.credentials.models import Credential
from api.credentials.schemas import CredentialPublic
from api.credentials.service import credential_state
from api.timeutil import aware


def credential_public(credential: Credential) -> CredentialPublic:
    return CredentialPublic(
        id=credential.id,
        account_id=credential.account_id,
        verifier_id=credential.verifier_id,
        assurance_level=credential.level,
        subject_did=credential.subject_did,
        status=credential_state(credential),  # type: ignore[arg-type]
        valid_from=aware(credential.valid_from),
        valid_until=aware(credential.valid_until),
        credential_hash=credential.credential_hash,
        attest_tx_hash=credential.attest_tx_hash,
        revoke_tx_hash=credential.revoke_tx_hash,
        revocation_reason=credential.revocation_reason,
        verifiable_credential=credential.token,
    )
