"""Deployed addresses per chain, as data: ``deployments/<chainId>.json``.

The file also records the chain's genesis hash, so a service can tell at start that the node
it talks to is not the chain the contracts were deployed to (a restarted devnet forgets
everything) and fail with a clear message instead of sending transactions into the void.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from web3 import Web3

# The contracts every deployment has, in deployment order.
CORE_CONTRACTS: tuple[str, ...] = (
    "IdentityRegistry",
    "Forwarder",
    "CRDAToken",
    "Issuance",
    "SettlementToken",
    "Exchange",
    "TimelockController",
)


class DeploymentMissing(RuntimeError):
    """No deployment file for the node's chain id; `crda deploy` makes one."""


@dataclass(frozen=True)
class DeployedContract:
    address: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    genesis_hash: str
    contracts: dict[str, DeployedContract]
    compiler: str = ""
    artifacts_digest: str = ""
    roles: dict[str, str] = field(default_factory=dict)
    deployed_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def address(self, name: str) -> str:
        try:
            return self.contracts[name].address
        except KeyError:
            raise DeploymentMissing(f"contract {name} is not in this deployment") from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        contracts = {k: DeployedContract(**v) for k, v in data["contracts"].items()}
        return cls(**{**data, "contracts": contracts})


def deployment_path(deployments_dir: Path, chain_id: int) -> Path:
    return deployments_dir / f"{chain_id}.json"


def save_deployment(deployments_dir: Path, deployment: Deployment) -> Path:
    path = deployment_path(deployments_dir, deployment.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(deployment.to_json(), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def load_deployment(deployments_dir: Path, chain_id: int) -> Deployment:
    path = deployment_path(deployments_dir, chain_id)
    if not path.exists():
        raise DeploymentMissing(f"no deployment for chain {chain_id} at {path}: run `crda deploy`")
    return Deployment.from_json(json.loads(path.read_text()))


def genesis_hash(w3: Web3) -> str:
    block = w3.eth.get_block(0)
    return Web3.to_hex(block["hash"])


def deployment_problems(w3: Web3, deployment: Deployment) -> list[str]:
    """What is wrong between the node and the deployment file (empty when they agree)."""
    problems: list[str] = []
    chain_id = w3.eth.chain_id
    if chain_id != deployment.chain_id:
        problems.append(f"node chain id {chain_id} is not the deployment's {deployment.chain_id}")
        return problems
    actual_genesis = genesis_hash(w3)
    if actual_genesis != deployment.genesis_hash:
        problems.append(
            f"genesis hash {actual_genesis} is not the deployment's {deployment.genesis_hash}: "
            "the chain was restarted or replaced; run `crda deploy` again"
        )
    for name in CORE_CONTRACTS:
        if name not in deployment.contracts:
            problems.append(f"deployment has no {name}")
            continue
        address = deployment.contracts[name].address
        if not w3.eth.get_code(Web3.to_checksum_address(address)):
            problems.append(f"no code at {name} {address}")
    return problems
