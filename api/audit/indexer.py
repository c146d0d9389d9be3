"""The indexer: every event of the deployment, read from a checkpoint into the database.

One *step* reads a range of blocks with one ``eth_getLogs`` and commits the range's rows, the
derived state and the new checkpoint in one database transaction, so a crash at any point
leaves either all of a block or none of it. Reading a block again is harmless: every event row
is unique on its block hash and log index.

Reorganisations. Before a step reads on, it asks the node for the block at the checkpoint: if
its hash is not the one stored, the chain changed under the index. The indexer then walks the
blocks it stored, newest first, until the node agrees on one (the common ancestor), deletes
every row above it, undoes their effect on the derived state, and reads on from there. Within a
step, the first block's parent hash must be the checkpoint's hash, every log's block hash must
be the hash of its block, and the range's last block must not change while the step reads; if
any of this fails the step commits nothing and is tried again.

Confirmations: the indexer stays ``confirmations`` blocks behind the head (0 on the devnet).
Only standard JSON-RPC is used (``eth_chainId``, ``eth_blockNumber``, ``eth_getBlockByNumber``,
``eth_getLogs``), so the same code follows Hardhat, anvil or a Besu network.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import structlog
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout
from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import HTTPProvider

from api.audit.decoding import DecodedLog, LogDecoder, to_json_value
from api.audit.errors import ChainRpcError, IndexDeploymentChanged, IndexInconsistent
from api.audit.models import (
    ALL_TABLES,
    EVENT_TABLES,
    AttestationEvent,
    Balance,
    BatchClaim,
    Block,
    Checkpoint,
    Event,
    Identity,
    IssuedBatch,
    Retirement,
    SupplyPoint,
    Transfer,
)
from api.chain.artifacts import Artifacts
from api.chain.deployments import Deployment, load_deployment
from api.db import Base
from api.errors import ChainUnavailable, Problem
from api.settings import Settings

log = structlog.get_logger(__name__)

ZERO_ADDRESS = "0x" + "00" * 20
_IN_CHUNK = 500  # values per SQL IN (...) list


# -- JSON-RPC ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class ChainMoved(Exception):
    """The chain changed while a step was reading it; the step is tried again."""


class ChainReader:
    """The few standard JSON-RPC calls the indexer needs, without web3's per-field formatting."""

    def __init__(self, rpc_url: str, timeout: float = 30.0) -> None:
        self.provider = HTTPProvider(rpc_url, request_kwargs={"timeout": timeout})

    def _call(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.provider.make_request(method, params)  # type: ignore[arg-type,unused-ignore]
        except (RequestsConnectionError, RequestsTimeout, ConnectionError) as exc:
            raise ChainUnavailable("the blockchain node does not answer") from exc
        if "error" in response:
            raise ChainRpcError(f"{method}: {response['error']}", rpc_error=response["error"])
        return response["result"]

    def chain_id(self) -> int:
        return int(self._call("eth_chainId", []), 16)

    def block_number(self) -> int:
        return int(self._call("eth_blockNumber", []), 16)

    def headers(self, numbers: Iterable[int]) -> dict[int, Header | None]:
        """Headers of ``numbers`` in one JSON-RPC batch (None for a block the node lacks)."""
        wanted = sorted(set(numbers))
        if not wanted:
            return {}
        requests = [("eth_getBlockByNumber", [hex(n), False]) for n in wanted]
        try:
            responses = self.provider.make_batch_request(requests)  # type: ignore[arg-type]
        except (RequestsConnectionError, RequestsTimeout, ConnectionError) as exc:
            raise ChainUnavailable("the blockchain node does not answer") from exc
        if isinstance(responses, dict):  # the node refused the whole batch
            raise ChainRpcError(f"eth_getBlockByNumber: {responses.get('error')}")
        by_id = sorted(responses, key=lambda r: int(str(r["id"])))
        out: dict[int, Header | None] = {}
        for number, response in zip(wanted, by_id, strict=True):
            if "error" in response:
                raise ChainRpcError(f"eth_getBlockByNumber: {response['error']}")
            block = response.get("result")
            out[number] = (
                None
                if block is None
                else Header(
                    number=int(block["number"], 16),
                    hash=block["hash"].lower(),
                    parent_hash=block["parentHash"].lower(),
                    timestamp=int(block["timestamp"], 16),
                )
            )
        return out

    def header(self, number: int) -> Header | None:
        return self.headers([number])[number]

    def logs(
        self, addresses: Sequence[str], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "eth_getLogs",
            [{"address": list(addresses), "fromBlock": hex(from_block), "toBlock": hex(to_block)}],
        )
        return result


# -- the indexer ---------------------------------------------------------------------------


@dataclass
class StepResult:
    """What one step did."""

    from_block: int = 0
    to_block: int = 0
    events: int = 0
    reorg_to: int | None = None  # the common ancestor, when the step rolled back
    caught_up: bool = False  # nothing left to read below head - confirmations


@dataclass
class RunStats:
    events: int = 0
    blocks: int = 0
    steps: int = 0
    reorgs: int = 0
    checkpoint: int = 0
    head: int = 0
    seconds: float = 0.0


def deployment_key(deployment: Deployment) -> str:
    return ";".join(
        f"{name}={deployment.contracts[name].address.lower()}"
        for name in sorted(deployment.contracts)
    )


@dataclass
class _Batch:
    """The rows and derived-state changes of one step, built in memory, written in bulk."""

    events: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    retirements: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    attestations: list[dict[str, Any]] = field(default_factory=list)
    # address -> [balance delta, retired delta]
    deltas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    # block -> [minted, burnt, retired] in that block
    supply: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))


class Indexer:
    """Reads one deployment's events into one database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        reader: ChainReader,
        deployment: Deployment,
        artifacts: Artifacts,
        *,
        confirmations: int = 0,
        block_range: int = 2000,
        max_logs: int = 20_000,
    ) -> None:
        self.sessions = sessions
        self.reader = reader
        self.deployment = deployment
        self.confirmations = confirmations
        self.max_block_range = max(1, block_range)
        # Start small and grow while blocks are quiet: a dense first range never floods a step.
        self.block_range = min(self.max_block_range, 100)
        self.max_logs = max_logs
        self.key = deployment_key(deployment)
        self.start_block = min(c.block_number for c in deployment.contracts.values())
        self.decoder = LogDecoder(
            {
                name: (contract.address, artifacts.abi(name))
                for name, contract in deployment.contracts.items()
                if name in artifacts.contracts
            }
        )

    @classmethod
    def from_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> Indexer:
        reader = ChainReader(settings.rpc_url)
        deployment = load_deployment(settings.deployments_dir, reader.chain_id())
        return cls(
            sessions,
            reader,
            deployment,
            Artifacts.load(settings.artifacts_path),
            confirmations=settings.indexer_confirmations,
            block_range=settings.indexer_block_range,
            max_logs=settings.indexer_max_logs,
        )

    # -- running ---------------------------------------------------------------------------

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        follow: bool = False,
        poll_interval: float = 1.0,
        progress: Callable[[RunStats], None] | None = None,
    ) -> RunStats:
        """Catch up to ``head - confirmations``; with ``follow``, keep following until ``stop``."""
        stop = stop or threading.Event()
        stats = RunStats()
        started = time.monotonic()
        while not stop.is_set():
            try:
                result = self.step()
            except ChainMoved:
                time.sleep(0.05)
                continue
            stats.steps += 1
            stats.events += result.events
            if result.reorg_to is not None:
                stats.reorgs += 1
            elif result.to_block:
                stats.blocks += result.to_block - result.from_block + 1
            stats.checkpoint = result.to_block or stats.checkpoint
            stats.seconds = time.monotonic() - started
            if progress:
                progress(stats)
            if result.caught_up:
                if not follow:
                    break
                stop.wait(poll_interval)
        stats.seconds = time.monotonic() - started
        return stats

    def step(self) -> StepResult:
        """Read the next range (or roll back a reorganisation) in one database transaction."""
        head = self.reader.block_number()
        tip = head - self.confirmations
        with self.sessions() as session, session.begin():
            checkpoint = self._checkpoint(session)
            current = self.reader.header(checkpoint.block_number)
            if current is None or current.hash != checkpoint.block_hash:
                return StepResult(reorg_to=self._roll_back(session, checkpoint))
            if tip <= checkpoint.block_number:
                return StepResult(caught_up=True, to_block=checkpoint.block_number)
            first = checkpoint.block_number + 1
            last = min(first + self.block_range - 1, tip)
            end_before, logs, last = self._read_logs(first, last)
            decoded = [d for d in (self.decoder.decode(entry) for entry in logs) if d]
            with_events = {d.block_number for d in decoded}
            headers = self.reader.headers({first, last, *with_events})
            start, end = headers.get(first), headers.get(last)
            if start is None or end is None or end.hash != end_before.hash:
                raise ChainMoved
            if start.parent_hash != checkpoint.block_hash:
                return StepResult(reorg_to=self._roll_back(session, checkpoint))
            for d in decoded:
                header = headers.get(d.block_number)
                if header is None or header.hash != d.block_hash:
                    raise ChainMoved
            self._apply(session, decoded, headers)
            if with_events:
                session.execute(
                    _table(Block).insert(),
                    [
                        {
                            "number": h.number,
                            "hash": h.hash,
                            "parent_hash": h.parent_hash,
                            "timestamp": h.timestamp,
                        }
                        for n, h in sorted(headers.items())
                        if h is not None and n in with_events
                    ],
                )
            checkpoint.block_number = last
            checkpoint.block_hash = end.hash
            checkpoint.updated_at = datetime.now(UTC)
            result = StepResult(
                from_block=first, to_block=last, events=len(decoded), caught_up=last >= tip
            )
        self._adapt(len(logs))
        return result

    # -- reading ---------------------------------------------------------------------------

    def _read_logs(self, first: int, last: int) -> tuple[Header, list[dict[str, Any]], int]:
        """``eth_getLogs`` over ``first..last`` (halving the range when the node refuses it),
        with the header of the range's last block as it was before the read."""
        while True:
            end_before = self.reader.header(last)
            if end_before is None:
                raise ChainMoved
            try:
                return end_before, self.reader.logs(self.decoder.addresses, first, last), last
            except ChainRpcError:
                if last == first:
                    raise
                last = first + (last - first + 1) // 2 - 1
                self.block_range = last - first + 1

    def _adapt(self, count: int) -> None:
        """Keep a step near ``max_logs`` logs: fewer blocks when busy, more when quiet."""
        if count > self.max_logs:
            self.block_range = max(1, self.block_range // 2)
        elif count < self.max_logs // 4:
            self.block_range = min(self.max_block_range, self.block_range * 2)

    def _checkpoint(self, session: Session) -> Checkpoint:
        checkpoint = session.scalars(select(Checkpoint).with_for_update()).first()
        if checkpoint is None:
            before = self.start_block - 1
            header = self.reader.header(before)
            if header is None:
                raise ChainUnavailable(f"the node has no block {before}")
            checkpoint = Checkpoint(
                chain_id=self.deployment.chain_id,
                deployment_key=self.key,
                start_block=self.start_block,
                block_number=before,
                block_hash=header.hash,
                reorgs=0,
                updated_at=datetime.now(UTC),
            )
            session.add(checkpoint)
            session.flush()
        elif (
            checkpoint.chain_id != self.deployment.chain_id or checkpoint.deployment_key != self.key
        ):
            raise IndexDeploymentChanged(
                f"the index holds chain {checkpoint.chain_id} ({checkpoint.deployment_key}); "
                f"the deployment is chain {self.deployment.chain_id} ({self.key})"
            )
        return checkpoint

    # -- writing ---------------------------------------------------------------------------

    def _apply(
        self, session: Session, decoded: list[DecodedLog], headers: dict[int, Header | None]
    ) -> None:
        batch = _Batch()
        identity_events: list[dict[str, Any]] = []
        for d in decoded:
            header = headers[d.block_number]
            assert header is not None
            key = {
                "block_number": d.block_number,
                "log_index": d.log_index,
                "tx_hash": d.tx_hash,
                "block_time": header.timestamp,
            }
            batch.events.append(
                {
                    **key,
                    "block_hash": d.block_hash,
                    "contract": d.contract,
                    "address": d.address,
                    "event": d.event,
                    "args": json.dumps(
                        {k: to_json_value(v) for k, v in d.args.items()}, separators=(",", ":")
                    ),
                }
            )
            self._typed(d, key, batch, identity_events)
        if batch.events:
            session.execute(_table(Event).insert(), batch.events)
        for model, rows in (
            (Transfer, batch.transfers),
            (Retirement, batch.retirements),
            (IssuedBatch, batch.batches),
            (BatchClaim, batch.claims),
            (AttestationEvent, batch.attestations),
        ):
            if rows:
                session.execute(_table(model).insert(), rows)
        _apply_deltas(session, batch.deltas)
        _extend_supply(session, batch.supply, headers)
        _apply_identities(session, identity_events)

    def _typed(
        self,
        d: DecodedLog,
        key: dict[str, Any],
        batch: _Batch,
        identity_events: list[dict[str, Any]],
    ) -> None:
        a = d.args
        if d.contract == "CRDAToken" and d.event == "Transfer":
            sender, recipient, value = a["from"].lower(), a["to"].lower(), int(a["value"])
            batch.transfers.append(
                {**key, "sender": sender, "recipient": recipient, "amount": value}
            )
            if sender == ZERO_ADDRESS:
                batch.supply[d.block_number][0] += value
            else:
                batch.deltas[sender][0] -= value
            if recipient == ZERO_ADDRESS:
                batch.supply[d.block_number][1] += value
            else:
                batch.deltas[recipient][0] += value
        elif d.contract == "CRDAToken" and d.event == "Retired":
            amount = int(a["amount"])
            holder = a["holder"].lower()
            batch.retirements.append(
                {
                    **key,
                    "certificate_id": int(a["certificateId"]),
                    "holder": holder,
                    "amount": amount,
                    "beneficiary_hash": "0x" + a["beneficiaryHash"].hex(),
                    "reason": a["reason"],
                }
            )
            batch.deltas[holder][1] += amount
            batch.supply[d.block_number][2] += amount
        elif d.contract == "Issuance" and d.event == "BatchIssued":
            batch_id = "0x" + a["batchId"].hex()
            claim_ids = list(a["claimIds"])
            batch.batches.append(
                {
                    **key,
                    "batch_id": batch_id,
                    "merkle_root": "0x" + a["merkleRoot"].hex(),
                    "total_amount": int(a["totalAmount"]),
                    "claim_count": len(claim_ids),
                }
            )
            batch.claims.extend(
                {
                    "batch_id": batch_id,
                    "position": i,
                    "claim_id": "0x" + c.hex(),
                    "block_number": d.block_number,
                }
                for i, c in enumerate(claim_ids)
            )
        elif d.contract == "IdentityRegistry" and d.event in ("Attested", "Revoked"):
            attested = d.event == "Attested"
            row = {
                **key,
                "kind": "attested" if attested else "revoked",
                "account": a["account"].lower(),
                "actor": (a["verifier"] if attested else a["by"]).lower(),
                "credential_hash": "0x" + a["credentialHash"].hex(),
                "level": int(a["level"]) if attested else None,
                "expires_at": int(a["expiresAt"]) if attested else None,
            }
            batch.attestations.append(row)
            identity_events.append(row)

    # -- reorganisations -------------------------------------------------------------------

    def _roll_back(self, session: Session, checkpoint: Checkpoint) -> int:
        """Find the newest stored block the node still has, delete everything above it."""
        ancestor: tuple[int, str] | None = None
        upper = checkpoint.block_number
        while ancestor is None:
            stored = session.execute(
                select(Block.number, Block.hash)
                .where(Block.number <= upper)
                .order_by(Block.number.desc())
                .limit(64)
            ).all()
            if not stored:
                break
            on_chain = self.reader.headers(n for n, _h in stored)
            for number, stored_hash in stored:
                header = on_chain.get(number)
                if header is not None and header.hash == stored_hash:
                    ancestor = (number, stored_hash)
                    break
            upper = stored[-1][0] - 1
        if ancestor is None:
            before = checkpoint.start_block - 1
            header = self.reader.header(before)
            if header is None:
                raise ChainUnavailable(f"the node has no block {before}")
            ancestor = (before, header.hash)
        number, block_hash = ancestor
        log.warning(
            "index_reorganisation",
            checkpoint=checkpoint.block_number,
            common_ancestor=number,
            depth=checkpoint.block_number - number,
        )
        undo_above(session, number)
        checkpoint.block_number = number
        checkpoint.block_hash = block_hash
        checkpoint.reorgs += 1
        checkpoint.updated_at = datetime.now(UTC)
        return number


# -- derived state -------------------------------------------------------------------------


def _table(model: type[Base]) -> Table:
    """A model's table: Core executemany inserts skip the ORM's per-row bookkeeping."""
    return cast(Table, model.__table__)


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _apply_deltas(session: Session, deltas: dict[str, list[int]]) -> None:
    """Add balance and retired deltas per address (bulk update existing rows, insert new)."""
    if not deltas:
        return
    addresses = sorted(deltas)
    existing: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(addresses):
        for address, balance, retired in session.execute(
            select(Balance.address, Balance.balance, Balance.retired).where(
                Balance.address.in_(chunk)
            )
        ):
            existing[address] = (balance, retired)
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for address in addresses:
        d_balance, d_retired = deltas[address]
        balance, retired = existing.get(address, (0, 0))
        new_balance, new_retired = balance + d_balance, retired + d_retired
        if new_balance < 0 or new_retired < 0:
            raise IndexInconsistent(f"{address} would hold a negative amount", address=address)
        row = {"address": address, "balance": new_balance, "retired": new_retired}
        (updates if address in existing else inserts).append(row)
    if updates:
        table = _table(Balance)
        session.execute(
            table.update()
            .where(table.c.address == bindparam("b_address"))
            .values(balance=bindparam("b_balance"), retired=bindparam("b_retired")),
            [{f"b_{k}": v for k, v in row.items()} for row in updates],
        )
    if inserts:
        session.execute(_table(Balance).insert(), inserts)


def _extend_supply(
    session: Session, per_block: dict[int, list[int]], headers: dict[int, Header | None]
) -> None:
    if not per_block:
        return
    last = session.scalars(select(SupplyPoint).order_by(SupplyPoint.block_number.desc())).first()
    minted, burnt, retired = (last.minted, last.burnt, last.retired) if last else (0, 0, 0)
    rows = []
    for number in sorted(per_block):
        d_minted, d_burnt, d_retired = per_block[number]
        minted, burnt, retired = minted + d_minted, burnt + d_burnt, retired + d_retired
        header = headers[number]
        assert header is not None
        rows.append(
            {
                "block_number": number,
                "block_time": header.timestamp,
                "minted": minted,
                "burnt": burnt,
                "retired": retired,
            }
        )
    session.execute(_table(SupplyPoint).insert(), rows)


def _apply_identities(session: Session, events: list[dict[str, Any]]) -> None:
    """Replay attestation events (in chain order) onto each account's current identity."""
    for event in events:
        identity = session.get(Identity, event["account"])
        if event["kind"] == "attested":
            values = {
                "verifier": event["actor"],
                "level": event["level"],
                "expires_at": event["expires_at"],
                "credential_hash": event["credential_hash"],
                "revoked": False,
                "block_number": event["block_number"],
            }
            if identity is None:
                session.add(Identity(account=event["account"], **values))
            else:
                for name, value in values.items():
                    setattr(identity, name, value)
        elif identity is not None:
            identity.revoked = True
            identity.block_number = event["block_number"]
        session.flush()


def undo_above(session: Session, block_number: int) -> None:
    """Delete every row above ``block_number`` and undo its effect on the derived state."""
    deltas: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    touched: set[str] = set()
    for sender, recipient, amount in session.execute(
        select(Transfer.sender, Transfer.recipient, Transfer.amount).where(
            Transfer.block_number > block_number
        )
    ):
        if sender != ZERO_ADDRESS:
            deltas[sender][0] += amount
            touched.add(sender)
        if recipient != ZERO_ADDRESS:
            deltas[recipient][0] -= amount
            touched.add(recipient)
    for holder, amount in session.execute(
        select(Retirement.holder, Retirement.amount).where(Retirement.block_number > block_number)
    ):
        deltas[holder][1] -= amount
    accounts = sorted(
        session.scalars(
            select(AttestationEvent.account)
            .where(AttestationEvent.block_number > block_number)
            .distinct()
        )
    )
    above: tuple[type[Base], ...] = (*EVENT_TABLES, BatchClaim, SupplyPoint)
    for model in above:
        table = cast(Table, model.__table__)
        session.execute(delete(table).where(table.c.block_number > block_number))
    session.execute(delete(Block).where(Block.number > block_number))
    _apply_deltas(session, deltas)
    # An address no remaining transfer mentions has no row in a clean index either.
    for chunk in _chunks(sorted(touched)):
        mentioned = set(
            session.scalars(select(Transfer.sender).where(Transfer.sender.in_(chunk)).distinct())
        ) | set(
            session.scalars(
                select(Transfer.recipient).where(Transfer.recipient.in_(chunk)).distinct()
            )
        )
        gone = [a for a in chunk if a not in mentioned]
        if gone:
            session.execute(delete(Balance).where(Balance.address.in_(gone)))
    for chunk in _chunks(accounts):
        session.execute(delete(Identity).where(Identity.account.in_(chunk)))
        session.flush()
        remaining = session.execute(
            select(AttestationEvent)
            .where(AttestationEvent.account.in_(chunk))
            .order_by(AttestationEvent.block_number, AttestationEvent.log_index)
        ).scalars()
        _apply_identities(
            session,
            [
                {
                    "kind": e.kind,
                    "account": e.account,
                    "actor": e.actor,
                    "credential_hash": e.credential_hash,
                    "level": e.level,
                    "expires_at": e.expires_at,
                    "block_number": e.block_number,
                }
                for e in remaining
            ],
        )


def reset_index(session: Session) -> None:
    """Empty every table of the index (the next run reads from the deployment's first block)."""
    for model in reversed(ALL_TABLES):
        session.execute(delete(cast(Table, model.__table__)))


def indexed_block(session: Session) -> int | None:
    """The checkpoint's block, or None before the first step."""
    return session.scalar(select(func.max(Checkpoint.block_number)))


# -- running inside the API process --------------------------------------------------------


class IndexerThread:
    """The indexer as a daemon thread of the API process, stopped cleanly on shutdown."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        factory: Callable[[], Indexer] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self._factory = factory or (lambda: Indexer.from_settings(settings, sessions))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.caught_up = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="crda-indexer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        backoff = self.settings.indexer_poll_interval
        indexer: Indexer | None = None
        while not self._stop.is_set():
            try:
                if indexer is None:
                    indexer = self._factory()
                indexer.run(
                    stop=self._stop,
                    follow=True,
                    poll_interval=self.settings.indexer_poll_interval,
                    progress=lambda s: self.caught_up.set() if s.checkpoint else None,
                )
                backoff = self.settings.indexer_poll_interval
                self.last_error = None
            except Exception as exc:  # noqa: BLE001  (keep following; say why it paused)
                self.last_error = exc.detail if isinstance(exc, Problem) else repr(exc)
                log.warning("indexer_paused", error=self.last_error, retry_in=backoff)
                if isinstance(exc, IndexDeploymentChanged | ChainUnavailable):
                    indexer = None  # the deployment or node may have changed: reload
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)


__all__ = [
    "ChainMoved",
    "ChainReader",
    "Header",
    "Indexer",
    "IndexerThread",
    "RunStats",
    "StepResult",
    "indexed_block",
    "reset_index",
    "undo_above",
]
