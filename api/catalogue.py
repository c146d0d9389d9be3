"""The error catalogue: every problem ``type`` the API can return, for the mobile team.

Its sources are the code's own registries: :data:`api.errors.PROBLEM_TYPES` (every
``Problem`` subclass, filled as modules are imported; the app imports them all) and
:data:`api.chain.errors.ERROR_PROBLEMS` (contract custom errors). What the registries cannot
say, *when it happens* and *what the app should show*, is written here, in :data:`HINTS`, one
row per slug; a problem class may instead carry ``when`` and ``show`` attributes itself
(``problem(409, "x", "X", when=..., show=...)``), which win. ``crda export-errors`` renders
``mobile_api_docs/errors.md``; a test fails when a type has no hint or the file is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.chain.errors import ERROR_PROBLEMS
from api.errors import PROBLEM_TYPES

# slug -> (when it happens, what the app should show)
HINTS: dict[str, tuple[str, str]] = {
    # -- protocol and framework -------------------------------------------------------------
    "bad-request": (
        "The request is malformed at the HTTP level (a status no domain error names).",
        "A generic error; it is a bug in the app, report it with the request id.",
    ),
    "validation-error": (
        "A body field, query or path parameter is missing or invalid; `errors` lists each one "
        "(`loc`, `msg`, `type`).",
        "Mark the fields named in `errors[].loc` next to the form inputs.",
    ),
    "not-found": (
        "The thing named in the path does not exist, or the route does not exist.",
        '"Not found"; go back to the list it came from.',
    ),
    "method-not-allowed": (
        "The path exists but not with this HTTP method.",
        "Nothing to the user: a bug in the app.",
    ),
    "unauthorized": (
        "Authentication is required and none was given.",
        "Go to sign-in.",
    ),
    "forbidden": (
        "Signed in, but the role or ownership does not allow it (someone else's account, a "
        "citizen calling a verifier's operation; on chain: the platform's signer lacks a role).",
        '"You cannot do this"; do not retry.',
    ),
    "conflict": (
        "The request conflicts with the current state.",
        "Refresh the screen and let the user try again.",
    ),
    "internal-error": (
        "A bug on our side; the response's `X-Request-ID` finds it in the logs.",
        '"Something went wrong" with the request id; retry later.',
    ),
    "service-unavailable": (
        "A service the API depends on is down.",
        '"Temporarily unavailable"; retry with back-off.',
    ),
    "database-unavailable": (
        "The database cannot be reached.",
        '"Temporarily unavailable"; retry with back-off.',
    ),
    "chain-unavailable": (
        "The blockchain node cannot be reached (writes and on-chain checks need it).",
        '"Temporarily unavailable"; retry with back-off. Nothing was written.',
    ),
    "deployment-mismatch": (
        "The node is not the chain the contracts were deployed to (an operator problem).",
        '"Temporarily unavailable"; retry later.',
    ),
    "not-ready": (
        "`/readyz` only: a dependency is down; `checks` says which.",
        "Nothing to the user (monitoring only).",
    ),
    "chain-rpc-error": (
        "The blockchain node refused a request (an operator problem).",
        '"Temporarily unavailable"; retry later.',
    ),
    "chain-rejected": (
        "The chain refused the operation with a custom error this catalogue does not map; "
        "`error_name` and `error_args` say which.",
        '"The operation was refused" with `detail`; do not retry unchanged.',
    ),
    # -- accounts and sessions --------------------------------------------------------------
    "email-taken": (
        "Sign-up with an email that already has an account.",
        '"This email already has an account" and offer sign-in.',
    ),
    "invalid-credentials": (
        "Sign-in with an unknown email or a wrong password (the API does not say which).",
        '"Email or password is wrong"; each failure counts towards the limit.',
    ),
    "too-many-attempts": (
        "Too many failed sign-ins for this email within the window; `retry_after` in seconds.",
        '"Too many attempts, try again in N minutes" (N from `retry_after`).',
    ),
    "invalid-token": (
        "The access token is missing, malformed, expired, signed by an unknown key, or its "
        "account was erased; `reason` says which.",
        "Refresh the tokens once (`/auth/refresh`); if that fails, go to sign-in.",
    ),
    "invalid-refresh-token": (
        "The refresh token is unknown, expired or its session ended (sign-out).",
        "Go to sign-in.",
    ),
    "refresh-token-reused": (
        "A refresh token was used twice: every session of that family is ended (possible theft).",
        "Go to sign-in; say the session ended for safety.",
    ),
    "invalid-siwe-message": (
        "The Sign-In with Ethereum message or signature does not verify: wrong domain or "
        "chain, expired, nonce unknown or used; `reason` says which.",
        "Ask for a new nonce and let the wallet sign again.",
    ),
    "wallet-exists": (
        "The account already has a wallet.",
        "Show the existing wallet (`GET /accounts/{id}/wallet`).",
    ),
    "address-taken": (
        "The self-custody address is already linked to another account.",
        '"This wallet belongs to another account."',
    ),
    "account-erased": (
        "The account's personal data was erased; it cannot be changed or used to sign in.",
        '"This account was closed."',
    ),
    # -- verification (verifiers and credentials) -------------------------------------------
    "duplicate-identity": (
        "The verifier tried to verify a person whose uniqueness key already belongs to "
        "another account (one person, one identity).",
        'At the desk: "This person is already verified on another account."',
    ),
    "identity-mismatch": (
        "The account is already verified as another person (a different uniqueness key).",
        'At the desk: "This account belongs to someone else."',
    ),
    "not-verifiable": (
        "The account cannot be verified (staff accounts, erased accounts, no wallet yet).",
        "Tell the citizen to finish setting up the account (create the wallet first).",
    ),
    "already-revoked": (
        "The credential was already revoked.",
        "Show the credential as revoked.",
    ),
    "verifier-inactive": (
        "The verifier organisation's accreditation was withdrawn.",
        'At the desk: "Your organisation can no longer verify."',
    ),
    "status-list-full": (
        "The verifier's revocation list has no free index (an operator problem).",
        '"Temporarily unavailable"; the operator must act.',
    ),
    # -- audit ------------------------------------------------------------------------------
    "invalid-cursor": (
        "A list's `cursor` is not one this list returned, or `limit` is out of range.",
        "Restart the list from the first page.",
    ),
    "index-not-started": (
        "The audit index has not read the chain yet.",
        '"Data not available yet"; retry later.',
    ),
    "block-not-indexed": (
        "The requested block is beyond the index's checkpoint.",
        '"Not indexed yet"; retry later.',
    ),
    "index-deployment-changed": (
        "The audit index belongs to another deployment (an operator problem).",
        '"Temporarily unavailable".',
    ),
    "index-inconsistent": (
        "The audit index contradicts itself (an operator problem: run the integrity check).",
        '"Temporarily unavailable".',
    ),
    # -- earning ----------------------------------------------------------------------------
    "citizen-unverified": (
        "The citizen had no live verification at the time of the activity.",
        '"Get verified first"; activities before verification do not earn.',
    ),
    "citizen-revoked": (
        "The citizen's verification was revoked.",
        '"Your verification was withdrawn"; contact a verifier.',
    ),
    "unknown-provider": (
        "The evidence is signed by a key no registered data provider holds.",
        '"This receipt or trip is not from a partner".',
    ),
    "provider-suspended": (
        "The evidence is signed by a suspended data provider.",
        '"This partner is suspended; the activity cannot earn".',
    ),
    "provider-wrong-type": (
        "The provider may not sign this kind of evidence (a merchant signing a trip).",
        '"This partner cannot certify this activity".',
    ),
    "provider-exists": (
        "A data provider with that code or key is already registered (operator).",
        "Show the existing provider.",
    ),
    "evidence-not-yours": (
        "The evidence names another citizen.",
        '"This receipt or trip belongs to someone else".',
    ),
    "duplicate-evidence": (
        "The same evidence was already claimed (each receipt or trip counts once).",
        '"Already counted"; show the existing claim.',
    ),
    "overlapping-trip": (
        "The trip overlaps in time another trip of the citizen.",
        '"This trip overlaps another one".',
    ),
    "daily-cap-reached": (
        "The citizen reached the daily credit cap.",
        '"Daily limit reached; more tomorrow".',
    ),
    "yearly-cap-reached": (
        "The citizen reached the yearly credit cap.",
        '"Yearly limit reached".',
    ),
    "evidence-expired": (
        "The evidence is older than the claim window.",
        '"Too old to claim".',
    ),
    "evidence-from-future": (
        "The evidence is dated in the future (a clock problem).",
        '"Check the phone\'s date and time".',
    ),
    "invalid-trip-times": ("The trip ends before it starts.", "A bug in the app; report it."),
    "impossible-speed": (
        "The trip's speed is not plausible for its mode.",
        '"This trip could not be verified".',
    ),
    "distance-mismatch": (
        "The trip's distance disagrees with its stations or coordinates.",
        '"This trip could not be verified".',
    ),
    "missing-trip-data": (
        "The trip lacks the stations or coordinates its mode needs.",
        "A bug in the app or the partner's record; report it.",
    ),
    "gps-legs-not-allowed": (
        "GPS legs were sent with a trip that is not a transit trip.",
        "A bug in the app; report it.",
    ),
    "gps-leg-over-cap": (
        "A GPS leg is longer than the allowed cap.",
        '"Part of this trip could not be counted".',
    ),
    "unknown-mode": (
        "The trip's mode is not in the methodology.",
        '"This kind of trip does not earn".',
    ),
    "unknown-station": (
        "A station of the trip is not known.",
        '"This trip could not be verified".',
    ),
    "unknown-product-category": (
        "A product's category has no baseline in the methodology.",
        '"This product does not earn credits".',
    ),
    "no-reduction": (
        "The activity avoided no emissions, so there is nothing to credit.",
        '"No credits for this one" (not an error to retry).',
    ),
    "unknown-methodology": ("No such methodology version.", '"Not found".'),
    "methodology-tampered": (
        "A factor set no longer matches the hash a claim recorded (an operator problem).",
        '"Temporarily unavailable".',
    ),
    "claim-not-issued": (
        "The claim is not in an issued batch yet, so it has no proof.",
        "Show the claim as pending; retry later.",
    ),
    "no-wallet": (
        "The account has no wallet yet.",
        "Offer to create the wallet (`POST /accounts/{id}/wallet`).",
    ),
    # -- idempotency and market (issue 6; written ahead of the merge) ----------------------
    "invalid-idempotency-key": (
        "The `Idempotency-Key` header is missing or malformed.",
        "A bug in the app: send a fresh UUID per user action.",
    ),
    "idempotency-key-reused": (
        "The `Idempotency-Key` was used before with other parameters.",
        "A bug in the app: a new action needs a new key.",
    ),
    "invalid-order": ("The order is not valid (lots, expiry, amounts).", "Mark the order form."),
    "invalid-signature": (
        "The signature is not the maker's (EIP-712 order or cancel).",
        '"The signature did not match"; sign again.',
    ),
    "duplicate-order": ("This signed order was already placed.", "Show the existing order."),
    "order-closed": (
        "The order is filled, cancelled or expired.",
        "Refresh the order; it is no longer open.",
    ),
    "order-limit-reached": (
        "The maker has too many open orders.",
        '"Cancel an open order first".',
    ),
    "self-trade": (
        "The order would trade with the maker's own order.",
        '"This would trade with your own order".',
    ),
    "price-outside-band": (
        "The price is outside the allowed band around the last trade.",
        "Show the allowed price range.",
    ),
    "not-order-maker": (
        "Only the order's maker may cancel it.",
        '"You cannot cancel this order".',
    ),
    "fill-rejected": (
        "The chain refused to settle a fill (a balance, identity or signature changed).",
        "Show the fill as not settled; the order stays as it is.",
    ),
    # -- refused by the chain (ERROR_PROBLEMS) ----------------------------------------------
    "unverified-account": (
        "The token refuses an address without a live attestation (holding or receiving "
        "credits needs verification).",
        '"Get verified first" and link to the verification guide.',
    ),
    "insufficient-balance": (
        "Not enough credits for the transfer, order or retirement.",
        '"Not enough credits" with the current balance.',
    ),
    "insufficient-allowance": (
        "The spender's allowance is too small.",
        '"Not enough credits approved"; do not retry unchanged.',
    ),
    "paused": (
        "The operator paused credit movements (an emergency).",
        '"Credits are paused for maintenance"; retry later.',
    ),
    "not-attesting-verifier": (
        "Only the verifier that made the attestation may change or revoke it.",
        'At the desk: "Another verifier made this attestation."',
    ),
    "not-attested": (
        "The address has no live attestation to change.",
        "Show the account as not verified.",
    ),
    "invalid-expiry": ("The attestation's expiry is not in the future.", "A bug; report it."),
    "invalid-level": ("The assurance level is not valid.", "A bug; report it."),
    "empty-credential": ("The attestation's credential hash is empty.", "A bug; report it."),
    "zero-address": ("An address is the zero address.", "A bug; report it."),
    "batch-already-issued": (
        "An issuance batch with this id was already minted (a retried batch never mints twice).",
        "Nothing: the credits were issued once.",
    ),
    "empty-batch": ("An issuance batch has no claims.", "A bug; report it."),
    "zero-amount": ("An amount (a mint or a retirement) is zero.", '"Enter an amount above 0."'),
    "missing-beneficiary": (
        "A retirement needs a beneficiary.",
        "Mark the beneficiary field as required.",
    ),
    # -- merged later: custody, retirement and evidence ------------------------------------
    "no-platform-wallet": (
        "The action signs with a platform-held wallet, and this account holds its own keys.",
        "Ask the user to sign in their own wallet (or get a platform wallet at the desk).",
    ),
    "retirement-in-progress": (
        "The holder has a retirement still on its way to the chain (one at a time per holder).",
        '"Your previous retirement is being recorded"; retry in a few seconds.',
    ),
    "evidence-signature-invalid": (
        "The e-receipt or trip record was changed after the partner signed it, or was signed "
        "for another chain or contract.",
        '"This receipt could not be verified"; ask the partner for a new one.',
    ),
    "signature-required": (
        "A self-custody holder sent an order without the EIP-712 signature from their wallet.",
        "Ask the wallet to sign the order's typed data, then send it with the signature.",
    ),
}

# Problem types inside a 200 answer of ``POST /credentials/verify`` (``errors[]``): the
# credential is not verified, and ``check`` says which check failed (identity/verify.py).
VERIFICATION_HINTS: dict[str, tuple[str, str]] = {
    "credential-malformed": (
        "Not a compact vc+jwt of our credential type, or a required claim is missing.",
        '"This is not a CRDA credential."',
    ),
    "credential-signature-invalid": (
        "The signature does not verify with the issuer's key.",
        '"Not valid: the credential was altered."',
    ),
    "credential-issuer-unknown": (
        "The issuer's DID does not resolve to one of our verifiers.",
        '"Not valid: unknown issuer."',
    ),
    "credential-issuer-not-accredited": (
        "The issuer is no longer an accredited verifier.",
        '"Not valid: the verifier lost its accreditation."',
    ),
    "credential-not-yet-valid": ("The credential's validity has not started.", '"Not valid yet."'),
    "credential-expired": ("The credential has expired.", '"Expired: get verified again."'),
    "credential-revoked": (
        "The status list or the chain says the credential was revoked.",
        '"Revoked."',
    ),
    "credential-status-unavailable": (
        "The revocation list could not be fetched or read.",
        '"Cannot check right now"; retry later.',
    ),
    "credential-not-attested": (
        "The chain has no live attestation matching the credential.",
        '"Not valid on chain."',
    ),
}


@dataclass(frozen=True)
class Entry:
    slug: str
    status: int
    title: str
    when: str
    show: str
    contract_errors: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        return f"/problems/{self.slug}"


def _hint(slug: str, cls: object | None = None) -> tuple[str, str]:
    when = getattr(cls, "when", "") or ""
    show = getattr(cls, "show", "") or ""
    if when and show:
        return when, show
    return HINTS.get(slug, ("", ""))


def entries() -> list[Entry]:
    """Every HTTP problem type, sorted by status then slug."""
    by_slug: dict[str, Entry] = {}
    for slug, cls in PROBLEM_TYPES.items():
        when, show = _hint(slug, cls)
        by_slug[slug] = Entry(slug, cls.status, cls.title, when, show)
    contract: dict[str, list[str]] = {}
    for name, (status, slug, title) in ERROR_PROBLEMS.items():
        contract.setdefault(slug, []).append(name)
        if slug not in by_slug:
            when, show = _hint(slug)
            by_slug[slug] = Entry(slug, status, title, when, show)
    return sorted(
        (
            Entry(
                e.slug, e.status, e.title, e.when, e.show, tuple(sorted(contract.get(e.slug, [])))
            )
            for e in by_slug.values()
        ),
        key=lambda e: (e.status, e.slug),
    )


def missing_hints() -> list[str]:
    return [e.slug for e in entries() if not (e.when and e.show)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    lines = [
        "# Error catalogue",
        "",
        "<!-- Generated by `crda export-errors` from api/errors.py, api/chain/errors.py and "
        "api/catalogue.py; do not edit by hand. -->",
        "",
        "Every error the API returns is an RFC 9457 problem: status code, "
        "`Content-Type: application/problem+json`, and a body",
        "",
        "```json",
        '{"type": "/problems/not-found", "title": "Not found", "status": 404,',
        ' "detail": "no such credential", "instance": "/credentials/9f1c..."}',
        "```",
        "",
        "Key the app's messages on `type` (stable); `title` and `detail` are for developers and "
        "may change. Extension members carry specifics: `errors` (validation: `loc`, `msg`, "
        "`type` per field), `reason` (which check failed), `retry_after` (seconds), and for a "
        "refusal by the chain `error_name`, `error_args` and `tx_hash`. Every response, errors "
        "included, carries `X-Request-ID`: quote it when reporting a problem.",
        "",
        "## Problem types",
        "",
        "| type | status | title | when it happens | what the app shows |",
        "| --- | --- | --- | --- | --- |",
    ]
    for e in entries():
        when = e.when or "(not documented yet)"
        if e.contract_errors:
            names = ", ".join(f"`{n}`" for n in e.contract_errors)
            when = f"{when} Contract error: {names}."
        lines.append(
            f"| `{e.type}` | {e.status} | {_cell(e.title)} | {_cell(when)} | "
            f"{_cell(e.show or '(not documented yet)')} |"
        )
    lines += [
        "",
        "## Credential verification results",
        "",
        "`POST /credentials/verify` answers 200 with `verified: false` and an `errors` list when "
        "a credential does not verify; each entry has `type`, `title`, `detail` and `check` "
        "(the check that failed: `format`, `signature`, `issuer`, `expiry`, `status`, "
        "`attestation`).",
        "",
        "| type | when it happens | what the app shows |",
        "| --- | --- | --- |",
    ]
    for slug, (when, show) in sorted(VERIFICATION_HINTS.items()):
        lines.append(f"| `/problems/{slug}` | {_cell(when)} | {_cell(show)} |")
    return "\n".join(lines) + "\n"
