"""The error catalogue: every problem ``type`` the API can return, for the mobile team.

Its sources are the code's own registries: :data:`api.errors.PROBLEM_TYPES` (every
``Problem`` subclass, filled as modules are imported; the app imports them all) and
:data:`api.chain.errors.ERROR_PROBLEMS` (contract custom errors). What the registries cannot
say, *when it happens* and *what the app should show*, is declared next to the problem
(``problem(409, "x", "X", when=..., show=...)``); :data:`HINTS` holds it only for the types no
``problem()`` call declares (contract errors, problems raised by slug). ``crda export-errors``
renders ``mobile_api_docs/errors.md``; a test fails when a type has no hint or it is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.chain.errors import ERROR_PROBLEMS
from api.errors import PROBLEM_TYPES
from api.i18n import gettext

# slug -> (when it happens, what the app should show)
HINTS: dict[str, tuple[str, str]] = {
    # -- raised by slug (a contract error with no mapping, a fill the chain refused) ---------
    "chain-rejected": (
        "The chain refused the operation with a custom error this catalogue does not map; "
        "`error_name` and `error_args` say which.",
        '"The operation was refused" with `detail`; do not retry unchanged.',
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
    "transfer-already-applied": (
        "A won mint or burn names a deposit or withdrawal reference the token used before "
        "(a re-sent transfer never moves money twice).",
        "Nothing: the deposit or withdrawal was applied once.",
    ),
    "zero-amount": ("An amount (a mint or a retirement) is zero.", '"Enter an amount above 0."'),
    "missing-beneficiary": (
        "A retirement needs a beneficiary.",
        "Mark the beneficiary field as required.",
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
        "## Languages",
        "",
        "`title` and `detail` come in the language the request asks for with `Accept-Language` "
        "(`ko` or `en`, q-values honoured: `ko-KR,ko;q=0.9,en;q=0.8` gets Korean); without the "
        "header, or naming neither, English. The answer says which in `Content-Language` (and "
        "`Vary: Accept-Language`). `type`, `status` and the extension members never change with "
        "the language. The Korean app sends `Accept-Language: ko` and can show `title` (and "
        "`detail`) as they come; the Korean titles are in the table below.",
        "",
        "## Problem types",
        "",
        "| type | status | title | title (ko) | when it happens | what the app shows |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in entries():
        when = e.when or "(not documented yet)"
        if e.contract_errors:
            names = ", ".join(f"`{n}`" for n in e.contract_errors)
            when = f"{when} Contract error: {names}."
        lines.append(
            f"| `{e.type}` | {e.status} | {_cell(e.title)} | {_cell(gettext('ko', e.title))} | "
            f"{_cell(when)} | "
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
