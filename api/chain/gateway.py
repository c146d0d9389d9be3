"""The one way the Python side talks to the chain.

- contracts come from the artifacts and the deployment file, never from literals;
- every write is simulated (``eth_call``) first, so a revert costs no nonce and comes back as
  a decoded custom error;
- one nonce counter per signing key, seeded once from the node and kept in the process, so
  concurrent sends from one key never collide;
- fees, chain id and gas are filled in locally (one fee look-up a second at most), so a send
  is one signature and one ``eth_sendRawTransaction``;
- receipts are polled at a configurable interval and confirmations are configurable.
Only standard JSON-RPC methods are used: the same code runs on Hardhat, anvil or Besu.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted
from web3.types import TxReceipt

from api.chain.artifacts import Artifacts
from api.chain.deployments import Deployment, deployment_problems, load_deployment
from api.chain.errors import ChainRevert, ErrorDecoder
from api.errors import ChainUnavailable, DeploymentMismatch
from api.settings import Settings

T = TypeVar("T")

# Headroom over the node's gas estimate: storage refunds and warm/cold access can differ
# between the simulation and the mined transaction.
GAS_HEADROOM = 1.2


def make_web3(rpc_url: str, timeout: float = 10.0) -> Web3:
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


class NonceManager:
    """Next nonce per address, seeded once from the node's pending count, then local."""

    def __init__(self, w3: Web3) -> None:
        self._w3 = w3
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, address: str) -> int:
        with self._lock:
            if address not in self._next:
                self._next[address] = self._w3.eth.get_transaction_count(address, "pending")
            nonce = self._next[address]
            self._next[address] = nonce + 1
            return nonce

    def forget(self, address: str) -> None:
        """Re-seed from the node on the next send (after a send failed or nonces drifted)."""
        with self._lock:
            self._next.pop(address, None)


@dataclass
class _FeeCache:
    max_fee: int = 0
    priority_fee: int = 0
    block_gas_limit: int = 30_000_000
    fetched_at: float = 0.0


class ChainGateway:
    """Contracts, calls and transactions of one node and one deployment."""

    def __init__(
        self,
        w3: Web3,
        artifacts: Artifacts,
        deployment: Deployment | None,
        *,
        confirmations: int = 0,
        poll_interval: float = 0.05,
        receipt_timeout: float = 60.0,
    ) -> None:
        self.w3 = w3
        self.artifacts = artifacts
        self.deployment = deployment
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.receipt_timeout = receipt_timeout
        self.nonces = NonceManager(w3)
        self.errors = ErrorDecoder(artifacts.all_abis())
        self._chain_id: int | None = None
        self._fees = _FeeCache()
        self._fee_lock = threading.Lock()

    @classmethod
    def connect(cls, settings: Settings, *, check: bool = True) -> ChainGateway:
        """Gateway for the configured node and its deployment; ``check`` fails fast on drift."""
        w3 = make_web3(settings.rpc_url)
        artifacts = Artifacts.load(settings.artifacts_path)
        chain_id = _guard(lambda: w3.eth.chain_id)
        deployment = load_deployment(settings.deployments_dir, chain_id)
        gateway = cls(
            w3,
            artifacts,
            deployment,
            confirmations=settings.confirmations,
            poll_interval=settings.receipt_poll_interval,
            receipt_timeout=settings.receipt_timeout,
        )
        if check:
            problems = gateway.deployment_problems()
            if problems:
                raise DeploymentMismatch("; ".join(problems))
        return gateway

    # -- reading -----------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = _guard(lambda: self.w3.eth.chain_id)
        return self._chain_id

    def deployment_problems(self) -> list[str]:
        if self.deployment is None:
            return ["no deployment loaded"]
        deployment = self.deployment
        return _guard(lambda: deployment_problems(self.w3, deployment))

    def contract(self, name: str, address: str | None = None) -> Contract:
        if address is None:
            if self.deployment is None:
                raise DeploymentMismatch("no deployment loaded")
            address = self.deployment.address(name)
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=self.artifacts.abi(name)
        )

    def call(self, fn: ContractFunction, sender: str | None = None) -> Any:
        """Read through a view (or simulate a write), decoding any custom error."""
        params = {"from": sender} if sender else {}
        return self._decoded(lambda: fn.call(params))

    # -- writing -----------------------------------------------------------------------------

    def transact(
        self, fn: ContractFunction, signer: LocalAccount, *, gas: int | None = None
    ) -> TxReceipt:
        """Simulate, sign with a local nonce, send, await the receipt (and confirmations)."""
        sender = signer.address
        self._decoded(lambda: fn.call({"from": sender}))
        if gas is None:
            gas = int(self._decoded(lambda: fn.estimate_gas({"from": sender})) * GAS_HEADROOM)
        tx = fn.build_transaction(self._tx_fields(sender, gas))
        return self._send(tx, signer)

    def send_value(self, signer: LocalAccount, to: str, value: int) -> TxReceipt:
        """Send ``value`` wei of the native coin (e.g. gas money for a new verifier)."""
        tx = {
            **self._tx_fields(signer.address, 21_000),
            "to": Web3.to_checksum_address(to),
            "value": value,
        }
        return self._send(tx, signer)

    def deploy(
        self, name: str, signer: LocalAccount, *args: Any
    ) -> tuple[str, TxReceipt]:
        """Deploy contract ``name``; returns its address and the receipt."""
        factory = self.w3.eth.contract(
            abi=self.artifacts.abi(name), bytecode=self.artifacts.bytecode(name)
        )
        constructor = factory.constructor(*args)
        gas = int(
            self._decoded(lambda: constructor.estimate_gas({"from": signer.address}))
            * GAS_HEADROOM
        )
        tx = constructor.build_transaction(self._tx_fields(signer.address, gas))
        receipt = self._send(tx, signer)
        address = receipt["contractAddress"]
        assert address is not None
        return str(address), receipt

    def _tx_fields(self, sender: str, gas: int) -> dict[str, Any]:
        max_fee, priority_fee = self._fees_now()
        return {
            "from": sender,
            # The headroom never asks for more than a block holds.
            "gas": min(gas, self._fees.block_gas_limit),
            "chainId": self.chain_id,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": priority_fee,
        }

    def _send(self, tx: dict[str, Any], signer: LocalAccount) -> TxReceipt:
        tx = {**tx, "nonce": _guard(lambda: self.nonces.reserve(signer.address))}
        signed = signer.sign_transaction(tx)
        try:
            tx_hash = _guard(lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
        except Exception:
            # The node refused the transaction (nonce, fee, balance): re-seed the nonce.
            self.nonces.forget(signer.address)
            raise
        return self.wait_for_receipt(tx_hash, tx)

    def wait_for_receipt(self, tx_hash: HexBytes, tx: dict[str, Any] | None = None) -> TxReceipt:
        try:
            receipt = _guard(
                lambda: self.w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=self.receipt_timeout, poll_latency=self.poll_interval
                )
            )
        except TimeExhausted as exc:
            raise ChainUnavailable(f"no receipt for {tx_hash.to_0x_hex()} in time") from exc
        if receipt["status"] != 1:
            raise self._revert_of(receipt, tx)
        if self.confirmations:
            target = receipt["blockNumber"] + self.confirmations
            while _guard(lambda: self.w3.eth.block_number) < target:
                time.sleep(self.poll_interval)
        return receipt

    def _revert_of(self, receipt: TxReceipt, tx: dict[str, Any] | None) -> ChainRevert:
        """Why a mined transaction failed: replay it as a call at its block to get the error."""
        tx_hash = receipt["transactionHash"].to_0x_hex()
        if tx is not None:
            call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
            try:
                self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
            except (ContractCustomError, ContractLogicError) as exc:
                return self.errors.to_problem(_revert_data(exc), tx_hash=tx_hash)
        return ChainRevert("TransactionReverted", tx_hash=tx_hash)

    def _fees_now(self) -> tuple[int, int]:
        with self._fee_lock:
            if time.monotonic() - self._fees.fetched_at > 1.0:
                block = _guard(lambda: self.w3.eth.get_block("latest"))
                base_fee = int(block.get("baseFeePerGas", 0) or 0)
                priority = _guard(lambda: self.w3.eth.max_priority_fee)
                self._fees = _FeeCache(
                    2 * base_fee + priority, priority, int(block["gasLimit"]), time.monotonic()
                )
            return self._fees.max_fee, self._fees.priority_fee

    def _decoded(self, action: Callable[[], T]) -> T:
        try:
            return _guard(action)
        except (ContractCustomError, ContractLogicError) as exc:
            raise self.errors.to_problem(_revert_data(exc)) from exc


def _revert_data(exc: ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, dict):  # some nodes wrap it: {"data": "0x..."}
        data = data.get("data")
    return data if isinstance(data, str) else None


def _guard(action: Callable[[], T]) -> T:
    """Turn a dead or unreachable node into a 503 problem instead of a 500."""
    try:
        return action()
    except (RequestsConnectionError, RequestsTimeout, ConnectionError) as exc:
        raise ChainUnavailable("the blockchain node does not answer") from exc
