"""Verifying our credentials: every check runs and reports; nothing raises.

A credential is verified when all of these hold:

``format``      a compact JWS with ``typ: vc+jwt``, ``alg: ES256K`` and a ``kid`` of its issuer;
``signature``   it verifies under the key the issuer's DID document gives (``assertionMethod``),
                with the algorithm pinned (the header's ``alg`` is never trusted);
``issuer``      the issuer's attesting address holds the verifier role on the chain now;
``expiry``      ``validFrom`` <= now < ``validUntil``;
``status``      the issuer's status list (itself a credential signed by the issuer) does not
                have the credential's bit set;
``attestation`` the chain's attestation of the subject's address records this credential's
                hash, by this issuer, unrevoked and unexpired.

Only public inputs are used (DID documents, the status list, the chain), so anyone can
run the same checks, and no database lookup of the holder is needed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from jwt.algorithms import ECAlgorithm

from identity import status_list
from identity.did import DIDError, Resolver, assertion_key, blockchain_account, parse_pkh_did
from identity.issue import ALGORITHM, CREDENTIAL_TYPE, MEDIA_TYPE, STATUS_LIST_TYPE, credential_hash

CHECKS = ("format", "signature", "issuer", "expiry", "status", "attestation")


@dataclass(frozen=True)
class OnChainAttestation:
    verifier: str
    level: int
    expires_at: int
    revoked: bool
    credential_hash: bytes
    live: bool


class ChainReader(Protocol):
    chain_id: int

    def attestation_of(self, address: str) -> OnChainAttestation | None: ...

    def is_verifier(self, address: str) -> bool: ...


class StatusListFetcher(Protocol):
    """Dereferences a ``statusListCredential`` URL to the compact JWS found there (or None)."""

    def fetch(self, url: str) -> str | None: ...


@dataclass
class VerificationError:
    check: str
    slug: str
    title: str
    detail: str

    def as_problem(self) -> dict[str, str]:
        return {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "detail": self.detail,
            "check": self.check,
        }


@dataclass
class VerificationResult:
    verified: bool = False
    checks: list[str] = field(default_factory=list)  # the checks that passed
    errors: list[VerificationError] = field(default_factory=list)
    credential: dict[str, Any] | None = None


class _Failed(Exception):
    def __init__(self, error: VerificationError) -> None:
        super().__init__(error.detail)
        self.error = error


def _fail(check: str, slug: str, title: str, detail: str) -> _Failed:
    return _Failed(VerificationError(check, slug, title, detail))


def _verify_jws(
    token: str, resolver: Resolver, *, expected_typ: str, check: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(payload, issuer DID document) of a JWS signed by the issuer it names."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _fail("format", "credential-malformed", "Not a credential", str(exc)) from exc
    if header.get("alg") != ALGORITHM or header.get("typ") != expected_typ:
        raise _fail(
            "format", "credential-malformed", "Not a credential",
            f"expected alg {ALGORITHM} and typ {expected_typ}",
        )  # fmt: skip
    issuer = claims.get("issuer")
    kid = header.get("kid")
    if not isinstance(issuer, str) or not isinstance(kid, str) or not kid.startswith(issuer + "#"):
        raise _fail("format", "credential-malformed", "Not a credential", "kid is not the issuer's")
    if claims.get("iss") != issuer:
        raise _fail("format", "credential-malformed", "Not a credential", "iss is not the issuer")
    document = resolver.resolve(issuer)
    if document is None:
        raise _fail(
            check, "credential-issuer-unknown", "Unknown issuer", "the issuer DID does not resolve"
        )
    jwk = assertion_key(document, kid)
    if jwk is None:
        raise _fail(
            check,
            "credential-issuer-unknown",
            "Unknown issuer",
            "the key is not an assertion key of the issuer",
        )
    try:
        key = ECAlgorithm.from_jwk(jwk)
        payload: dict[str, Any] = jwt.decode(
            token,
            key,  # type: ignore[arg-type]
            algorithms=[ALGORITHM],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise _fail(
            check, "credential-signature-invalid", "The signature does not verify", str(exc)
        ) from exc
    except (jwt.PyJWTError, ValueError) as exc:
        raise _fail(
            check, "credential-signature-invalid", "The signature does not verify", str(exc)
        ) from exc
    return payload, document


def verify_credential(
    token: str,
    *,
    resolver: Resolver,
    status_lists: StatusListFetcher,
    chain: ChainReader,
    now: float | None = None,
) -> VerificationResult:
    """Run every check on ``token``; ``verified`` only when all pass."""
    now = time.time() if now is None else now
    result = VerificationResult()

    def record(check: str, action: Any) -> Any:
        try:
            value = action()
        except _Failed as failed:
            result.errors.append(failed.error)
            return None
        result.checks.append(check)
        return value if value is not None else True

    # format + signature (the rest needs a payload whose signature holds)
    try:
        payload, document = _verify_jws(token, resolver, expected_typ=MEDIA_TYPE, check="signature")
    except _Failed as failed:
        result.errors.append(failed.error)
        return result
    result.checks += ["format", "signature"]
    result.credential = payload

    subject = payload.get("credentialSubject") or {}
    types = payload.get("type") or []
    subject_address: str | None = None
    if CREDENTIAL_TYPE not in types or not isinstance(subject, dict):
        result.errors.append(
            VerificationError(
                "format", "credential-malformed", "Not a credential", f"not a {CREDENTIAL_TYPE}"
            )
        )
    else:
        try:
            chain_id, subject_address = parse_pkh_did(str(subject.get("id", "")))
            if chain_id != chain.chain_id:
                raise DIDError(f"subject is on chain {chain_id}, not {chain.chain_id}")
        except DIDError as exc:
            result.errors.append(
                VerificationError("format", "credential-malformed", "Not a credential", str(exc))
            )
            subject_address = None
    account = blockchain_account(document)

    def check_issuer() -> None:
        if account is None or account[0] != chain.chain_id:
            raise _fail(
                "issuer",
                "credential-issuer-unknown",
                "Unknown issuer",
                "the issuer names no address on this chain",
            )
        if not chain.is_verifier(account[1]):
            raise _fail(
                "issuer",
                "credential-issuer-not-accredited",
                "The issuer is not an accredited verifier",
                "the issuer's address has no verifier role on the chain",
            )

    def check_expiry() -> None:
        nbf, exp = payload.get("nbf"), payload.get("exp")
        if not isinstance(nbf, int) or not isinstance(exp, int):
            raise _fail(
                "expiry", "credential-malformed", "Not a credential", "nbf and exp are required"
            )
        if now < nbf:
            raise _fail(
                "expiry",
                "credential-not-yet-valid",
                "The credential is not valid yet",
                f"valid from {payload.get('validFrom')}",
            )
        if now >= exp:
            raise _fail(
                "expiry",
                "credential-expired",
                "The credential has expired",
                f"valid until {payload.get('validUntil')}",
            )

    def check_status() -> None:
        entry = payload.get("credentialStatus") or {}
        url = entry.get("statusListCredential") if isinstance(entry, dict) else None
        index_text = entry.get("statusListIndex") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not str(index_text).isdigit():
            raise _fail(
                "status", "credential-malformed", "Not a credential", "no revocation status entry"
            )
        fetched = status_lists.fetch(url)
        if fetched is None:
            raise _fail(
                "status", "credential-status-unavailable", "The status list is unavailable", url
            )
        try:
            list_payload, _doc = _verify_jws(
                fetched, resolver, expected_typ=MEDIA_TYPE, check="status"
            )
        except _Failed as failed:
            raise _fail(
                "status",
                "credential-status-unavailable",
                "The status list does not verify",
                failed.error.detail,
            ) from failed
        if list_payload.get("issuer") != payload.get("issuer") or STATUS_LIST_TYPE not in (
            list_payload.get("type") or []
        ):
            raise _fail(
                "status",
                "credential-status-unavailable",
                "The status list is not the issuer's",
                url,
            )
        try:
            bits = status_list.decode(str(list_payload["credentialSubject"]["encodedList"]))
            revoked = status_list.is_set(bits, int(str(index_text)))
        except (KeyError, TypeError, status_list.StatusListError) as exc:
            raise _fail(
                "status",
                "credential-status-unavailable",
                "The status list does not decode",
                str(exc),
            ) from exc
        if revoked:
            raise _fail(
                "status",
                "credential-revoked",
                "The credential is revoked",
                "its bit is set in the issuer's status list",
            )

    def check_attestation() -> None:
        if subject_address is None or account is None:
            raise _fail(
                "attestation",
                "credential-not-attested",
                "No attestation on chain",
                "no subject or issuer address",
            )
        attestation = chain.attestation_of(subject_address)
        if attestation is None or attestation.credential_hash != credential_hash(token):
            raise _fail(
                "attestation",
                "credential-not-attested",
                "No attestation on chain",
                "the chain records no attestation of this credential",
            )
        if attestation.verifier != account[1]:
            raise _fail(
                "attestation",
                "credential-not-attested",
                "No attestation on chain",
                "the attestation is by another verifier",
            )
        if attestation.revoked:
            raise _fail(
                "attestation",
                "credential-revoked",
                "The credential is revoked",
                "the attestation is revoked on chain",
            )
        if not attestation.live:
            raise _fail(
                "attestation",
                "credential-not-attested",
                "No live attestation on chain",
                "the attestation expired, or its verifier lost the verifier role",
            )

    # The attestation first: a live one also proves the issuer's role (one chain call less).
    record("attestation", check_attestation)
    record("issuer", check_issuer)
    record("expiry", check_expiry)
    record("status", check_status)
    result.verified = not result.errors and set(result.checks) == set(CHECKS)
    return result
