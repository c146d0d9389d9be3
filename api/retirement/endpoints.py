"""Retirement endpoints: a holder retires credits; certificates (public by serial, verification
needs no login). Thin handlers over ``api.retirement.service`` and ``certificates``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.orm import Session

from api.auth.deps import CurrentUser, require_roles
from api.auth.models import Account, Role
from api.deps import (
    MAX_SQL_INT,
    ChainDep,
    LanguageDep,
    SessionDep,
    SettingsDep,
    StateDep,
    language_headers,
    throttle,
)
from api.errors import NotFound
from api.i18n import LOCALES
from api.idempotency import idempotent
from api.pagination import Page, PageParams, page_params
from api.qr import QrFormat, qr_response
from api.retirement import service
from api.retirement.certificates import (
    certificate_html,
    certificate_json,
    verification_html,
    verification_url,
    verify_certificate,
)
from api.retirement.models import Certificate
from api.retirement.schemas import (
    ADDRESS,
    HASH,
    IDEMPOTENCY_KEY_REQUIRED,
    CertificateClaim,
    CertificatePublic,
    MyCertificate,
    RetirementCreate,
    Verification,
)

# Certificate serials count from 1 on chain (uint256); the database keeps them in 64 bits.
Serial = Annotated[int, Path(ge=1, le=2**63 - 1, description="the certificate's serial")]

router = APIRouter(prefix="/retirements", tags=["retirements"])
public = APIRouter(prefix="/certificates", tags=["certificates"])

# Holders retire their own credits: citizens and businesses.
HolderUser = Annotated[Account, Depends(require_roles(Role.citizen, Role.business))]
RetirementsPage = Annotated[PageParams, Depends(page_params(maximum=200))]


@router.post(
    "",
    status_code=202,
    responses={202: {"model": MyCertificate}, 409: {}, 422: {}},
    openapi_extra={"parameters": [IDEMPOTENCY_KEY_REQUIRED]},
)
def create_retirement(
    body: RetirementCreate,
    user: HolderUser,
    state: StateDep,
    chain: ChainDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", include_in_schema=False)
    ] = None,
) -> JSONResponse:
    """Retire credits from the caller's platform wallet; the relayer pays the gas.

    Answers 202 with the pending certificate; it is confirmed once the chain has it.
    """

    def prepare(session: Session) -> service.SignedRetirement:
        return service.sign_retirement(
            session,
            state.settings,
            chain,
            user,
            amount=body.amount,
            beneficiary=body.beneficiary,
            reason=body.reason,
        )

    def action(session: Session, signed: service.SignedRetirement) -> dict[str, Any]:
        return service.retire(
            session,
            state.settings,
            user,
            signed,
            amount=body.amount,
            beneficiary=body.beneficiary,
            reason=body.reason,
            publish_beneficiary=body.publish_beneficiary,
        )

    stored = idempotent(
        state.sessions,
        response,
        scope=f"retirements:{user.id}",
        key=idempotency_key,
        params=body.model_dump(mode="json"),
        prepare=prepare,
        action=action,
        required=True,
    )
    # The answer is built here (202 with the stored body), so the replay header is carried over.
    replayed = response.headers.get("Idempotent-Replayed")
    headers = {"Idempotent-Replayed": replayed} if replayed else None
    return JSONResponse(stored, status_code=202, headers=headers)


@router.get("")
def list_my_retirements(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, page: RetirementsPage
) -> Page[MyCertificate]:
    """The caller's own certificates, newest first."""
    return service.my_certificates(session, settings, user, page)


@router.get("/{certificate_id}")
def get_my_retirement(
    certificate_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> MyCertificate:
    """One certificate with its private fields: the holder's own (auditor, operator: any)."""
    certificate = service.get_certificate_for(session, user, certificate_id)
    return MyCertificate.model_validate(
        certificate_json(session, settings, certificate, include_private=True)
    )


# -- public --------------------------------------------------------------------------------


def _by_serial(session: SessionDep, serial: int) -> Certificate:
    certificate = service.certificate_by_serial(session, serial)
    if certificate is None:
        raise NotFound("no certificate with that serial")
    return certificate


@public.get("/{serial}", dependencies=[throttle("certificate")])
def get_certificate(
    serial: Serial, session: SessionDep, settings: SettingsDep
) -> CertificatePublic:
    """The public certificate (the beneficiary only if the holder published it)."""
    return CertificatePublic.model_validate(
        certificate_json(session, settings, _by_serial(session, serial), include_private=False)
    )


def _language_links(request: Request) -> dict[str, str]:
    """This page in each language (the switch keeps every other query parameter)."""
    links = {code: request.url.include_query_params(lang=code) for code in LOCALES}
    return {code: f"{url.path}?{url.query}" for code, url in links.items()}


@public.get("/{serial}/page", response_class=HTMLResponse, dependencies=[throttle("certificate")])
def certificate_page(
    serial: Serial,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    locale: LanguageDep,
) -> HTMLResponse:
    """The printable certificate, in Korean or English (``lang``, else the browser's)."""
    body = certificate_json(session, settings, _by_serial(session, serial), include_private=False)
    return HTMLResponse(
        certificate_html(body, locale, _language_links(request)), headers=language_headers(locale)
    )


@public.get(
    "/{serial}/qr",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def certificate_qr(
    serial: Serial, session: SessionDep, settings: SettingsDep, format: QrFormat = "png"
) -> Response:
    """A QR code of the public verification URL."""
    url = verification_url(settings, _by_serial(session, serial))
    assert url is not None
    return qr_response(url, format)


@public.get(
    "/{serial}/verify",
    response_model=Verification,
    dependencies=[throttle("certificate_verify")],
)
def verify(
    serial: Serial,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    response: Response,
    locale: LanguageDep,
    amount: Annotated[int | None, Query(ge=0, le=MAX_SQL_INT)] = None,
    beneficiary_hash: Annotated[str | None, Query(pattern=HASH)] = None,
    tx_hash: Annotated[str | None, Query(pattern=HASH)] = None,
    holder: Annotated[str | None, Query(pattern=ADDRESS)] = None,
    beneficiary: Annotated[str | None, Query(max_length=200)] = None,
    salt: Annotated[str | None, Query(pattern=HASH)] = None,
    reason: Annotated[str | None, Query(max_length=500)] = None,
    reason_salt: Annotated[str | None, Query(pattern=HASH)] = None,
) -> Any:
    """Check a certificate against the chain; no login. HTML for a browser, JSON otherwise;
    the checks' details in Korean or English (``lang``, else ``Accept-Language``)."""
    result = verify_certificate(
        session,
        chain,
        settings,
        serial,
        amount=amount,
        beneficiary_hash_claimed=beneficiary_hash,
        tx_hash=tx_hash,
        holder=holder,
        beneficiary=beneficiary,
        salt=salt,
        reason=reason,
        reason_salt_claimed=reason_salt,
        locale=locale,
    )
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(
            verification_html(result, locale, _language_links(request)),
            headers=language_headers(locale),
        )
    response.headers.update(language_headers(locale))
    return result


@public.post("/verify", dependencies=[throttle("certificate_verify")])
def verify_document(
    body: CertificateClaim, session: SessionDep, settings: SettingsDep, chain: ChainDep
) -> Verification:
    """Check every field of a certificate document against the chain; no login."""
    return verify_certificate(
        session,
        chain,
        settings,
        body.serial,
        amount=body.amount,
        beneficiary_hash_claimed=body.beneficiary_hash,
        tx_hash=body.tx_hash,
        holder=body.holder,
        beneficiary=body.beneficiary,
        salt=body.beneficiary_salt,
        reason=body.reason,
        reason_salt_claimed=body.reason_salt,
    )
