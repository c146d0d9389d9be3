"""Problems of the audit domain (each a stable ``/problems/<slug>`` type)."""

from __future__ import annotations

from api.errors import problem

IndexDeploymentChanged = problem(
    409,
    "index-deployment-changed",
    "The database indexes another deployment; reset the index (`crda index --reset`)",
    when="The audit index belongs to another deployment (an operator problem).",
    show='"Temporarily unavailable".',
)
IndexNotStarted = problem(
    503,
    "index-not-started",
    "The indexer has not read the chain yet",
    when="The audit index has not read the chain yet.",
    show='"Data not available yet"; retry later.',
)
BlockNotIndexed = problem(
    409,
    "block-not-indexed",
    "The index has not reached that block yet",
    when="The requested block is beyond the index's checkpoint.",
    show='"Not indexed yet"; retry later.',
)
IndexInconsistent = problem(
    500,
    "index-inconsistent",
    "The index contradicts itself; run the integrity check",
    when="The audit index contradicts itself (an operator problem: run the integrity check).",
    show='"Temporarily unavailable".',
)
ChainRpcError = problem(
    502,
    "chain-rpc-error",
    "The blockchain node refused a request",
    when="The blockchain node refused a request (an operator problem).",
    show='"Temporarily unavailable"; retry later.',
)
