"""Random sequences of issue / transfer / retire / attest / revoke / de-role / time against the
real devnet, checked after every step against a model of who is verified and who holds what.

Invariants after each step:
- total supply equals the sum of all balances, and every balance equals the model's;
- total retired only grows and equals the model's;
- no transfer ever reached (or left) an address the registry did not verify.
CI runs 40 examples of up to 30 steps (about 1,200 steps); raise HYPOTHESIS_STATEFUL_EXAMPLES
for a longer run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from api.chain.deploy import VERIFIER_ROLE
from api.chain.errors import ChainRevert
from api.chain.gateway import ChainGateway, NonceManager
from tests.conftest import Accounts, block_time, increase_time

EXAMPLES = int(os.environ.get("HYPOTHESIS_STATEFUL_EXAMPLES", "40"))
MIN_STEPS = 1_000
BENEFICIARY = keccak(text="stateful beneficiary")


@dataclass
class Attestation:
    verifier: str
    expires: int
    revoked: bool = False


def make_machine(gateway: ChainGateway, accounts: Accounts) -> type[RuleBasedStateMachine]:
    registry = gateway.contract("IdentityRegistry")
    token = gateway.contract("CRDAToken")
    issuance = gateway.contract("Issuance")
    holders: list[LocalAccount] = [accounts.alice, accounts.bob, accounts.carol, accounts.mallory]
    verifiers: list[LocalAccount] = [accounts.verifier, accounts.verifier2]
    w3 = gateway.w3

    class CreditMachine(RuleBasedStateMachine):
        steps = 0

        def __init__(self) -> None:
            super().__init__()
            self.snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
            self.balances = {h.address: 0 for h in holders}
            self.attestations: dict[str, Attestation] = {}
            self.verifier_active = {v.address: False for v in verifiers}
            self.retired = 0
            self.batches = 0

        @initialize()
        def grant_verifiers(self) -> None:
            for v in verifiers:
                gateway.transact(
                    registry.functions.grantRole(VERIFIER_ROLE, v.address), accounts.operator
                )
                self.verifier_active[v.address] = True

        def teardown(self) -> None:
            w3.provider.make_request("evm_revert", [self.snapshot])  # type: ignore[arg-type]
            gateway.nonces = NonceManager(w3)

        # -- the model ---------------------------------------------------------------------

        def verified(self, address: str) -> bool:
            a = self.attestations.get(address)
            return (
                a is not None
                and not a.revoked
                and a.expires > block_time(gateway) + 5
                and self.verifier_active[a.verifier]
            )

        def expect(self, ok: bool, action, error: str | None = None):
            try:
                result = action()
            except ChainRevert as exc:
                assert not ok, f"chain refused an allowed step: {exc.detail}"
                if error:
                    assert exc.error_name == error, exc.detail
                return None
            assert ok, "chain accepted a step the rules forbid"
            return result

        # -- rules ---------------------------------------------------------------------------

        @rule(
            holder=st.sampled_from(holders),
            verifier=st.sampled_from(verifiers),
            ttl_k=st.integers(1, 20),
        )
        def attest(self, holder: LocalAccount, verifier: LocalAccount, ttl_k: int) -> None:
            expires = block_time(gateway) + ttl_k * 1000 + 500
            current = self.attestations.get(holder.address)
            taken = (
                current is not None
                and current.verifier != verifier.address
                and not current.revoked
                and current.expires > block_time(gateway) + 5
                and self.verifier_active[current.verifier]
            )
            ok = self.verifier_active[verifier.address] and not taken
            fn = registry.functions.attest(holder.address, keccak(text=str(expires)), 2, expires)
            if self.expect(ok, lambda: gateway.transact(fn, verifier)) is not None:
                self.attestations[holder.address] = Attestation(verifier.address, expires)

        @rule(holder=st.sampled_from(holders), by=st.sampled_from([*verifiers, None]))
        def revoke(self, holder: LocalAccount, by: LocalAccount | None) -> None:
            signer = by or accounts.operator
            a = self.attestations.get(holder.address)
            exists = a is not None and not a.revoked
            allowed = by is None or (
                self.verifier_active[by.address] and a is not None and a.verifier == by.address
            )
            fn = registry.functions.revoke(holder.address)
            if self.expect(exists and allowed, lambda: gateway.transact(fn, signer)) is not None:
                assert a is not None
                a.revoked = True

        @rule(verifier=st.sampled_from(verifiers), active=st.booleans())
        def set_verifier_role(self, verifier: LocalAccount, active: bool) -> None:
            call = registry.functions.grantRole if active else registry.functions.revokeRole
            gateway.transact(call(VERIFIER_ROLE, verifier.address), accounts.operator)
            self.verifier_active[verifier.address] = active

        @rule(
            credits=st.dictionaries(
                st.sampled_from(holders), st.integers(1, 10**9), min_size=1, max_size=4
            )
        )
        def issue(self, credits: dict[LocalAccount, int]) -> None:
            self.batches += 1
            batch_id = keccak(text=f"batch {self.batches}")
            claim_ids = [keccak(text=f"{self.batches}:{h.address}") for h in credits]
            fn = issuance.functions.issueBatch(
                batch_id,
                keccak(b"".join(claim_ids)),
                claim_ids,
                [h.address for h in credits],
                list(credits.values()),
            )
            gateway.transact(fn, accounts.issuer)
            for holder, amount in credits.items():
                self.balances[holder.address] += amount

        @rule(
            sender=st.sampled_from(holders),
            receiver=st.sampled_from(holders),
            share=st.integers(0, 120),
        )
        def transfer(self, sender: LocalAccount, receiver: LocalAccount, share: int) -> None:
            amount = self.balances[sender.address] * share // 100
            sender_ok, receiver_ok = self.verified(sender.address), self.verified(receiver.address)
            funded = amount <= self.balances[sender.address]
            ok = sender_ok and receiver_ok and funded
            error = (
                None
                if ok
                else "CRDATokenUnverifiedAccount"
                if not (sender_ok and receiver_ok)
                else "ERC20InsufficientBalance"
            )
            fn = token.functions.transfer(receiver.address, amount)
            if self.expect(ok, lambda: gateway.transact(fn, sender), error) is not None:
                assert registry.functions.isVerified(receiver.address).call()
                assert registry.functions.isVerified(sender.address).call()
                self.balances[sender.address] -= amount
                self.balances[receiver.address] += amount

        @rule(holder=st.sampled_from(holders), share=st.integers(0, 120))
        def retire(self, holder: LocalAccount, share: int) -> None:
            amount = self.balances[holder.address] * share // 100
            ok = 0 < amount <= self.balances[holder.address]
            fn = token.functions.retire(amount, BENEFICIARY, "stateful")
            if self.expect(ok, lambda: gateway.transact(fn, holder)) is not None:
                self.balances[holder.address] -= amount
                self.retired += amount

        @rule(k=st.integers(1, 10))
        def advance_time(self, k: int) -> None:
            increase_time(gateway, k * 1000)

        # -- invariants ------------------------------------------------------------------------

        @invariant()
        def supply_equals_sum_of_balances(self) -> None:
            type(self).steps += 1
            chain_balances = {
                h.address: token.functions.balanceOf(h.address).call() for h in holders
            }
            assert chain_balances == self.balances
            assert token.functions.totalSupply().call() == sum(chain_balances.values())

        @invariant()
        def retired_total_matches_and_only_grows(self) -> None:
            assert token.functions.totalRetired().call() == self.retired

    return CreditMachine


@pytest.mark.chain
def test_random_credit_lifecycles_keep_the_invariants(
    chain: ChainGateway, accounts: Accounts
) -> None:
    machine = make_machine(chain, accounts)
    machine.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("CI") is not None,
    )
    machine.TestCase().runTest()
    if EXAMPLES >= 40:
        assert machine.steps >= MIN_STEPS, f"only {machine.steps} steps ran"
