"""Certificates: the beneficiary's commitment and encrypted name, the certificate as JSON and
as a printable page, and the public verification of a certificate against the chain."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy.orm import Session

from api.audit import queries
from api.audit.errors import IndexNotStarted
from api.audit.provenance import retirement_allocation
from api.auth.secrets import envelope
from api.chain.gateway import ChainGateway
from api.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    Message,
    format_count,
    format_grams,
    format_kilograms,
    format_timestamp,
    msg,
    translator,
)
from api.retirement.models import Certificate, CertificateStatus
from api.retirement.schemas import Check, Verification
from api.settings import Settings


def beneficiary_hash(salt: str, beneficiary: str) -> str:
    """The on-chain commitment to a beneficiary: keccak256 of a versioned salt and the name."""
    payload = f"crda-beneficiary-v1\n{salt.lower()}\n{beneficiary}".encode()
    return "0x" + keccak(payload).hex()


def reason_salt(beneficiary_salt: str) -> str:
    """The reason's salt, derived from the certificate's (private) beneficiary salt: public,
    and keccak256 reveals nothing of the beneficiary salt."""
    return "0x" + keccak(b"CRDA.reason-salt.v1" + bytes.fromhex(beneficiary_salt[2:])).hex()


def reason_hash(salt: str, reason: str) -> str:
    """What the chain records as a retirement's reason: a salted commitment, not the text
    (personal data stays off chain; the text is on the certificate)."""
    encoded = abi_encode(
        ["string", "bytes32", "string"], ["CRDA.reason.v1", bytes.fromhex(salt[2:]), reason]
    )
    return "0x" + keccak(encoded).hex()


def beneficiary_aad(certificate_id: str) -> bytes:
    return f"certificates/{certificate_id}/beneficiary".encode()


def beneficiary_of(settings: Settings, certificate: Certificate) -> str:
    """The beneficiary's name, decrypted (never logged)."""
    env = envelope(settings)
    data_key = env.unwrap(certificate.beneficiary_data_key)
    plain = env.decrypt(
        data_key, certificate.beneficiary_ciphertext, beneficiary_aad(certificate.id)
    )
    return bytes(plain).decode()


def verification_url(settings: Settings, certificate: Certificate) -> str | None:
    """The public URL a QR code carries: the serial and what the certificate claims."""
    if certificate.serial is None:
        return None
    query: dict[str, Any] = {
        "amount": certificate.amount,
        "beneficiary_hash": certificate.beneficiary_hash,
        "tx_hash": certificate.tx_hash,
    }
    return f"{settings.public_url}/certificates/{certificate.serial}/verify?{urlencode(query)}"


def _iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def certificate_json(
    session: Session, settings: Settings, certificate: Certificate, *, include_private: bool
) -> dict[str, Any]:
    """The certificate; the beneficiary's name only for the holder or when they published it."""
    show = include_private or certificate.publish_beneficiary
    body: dict[str, Any] = {
        "id": certificate.id if include_private else None,
        "status": certificate.status,
        "serial": certificate.serial,
        "amount": certificate.amount,
        "unit": "gram CO2e",
        "holder": to_checksum_address(certificate.holder),
        "beneficiary": beneficiary_of(settings, certificate) if show else None,
        "beneficiary_salt": certificate.beneficiary_salt if show else None,
        "beneficiary_published": certificate.publish_beneficiary,
        "beneficiary_hash": certificate.beneficiary_hash,
        "reason": certificate.reason,
        "reason_salt": reason_salt(certificate.beneficiary_salt),
        "reason_hash": reason_hash(reason_salt(certificate.beneficiary_salt), certificate.reason),
        "retired_at": _iso(certificate.retired_at),
        "tx_hash": certificate.tx_hash,
        "block_number": certificate.block_number,
        "error_name": certificate.error_name,
        "verification_url": verification_url(settings, certificate),
        "allocation": None,
    }
    if not include_private:
        body.pop("id")
    if certificate.status == CertificateStatus.confirmed.value and certificate.tx_hash:
        try:
            allocation = retirement_allocation(
                session,
                certificate.holder,
                certificate.tx_hash,
                certificate.amount,
                certificate.block_number or 0,
            )
            body["allocation"] = allocation.model_dump(mode="json")
        except IndexNotStarted:
            body["allocation"] = {"complete": False, "detail": "the index has not started"}
    return body


# -- verification ------------------------------------------------------------------------------


def verify_certificate(
    session: Session,
    chain: ChainGateway,
    settings: Settings,
    serial: int,
    *,
    amount: int | None = None,
    beneficiary_hash_claimed: str | None = None,
    tx_hash: str | None = None,
    holder: str | None = None,
    beneficiary: str | None = None,
    salt: str | None = None,
    reason: str | None = None,
    reason_salt_claimed: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> Verification:
    """Check what a certificate claims against the chain's Retired event (and the index); each
    check's detail in ``locale``."""
    checks: list[Check] = []

    def check(name: str, ok: bool, detail: Message) -> None:
        checks.append(Check(name=name, ok=ok, detail=detail.render(locale)))

    event: dict[str, Any] | None = None
    receipt = None
    if tx_hash:
        try:
            receipt = chain.receipt(tx_hash)
        except ValueError:
            receipt = None
        check(
            "transaction",
            receipt is not None and receipt["status"] == 1,
            msg("the transaction is mined and succeeded")
            if receipt is not None
            else msg("no such transaction on this chain"),
        )
        if receipt is not None:
            for found in chain.receipt_events("CRDAToken", "Retired", receipt):
                if int(found["args"]["certificateId"]) == serial:
                    event = dict(found)
    else:
        deployment = chain.deployment
        start = deployment.contracts["CRDAToken"].block_number if deployment else 0
        logs = chain.events(
            "CRDAToken", "Retired", argument_filters={"certificateId": serial}, from_block=start
        )
        event = dict(logs[0]) if logs else None
    if tx_hash:
        seen = (
            msg(
                "a Retired event with certificate id {serial} in that transaction exists",
                serial=serial,
            )
            if event
            else msg(
                "a Retired event with certificate id {serial} in that transaction does not exist",
                serial=serial,
            )
        )
    else:
        seen = (
            msg("a Retired event with certificate id {serial} exists", serial=serial)
            if event
            else msg("a Retired event with certificate id {serial} does not exist", serial=serial)
        )
    check("retired-event", event is not None, seen)
    on_chain: dict[str, Any] | None = None
    if event is not None:
        args = event["args"]
        on_chain = {
            "serial": int(args["certificateId"]),
            "holder": str(args["holder"]).lower(),
            "amount": int(args["amount"]),
            "beneficiary_hash": HexBytes(args["beneficiaryHash"]).to_0x_hex(),
            "reason": args["reason"],
            "tx_hash": HexBytes(event["transactionHash"]).to_0x_hex(),
            "block_number": int(event["blockNumber"]),
        }
        head = chain.block_number()
        depth = head - on_chain["block_number"]
        check(
            "confirmations",
            depth >= settings.confirmations,
            msg("{depth} blocks deep (needs {needed})", depth=depth, needed=settings.confirmations),
        )
        if amount is not None:
            check(
                "amount",
                amount == on_chain["amount"],
                msg(
                    "claimed {claimed} g, on chain {on_chain} g",
                    claimed=amount,
                    on_chain=on_chain["amount"],
                ),
            )
        if beneficiary_hash_claimed is not None:
            check(
                "beneficiary-hash",
                beneficiary_hash_claimed.lower() == on_chain["beneficiary_hash"],
                msg("the beneficiary commitment matches the chain")
                if beneficiary_hash_claimed.lower() == on_chain["beneficiary_hash"]
                else msg("the beneficiary commitment differs from the chain"),
            )
        if beneficiary is not None:
            if salt is None:
                check("beneficiary", False, msg("a beneficiary name needs its salt to be checked"))
            else:
                recomputed = beneficiary_hash(salt, beneficiary)
                check(
                    "beneficiary",
                    recomputed == on_chain["beneficiary_hash"],
                    msg("the named beneficiary is the one committed on chain")
                    if recomputed == on_chain["beneficiary_hash"]
                    else msg("the named beneficiary is not the one committed on chain"),
                )
        if holder is not None:
            check(
                "holder",
                holder.lower() == on_chain["holder"],
                msg(
                    "claimed {claimed}, on chain {on_chain}",
                    claimed=holder.lower(),
                    on_chain=on_chain["holder"],
                ),
            )
        if reason is not None and reason_salt_claimed is None:
            check("reason", False, msg("a reason needs its salt to be checked"))
        elif reason is not None and reason_salt_claimed is not None:
            same = reason_hash(reason_salt_claimed, reason) == on_chain["reason"]
            check(
                "reason",
                same,
                msg("the reason matches the chain")
                if same
                else msg("the reason differs from the chain"),
            )
        try:
            indexed = queries.get_retirement(session, serial)
        except IndexNotStarted:
            indexed = None
        if indexed is not None:
            agrees = (indexed.tx_hash, indexed.amount) == (on_chain["tx_hash"], on_chain["amount"])
            check(
                "index",
                agrees,
                msg("the audit index agrees with the chain")
                if agrees
                else msg("the audit index disagrees with the chain"),
            )
    reasons = [c.detail for c in checks if not c.ok]
    return Verification(
        verified=not reasons, serial=serial, reasons=reasons, checks=checks, on_chain=on_chain
    )


# -- pages -----------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b2a24;margin:0;
background:#eef3f0}
.sheet{max-width:760px;margin:32px auto;background:#fff;border:1px solid #cfdcd4;
border-radius:10px;padding:40px 48px;box-shadow:0 2px 10px rgba(0,0,0,.06)}
h1{font-size:26px;margin:0 0 4px;color:#145c3c}.sub{color:#5a6b63;margin:0 0 28px}
.amount{font-size:44px;font-weight:700;color:#145c3c;margin:8px 0}
table{border-collapse:collapse;width:100%;font-size:14px}td{padding:6px 8px;
border-bottom:1px solid #e4ece7;vertical-align:top}td:first-child{color:#5a6b63;width:34%}
code{font-size:12px;word-break:break-all}.qr{float:right;width:170px;margin-left:24px}
.ok{color:#157a3f;font-weight:600}.bad{color:#b3261e;font-weight:600}
.lang{max-width:760px;margin:16px auto -16px;text-align:right;font-size:14px;color:#5a6b63}
.lang a{color:#145c3c}.sheet a{word-break:break-all}html[lang=ko] p{word-break:keep-all}
@media print{body{background:#fff}.sheet{box-shadow:none;border:none;margin:0}.lang{display:none}}
"""


def _switch(locale: str, links: dict[str, str]) -> str:
    """The language switch: the page in each language, the current one not a link."""
    names = {"ko": "한국어", "en": "English"}
    parts = [
        f'<b lang="{code}">{names[code]}</b>'
        if code == locale
        else f'<a lang="{code}" href="{html.escape(links[code])}">{names[code]}</a>'
        for code in LOCALES
        if code in links
    ]
    return f"<nav class='lang' aria-label='Language'>{' · '.join(parts)}</nav>"


def _page(locale: str, title: str, body: str, links: dict[str, str]) -> str:
    return (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{_STYLE}</style></head><body>{_switch(locale, links)}"
        f"<div class='sheet'>{body}</div></body></html>"
    )


def _retired_at(value: str | None, locale: str) -> str | None:
    if not value:
        return None
    return format_timestamp(datetime.fromisoformat(value.replace("Z", "+00:00")), locale)


def certificate_html(
    body: dict[str, Any], locale: str = DEFAULT_LOCALE, links: dict[str, str] | None = None
) -> str:
    """The printable certificate in ``locale``, with a switch to the other languages."""
    e = html.escape
    _ = translator(locale)
    pending = _("pending")
    serial = body.get("serial")
    beneficiary = body.get("beneficiary") or _("withheld at the holder's request")
    rows = [
        (_("Serial"), f"#{serial}" if serial is not None else pending),
        (_("Beneficiary"), e(str(beneficiary))),
        (_("Beneficiary commitment"), f"<code>{e(body['beneficiary_hash'])}</code>"),
        (_("Reason"), e(body["reason"])),
        (_("Retired at"), e(_retired_at(body.get("retired_at"), locale) or pending)),
        (_("Holder"), f"<code>{e(body['holder'])}</code>"),
        (_("Transaction"), f"<code>{e(body.get('tx_hash') or pending)}</code>"),
        (_("Block"), e(str(body.get("block_number") or pending))),
    ]
    allocation = body.get("allocation") or {}
    lots = allocation.get("lots") or []
    if lots:
        rows.append(
            (
                _("Credits retired (first in, first out)"),
                "<br>".join(
                    (
                        _("{amount} from batch {source}")
                        if lot.get("batch_id")
                        else _("{amount} from transfer {source}")
                    ).format(
                        amount=e(format_grams(lot["amount"], locale)),
                        source=f"<code>{e((lot.get('batch_id') or lot['tx_hash'])[:18])}…</code>",
                    )
                    for lot in lots
                ),
            )
        )
    table = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in rows)
    qr = (
        f'<img class="qr" alt="{e(_("QR code: verify this certificate"))}" '
        f'src="/certificates/{serial}/qr?format=svg">'
        if serial is not None
        else ""
    )
    verify = body.get("verification_url")
    link = (
        f'<p>{e(_("Check it yourself:"))} <a href="{e(verify)}">{e(verify)}</a></p>'
        if verify
        else ""
    )
    retired = msg(
        "{credits} credits (grams of CO2e avoided) were retired on chain and can never be "
        "used again.",
        credits=format_count(body["amount"], locale),
    ).render(locale)
    return _page(
        locale,
        msg("CRDA retirement certificate #{serial}", serial=serial).render(locale),
        f"{qr}<h1>{e(_('Retirement certificate'))}</h1><p class='sub'>"
        f"{e(_('Carbon Reduction Digital Asset · Incheon'))}</p>"
        f"<div class='amount'>{format_kilograms(body['amount'], locale)} CO2e</div>"
        f"<p>{e(retired)}</p><table>{table}</table>{link}",
        links or {},
    )


# The verification's checks, as a page names them.
CHECK_LABELS: dict[str, Message] = {
    "transaction": msg("Transaction"),
    "retired-event": msg("Retired event"),
    "confirmations": msg("Confirmations"),
    "amount": msg("Amount"),
    "beneficiary-hash": msg("Beneficiary commitment"),
    "beneficiary": msg("Beneficiary"),
    "holder": msg("Holder"),
    "reason": msg("Reason"),
    "index": msg("Audit index"),
}


def verification_html(
    result: Verification, locale: str = DEFAULT_LOCALE, links: dict[str, str] | None = None
) -> str:
    """The verification's verdict and checks in ``locale`` (the checks were made in it)."""
    e = html.escape
    _ = translator(locale)
    verdict = (
        f"<p class='ok'>{e(_('Verified: this certificate matches the blockchain.'))}</p>"
        if result.verified
        else f"<p class='bad'>{e(_('Not verified:'))} " + e("; ".join(result.reasons)) + "</p>"
    )
    rows = "".join(
        f"<tr><td>{e(CHECK_LABELS[c.name].render(locale) if c.name in CHECK_LABELS else c.name)}"
        f"</td><td class='{'ok' if c.ok else 'bad'}'>{'✓' if c.ok else '✗'} {e(c.detail)}</td></tr>"
        for c in result.checks
    )
    heading = msg("Certificate #{serial}", serial=result.serial).render(locale)
    return _page(
        locale,
        msg("Certificate #{serial}: verification", serial=result.serial).render(locale),
        f"<h1>{e(heading)}</h1>{verdict}<table>{rows}</table>",
        links or {},
    )
