"""Problems of the audit domain (each a stable ``/problems/<slug>`` type)."""

from __future__ import annotations

from api.errors import problem

IndexDeploymentChanged = problem(
    409,
    "index-deployment-changed",
    "The database indexes another deployment; reset the index (`crda index --reset`)",
)
IndexNotStarted = problem(503, "index-not-started", "The indexer has not read the chain yet")
BlockNotIndexed = problem(409, "block-not-indexed", "The index has not reached that block yet")
IndexInconsistent = problem(
    500, "index-inconsistent", "The index contradicts itself; run the integrity check"
)
ChainRpcError = problem(502, "chain-rpc-error", "The blockchain node refused a request")
