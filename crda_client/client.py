"""A typed, synchronous client of the CRDA API over httpx.

One generic core, :meth:`Client.request`, calls any operation by its OpenAPI operation id
(the table in ``_generated.py`` says its method and path), so an operation added to the API
is callable as soon as ``crda export-openapi`` regenerates the table; the typed methods below
are thin wrappers over it. Every 4xx/5xx raises :class:`ProblemError` with the RFC 9457 body.

    client = Client("http://127.0.0.1:8000")
    client.sign_in("kim@example.org", "correct horse battery staple")  # keeps the tokens
    me = client.me()
"""

from __future__ import annotations

from typing import Any, Literal, cast
from urllib.parse import quote

import httpx

from crda_client._generated import (
    OPERATIONS,
    AccountPublic,
    ClaimPublic,
    CredentialPublic,
    ErasureOut,
    EvidenceDomainPublic,
    Health,
    MethodologyPublic,
    MoneyMovementPublic,
    OrderBookPublic,
    OrderPublic,
    Page_ClaimPublic_,
    Page_CredentialPublic_,
    Page_MyCertificate_,
    Page_OrderPublic_,
    Page_SubmissionPublic_,
    Page_TradePublic_,
    PersonalDataPublic,
    ProblemDetails,
    ProviderPublic,
    Readiness,
    SiweNonceOut,
    StatementLine,
    Summary,
    TokenPair,
    Verification,
    VerifierPublic,
    VerifyResponse,
    WalletPublic,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemError(Exception):
    """The API answered with an error; ``problem`` is its problem-details body."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.request_id = response.headers.get("x-request-id")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"type": "about:blank", "title": response.reason_phrase, "status": self.status}
        self.problem = cast(ProblemDetails, body)
        super().__init__(f"{self.status} {self.type}: {body.get('detail') or body.get('title')}")

    @property
    def type(self) -> str:
        return str(self.problem.get("type", "about:blank"))

    @property
    def slug(self) -> str:
        """``not-found`` for ``/problems/not-found``: what the app keys its messages on."""
        return self.type.rsplit("/", 1)[-1]


class Client:
    """The API at ``base_url``, or through ``http`` (any httpx.Client, e.g. a TestClient)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        http: httpx.Client | None = None,
        access_token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self.access_token = access_token
        self.refresh_token: str | None = None
        self.account_id: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the generic core ----------------------------------------------------------------
    def request(
        self,
        operation_id: str,
        *,
        path: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Call an operation by id; raise :class:`ProblemError` on a 4xx/5xx answer."""
        try:
            operation = OPERATIONS[operation_id]
        except KeyError:
            raise ValueError(f"no operation {operation_id!r} in the API document") from None
        path = path or {}
        missing = [name for name in operation["path_params"] if name not in path]
        if missing:
            raise ValueError(f"{operation_id} needs the path parameters {missing}")
        url = operation["path"]
        for name in operation["path_params"]:
            url = url.replace("{" + name + "}", quote(str(path[name]), safe=":@"))
        send_headers = dict(headers or {})
        if operation["secured"] and self.access_token and "Authorization" not in send_headers:
            send_headers["Authorization"] = f"Bearer {self.access_token}"
        params = {k: v for k, v in (query or {}).items() if v is not None}
        response = self.http.request(
            operation["method"],
            url,
            params=params or None,
            json=json if operation["body"] else None,
            headers=send_headers,
        )
        if response.status_code >= 400:
            raise ProblemError(response)
        return response

    def call(self, operation_id: str, **kwargs: Any) -> Any:
        """:meth:`request`, then the JSON body (None when there is none)."""
        response = self.request(operation_id, **kwargs)
        if not response.content:
            return None
        return response.json()

    def _keep(self, pair: TokenPair) -> TokenPair:
        self.access_token = pair["access_token"]
        self.refresh_token = pair["refresh_token"]
        self.account_id = pair["account_id"]
        return pair

    def _me(self, account_id: str | None) -> str:
        account = account_id or self.account_id
        if account is None:
            raise ValueError("sign in first, or pass account_id")
        return account

    # -- health --------------------------------------------------------------------------
    def healthz(self) -> Health:
        return cast(Health, self.call("health-healthz"))

    def readyz(self) -> Readiness:
        return cast(Readiness, self.call("health-readyz"))

    # -- auth ----------------------------------------------------------------------------
    def sign_up(
        self,
        email: str,
        password: str,
        *,
        role: Literal["citizen", "business"] = "citizen",
        name: str | None = None,
        phone: str | None = None,
        birth_date: str | None = None,
    ) -> AccountPublic:
        body = {"email": email, "password": password, "role": role}
        body |= {
            k: v for k, v in (("name", name), ("phone", phone), ("birth_date", birth_date)) if v
        }
        return cast(AccountPublic, self.call("auth-sign_up", json=body))

    def sign_in(self, email: str, password: str) -> TokenPair:
        """Sign in; the client keeps the tokens for the calls that follow."""
        pair = self.call("auth-sign_in", json={"email": email, "password": password})
        return self._keep(cast(TokenPair, pair))

    def refresh(self, refresh_token: str | None = None) -> TokenPair:
        token = refresh_token or self.refresh_token
        return self._keep(cast(TokenPair, self.call("auth-refresh", json={"refresh_token": token})))

    def sign_out(self) -> None:
        self.call("auth-sign_out", json={"refresh_token": self.refresh_token})
        self.access_token = self.refresh_token = None

    def siwe_nonce(self) -> SiweNonceOut:
        return cast(SiweNonceOut, self.call("auth-siwe_nonce"))

    def siwe_sign_in(self, message: str, signature: str) -> TokenPair:
        pair = self.call("auth-siwe_sign_in", json={"message": message, "signature": signature})
        return self._keep(cast(TokenPair, pair))

    # -- accounts ------------------------------------------------------------------------
    def me(self) -> AccountPublic:
        return cast(AccountPublic, self.call("accounts-me"))

    def get_account(self, account_id: str) -> AccountPublic:
        return cast(
            AccountPublic, self.call("accounts-get_account", path={"account_id": account_id})
        )

    def get_personal_data(self, account_id: str | None = None) -> PersonalDataPublic:
        path = {"account_id": self._me(account_id)}
        return cast(PersonalDataPublic, self.call("accounts-get_personal_data", path=path))

    def put_personal_data(
        self,
        *,
        name: str | None = None,
        phone: str | None = None,
        birth_date: str | None = None,
        account_id: str | None = None,
    ) -> PersonalDataPublic:
        path = {"account_id": self._me(account_id)}
        body = {"name": name, "phone": phone, "birth_date": birth_date}
        return cast(
            PersonalDataPublic, self.call("accounts-put_personal_data", path=path, json=body)
        )

    def erase_personal_data(self, account_id: str | None = None) -> ErasureOut:
        path = {"account_id": self._me(account_id)}
        return cast(ErasureOut, self.call("accounts-erase_personal_data", path=path))

    def get_wallet(self, account_id: str | None = None) -> WalletPublic:
        path = {"account_id": self._me(account_id)}
        return cast(WalletPublic, self.call("accounts-get_wallet", path=path))

    def create_wallet(
        self,
        custody: Literal["platform", "self"] = "platform",
        *,
        message: str | None = None,
        signature: str | None = None,
        account_id: str | None = None,
    ) -> WalletPublic:
        path = {"account_id": self._me(account_id)}
        body: dict[str, Any] = {"custody": custody}
        if custody == "self":  # the SIWE proof belongs to self custody only (a oneOf)
            body |= {"message": message, "signature": signature}
        return cast(WalletPublic, self.call("accounts-create_wallet", path=path, json=body))

    def wallet_qr(self, fmt: Literal["png", "svg"] = "png", account_id: str | None = None) -> bytes:
        path = {"account_id": self._me(account_id)}
        return self.request("accounts-wallet_qr", path=path, query={"format": fmt}).content

    def list_credentials(
        self, account_id: str | None = None, *, limit: int = 20, cursor: str | None = None
    ) -> Page_CredentialPublic_:
        path = {"account_id": self._me(account_id)}
        query = {"limit": limit, "cursor": cursor}
        return cast(
            Page_CredentialPublic_,
            self.call("accounts-list_credentials", path=path, query=query),
        )

    # -- verifiers -----------------------------------------------------------------------
    def register_verifier(self, name: str) -> VerifierPublic:
        return cast(VerifierPublic, self.call("verifiers-register_verifier", json={"name": name}))

    def get_verifier(self, verifier_id: str) -> VerifierPublic:
        path = {"verifier_id": verifier_id}
        return cast(VerifierPublic, self.call("verifiers-get_verifier", path=path))

    def add_verifier_member(self, verifier_id: str, account_id: str) -> AccountPublic:
        path, body = {"verifier_id": verifier_id}, {"account_id": account_id}
        return cast(AccountPublic, self.call("verifiers-add_member", path=path, json=body))

    def deactivate_verifier(self, verifier_id: str) -> VerifierPublic:
        path = {"verifier_id": verifier_id}
        return cast(VerifierPublic, self.call("verifiers-deactivate_verifier", path=path))

    def verifier_did_document(self, verifier_id: str) -> dict[str, Any]:
        path = {"verifier_id": verifier_id}
        return cast(dict[str, Any], self.call("verifiers-did_document", path=path))

    # -- credentials ---------------------------------------------------------------------
    def issue_credential(
        self,
        account_id: str,
        *,
        assurance_level: int,
        uniqueness_key: str,
        valid_days: int | None = None,
        verified_at: str | None = None,
    ) -> CredentialPublic:
        body = {
            "account_id": account_id,
            "assurance_level": assurance_level,
            "uniqueness_key": uniqueness_key,
            "valid_days": valid_days,
            "verified_at": verified_at,
        }
        return cast(CredentialPublic, self.call("credentials-issue", json=body))

    def verify_credential(self, verifiable_credential: str) -> VerifyResponse:
        body = {"verifiableCredential": verifiable_credential}
        return cast(VerifyResponse, self.call("credentials-verify", json=body))

    def get_credential(self, credential_id: str) -> CredentialPublic:
        path = {"credential_id": credential_id}
        return cast(CredentialPublic, self.call("credentials-get_credential", path=path))

    def revoke_credential(
        self,
        credential_id: str,
        reason: Literal["revoked", "fraud", "deceased", "holder-request"] = "revoked",
    ) -> CredentialPublic:
        path, body = {"credential_id": credential_id}, {"reason": reason}
        return cast(CredentialPublic, self.call("credentials-revoke", path=path, json=body))

    def credential_qr(self, credential_id: str, fmt: Literal["png", "svg"] = "png") -> bytes:
        path = {"credential_id": credential_id}
        return self.request("credentials-credential_qr", path=path, query={"format": fmt}).content

    # -- identifiers ---------------------------------------------------------------------
    def status_list(self, verifier_id: str) -> str:
        """The verifier's revocation list, a compact vc+jwt."""
        path = {"verifier_id": verifier_id}
        return self.request("identifiers-status_list", path=path).text

    def resolve_did(self, did: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.call("identifiers-resolve", path={"did": did}))

    def jwks(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.call("identifiers-jwks"))

    # -- earning: partners and evidence ----------------------------------------------------
    def evidence_domain(self) -> EvidenceDomainPublic:
        """The EIP-712 domain and types a partner signs receipts and trips with."""
        return cast(EvidenceDomainPublic, self.call("evidence-evidence_domain"))

    def methodology(self, version: str) -> MethodologyPublic:
        path = {"version": version}
        return cast(MethodologyPublic, self.call("evidence-methodology", path=path))

    def register_provider(
        self,
        code: str,
        name: str,
        kind: Literal["merchant", "mobility"],
        signer_address: str,
        district: str | None = None,
    ) -> ProviderPublic:
        body = {"code": code, "name": name, "kind": kind, "signer_address": signer_address}
        if district is not None:
            body["district"] = district
        return cast(ProviderPublic, self.call("providers-register", json=body))

    def list_providers(self) -> list[ProviderPublic]:
        return cast(list[ProviderPublic], self.call("providers-providers"))

    def rejections(
        self, reason: str | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page_SubmissionPublic_:
        """Refused submissions with their reasons (operator and auditor), oldest first."""
        query = {"reason": reason, "limit": limit, "cursor": cursor}
        return cast(Page_SubmissionPublic_, self.call("providers-rejections", query=query))

    # -- earning: claims -------------------------------------------------------------------
    def submit_purchase(self, evidence: dict[str, Any], signature: str) -> ClaimPublic:
        """A merchant-signed e-receipt; a refusal raises :class:`ProblemError` with its reason."""
        body = {"evidence": evidence, "signature": signature}
        return cast(ClaimPublic, self.call("claims-submit_purchase", json=body))

    def submit_trip(
        self, evidence: dict[str, Any], signature: str, gps_legs_m: list[int] | None = None
    ) -> ClaimPublic:
        """An operator-signed trip, with the app's GPS walking legs (metres) if any."""
        body = {"evidence": evidence, "signature": signature, "gps_legs_m": gps_legs_m or []}
        return cast(ClaimPublic, self.call("claims-submit_trip", json=body))

    def claims(self, *, limit: int = 50, cursor: str | None = None) -> Page_ClaimPublic_:
        query = {"limit": limit, "cursor": cursor}
        return cast(Page_ClaimPublic_, self.call("claims-claims", query=query))

    def claim(self, claim_id: str) -> ClaimPublic:
        return cast(ClaimPublic, self.call("claims-claim", path={"claim_id": claim_id}))

    # -- market ----------------------------------------------------------------------------
    def place_order(
        self,
        maker: str,
        side: Literal["buy", "sell"],
        *,
        price: int,
        quantity: int,
        expiry: int,
        nonce: int,
        signature: str | None = None,
        idempotency_key: str | None = None,
    ) -> OrderPublic:
        """A limit order as yourself (price: won per kg; quantity: grams, whole kilograms).

        Without ``signature`` the platform signs for a platform-custody wallet.
        """
        body = {
            "maker": maker, "side": side, "price": price, "quantity": quantity,
            "expiry": expiry, "nonce": str(nonce), "signature": signature,
        }  # fmt: skip
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return cast(OrderPublic, self.call("market-place_order", json=body, headers=headers))

    def cancel_order(self, order_id: int) -> OrderPublic:
        path = {"order_id": str(order_id)}
        return cast(OrderPublic, self.call("market-cancel_order", path=path))

    def my_orders(self, *, limit: int = 50, cursor: str | None = None) -> Page_OrderPublic_:
        query = {"limit": limit, "cursor": cursor}
        return cast(Page_OrderPublic_, self.call("market-my_orders", query=query))

    def my_trades(self, *, limit: int = 50, cursor: str | None = None) -> Page_TradePublic_:
        query = {"limit": limit, "cursor": cursor}
        return cast(Page_TradePublic_, self.call("market-my_trades", query=query))

    def statement(self, asset: Literal["CRDA", "KRW"] = "CRDA") -> list[StatementLine]:
        """Every movement of your credits (grams) or won, with a running balance."""
        return cast(list[StatementLine], self.call("market-my_statement", query={"asset": asset}))

    def order_book(self) -> OrderBookPublic:
        return cast(OrderBookPublic, self.call("market-order_book"))

    def deposit(
        self, account_id: str, amount: int, reference: str, *, idempotency_key: str
    ) -> MoneyMovementPublic:
        """Operator: credit whole won for a confirmed bank deposit (minted through the outbox)."""
        body = {"account_id": account_id, "amount": amount, "reference": reference}
        headers = {"Idempotency-Key": idempotency_key}
        return cast(MoneyMovementPublic, self.call("market-deposit", json=body, headers=headers))

    # -- retirements and certificates ------------------------------------------------------
    def retire(
        self,
        amount: int,
        beneficiary: str,
        reason: str,
        *,
        idempotency_key: str,
        publish_beneficiary: bool = False,
    ) -> dict[str, Any]:
        """Retire credits from your platform wallet; answers the pending certificate (202)."""
        body = {
            "amount": amount, "beneficiary": beneficiary, "reason": reason,
            "publish_beneficiary": publish_beneficiary,
        }  # fmt: skip
        headers = {"Idempotency-Key": idempotency_key}
        return cast(
            dict[str, Any], self.call("retirements-create_retirement", json=body, headers=headers)
        )

    def my_retirement(self, certificate_id: str) -> dict[str, Any]:
        path = {"certificate_id": certificate_id}
        return cast(dict[str, Any], self.call("retirements-get_my_retirement", path=path))

    def my_retirements(self, *, limit: int = 50, cursor: str | None = None) -> Page_MyCertificate_:
        query = {"limit": limit, "cursor": cursor}
        return cast(Page_MyCertificate_, self.call("retirements-list_my_retirements", query=query))

    def certificate(self, serial: int) -> dict[str, Any]:
        """The public certificate (no sign-in)."""
        path = {"serial": str(serial)}
        return cast(dict[str, Any], self.call("certificates-get_certificate", path=path))

    def verify_certificate(self, serial: int, **claimed: Any) -> Verification:
        """Check a certificate (and what it claims: amount, tx_hash, ...) against the chain."""
        path = {"serial": str(serial)}
        return cast(Verification, self.call("certificates-verify", path=path, query=claimed))

    def certificate_qr(self, serial: int, fmt: Literal["png", "svg"] = "png") -> bytes:
        path, query = {"serial": str(serial)}, {"format": fmt}
        return self.request("certificates-certificate_qr", path=path, query=query).content

    # -- audit -----------------------------------------------------------------------------
    def audit_summary(self) -> Summary:
        """Supply, holders, batches and retirements as indexed from the chain (auditor)."""
        return cast(Summary, self.call("audit-summary"))
