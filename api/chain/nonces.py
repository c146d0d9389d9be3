"""Where a signer's next nonce comes from: process memory (one process) or the database (many).

A nonce is *allocated* for the length of a ``with`` block: the block signs (and, on the direct
paths, broadcasts) the transaction. The database source keeps the allocation only if the block
ends without an error, so a transaction the node refused does not leave a gap; given a session,
the allocation is part of that session's transaction instead (the outbox stores the signed
transaction and spends its nonce in one commit: a crash before it allocates nothing).

Either source takes the node's ``pending`` count into account, so a transaction sent from the
key outside the platform (or a row lost with a restored database) is never reused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from sqlalchemy import case, update
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from api.chain.addresses import checksum
from api.chain.models import SignerNonce
from api.db import insert_if_absent
from api.timeutil import utcnow


class NonceSource(Protocol):
    """The next nonce of a signing address."""

    def allocate(self, address: str, session: Session | None = None) -> AbstractContextManager[int]:
        """The next nonce of ``address``, held for the block: kept when the block ends without
        an error, given back otherwise. With ``session``, the allocation is part of that
        session's transaction (committed or rolled back with it)."""
        ...

    def reserve(self, address: str) -> int:
        """A nonce spent at once (the caller signs and sends it on its own)."""
        ...

    def forget(self, address: str) -> None:
        """The node refused a transaction of ``address``: counters may have drifted."""
        ...


class NonceManager:
    """Next nonce per address, seeded once from the node's pending count, then kept in memory.

    Safe while one process signs for a key (tests, scripts, deployment); the platform's
    processes use :class:`DatabaseNonces`.
    """

    def __init__(self, w3: Web3, count: Callable[[str], int] | None = None) -> None:
        self._count = count or (
            lambda address: w3.eth.get_transaction_count(
                Web3.to_checksum_address(address), "pending"
            )
        )
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, address: str) -> int:
        with self._lock:
            if address not in self._next:
                self._next[address] = self._count(address)
            nonce = self._next[address]
            self._next[address] = nonce + 1
            return nonce

    @contextmanager
    def allocate(self, address: str, session: Session | None = None) -> Iterator[int]:
        nonce = self.reserve(address)
        try:
            yield nonce
        except BaseException:
            # Not sent: re-seed from the node rather than leave a gap.
            self.forget(address)
            raise

    def forget(self, address: str) -> None:
        """Re-seed from the node on the next send (after a send failed or nonces drifted)."""
        with self._lock:
            self._next.pop(address, None)


class DatabaseNonces:
    """Nonces allocated from ``signer_nonces``, one row per (chain, signer), in any number of
    processes on SQLite or PostgreSQL.

    Allocating is one ``UPDATE ... RETURNING`` of the signer's row: it locks the row on
    PostgreSQL and, as the transaction's first write, takes the database's write lock on
    SQLite, until the allocating transaction ends. The nonce is the larger of the row's next
    and the node's pending count, read before the lock (no chain call is made under it).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        chain_id: int,
        genesis: str,
        count: Callable[[str], int],
    ) -> None:
        self._sessions = sessions
        self._chain_id = chain_id
        self._genesis = genesis
        self._count = count

    @contextmanager
    def allocate(self, address: str, session: Session | None = None) -> Iterator[int]:
        address = checksum(address)
        pending = self._count(address)
        if session is not None:
            yield self._take(session, address, pending)
            return
        with self._sessions() as own, own.begin():
            yield self._take(own, address, pending)

    def reserve(self, address: str) -> int:
        with self.allocate(address) as nonce:
            return nonce

    def forget(self, address: str) -> None:
        """Nothing to re-seed: every allocation reads the node's count."""

    def _take(self, session: Session, address: str, pending: int) -> int:
        taken = self._advance(session, address, pending)
        if taken is None:
            # The signer's first allocation on this chain: make its row, then take from it.
            insert_if_absent(
                session,
                SignerNonce,
                chain_id=self._chain_id,
                genesis=self._genesis,
                address=address,
                next_nonce=0,
                updated_at=utcnow(),
            )
            taken = self._advance(session, address, pending)
            assert taken is not None
        return taken

    def _advance(self, session: Session, address: str, pending: int) -> int | None:
        """max(row's next, pending), with the row moved one past it; None without a row."""
        start = case((SignerNonce.next_nonce > pending, SignerNonce.next_nonce), else_=pending)
        next_nonce = session.execute(
            update(SignerNonce)
            .where(
                SignerNonce.chain_id == self._chain_id,
                SignerNonce.genesis == self._genesis,
                SignerNonce.address == address,
            )
            .values(next_nonce=start + 1, updated_at=utcnow())
            .returning(SignerNonce.next_nonce)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        return None if next_nonce is None else int(next_nonce) - 1
