"""Admin behind a timelock: no hot key is an admin, and a role change waits for the delay."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from api.chain.admin import OperationState, RoleChange, Timelock
from api.chain.deploy import (
    ACCREDITOR_ROLE,
    ADMINISTERED,
    DEFAULT_ADMIN_ROLE,
    EXCHANGE_ROLE,
    ISSUER_ROLE,
    MINTER_ROLE,
    PAUSER_ROLE,
    SETTLER_ROLE,
    VERIFIER_ROLE,
    DeploymentRefused,
    deploy_core,
)
from api.chain.deployments import Deployment
from api.chain.gateway import ChainGateway
from api.cli import app
from api.settings import DEVNET_ADMIN_ADDRESS, Settings, get_settings
from tests.conftest import Accounts, block_time, devnet_account, increase_time
from tests.contracts.conftest import reverts

# Every role any contract checks: none of them may be granted by a key the platform runs with.
ROLES = (
    DEFAULT_ADMIN_ROLE,
    MINTER_ROLE,
    PAUSER_ROLE,
    EXCHANGE_ROLE,
    ISSUER_ROLE,
    SETTLER_ROLE,
    ACCREDITOR_ROLE,
)
PROPOSER_ROLE = bytes.fromhex("b09aa5aeb3702cfd50b6b62bc4532604938f21248a27a1d5ca736082b6819cc1")
EXECUTOR_ROLE = bytes.fromhex("d8aa0f3194971a2a116679f7c2090f6939c8d4e01a2a8d7e41d55e5351469e63")


@pytest.fixture(scope="module")
def admin() -> LocalAccount:
    account = devnet_account(9)
    assert account.address == DEVNET_ADMIN_ADDRESS
    return account


def test_the_timelock_is_the_only_admin_and_no_hot_key_grants_a_role(
    chain: ChainGateway,
    deployment: Deployment,
    settings: Settings,
    accounts: Accounts,
    admin: LocalAccount,
) -> None:
    timelock = deployment.address("TimelockController")
    assert deployment.roles["timelock"] == timelock
    assert deployment.roles["admin"] == admin.address
    hot_keys = (accounts.operator, accounts.issuer, accounts.relayer)
    stranger = accounts.mallory.address

    for name in ADMINISTERED:
        contract = chain.contract(name)
        # Every account ever made admin (RoleGranted since genesis): only the timelock still is.
        granted = {
            log["args"]["account"]
            for log in chain.events(
                name, "RoleGranted", from_block=0, argument_filters={"role": DEFAULT_ADMIN_ROLE}
            )
        }
        holders = {a for a in granted if contract.functions.hasRole(DEFAULT_ADMIN_ROLE, a).call()}
        assert holders == {timelock}, name
        assert accounts.operator.address in granted  # the deployer was admin, and renounced
        # ... and it administers every role (but verifiers, below): only it grants them.
        for role in ROLES:
            if not (name == "IdentityRegistry" and role == VERIFIER_ROLE):
                assert contract.functions.getRoleAdmin(role).call() == DEFAULT_ADMIN_ROLE
        with reverts("AccessControlUnauthorizedAccount") as caught:
            chain.transact(
                contract.functions.grantRole(DEFAULT_ADMIN_ROLE, stranger), accounts.operator
            )
        assert caught[0].error_args["neededRole"] == DEFAULT_ADMIN_ROLE
    # The roles that move or make credits and won: no hot key (nor the admin key directly).
    token, won = chain.contract("CRDAToken"), chain.contract("SettlementToken")
    for key in (*hot_keys, admin):
        for contract, role in ((token, EXCHANGE_ROLE), (token, MINTER_ROLE), (won, EXCHANGE_ROLE)):
            with reverts("AccessControlUnauthorizedAccount"):
                chain.transact(contract.functions.grantRole(role, key.address), key)

    # The operator's one granting power: verifiers, as ACCREDITOR_ROLE (nothing else).
    registry = chain.contract("IdentityRegistry")
    assert registry.functions.getRoleAdmin(VERIFIER_ROLE).call() == ACCREDITOR_ROLE
    assert registry.functions.getRoleAdmin(ACCREDITOR_ROLE).call() == DEFAULT_ADMIN_ROLE
    assert registry.functions.hasRole(ACCREDITOR_ROLE, accounts.operator.address).call()
    chain.transact(registry.functions.grantRole(VERIFIER_ROLE, stranger), accounts.operator)
    for key in (accounts.issuer, accounts.relayer, admin):
        with reverts("AccessControlUnauthorizedAccount"):
            chain.transact(registry.functions.revokeRole(VERIFIER_ROLE, stranger), key)

    # The timelock administers itself; the admin key proposes and executes, no hot key does.
    lock = chain.contract("TimelockController")
    assert lock.functions.getMinDelay().call() == settings.timelock_delay == 60
    assert lock.functions.hasRole(DEFAULT_ADMIN_ROLE, timelock).call()
    assert lock.functions.hasRole(PROPOSER_ROLE, admin.address).call()
    assert lock.functions.hasRole(EXECUTOR_ROLE, admin.address).call()
    for key in hot_keys:
        for role in (DEFAULT_ADMIN_ROLE, PROPOSER_ROLE, EXECUTOR_ROLE):
            assert not lock.functions.hasRole(role, key.address).call()
        with reverts("AccessControlUnauthorizedAccount"):
            Timelock(chain).propose(
                RoleChange("grant", "EXCHANGE_ROLE", "CRDAToken", key.address), key
            )

    # A deployment whose admin is a hot key is refused before anything is sent.
    with pytest.raises(DeploymentRefused, match="CRDA_ADMIN_ADDRESS"):
        deploy_core(
            chain,
            accounts.operator,
            accounts.issuer.address,
            admin_address=accounts.relayer.address,
            relayer_address=accounts.relayer.address,
            timelock_delay=60,
        )


def test_a_role_change_takes_effect_only_after_the_delay(
    chain: ChainGateway,
    settings: Settings,
    accounts: Accounts,
    admin: LocalAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timelock = Timelock(chain)
    token = chain.contract("CRDAToken")
    mallory = accounts.mallory.address
    grant = RoleChange("grant", "PAUSER_ROLE", "CRDAToken", mallory)

    timelock.propose(grant, admin)
    state, ready_at = timelock.state(grant)
    assert state is OperationState.waiting
    assert ready_at == block_time(chain) + settings.timelock_delay
    with reverts("TimelockUnexpectedOperationState"):
        timelock.execute(grant, admin)
    increase_time(chain, settings.timelock_delay - 10)
    with reverts("TimelockUnexpectedOperationState"):
        timelock.execute(grant, admin)
    assert not token.functions.hasRole(PAUSER_ROLE, mallory).call()
    increase_time(chain, 10)
    assert timelock.state(grant)[0] is OperationState.ready
    with reverts("AccessControlUnauthorizedAccount"):  # only the admin executes
        timelock.execute(grant, accounts.operator)
    timelock.execute(grant, admin)
    assert token.functions.hasRole(PAUSER_ROLE, mallory).call()
    assert timelock.state(grant)[0] is OperationState.done

    # The same through `crda admin` (the admin key from the environment): revoke it again.
    monkeypatch.setenv("CRDA_RPC_URL", settings.rpc_url)
    monkeypatch.setenv("CRDA_DEPLOYMENTS_DIR", str(settings.deployments_dir))
    monkeypatch.setenv("CRDA_ENVIRONMENT", "test")
    get_settings.cache_clear()
    runner = CliRunner()
    args = ["revoke", "PAUSER_ROLE", "CRDAToken", mallory]
    proposed = runner.invoke(app, ["admin", "propose", *args])
    assert proposed.exit_code == 0, proposed.output
    assert "executable from" in " ".join(proposed.output.split())
    early = runner.invoke(app, ["admin", "execute", *args])
    assert early.exit_code == 1
    assert "TimelockUnexpectedOperationState" in " ".join(early.output.split())
    assert token.functions.hasRole(PAUSER_ROLE, mallory).call()
    increase_time(chain, settings.timelock_delay)
    executed = runner.invoke(app, ["admin", "execute", *args])
    assert executed.exit_code == 0, executed.output
    assert not token.functions.hasRole(PAUSER_ROLE, mallory).call()
    assert "done" in runner.invoke(app, ["admin", "status", *args]).output
    # A public admin key outside local development is refused, naming the setting.
    monkeypatch.setenv("CRDA_ENVIRONMENT", "production")
    refused = runner.invoke(app, ["admin", "status", *args])
    assert refused.exit_code == 1
    assert "CRDA_" in refused.output
