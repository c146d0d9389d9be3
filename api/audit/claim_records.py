"""Earning's side of a claim's provenance, for the auditor (plugged into ``api.audit``).

The chain knows a claim's batch and position; this adds what only the off-chain record holds:
the signed evidence (hash, signature, provider), the methodology (factor-set version and
hash), the inputs, the amount, the Merkle proof, and a recomputation of the amount from the
inputs under that factor set, so an auditor sees whether the stored amount follows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.audit.provenance import ClaimShare, ClassShare, class_totals
from api.earning.corroboration import corroborations_of
from api.earning.models import (
    BatchStatus,
    Claim,
    ClaimStatus,
    DataProvider,
    IssuanceBatch,
    Submission,
)
from api.earning.service import credit_class, credit_class_of, factor_status, recompute_claim
from api.errors import Problem
from api.timeutil import aware


class EarningClaimRecords:
    """:class:`api.audit.provenance.ClaimRecordSource` over earning's tables."""

    def claim_record(self, session: Session, claim_id: str) -> dict[str, Any] | None:
        claim = session.scalar(select(Claim).where(Claim.claim_id == claim_id.lower()))
        if claim is None:
            return None
        provider = session.get(DataProvider, claim.provider_id)
        submission = session.get(Submission, claim.submission_id)
        batch = session.get(IssuanceBatch, claim.batch_id) if claim.batch_id else None
        return {
            "claim_id": claim.claim_id,
            "status": str(claim.status),
            "beneficiary": claim.beneficiary,
            "kind": claim.kind,
            "mode": claim.mode,
            "activity_start": aware(claim.activity_start).isoformat(),
            "activity_end": aware(claim.activity_end).isoformat(),
            "evidence_hash": claim.evidence_hash,
            "evidence": submission.evidence if submission else None,
            "evidence_signature": submission.signature if submission else None,
            "provider": {
                "code": provider.code,
                "name": provider.name,
                "kind": str(provider.kind),
                "signer_address": provider.signer_address,
            }
            if provider
            else None,
            "methodology_version": claim.methodology_version,
            "methodology_hash": claim.methodology_hash,
            "credit_class": credit_class(claim),
            "vintage": claim.activity_day.year,
            "factor_status": factor_status(claim),
            "assurance": str(claim.assurance),
            "corroborate_by": aware(claim.corroborate_by).isoformat()
            if claim.corroborate_by
            else None,
            "corroboration": _corroboration(session, claim),
            "inputs": claim.inputs,
            "amount": int(claim.amount),
            "batch_id": batch.batch_id if batch else None,
            "merkle_root": batch.merkle_root if batch else None,
            "merkle_proof": list(claim.merkle_proof or []),
            "tx_hash": batch.tx_hash if batch else None,
            "recomputation": _recomputation(session, claim),
        }

    def claims_of(self, session: Session, batch_id: str, beneficiary: str) -> list[ClaimShare]:
        rows = session.execute(
            select(
                Claim.claim_id,
                Claim.amount,
                Claim.kind,
                Claim.mode,
                Claim.methodology_version,
                Claim.activity_day,
                Claim.assurance,
            )
            .join(IssuanceBatch, IssuanceBatch.id == Claim.batch_id)
            .where(
                IssuanceBatch.batch_id == batch_id.lower(),
                func.lower(Claim.beneficiary) == beneficiary.lower(),
            )
            .order_by(Claim.id)  # the batch's order (form_batch takes claims by id)
        ).all()
        return [
            ClaimShare(
                claim_id=c,
                amount=int(a),
                credit_class=credit_class_of(kind, mode, version),
                vintage=day.year,
                assurance=str(assurance),
            )
            for c, a, kind, mode, version, day, assurance in rows
        ]

    def issued_by_class(self, session: Session) -> list[ClassShare]:
        """Credits issued, by class and vintage: from the issued batches, each of which records
        its class and vintage (the batcher splits by them); from the claims of the batches
        formed before batches recorded them, which could mix classes."""
        recorded = session.execute(
            select(
                IssuanceBatch.credit_class,
                IssuanceBatch.vintage,
                func.sum(IssuanceBatch.total_amount),
            )
            .where(
                IssuanceBatch.status == BatchStatus.issued,
                IssuanceBatch.credit_class.is_not(None),
            )
            .group_by(IssuanceBatch.credit_class, IssuanceBatch.vintage)
        ).all()
        mixed = session.execute(
            select(
                Claim.kind,
                Claim.mode,
                Claim.methodology_version,
                Claim.activity_day,
                func.sum(Claim.amount),
            )
            .join(IssuanceBatch, IssuanceBatch.id == Claim.batch_id)
            .where(Claim.status == ClaimStatus.issued, IssuanceBatch.credit_class.is_(None))
            .group_by(Claim.kind, Claim.mode, Claim.methodology_version, Claim.activity_day)
        ).all()
        # The vintage is set together with the class; supply is not split by assurance (a
        # claim's assurance can rise after it is issued).
        return class_totals(
            [(str(c), int(v or 0), None, int(g)) for c, v, g in recorded]
            + [
                (credit_class_of(kind, mode, version), day.year, None, int(grams))
                for kind, mode, version, day, grams in mixed
            ]
        )


def _corroboration(session: Session, claim: Claim) -> dict[str, Any] | None:
    """The second provider's signed record that corroborated the claim, as it was signed."""
    found = corroborations_of(session, [claim]).get(claim.id)
    if found is None:
        return None
    record, code = found
    provider = session.get(DataProvider, record.provider_id)
    return {
        "provider": {
            "code": code,
            "name": provider.name if provider else None,
            "kind": record.source,
            "signer_address": record.signer_address,
        },
        "record_id": record.record_id,
        "evidence": record.evidence,
        "evidence_hash": record.evidence_hash,
        "evidence_signature": record.signature,
        "created_at": aware(record.created_at).isoformat(),
    }


def _recomputation(session: Session, claim: Claim) -> dict[str, Any]:
    """The amount the stored inputs give under the claim's own factor set, as the database
    recorded it (``source``: database), or from the package's file for older claims."""
    stored = int(claim.amount)
    try:
        expected, source = recompute_claim(session, claim)
    except Problem as exc:  # the factor set is not on file, or its file changed since
        return {"ok": False, "expected": None, "stored": stored, "error": exc.detail}
    return {"ok": expected == stored, "expected": expected, "stored": stored, "source": source}
