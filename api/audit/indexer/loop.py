"""The indexer's loop: every event of the deployment, read from a checkpoint into the database.

One *step* reads a range of blocks with one ``eth_getLogs`` and commits the range's rows, the
derived state and the new checkpoint in one database transaction, so a crash at any point
leaves either all of a block or none of it. Reading a block again is harmless: every event row
is unique on its block hash and log index. While a step writes, the next range is read ahead on
a thread; the next step uses that read only if it starts where the read does, and checks it as
it would its own.

Reorganisations. Before a step reads on, it asks the node for the block at the checkpoint: if
its hash is not the one stored, the chain changed under the index. The indexer then walks the
blocks it stored, newest first, until the node agrees on one (the common ancestor), deletes
every row above it, undoes their effect on the derived state, and reads on from there. Within a
step, the first block's parent hash must be the checkpoint's hash, every log's block hash must
be the hash of its block, and the range's last block must not change while the step reads; if
any of this fails the step commits nothing and is tried again.

Confirmations: the indexer stays ``confirmations`` blocks behind the head (0 on the devnet).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api import metrics
from api.audit.decoding import DecodedLog, LogDecoder
from api.audit.errors import ChainRpcError, IndexDeploymentChanged
from api.audit.indexer.projection import project, undo_above
from api.audit.indexer.reader import ChainMoved, ChainReader, Header
from api.audit.models import Block, Checkpoint
from api.chain.artifacts import Artifacts
from api.chain.deployments import Deployment, load_deployment
from api.errors import ChainUnavailable
from api.i18n import msg
from api.leases import Lease, LeaseLost
from api.settings import Settings

log = structlog.get_logger(__name__)

INDEXER_LEASE = "indexer"


@dataclass
class StepResult:
    """What one step did."""

    from_block: int = 0
    to_block: int = 0
    events: int = 0
    reorg_to: int | None = None  # the common ancestor, when the step rolled back
    caught_up: bool = False  # nothing left to read below head - confirmations


@dataclass
class _Read:
    """One range's logs as read and decoded, up to ``last``: less than asked when the node
    ``refused`` the range asked."""

    end_before: Header
    logs: list[dict[str, Any]]
    decoded: list[DecodedLog]
    last: int
    refused: bool


class _ReadAhead:
    """A read of ``first..last`` on a thread of its own (a daemon: a read nobody waits for is
    dropped); ``result`` waits for it and raises what it raised."""

    def __init__(self, read: Callable[[int, int], _Read], first: int, last: int) -> None:
        self.first, self.last = first, last
        self._future: Future[_Read] = Future()
        threading.Thread(
            target=self._run, args=(read,), name="crda-indexer-read-ahead", daemon=True
        ).start()

    def _run(self, read: Callable[[int, int], _Read]) -> None:
        try:
            self._future.set_result(read(self.first, self.last))
        except BaseException as exc:  # noqa: BLE001  (raised again in the step that waits)
            self._future.set_exception(exc)

    def result(self) -> _Read:
        return self._future.result()


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
        lease: Lease | None = None,
    ) -> None:
        self.sessions = sessions
        # Several processes may follow the chain: only the lease's holder steps (each step
        # renews it in its own transaction), the others stand by.
        self.lease = lease
        self.reader = reader
        self.deployment = deployment
        self.confirmations = confirmations
        self.max_block_range = max(1, block_range)
        # Start small and grow while blocks are quiet: a dense first range never floods a step.
        self.block_range = min(self.max_block_range, 100)
        self.max_logs = max_logs
        self._ahead: _ReadAhead | None = None  # the next range, read while a step writes
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
    def from_settings(
        cls, settings: Settings, sessions: sessionmaker[Session], *, leased: bool = False
    ) -> Indexer:
        """The indexer of ``settings``; ``leased``: one of several processes following the chain
        (the ``indexer`` lease decides which one works)."""
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
            lease=Lease(sessions, INDEXER_LEASE, ttl=settings.lease_ttl) if leased else None,
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
        if self.lease is not None and not self.lease.acquire():
            return StepResult(caught_up=True)  # another process indexes: rest
        try:
            result = self._step()
        except LeaseLost:
            return StepResult(caught_up=True)  # taken over meanwhile: nothing was committed
        # Caught up, rolled back or read: the index is being kept (api.metrics).
        metrics.heartbeat("indexer")
        return result

    def _fence(self, session: Session) -> None:
        """Renew the lease as the step's last statement, or roll the step back."""
        if self.lease is not None and not self.lease.claim(session):
            raise LeaseLost(self.lease.name)

    def _step(self) -> StepResult:
        head = self.reader.block_number()
        tip = head - self.confirmations
        with self.sessions() as session, session.begin():
            checkpoint = self._checkpoint(session)
            current = self.reader.header(checkpoint.block_number)
            if current is None or current.hash != checkpoint.block_hash:
                ancestor = self._roll_back(session, checkpoint)
                self._fence(session)
                return StepResult(reorg_to=ancestor)
            if tip <= checkpoint.block_number:
                self._fence(session)  # (a first checkpoint may have been made)
                return StepResult(caught_up=True, to_block=checkpoint.block_number)
            first = checkpoint.block_number + 1
            ahead, self._ahead = self._ahead, None
            if ahead is not None and ahead.first == first and ahead.last <= tip:
                read = ahead.result()
            else:
                read = self._read(first, min(first + self.block_range - 1, tip))
            end_before, logs, decoded, last = read.end_before, read.logs, read.decoded, read.last
            if read.refused:
                self.block_range = last - first + 1
            with_events = {d.block_number for d in decoded}
            headers = self.reader.headers({first, last, *with_events})
            start, end = headers.get(first), headers.get(last)
            if start is None or end is None or end.hash != end_before.hash:
                raise ChainMoved
            if start.parent_hash != checkpoint.block_hash:
                ancestor = self._roll_back(session, checkpoint)
                self._fence(session)
                return StepResult(reorg_to=ancestor)
            for d in decoded:
                header = headers.get(d.block_number)
                if header is None or header.hash != d.block_hash:
                    raise ChainMoved
            if last < tip:
                # The next range is read and decoded while this one is written (the database
                # driver lets go of the GIL); it is checked like any read when its step runs.
                following = last + 1
                size = self._adapted(self.block_range, len(logs))
                self._ahead = _ReadAhead(self._read, following, min(following + size - 1, tip))
            project(session, decoded, headers)
            checkpoint.block_number = last
            checkpoint.block_hash = end.hash
            checkpoint.updated_at = datetime.now(UTC)
            self._fence(session)
            result = StepResult(
                from_block=first, to_block=last, events=len(decoded), caught_up=last >= tip
            )
        self.block_range = self._adapted(self.block_range, len(logs))
        return result

    # -- reading ---------------------------------------------------------------------------

    def _read(self, first: int, last: int) -> _Read:
        """``eth_getLogs`` over ``first..last`` (halving the range when the node refuses it),
        with the header of the range's last block as it was before the read, decoded."""
        refused = False
        while True:
            end_before = self.reader.header(last)
            if end_before is None:
                raise ChainMoved
            try:
                logs = self.reader.logs(self.decoder.addresses, first, last)
            except ChainRpcError:
                if last == first:
                    raise
                last = first + (last - first + 1) // 2 - 1
                refused = True
                continue
            decoded = [d for d in (self.decoder.decode(entry) for entry in logs) if d]
            return _Read(end_before, logs, decoded, last, refused)

    def _adapted(self, block_range: int, count: int) -> int:
        """Keep a step near ``max_logs`` logs: fewer blocks when busy, more when quiet."""
        if count > self.max_logs:
            return max(1, block_range // 2)
        if count < self.max_logs // 4:
            return min(self.max_block_range, block_range * 2)
        return block_range

    def _checkpoint(self, session: Session) -> Checkpoint:
        checkpoint = session.scalars(select(Checkpoint).with_for_update()).first()
        if checkpoint is None:
            before = self.start_block - 1
            header = self.reader.header(before)
            if header is None:
                raise ChainUnavailable(msg("the node has no block {before}", before=before))
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
                msg(
                    "the index holds chain {chain_id} ({deployment_key}); "
                    "the deployment is chain {deployment_chain_id} ({key})",
                    chain_id=checkpoint.chain_id,
                    deployment_key=checkpoint.deployment_key,
                    deployment_chain_id=self.deployment.chain_id,
                    key=self.key,
                )
            )
        return checkpoint

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
                raise ChainUnavailable(msg("the node has no block {before}", before=before))
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
