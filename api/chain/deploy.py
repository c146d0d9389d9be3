"""Deploy the core contracts, grant the least roles each key needs, write the deployment file.

No key the platform runs with is an admin: every contract's ``DEFAULT_ADMIN_ROLE`` belongs to
an OpenZeppelin ``TimelockController`` whose only proposer and executor is the admin address
(its key stays with `crda admin`), so a role change is public for the timelock's delay before
it can take effect. The deployer holds the admin role only while it wires the narrow roles.
"""

from __future__ import annotations

from collections.abc import Callable

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.chain.addresses import ZERO_ADDRESS
from api.chain.artifacts import Artifacts
from api.chain.deployments import (
    DeployedContract,
    Deployment,
    DeploymentMissing,
    deployment_problems,
    genesis_hash,
    load_deployment,
    save_deployment,
)
from api.chain.gateway import ChainGateway, make_web3
from api.settings import Settings

MINTER_ROLE = Web3.keccak(text="MINTER_ROLE")
PAUSER_ROLE = Web3.keccak(text="PAUSER_ROLE")
ISSUER_ROLE = Web3.keccak(text="ISSUER_ROLE")
VERIFIER_ROLE = Web3.keccak(text="VERIFIER_ROLE")
EXCHANGE_ROLE = Web3.keccak(text="EXCHANGE_ROLE")
SETTLER_ROLE = Web3.keccak(text="SETTLER_ROLE")
ACCREDITOR_ROLE = Web3.keccak(text="ACCREDITOR_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)
# The contracts whose roles the timelock administers (AccessControl), in deployment order.
ADMINISTERED: tuple[str, ...] = (
    "IdentityRegistry",
    "CRDAToken",
    "Issuance",
    "SettlementToken",
    "Exchange",
)


class DeploymentRefused(RuntimeError):
    """The keys given to a deployment would defeat its separation of roles."""


def deploy_core(
    gateway: ChainGateway,
    operator: LocalAccount,
    issuer_address: str,
    *,
    admin_address: str,
    timelock_delay: int,
    relayer_address: str | None = None,
    digest: str = "",
    compiler: str = "",
    progress: Callable[[str], None] = lambda _step: None,
) -> Deployment:
    """Deploy registry, forwarder, token, issuance, settlement token, exchange and the timelock;
    wire the roles; hand every admin role to the timelock.

    Only the issuance contract may mint credits; only the issuer key may issue batches; the
    operator key pauses, mints and burns won (deposits and withdrawals) and accredits verifiers
    (``ACCREDITOR_ROLE``, the admin of ``VERIFIER_ROLE`` only); only the exchange contract moves
    holders' credits and won without an allowance (for orders its makers signed), and only the
    relayer key submits fills to it. ``DEFAULT_ADMIN_ROLE`` of every contract ends with the
    timelock (``timelock_delay`` seconds, proposed and executed by ``admin_address`` only) and
    the operator renounces its own, so no hot key can grant any role but a verifier's.
    """
    relayer_address = relayer_address or operator.address
    hot = {operator.address.lower(), issuer_address.lower(), relayer_address.lower()}
    if admin_address.lower() in hot:
        raise DeploymentRefused(
            "the admin address is one of the operator, issuer or relayer keys: "
            "set CRDA_ADMIN_ADDRESS to a key that no platform process holds"
        )
    contracts: dict[str, DeployedContract] = {}

    def deploy(name: str, *args: object) -> str:
        progress(f"deploying {name}")
        address, receipt = gateway.deploy(name, operator, *args)
        contracts[name] = DeployedContract(
            address, receipt["transactionHash"].to_0x_hex(), receipt["blockNumber"]
        )
        return address

    registry = deploy("IdentityRegistry", operator.address)
    forwarder = deploy("Forwarder")
    token = deploy("CRDAToken", operator.address, registry, forwarder)
    issuance = deploy("Issuance", operator.address, token)
    won = deploy("SettlementToken", operator.address, registry)
    exchange = deploy("Exchange", operator.address, token, won, registry)
    # Self-administered (no extra admin): only the timelock itself changes its proposers.
    timelock = deploy(
        "TimelockController", timelock_delay, [admin_address], [admin_address], ZERO_ADDRESS
    )

    progress("granting roles")
    token_contract = gateway.contract("CRDAToken", token)
    issuance_contract = gateway.contract("Issuance", issuance)
    gateway.transact(token_contract.functions.grantRole(MINTER_ROLE, issuance), operator)
    gateway.transact(token_contract.functions.grantRole(PAUSER_ROLE, operator.address), operator)
    gateway.transact(issuance_contract.functions.grantRole(ISSUER_ROLE, issuer_address), operator)
    won_contract = gateway.contract("SettlementToken", won)
    exchange_contract = gateway.contract("Exchange", exchange)
    gateway.transact(won_contract.functions.grantRole(MINTER_ROLE, operator.address), operator)
    gateway.transact(won_contract.functions.grantRole(PAUSER_ROLE, operator.address), operator)
    gateway.transact(won_contract.functions.grantRole(EXCHANGE_ROLE, exchange), operator)
    gateway.transact(token_contract.functions.grantRole(EXCHANGE_ROLE, exchange), operator)
    gateway.transact(exchange_contract.functions.grantRole(SETTLER_ROLE, relayer_address), operator)
    # The registry made its deployer (the operator) ACCREDITOR_ROLE: it keeps that one.

    progress("handing the admin roles to the timelock")
    for name in ADMINISTERED:
        administered = gateway.contract(name, contracts[name].address)
        gateway.transact(administered.functions.grantRole(DEFAULT_ADMIN_ROLE, timelock), operator)
        gateway.transact(
            administered.functions.renounceRole(DEFAULT_ADMIN_ROLE, operator.address), operator
        )

    deployment = Deployment(
        chain_id=gateway.chain_id,
        genesis_hash=genesis_hash(gateway.w3),
        contracts=contracts,
        compiler=compiler,
        artifacts_digest=digest,
        roles={
            "operator": operator.address,
            "issuer": issuer_address,
            "relayer": relayer_address,
            "admin": admin_address,
            "timelock": timelock,
        },
    )
    gateway.deployment = deployment
    return deployment


def ensure_deployed(
    settings: Settings,
    artifacts: Artifacts,
    *,
    digest: str,
    compiler: str,
    force: bool = False,
    progress: Callable[[str], None] = lambda _step: None,
) -> tuple[Deployment, bool]:
    """Reuse the deployment on file when the node still has it (and the code is current);
    otherwise deploy afresh. Returns the deployment and whether it is new."""
    w3 = make_web3(settings.rpc_url)
    chain_id = w3.eth.chain_id
    if not force:
        try:
            existing = load_deployment(settings.deployments_dir, chain_id)
        except DeploymentMissing:
            existing = None
        if (
            existing is not None
            and existing.artifacts_digest == digest
            and not deployment_problems(w3, existing)
        ):
            return existing, False
    gateway = ChainGateway(
        w3,
        artifacts,
        None,
        confirmations=settings.confirmations,
        poll_interval=settings.receipt_poll_interval,
        receipt_timeout=settings.receipt_timeout,
    )
    operator = Account.from_key(settings.operator_key.get_secret_value())
    issuer = Account.from_key(settings.issuer_key.get_secret_value())
    relayer = Account.from_key(settings.relayer_key.get_secret_value())
    deployment = deploy_core(
        gateway,
        operator,
        issuer.address,
        relayer_address=relayer.address,
        admin_address=settings.admin_address,
        timelock_delay=settings.timelock_delay,
        digest=digest,
        compiler=compiler,
        progress=progress,
    )
    save_deployment(settings.deployments_dir, deployment)
    return deployment, True
