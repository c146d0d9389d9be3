"""The auditor's read-only API over the audit index: supply, holders, batches, provenance,
retirements, integrity, index status, and streamed CSV/JSON exports of every list; and the
auditor's dashboard page (static HTML + JS, no build step, no data in the page itself).

Auditors read everything and change nothing; the operator (who runs the platform and its
indexer) may read it too. Every other role gets 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session, sessionmaker

from api.audit import dashboard, exports, queries
from api.audit.integrity import IntegrityReport, check_integrity
from api.audit.kept import kept
from api.audit.provenance import (
    ClaimProvenance,
    ClassShare,
    claim_provenance,
    claim_record_source,
)
from api.audit.queries import Window
from api.audit.schemas import (
    AttestationPublic,
    BatchClaimPublic,
    BatchPublic,
    EventPublic,
    HolderPublic,
    IdentityPublic,
    IndexStatus,
    RetirementPublic,
    Supply,
    SupplyPointPublic,
    TradeAudit,
    TransferPublic,
)
from api.auth.deps import BearerCredentials, CurrentUser, signed_in_role
from api.auth.models import Account, Role
from api.deps import (
    MAX_SQL_INT,
    ChainDep,
    LanguageDep,
    SessionDep,
    SettingsDep,
    StateDep,
    language_headers,
)
from api.errors import Forbidden, NotFound
from api.i18n import render_page
from api.market.reconcile import reconcile
from api.pagination import Page, PageDep
from api.settings import Settings
from api.state import AppState

AUDIT_ROLES = frozenset({Role.auditor.value, Role.operator.value})


def _ensure_audit_role(role: str) -> None:
    if role not in AUDIT_ROLES:
        raise Forbidden("needs the role auditor or operator")


async def auditor_or_operator(user: CurrentUser) -> Account:
    """The role check, on the event loop (it only compares strings: no thread hop)."""
    _ensure_audit_role(user.role)
    return user


router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(auditor_or_operator)])


class AuditRead:
    """A signed-in auditor's (or operator's) read done in one worker thread: the token, the
    account and its role checked exactly as :data:`CurrentUser` does (the account read on
    every request), then the read, then the answer as JSON. The routes asked most (the
    dashboard's headline, supply, a claim's provenance) take this instead of the router's
    dependency, which hands over to a worker thread for the account, again for the handler
    and again for the response model: each hand-over cost more than these reads once kept
    (issue 18's profile)."""

    def __init__(
        self,
        request: Request,
        settings: Settings,
        state: AppState,
        credentials: HTTPAuthorizationCredentials | None,
    ) -> None:
        self.request = request
        self.settings = settings
        self.state = state
        self.credentials = credentials

    async def __call__(self, read: Callable[[sessionmaker[Session]], bytes]) -> Response:
        body = await run_in_threadpool(self._read, read)
        return Response(body, media_type="application/json")

    def _read(self, read: Callable[[sessionmaker[Session]], bytes]) -> bytes:
        _ensure_audit_role(
            signed_in_role(self.request, self.settings, self.state, self.credentials)
        )
        return read(self.state.sessions)


async def audit_read(
    request: Request,
    settings: SettingsDep,
    state: StateDep,
    credentials: BearerCredentials,
) -> AuditRead:
    return AuditRead(request, settings, state, credentials)


AuditReadDep = Annotated[AuditRead, Depends(audit_read)]
# The kept reads: the same prefix and tag, the role checked by :class:`AuditRead`.
reads_router = APIRouter(prefix="/audit", tags=["audit"])

ExportFormat = Literal["csv", "json"]


UnixTime = Query(ge=0, le=MAX_SQL_INT, description="unix seconds")


async def window(
    from_block: Annotated[int | None, Query(ge=0, le=MAX_SQL_INT)] = None,
    to_block: Annotated[int | None, Query(ge=0, le=MAX_SQL_INT)] = None,
    from_time: Annotated[int | None, UnixTime] = None,
    to_time: Annotated[int | None, UnixTime] = None,
) -> Window:
    return Window(from_block, to_block, from_time, to_time)


WindowDep = Annotated[Window, Depends(window)]


def _export(
    state: Any,
    session: Session,
    name: str,
    fmt: ExportFormat,
    list_fn: Callable[..., Page[Any]],
    *args: Any,
    **filters: Any,
) -> StreamingResponse:
    """Stream a whole list page by page (each page its own short session)."""
    queries.index_status(session)  # fail as a problem before the first byte, not mid-stream
    session.close()
    if fmt == "csv":
        chunks: Iterator[str] = exports.export_csv(state.sessions, list_fn, *args, **filters)
        media = exports.CSV_MEDIA_TYPE
    else:
        chunks = exports.export_json(state.sessions, list_fn, *args, **filters)
        media = exports.JSON_MEDIA_TYPE
    return StreamingResponse(
        chunks,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="crda-{name}.{fmt}"'},
    )


_EXPORT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/json": {}}}
}

# -- status, summary, supply -------------------------------------------------------------------


@router.get("/status")
def status(session: SessionDep) -> IndexStatus:
    """How far the index has read (block, hash, reorganisations seen)."""
    return queries.index_status(session)


def _summary(session: Session, status: IndexStatus) -> bytes:
    return dashboard.summary(session, status).model_dump_json().encode()


@reads_router.get("/summary", response_model=dashboard.Summary)
async def summary(read: AuditReadDep) -> Response:
    """Supply now, holders, batches, retirements, pause state: the dashboard's headline."""
    return await read(lambda sessions: kept(sessions, "summary", _summary))


def _supply_now(session: Session, status: IndexStatus) -> bytes:
    return queries.supply_at(session, status.block_number).model_dump_json().encode()


@reads_router.get("/supply", response_model=Supply)
async def supply(
    read: AuditReadDep,
    block: Annotated[int | None, Query(ge=0, le=MAX_SQL_INT)] = None,
    time: Annotated[int | None, UnixTime] = None,
) -> Response:
    """Issued, burnt, retired and circulating credits at a block or a time (default: now)."""

    def answer(sessions: sessionmaker[Session]) -> bytes:
        if time is None and block is None:
            return kept(sessions, "supply", _supply_now)
        with sessions() as session:
            if time is not None and block is None:
                return queries.supply_at_time(session, time).model_dump_json().encode()
            return queries.supply_at(session, block).model_dump_json().encode()

    return await read(answer)


@router.get("/supply/classes")
def supply_by_class(session: SessionDep) -> list[ClassShare]:
    """Credits issued, by credit class (activity type and methodology) and vintage (the
    activity's year), from the issued claims. The token is one fungible credit; a retirement
    certificate states the classes and vintages it retired (its allocation's ``classes``)."""
    return claim_record_source().issued_by_class(session)


@router.get("/supply/series")
def supply_series(session: SessionDep, page: PageDep, win: WindowDep) -> Page[SupplyPointPublic]:
    """Supply after every block that changed it."""
    return queries.list_supply(session, window=win, page=page)


@router.get("/supply/series/export", response_class=StreamingResponse, responses=_EXPORT)
def supply_series_export(
    state: StateDep, session: SessionDep, win: WindowDep, format: ExportFormat = "csv"
) -> StreamingResponse:
    return _export(state, session, "supply", format, queries.list_supply, window=win)


@router.get("/issuance/daily")
def issuance_daily(session: SessionDep, win: WindowDep) -> list[dashboard.Day]:
    """Credits issued per UTC day, by batch (by activity type once earning lands)."""
    return dashboard.issuance_per_day(session, win)


@router.get("/retirements/daily")
def retirements_daily(session: SessionDep, win: WindowDep) -> list[dashboard.Day]:
    return dashboard.retirements_per_day(session, win)


# -- holders and transfers ---------------------------------------------------------------------


@router.get("/holders")
def holders(session: SessionDep, page: PageDep, include_empty: bool = False) -> Page[HolderPublic]:
    """Holders by balance, largest first."""
    return queries.list_holders(session, include_empty=include_empty, page=page)


@router.get("/holders/export", response_class=StreamingResponse, responses=_EXPORT)
def holders_export(
    state: StateDep, session: SessionDep, include_empty: bool = False, format: ExportFormat = "csv"
) -> StreamingResponse:
    return _export(
        state, session, "holders", format, queries.list_holders, include_empty=include_empty
    )


@router.get("/holders/{address}")
def holder(address: str, session: SessionDep) -> HolderPublic:
    return queries.get_holder(session, address)


@router.get("/transfers")
def transfers(
    session: SessionDep, page: PageDep, win: WindowDep, address: str | None = None
) -> Page[TransferPublic]:
    """Transfers, mints (sender zero) and burns (recipient zero) in chain order."""
    return queries.list_transfers(session, address=address, window=win, page=page)


@router.get("/transfers/export", response_class=StreamingResponse, responses=_EXPORT)
def transfers_export(
    state: StateDep,
    session: SessionDep,
    win: WindowDep,
    address: str | None = None,
    format: ExportFormat = "csv",
) -> StreamingResponse:
    return _export(
        state, session, "transfers", format, queries.list_transfers, address=address, window=win
    )


# -- batches and claims ------------------------------------------------------------------------


@router.get("/batches")
def batches(session: SessionDep, page: PageDep, win: WindowDep) -> Page[BatchPublic]:
    """Issuance batches with their Merkle roots, in chain order."""
    return queries.list_batches(session, window=win, page=page)


@router.get("/batches/export", response_class=StreamingResponse, responses=_EXPORT)
def batches_export(
    state: StateDep, session: SessionDep, win: WindowDep, format: ExportFormat = "csv"
) -> StreamingResponse:
    return _export(state, session, "batches", format, queries.list_batches, window=win)


@router.get("/batches/{batch_id}")
def batch(batch_id: str, session: SessionDep) -> BatchPublic:
    found = queries.get_batch(session, batch_id)
    if found is None:
        raise NotFound("no such batch in the index")
    return found


@router.get("/batches/{batch_id}/claims")
def batch_claims(batch_id: str, session: SessionDep, page: PageDep) -> Page[BatchClaimPublic]:
    """The claim ids of one batch, in the batch's order."""
    return queries.list_batch_claims(session, batch_id, page=page)


@router.get(
    "/batches/{batch_id}/claims/export", response_class=StreamingResponse, responses=_EXPORT
)
def batch_claims_export(
    batch_id: str, state: StateDep, session: SessionDep, format: ExportFormat = "csv"
) -> StreamingResponse:
    return _export(
        state, session, "batch-claims", format, queries.list_batch_claims, batch_id.lower()
    )


@reads_router.get("/claims/{claim_id}/provenance", response_model=ClaimProvenance)
async def provenance(claim_id: str, read: AuditReadDep) -> Response:
    """Where a claim was issued (batch, Merkle root, transaction) and its off-chain record."""

    def answer(sessions: sessionmaker[Session]) -> bytes:
        with sessions() as session:
            result = claim_provenance(session, claim_id)
        if not result.issued and result.record is None:
            raise NotFound("the claim is not in any indexed batch")
        return result.model_dump_json().encode()

    return await read(answer)


# -- retirements -------------------------------------------------------------------------------


@router.get("/retirements")
def retirements(
    session: SessionDep, page: PageDep, win: WindowDep, holder: str | None = None
) -> Page[RetirementPublic]:
    """Retirements (certificates) in chain order."""
    return queries.list_retirements(session, holder=holder, window=win, page=page)


@router.get("/retirements/export", response_class=StreamingResponse, responses=_EXPORT)
def retirements_export(
    state: StateDep,
    session: SessionDep,
    win: WindowDep,
    holder: str | None = None,
    format: ExportFormat = "csv",
) -> StreamingResponse:
    return _export(
        state, session, "retirements", format, queries.list_retirements, holder=holder, window=win
    )


@router.get("/retirements/{certificate_id}")
def retirement(
    certificate_id: Annotated[int, Path(ge=0, le=MAX_SQL_INT)], session: SessionDep
) -> RetirementPublic:
    found = queries.get_retirement(session, certificate_id)
    if found is None:
        raise NotFound("no such certificate in the index")
    return found


# -- identities and events ---------------------------------------------------------------------


@router.get("/attestations")
def attestations(
    session: SessionDep, page: PageDep, win: WindowDep, account: str | None = None
) -> Page[AttestationPublic]:
    return queries.list_attestations(session, account=account, window=win, page=page)


@router.get("/attestations/export", response_class=StreamingResponse, responses=_EXPORT)
def attestations_export(
    state: StateDep,
    session: SessionDep,
    win: WindowDep,
    account: str | None = None,
    format: ExportFormat = "csv",
) -> StreamingResponse:
    return _export(
        state,
        session,
        "attestations",
        format,
        queries.list_attestations,
        account=account,
        window=win,
    )


@router.get("/identities")
def identities(session: SessionDep, page: PageDep) -> Page[IdentityPublic]:
    return queries.list_identities(session, page=page)


@router.get("/identities/export", response_class=StreamingResponse, responses=_EXPORT)
def identities_export(
    state: StateDep, session: SessionDep, format: ExportFormat = "csv"
) -> StreamingResponse:
    return _export(state, session, "identities", format, queries.list_identities)


@router.get("/events")
def events(
    session: SessionDep,
    page: PageDep,
    win: WindowDep,
    contract: str | None = None,
    event: str | None = None,
) -> Page[EventPublic]:
    """Every indexed event in chain order."""
    return queries.list_events(session, contract=contract, event=event, window=win, page=page)


@router.get("/events/export", response_class=StreamingResponse, responses=_EXPORT)
def events_export(
    state: StateDep,
    session: SessionDep,
    win: WindowDep,
    contract: str | None = None,
    event: str | None = None,
    format: ExportFormat = "csv",
) -> StreamingResponse:
    return _export(
        state,
        session,
        "events",
        format,
        queries.list_events,
        contract=contract,
        event=event,
        window=win,
    )


# -- checks ----------------------------------------------------------------------------------


@router.get("/integrity")
def integrity(
    session: SessionDep, chain: ChainDep, on_chain_balances: bool = False
) -> IntegrityReport:
    """Re-derive supply from the events and compare with the chain at the index's block."""
    return check_integrity(session, chain, on_chain_balances=on_chain_balances)


@router.get("/market")
def market(session: SessionDep) -> dashboard.MarketReport:
    """Settled market volume, won and volume-weighted price per day (UTC)."""
    return dashboard.market_per_day(session)


@router.get("/trades")
def trades(
    session: SessionDep,
    page: PageDep,
    status: Literal["matched", "settling", "settled", "failed"] | None = None,
    address: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
) -> Page[TradeAudit]:
    """Every matched fill (both sides, terms, status) with the transaction that settled it."""
    return queries.list_trades(session, status=status, address=address, page=page)


@router.get("/trades/export", response_class=StreamingResponse, responses=_EXPORT)
def trades_export(
    state: StateDep,
    session: SessionDep,
    status: Literal["matched", "settling", "settled", "failed"] | None = None,
    address: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
    format: ExportFormat = "csv",
) -> StreamingResponse:
    return _export(
        state, session, "trades", format, queries.list_trades, status=status, address=address
    )


@router.get("/reconciliation")
def reconciliation(session: SessionDep, chain: ChainDep) -> dict[str, Any]:
    """The trading ledger against the chain, per account and asset (``ok`` when all agree),
    the ledger's per-asset totals (double entry: zero) and won supply against deposits."""
    return reconcile(session, chain).to_json()


STATIC = FilePath(__file__).resolve().parent.parent / "static"

dashboard_router = APIRouter(tags=["dashboard"])


@cache
def _dashboard_html(locale: str) -> str:
    return render_page(STATIC / "dashboard.html", locale, STATIC / "dashboard.js")


@dashboard_router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(locale: LanguageDep) -> HTMLResponse:
    """The dashboard in Korean or English (``lang``, else the browser's language)."""
    return HTMLResponse(_dashboard_html(locale), headers=language_headers(locale))


@dashboard_router.get(
    "/dashboard/dashboard.js", response_class=FileResponse, include_in_schema=False
)
def dashboard_script() -> FileResponse:
    return FileResponse(STATIC / "dashboard.js", media_type="text/javascript")
