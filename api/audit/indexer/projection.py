"""Projecting decoded events into the audit tables.

Each event becomes one row of ``audit_events`` and, for the kinds the auditor asks about, one
typed row (transfers, retirements, batches and their claims, attestations); the derived state
(balances, the supply series, current identities) follows from those rows. Everything a step
projects is built in memory and written in bulk inside the step's transaction. ``undo_above``
is the inverse: it deletes every row above a block and undoes its effect on the derived state,
so an index rolled back to a block equals one that never read past it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ARRAY, Table, Text, any_, bindparam, delete, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.audit.decoding import DecodedLog
from api.audit.errors import IndexInconsistent
from api.audit.indexer.reader import Header
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
    UInt256,
)
from api.chain.addresses import ZERO_ADDRESS
from api.db import Base
from api.i18n import msg

_IN_CHUNK = 500  # values per SQL IN (...) list


# Column order of the rows a step builds (tuples: no dict per row and column).
_KEY = ("block_number", "log_index", "tx_hash", "block_time")
_COLUMNS: dict[type[Base], tuple[str, ...]] = {
    Event: (*_KEY, "block_hash", "contract", "address", "event", "args"),
    Transfer: (*_KEY, "sender", "recipient", "amount"),
    Retirement: (*_KEY, "certificate_id", "holder", "amount", "beneficiary_hash", "reason"),
    IssuedBatch: (*_KEY, "batch_id", "merkle_root", "total_amount", "claim_count"),
    BatchClaim: ("batch_id", "position", "claim_id", "block_number"),
    AttestationEvent: (
        *_KEY,
        *("kind", "account", "actor", "credential_hash", "level", "expires_at"),
    ),
    Block: ("number", "hash", "parent_hash", "timestamp"),
    Balance: ("address", "balance", "retired"),
    SupplyPoint: ("block_number", "block_time", "minted", "burnt", "retired"),
}


@dataclass
class _Batch:
    """The rows and derived-state changes of one step, built in memory, written in bulk.
    Rows are tuples in ``_COLUMNS`` order, amounts still Python integers."""

    rows: dict[type[Base], list[tuple[Any, ...]]] = field(
        default_factory=lambda: {model: [] for model in _COLUMNS}
    )
    # address -> [balance delta, retired delta]
    deltas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    # block -> [minted, burnt, retired] in that block
    supply: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))


def project(session: Session, decoded: list[DecodedLog], headers: dict[int, Header | None]) -> None:
    """Write one step's events, their typed rows, the derived state and the blocks that hold
    them (``headers`` has every such block)."""
    batch = _Batch()
    identity_events: list[dict[str, Any]] = []
    events = batch.rows[Event]
    times = {n: h.timestamp for n, h in headers.items() if h is not None}
    for d in decoded:
        key = (d.block_number, d.log_index, d.tx_hash, times[d.block_number])
        events.append(
            (
                *key,
                d.block_hash,
                d.contract,
                d.address,
                d.event,
                d.args_json,
            )
        )
        _typed(d, key, batch, identity_events)
    with_events = {d.block_number for d in decoded}
    batch.rows[Block] = [
        (h.number, h.hash, h.parent_hash, h.timestamp)
        for n, h in sorted(headers.items())
        if h is not None and n in with_events
    ]
    for model in (Event, Transfer, Retirement, IssuedBatch, BatchClaim, AttestationEvent):
        _insert(session, model, batch.rows[model])
    _apply_deltas(session, batch.deltas)
    _extend_supply(session, batch.supply, headers)
    _apply_identities(session, identity_events)
    _insert(session, Block, batch.rows[Block])


def _typed(
    d: DecodedLog,
    key: tuple[Any, ...],
    batch: _Batch,
    identity_events: list[dict[str, Any]],
) -> None:
    a = d.args
    if d.contract == "CRDAToken" and d.event == "Transfer":
        sender, recipient, value = a["from"].lower(), a["to"].lower(), int(a["value"])
        batch.rows[Transfer].append((*key, sender, recipient, value))
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
        batch.rows[Retirement].append(
            (
                *key,
                int(a["certificateId"]),
                holder,
                amount,
                "0x" + a["beneficiaryHash"].hex(),
                a["reason"],
            )
        )
        batch.deltas[holder][1] += amount
        batch.supply[d.block_number][2] += amount
    elif d.contract == "Issuance" and d.event == "BatchIssued":
        batch_id = "0x" + a["batchId"].hex()
        claim_ids = list(a["claimIds"])
        batch.rows[IssuedBatch].append(
            (
                *key,
                batch_id,
                "0x" + a["merkleRoot"].hex(),
                int(a["totalAmount"]),
                len(claim_ids),
            )
        )
        batch.rows[BatchClaim].extend(
            (batch_id, i, "0x" + c.hex(), d.block_number) for i, c in enumerate(claim_ids)
        )
    elif d.contract == "IdentityRegistry" and d.event in ("Attested", "Revoked"):
        attested = d.event == "Attested"
        row = (
            *key,
            "attested" if attested else "revoked",
            a["account"].lower(),
            (a["verifier"] if attested else a["by"]).lower(),
            "0x" + a["credentialHash"].hex(),
            int(a["level"]) if attested else None,
            int(a["expiresAt"]) if attested else None,
        )
        batch.rows[AttestationEvent].append(row)
        identity_events.append(dict(zip(_COLUMNS[AttestationEvent], row, strict=True)))


# -- derived state -------------------------------------------------------------------------


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _bound(
    model: type[Base], columns: Sequence[str], rows: list[tuple[Any, ...]], dialect: Dialect
) -> list[tuple[Any, ...]]:
    """``rows`` with their amounts bound as :class:`UInt256` binds them (no other column of the
    index needs a conversion the driver does not make)."""
    table = _table(model)
    amounts = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UInt256)]
    bind = UInt256().dialect_impl(dialect).bind_processor(dialect)
    if not amounts or bind is None:
        return rows
    out: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for i in amounts:
            values[i] = bind(values[i])
        out.append(tuple(values))
    return out


def _insert(session: Session, model: type[Base], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (in ``_COLUMNS`` order) through the driver: one ``executemany``, or
    ``COPY`` on PostgreSQL. A Core insert spent a fifth of a catch-up processing each row's
    parameters (issue 18's profile)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    columns = _COLUMNS[model]
    quote = dialect.identifier_preparer
    into = f"{quote.format_table(_table(model))} ({', '.join(quote.quote(c) for c in columns)})"
    values = _bound(model, columns, rows, dialect)
    if dialect.name == "postgresql":
        statement = f"COPY {into} FROM STDIN"
        cursor: Any = connection.connection.cursor()
        try:
            with cursor.copy(statement) as copy:
                for row in values:
                    copy.write_row(row)
        except dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy raises it for a statement (an IntegrityError for a duplicate row).
            raise DBAPIError.instance(
                statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        finally:
            cursor.close()
        return
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(columns))
    # Only the models' own names go into the statement; the values are parameters.
    connection.exec_driver_sql(f"INSERT INTO {into} VALUES ({marks})", values)  # noqa: S608


def _apply_deltas(session: Session, deltas: dict[str, list[int]]) -> None:
    """Add balance and retired deltas per address (bulk update existing rows, insert new)."""
    if not deltas:
        return
    addresses = sorted(deltas)
    existing: dict[str, tuple[int, int]] = {}
    columns = select(Balance.address, Balance.balance, Balance.retired)
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: IN lists of 500 were a fifth of a catch-up there.
        queries = [
            columns.where(
                Balance.address == any_(bindparam("addresses", addresses, type_=ARRAY(Text)))
            )
        ]
    else:
        queries = [columns.where(Balance.address.in_(c)) for c in _chunks(addresses)]
    for query in queries:
        for address, balance, retired in session.execute(query):
            existing[address] = (balance, retired)
    updates: list[dict[str, Any]] = []
    inserts: list[tuple[Any, ...]] = []
    for address in addresses:
        d_balance, d_retired = deltas[address]
        balance, retired = existing.get(address, (0, 0))
        new_balance, new_retired = balance + d_balance, retired + d_retired
        if new_balance < 0 or new_retired < 0:
            raise IndexInconsistent(
                msg("{address} would hold a negative amount", address=address), address=address
            )
        if address in existing:
            updates.append(
                {"b_address": address, "b_balance": new_balance, "b_retired": new_retired}
            )
        else:
            inserts.append((address, new_balance, new_retired))
    if updates:
        table = _table(Balance)
        session.execute(
            table.update()
            .where(table.c.address == bindparam("b_address"))
            .values(balance=bindparam("b_balance"), retired=bindparam("b_retired")),
            updates,
        )
    _insert(session, Balance, inserts)


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
        rows.append((number, header.timestamp, minted, burnt, retired))
    _insert(session, SupplyPoint, rows)


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


def dump_index(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every index table (the checkpoint without its bookkeeping), sorted: two
    indexes of one chain are the same index exactly when their dumps are equal."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for model in ALL_TABLES:
        table = cast(Table, model.__table__)
        skip = {"id", "updated_at", "reorgs"} if model is Checkpoint else set()
        columns = [c for c in table.columns if c.name not in skip]
        out[table.name] = sorted(tuple(r) for r in session.execute(select(*columns)).all())
    return out
