"""The one way the Python side talks to the chain.

- contracts come from the artifacts and the deployment file, never from literals;
- every write is simulated first (``eth_estimateGas``, or ``eth_call`` when the gas is fixed),
  so a revert costs no nonce and comes back as a decoded custom error;
- nonces come from a pluggable source (``api.chain.nonces``): in memory for one process
  (tests, scripts, deployment), from the database for the platform, whose processes share
  its keys; a nonce is allocated only for the signing (and, on the direct paths, the
  broadcast), so concurrent sends from one key never collide and a refused one leaves no gap;
- fees, chain id and gas are filled in locally (one fee look-up a second at most), so a send
  is one signature and one ``eth_sendRawTransaction``;
- receipts are polled at a configurable interval and confirmations are configurable.
Only standard JSON-RPC methods are used: the same code runs on Hardhat, anvil or Besu.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout
from web3 import HTTPProvider, Web3
from web3._utils.method_formatters import receipt_formatter
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.datastructures import AttributeDict
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
    Web3TypeError,
)
from web3.logs import DISCARD
from web3.types import (
    BlockData,
    BlockIdentifier,
    EventData,
    RPCEndpoint,
    RPCResponse,
    TxData,
    TxParams,
    TxReceipt,
)

from api import metrics
from api.chain.artifacts import Artifacts
from api.chain.deployments import (
    Deployment,
    deployment_problems,
    genesis_hash,
    load_deployment,
)
from api.chain.errors import ChainRevert, ErrorDecoder
from api.chain.nonces import DatabaseNonces, NonceManager, NonceSource
from api.errors import ChainUnavailable, DeploymentMismatch
from api.i18n import msg
from api.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

# Headroom over the node's gas estimate: storage refunds and warm/cold access can differ
# between the simulation and the mined transaction.
GAS_HEADROOM = 1.2


def make_web3(rpc_url: str, timeout: float = 10.0) -> Web3:
    return Web3(MeteredProvider(rpc_url, request_kwargs={"timeout": timeout}))


class MeteredProvider(HTTPProvider):
    """The HTTP provider every connection to the node uses (``make_web3``), counting and timing
    each JSON-RPC request by method and outcome for the operations view (``api.metrics``)."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        started, outcome = time.perf_counter(), "unreachable"
        try:
            response = super().make_request(method, params)
            outcome = "error" if "error" in response else "ok"
            return response
        finally:
            metrics.observe_rpc(str(method), outcome, time.perf_counter() - started)

    def make_batch_request(
        self, batch_requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        started, outcome = time.perf_counter(), "unreachable"
        try:
            answers = super().make_batch_request(batch_requests)
            refused = not isinstance(answers, list) or any("error" in a for a in answers)
            outcome = "error" if refused else "ok"
            return answers
        finally:
            metrics.observe_rpc("batch", outcome, time.perf_counter() - started)


class ReadTransport:
    """JSON-RPC reads over one kept-alive ``http.client`` connection per thread.

    What :meth:`ChainGateway.rpc` and :meth:`ChainGateway.rpc_batch` send (reads only: the head
    block, ``eth_call`` batches). Through web3's provider and ``requests`` a read cost about
    1.5 ms of Python on top of the node's 0.3 ms, and the market reads the head once per order.
    Reads are idempotent: a kept-alive connection the node closed is reopened and the read sent
    once more; a node that does not answer is a 503 problem, as through the provider.
    """

    def __init__(self, endpoint: str, timeout: float) -> None:
        parts = urlsplit(endpoint)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json"}
        if parts.username is not None:
            token = f"{parts.username}:{parts.password or ''}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            connection = kind(self.host, self.port, timeout=self.timeout)
            self._local.connection = connection
        if connection.sock is None:  # new, or closed by the node's answer: open it now
            connection.connect()
            # Headers and body go in two writes: without this, Nagle's algorithm may hold the
            # body until the node acknowledges the headers.
            cast(socket.socket, connection.sock).setsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
            )
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def send(self, payload: Any) -> Any:
        """POST one JSON-RPC request or batch; the decoded answer."""
        body = json.dumps(payload, separators=(",", ":"))
        for attempt in (1, 2):
            reused = getattr(self._local, "connection", None) is not None
            try:
                connection = self._connection()
                connection.request("POST", self.path, body, self.headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if reused and attempt == 1:
                    continue  # the node closed the idle connection: once more on a new one
                raise ChainUnavailable("the blockchain node does not answer") from exc
            if response.status != 200:
                self._drop()
                raise ChainUnavailable(
                    msg("the node answered HTTP {status}", status=response.status)
                )
            return json.loads(data)
        raise AssertionError("unreachable")

    def request(self, method: str, params: list[Any]) -> dict[str, Any]:
        started, outcome = time.perf_counter(), "unreachable"
        try:
            answer = self.send({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            outcome = "error" if "error" in answer else "ok"
            return cast(dict[str, Any], answer)
        finally:
            metrics.observe_rpc(method, outcome, time.perf_counter() - started)

    def batch(self, requests: Sequence[tuple[str, list[Any]]]) -> Any:
        started, outcome = time.perf_counter(), "unreachable"
        try:
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
                for i, (method, params) in enumerate(requests)
            ]
            answers = self.send(payload)
            refused = not isinstance(answers, list) or any("error" in a for a in answers)
            outcome = "error" if refused else "ok"
            return answers
        finally:
            metrics.observe_rpc("batch", outcome, time.perf_counter() - started)


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction, ready to broadcast (again) and to store."""

    raw: bytes
    tx_hash: str
    nonce: int
    sender: str
    tx: dict[str, Any]


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
        nonces: NonceSource | None = None,
    ) -> None:
        self.w3 = w3
        self.artifacts = artifacts
        self.deployment = deployment
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.receipt_timeout = receipt_timeout
        self.nonces: NonceSource = nonces or NonceManager(w3, count=self._pending_count)
        self.errors = ErrorDecoder(artifacts.all_abis())
        self._chain_id: int | None = None
        self._fees = _FeeCache()
        self._fee_lock = threading.Lock()
        provider = w3.provider
        self._reads: ReadTransport | None = None
        if isinstance(provider, HTTPProvider) and str(provider.endpoint_uri).startswith("http"):
            timeout = float(dict(provider.get_request_kwargs()).get("timeout", 10.0))
            self._reads = ReadTransport(str(provider.endpoint_uri), timeout)

    @classmethod
    def connect(
        cls,
        settings: Settings,
        *,
        check: bool = True,
        sessions: sessionmaker[Session] | None = None,
    ) -> ChainGateway:
        """Gateway for the configured node and its deployment; ``check`` fails fast on drift.

        With ``sessions``, nonces are allocated in that database (``signer_nonces``), so any
        number of processes may sign with the platform's keys; without, in this process.
        """
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
        if sessions is not None:
            genesis = _guard(lambda: genesis_hash(w3))
            gateway.nonces = DatabaseNonces(sessions, chain_id, genesis, gateway._pending_count)
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
        params = cast(TxParams, {"from": sender} if sender else {})
        return self._decoded(lambda: fn.call(params))

    def views(
        self, fns: Sequence[ContractFunction], block: BlockIdentifier = "latest"
    ) -> list[Any]:
        """Several view calls in one JSON-RPC batch (one round trip), each decoded by its ABI.

        Sent as plain ``eth_call`` requests of one batch: web3's middleware would ask the node
        for its chain id on every call, which costs more than the call on hot paths.
        """
        if not fns:
            return []
        tag = hex(block) if isinstance(block, int) else block
        requests = [("eth_call", [{"to": fn.address, "data": calldata(fn)}, tag]) for fn in fns]
        responses = self.rpc_batch(requests)
        out: list[Any] = []
        for fn, raw in zip(fns, responses, strict=True):
            types = [_abi_type(o) for o in fn.abi.get("outputs", [])]
            values = abi_decode(types, bytes(HexBytes(raw)))
            out.append(values[0] if len(values) == 1 else tuple(values))
        return out

    def view(self, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """One view call as a bare ``eth_call`` (see :meth:`views`)."""
        return self.views([fn], block)[0]

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One standard JSON-RPC read's result (an error answer is a 503 problem); reads only:
        sent through :class:`ReadTransport`, which may send a read twice."""
        reads = self._reads
        response = (
            reads.request(method, params)
            if reads is not None
            else _guard(lambda: self.w3.provider.make_request(RPCEndpoint(method), params))
        )
        if "error" in response:
            raise ChainUnavailable(
                msg("the node refused {method}: {error}", method=method, error=response["error"])
            )
        return response.get("result")

    def rpc_batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Several JSON-RPC requests in one batch; their results in request order."""
        if not requests:
            return []
        provider: Any = self.w3.provider
        reads = self._reads
        responses = (
            reads.batch(requests)
            if reads is not None
            else _guard(lambda: provider.make_batch_request(list(requests)))
        )
        if not isinstance(responses, list) or any("result" not in r for r in responses):
            raise ChainUnavailable("the node refused a batch of reads")
        return [r["result"] for r in sorted(responses, key=lambda r: int(r["id"]))]

    def block_number(self) -> int:
        return int(_guard(lambda: self.w3.eth.block_number))

    def block(self, block: BlockIdentifier) -> BlockData:
        return _guard(lambda: self.w3.eth.get_block(block))

    def transaction_count(self, address: str, block: BlockIdentifier = "latest") -> int:
        """How many transactions of ``address`` the node counts at ``block`` (its next nonce)."""
        checksum = Web3.to_checksum_address(address)
        return int(_guard(lambda: self.w3.eth.get_transaction_count(checksum, block)))

    def events(
        self,
        contract: str,
        event: str,
        *,
        from_block: BlockIdentifier,
        to_block: BlockIdentifier = "latest",
        argument_filters: dict[str, Any] | None = None,
    ) -> list[EventData]:
        """Logs of ``contract``'s ``event``, decoded, in chain order."""
        found = self.contract(contract).events[event]()
        return list(
            _guard(
                lambda: found.get_logs(
                    from_block=from_block, to_block=to_block, argument_filters=argument_filters
                )
            )
        )

    def receipt_events(self, contract: str, event: str, receipt: TxReceipt) -> list[EventData]:
        """``contract``'s ``event`` logs of one receipt, decoded (other logs are skipped)."""
        return list(self.contract(contract).events[event]().process_receipt(receipt, DISCARD))

    def rpc_answers(self, requests: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Each request's JSON-RPC answer as the node gave it (``result`` or ``error``), in
        request order: one request goes alone, several in one batch.

        For readers that treat a refused request as data rather than an outage (the indexer
        halves a block range whose ``eth_getLogs`` the node refuses). A batch the node refuses
        whole answers each of its requests with that one error. Only a node that does not
        answer raises (a 503 problem).
        """
        if not requests:
            return []
        provider: Any = self.w3.provider
        if len(requests) == 1:
            method, params = requests[0]
            return [_guard(lambda: provider.make_request(RPCEndpoint(method), params))]
        batch = [(RPCEndpoint(method), params) for method, params in requests]
        answers = _guard(lambda: provider.make_batch_request(batch))
        if not isinstance(answers, list):
            return [answers] * len(requests)
        return sorted(answers, key=lambda a: int(a["id"]))

    # -- writing -----------------------------------------------------------------------------

    def transact(
        self,
        fn: ContractFunction,
        signer: LocalAccount,
        *,
        gas: int | None = None,
        session: Session | None = None,
    ) -> TxReceipt:
        """Simulate, sign, send, await the receipt (and confirmations).

        The nonce is spent only if the node accepts the transaction. Pass ``session`` when the
        caller's transaction has written already: the nonce is then allocated inside it (on
        SQLite, a transaction of its own would wait for the caller's write lock).
        """
        signed = self._send(self._built(fn, signer.address, gas), signer, session)
        return self.wait_for_receipt(HexBytes(signed.tx_hash), signed.tx)

    def sign(
        self,
        fn: ContractFunction,
        signer: LocalAccount,
        *,
        gas: int | None = None,
        session: Session | None = None,
    ) -> SignedTx:
        """Simulate and sign a call of ``fn``, allocating the signer's next nonce.

        Nothing is sent: a caller that must survive a crash (the outbox) stores the signed
        transaction first and broadcasts it afterwards, as often as needed (same nonce, same
        hash, so it can be mined once at most). With ``session`` (the transaction that stores
        it), the nonce is allocated in that transaction and commits with the stored
        transaction; without, it is spent when ``sign`` returns.
        """
        tx = self._built(fn, signer.address, gas)
        with self.nonces.allocate(signer.address, session) as nonce:
            return self._signed(tx, nonce, signer)

    def _built(self, fn: ContractFunction, sender: str, gas: int | None) -> dict[str, Any]:
        """The simulated, unsigned transaction (no nonce yet: none is held while simulating).

        The call data is encoded once (:func:`calldata`) and used for the simulation and the
        transaction alike: web3 would encode a batch of fills twice, at a cost above the node's.
        """
        call = cast(TxParams, {"from": sender, "to": fn.address, "data": calldata(fn), "value": 0})
        if gas is None:
            # The gas estimate is the simulation: a revert surfaces here with its custom error.
            gas = int(self._decoded(lambda: self.w3.eth.estimate_gas(call)) * GAS_HEADROOM)
        else:
            self._decoded(lambda: self.w3.eth.call(call))
        return {**call, **self._tx_fields(sender, gas)}

    def _send(
        self, tx: dict[str, Any], signer: LocalAccount, session: Session | None = None
    ) -> SignedTx:
        """Sign and broadcast under one nonce allocation: kept only if the node took it."""
        with self.nonces.allocate(signer.address, session) as nonce:
            signed = self._signed(tx, nonce, signer)
            self.broadcast(signed)
        return signed

    def broadcast(self, signed: SignedTx) -> None:
        """Send a signed transaction; sending one the node already has is not an error."""
        try:
            _guard(lambda: self.w3.eth.send_raw_transaction(signed.raw))
        except ChainUnavailable:
            raise
        except Exception as exc:
            if _already_known(exc):
                return
            # The node refused it (nonce, fee, balance): an in-memory source re-seeds.
            self.nonces.forget(signed.sender)
            raise

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt if the transaction is mined, else None (no waiting).

        Read as a plain read (:meth:`rpc`) and formatted by web3's own receipt formatter, so it
        is the receipt web3 gives: a settlement's receipt holds three logs a fill, and web3's
        request path (``requests``, middleware) cost more than the formatting.
        """
        if self._reads is None:
            try:
                return _guard(lambda: self.w3.eth.get_transaction_receipt(HexBytes(tx_hash)))
            except TransactionNotFound:
                return None
        raw = self.rpc("eth_getTransactionReceipt", [HexBytes(tx_hash).to_0x_hex()])
        if raw is None:
            return None
        return cast(TxReceipt, receipt_formatter(AttributeDict.recursive(raw)))

    def transaction(self, tx_hash: str) -> TxData | None:
        """The transaction as the node knows it (pending or mined), else None."""
        try:
            return _guard(lambda: self.w3.eth.get_transaction(HexBytes(tx_hash)))
        except TransactionNotFound:
            return None

    def send_value(
        self, signer: LocalAccount, to: str, value: int, *, session: Session | None = None
    ) -> TxReceipt:
        """Send ``value`` wei of the native coin (e.g. gas money for a new verifier)."""
        tx = {
            **self._tx_fields(signer.address, 21_000),
            "to": Web3.to_checksum_address(to),
            "value": value,
        }
        signed = self._send(tx, signer, session)
        return self.wait_for_receipt(HexBytes(signed.tx_hash), signed.tx)

    def deploy(self, name: str, signer: LocalAccount, *args: Any) -> tuple[str, TxReceipt]:
        """Deploy contract ``name``; returns its address and the receipt."""
        factory = self.w3.eth.contract(
            abi=self.artifacts.abi(name), bytecode=self.artifacts.bytecode(name)
        )
        constructor = factory.constructor(*args)
        gas = int(
            self._decoded(lambda: constructor.estimate_gas({"from": signer.address})) * GAS_HEADROOM
        )
        tx = dict(
            constructor.build_transaction(cast(TxParams, self._tx_fields(signer.address, gas)))
        )
        signed = self._send(tx, signer)
        receipt = self.wait_for_receipt(HexBytes(signed.tx_hash), signed.tx)
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

    def _pending_count(self, address: str) -> int:
        """The node's count of ``address``'s transactions, those in its pool included."""
        return self.transaction_count(address, "pending")

    def _signed(self, tx: dict[str, Any], nonce: int, signer: LocalAccount) -> SignedTx:
        tx = {**tx, "nonce": nonce}
        signed = signer.sign_transaction(tx)
        return SignedTx(
            raw=bytes(signed.raw_transaction),
            tx_hash=HexBytes(signed.hash).to_0x_hex(),
            nonce=int(tx["nonce"]),
            sender=signer.address,
            tx=tx,
        )

    def wait_for_receipt(self, tx_hash: HexBytes, tx: dict[str, Any] | None = None) -> TxReceipt:
        try:
            receipt = _guard(
                lambda: self.w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=self.receipt_timeout, poll_latency=self.poll_interval
                )
            )
        except TimeExhausted as exc:
            raise ChainUnavailable(
                msg("no receipt for {tx_hash} in time", tx_hash=tx_hash.to_0x_hex())
            ) from exc
        if receipt["status"] != 1:
            raise self._revert_of(receipt, tx)
        if self.confirmations:
            target = receipt["blockNumber"] + self.confirmations
            while _guard(lambda: self.w3.eth.block_number) < target:
                time.sleep(self.poll_interval)
        return receipt

    def _revert_of(self, receipt: TxReceipt, tx: dict[str, Any] | None) -> ChainRevert:
        call: dict[str, Any] | None = (
            {k: tx[k] for k in ("from", "to", "data", "value") if k in tx} if tx else None
        )
        return self._replayed_revert(receipt, call)

    def revert_reason(self, receipt: TxReceipt, fn: ContractFunction, sender: str) -> ChainRevert:
        """Why a mined call of ``fn`` by ``sender`` failed."""
        call = dict(fn.build_transaction(cast(TxParams, {"from": sender, "gas": 10**6})))
        call = {k: call[k] for k in ("from", "to", "data") if k in call}
        return self._replayed_revert(receipt, call)

    def _replayed_revert(self, receipt: TxReceipt, call: dict[str, Any] | None) -> ChainRevert:
        """Replay a failed transaction as a call on the state before its block to get the error."""
        tx_hash = receipt["transactionHash"].to_0x_hex()
        if call is not None:
            try:
                self.w3.eth.call(cast(TxParams, call), receipt["blockNumber"] - 1)
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


def _already_known(exc: Exception) -> bool:
    """The node already holds (or mined) this very transaction."""
    message = str(exc).lower()
    return isinstance(exc, Web3RPCError | ValueError) and (
        "already known" in message
        or "already imported" in message
        or "known transaction" in message
    )


def _guard(action: Callable[[], T]) -> T:
    """Turn a dead or unreachable node into a 503 problem instead of a 500."""
    try:
        return action()
    except (RequestsConnectionError, RequestsTimeout, ConnectionError) as exc:
        raise ChainUnavailable("the blockchain node does not answer") from exc


def calldata(fn: ContractFunction) -> str:
    """The call data of ``fn`` (selector and arguments), as web3 would encode it, faster.

    web3 checks the arguments against the ABI when the call is built (an argument that does not
    fit is refused there), then, to encode, walks them twice more in Python (a second check and
    its normalisers); for a batch of a hundred fills that walk costs more than the node's run of
    the batch. Here the arguments are walked once, turning what the normalisers would turn (hex
    text for bytes, bytes for addresses and strings), and encoded by eth-abi, which refuses a
    value that does not fit its type. ``tests/chain/test_calldata.py`` holds the two equal.
    """
    inputs = fn.abi.get("inputs", [])
    try:
        values = [_normalised(i, v) for i, v in zip(inputs, fn.arguments, strict=True)]
        encoded = abi_encode([_abi_type(i) for i in inputs], values)
    except (EncodingError, ValueError) as exc:
        raise Web3TypeError(f"arguments of {fn.abi_element_identifier} do not fit: {exc}") from exc
    return str(fn.selector) + encoded.hex()


def _normalised(abi_input: Any, value: Any) -> Any:
    """``value`` as eth-abi takes it for ``abi_input``: web3's normalisers, for our types."""
    kind = str(abi_input["type"])
    if kind.endswith("]"):
        element = {**abi_input, "type": kind[: kind.rindex("[")]}
        return [_normalised(element, v) for v in value]
    if kind == "tuple":
        components = abi_input["components"]
        if isinstance(value, dict):
            value = [value[c["name"]] for c in components]
        return tuple(_normalised(c, v) for c, v in zip(components, value, strict=True))
    if kind.startswith("bytes") and isinstance(value, str):
        return bytes(HexBytes(value))
    if kind == "address" and isinstance(value, bytes | bytearray):
        return Web3.to_checksum_address(bytes(value))
    if kind == "string" and isinstance(value, bytes | bytearray):
        return bytes(value).decode()
    return value


def _abi_type(output: Any) -> str:
    """The ``eth_abi`` type of one ABI output (tuples spelled out from their components)."""
    kind = str(output["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in output.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind
