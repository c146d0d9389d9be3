"""Role changes through the timelock that holds every contract's ``DEFAULT_ADMIN_ROLE``.

The admin key (``CRDA_ADMIN_KEY``, read by ``crda admin`` only) proposes a grant or revoke;
anyone can see it on chain (``CallScheduled``) for the timelock's delay; then the admin key
executes it. An operation is identified by its call and a salt: the same change proposed
again after it was done needs another salt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

from api.chain.addresses import checksum
from api.chain.deploy import ADMINISTERED, DEFAULT_ADMIN_ROLE
from api.chain.gateway import ChainGateway

NO_PREDECESSOR = bytes(32)


class OperationState(IntEnum):
    """``TimelockController.OperationState``."""

    unset = 0
    waiting = 1
    ready = 2
    done = 3


def role_id(name: str) -> bytes:
    """``DEFAULT_ADMIN_ROLE`` is zero; every other role is ``keccak256(name)``."""
    return DEFAULT_ADMIN_ROLE if name == "DEFAULT_ADMIN_ROLE" else bytes(Web3.keccak(text=name))


@dataclass(frozen=True)
class RoleChange:
    """``action`` ``role`` (by name) to ``account`` on the deployment's ``contract``."""

    action: Literal["grant", "revoke"]
    role: str
    contract: str
    account: str
    salt: str = ""

    def __post_init__(self) -> None:
        if self.contract not in ADMINISTERED:
            raise ValueError(f"{self.contract} is not one of {', '.join(ADMINISTERED)}")
        object.__setattr__(self, "account", checksum(self.account))

    @property
    def salt_bytes(self) -> bytes:
        return bytes(Web3.keccak(text=self.salt)) if self.salt else bytes(32)


class Timelock:
    """The deployment's timelock, as the admin uses it (through the gateway)."""

    def __init__(self, gateway: ChainGateway) -> None:
        self.gateway = gateway
        self.contract = gateway.contract("TimelockController")

    @property
    def delay(self) -> int:
        return int(self.gateway.call(self.contract.functions.getMinDelay()))

    def _call(self, change: RoleChange) -> tuple[str, bytes]:
        target = self.gateway.contract(change.contract)
        function = "grantRole" if change.action == "grant" else "revokeRole"
        data = target.encode_abi(function, args=[role_id(change.role), change.account])
        return target.address, bytes.fromhex(data.removeprefix("0x"))

    def operation_id(self, change: RoleChange) -> bytes:
        target, data = self._call(change)
        return bytes(
            self.gateway.call(
                self.contract.functions.hashOperation(
                    target, 0, data, NO_PREDECESSOR, change.salt_bytes
                )
            )
        )

    def state(self, change: RoleChange) -> tuple[OperationState, int]:
        """The operation's state and the time from which it may execute (0: not proposed)."""
        op = self.operation_id(change)
        state = OperationState(self.gateway.call(self.contract.functions.getOperationState(op)))
        return state, int(self.gateway.call(self.contract.functions.getTimestamp(op)))

    def propose(self, change: RoleChange, admin: LocalAccount) -> TxReceipt:
        """Schedule the change with the timelock's minimum delay (``PROPOSER_ROLE``)."""
        target, data = self._call(change)
        schedule = self.contract.functions.schedule(
            target, 0, data, NO_PREDECESSOR, change.salt_bytes, self.delay
        )
        return self.gateway.transact(schedule, admin)

    def execute(self, change: RoleChange, admin: LocalAccount) -> TxReceipt:
        """Carry out a proposed change whose delay has passed (``EXECUTOR_ROLE``)."""
        target, data = self._call(change)
        execute = self.contract.functions.execute(
            target, 0, data, NO_PREDECESSOR, change.salt_bytes
        )
        return self.gateway.transact(execute, admin)
