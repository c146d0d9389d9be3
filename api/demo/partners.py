"""The partners of the morning: verifier organisations and their desks, data providers and keys.

The operator accredits the verifiers and registers the merchants and mobility operators over
HTTP. The partners' signing keys are the partners' own secrets: they are derived here, on the
partners' side, so a run is repeatable, and the API only ever sees their addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from api.demo.city import MERCHANTS, MOBILITY, VERIFIERS, Partner
from api.demo.day import Day, Person
from crda_client import Client


@dataclass(frozen=True)
class Partners:
    """Who verifies and who signs records, and the rules they sign under."""

    desks: list[Person]  # one signed-in desk per verifier organisation
    keys: dict[str, LocalAccount]  # partner slug -> signing key
    domain: dict[str, Any]  # the evidence EIP-712 domain the API serves
    types: dict[str, Any]  # ... and its types (``Trip``, ``Receipt``, ``LineItem``)
    merchants: list[Partner]
    mobility: list[Partner]  # with only the modes the methodology knows
    baselines: dict[str, int]  # product category -> grams per unit


def sign_typed(
    domain: dict[str, Any],
    types: dict[str, Any],
    primary: str,
    message: dict[str, Any],
    key: LocalAccount,
) -> str:
    """A partner's EIP-712 signature over a record, from the domain and types the API serves."""
    # eth_account derives the EIP712Domain type from the domain's own fields.
    signed = key.sign_typed_data(
        domain, {name: types[name] for name in _types_of(primary)}, message
    )
    return "0x" + bytes(signed.signature).hex()


def _types_of(primary: str) -> tuple[str, ...]:
    return ("Receipt", "LineItem") if primary == "Receipt" else ("Trip",)


def partner_key(seed: int, tag: str, slug: str) -> LocalAccount:
    """A partner's signing key (the partner's own secret; derived here so a run is repeatable)."""
    return Account.from_key(keccak(text=f"crda-demo:{seed}:{tag}:{slug}"))


def welcome_partners(day: Day, operator: Person, step: Callable[[], None]) -> Partners:
    """The evidence rules read; verifiers accredited with a desk each; providers registered."""
    s = day.sizes
    evidence = day.client().evidence_domain()
    factors = day.client().methodology(day.settings.methodology_version)["factors"]
    baselines = {k: int(v["baseline_g"]) for k, v in factors["product_categories"].items()}
    modes = set(factors["modes"])

    desks: list[Person] = []
    for i in range(s.verifiers):
        name = VERIFIERS[i % len(VERIFIERS)]
        org = operator.call(Client.register_verifier, name)
        step()
        desk = day.sign_up(f"desk{i}", f"{name} desk")
        operator.call(Client.add_verifier_member, org["id"], desk.account_id)
        desks.append(day.signed_in(desk.email, desk.name))
        step()
    day.report.verifiers = len(desks)

    partners = [*MERCHANTS[: s.merchants], *MOBILITY[: s.mobility]]
    keys: dict[str, LocalAccount] = {}
    for partner in partners:
        key = partner_key(day.seed, day.tag, partner.slug)
        code = f"{partner.slug}-{day.tag}"
        operator.call(
            Client.register_provider,
            code,
            partner.name,
            partner.kind,
            key.address,
            district=partner.district,
        )
        keys[partner.slug] = key
        step()
    day.report.providers = len(partners)
    return Partners(
        desks=desks,
        keys=keys,
        domain=evidence["domain"],
        types=evidence["types"],
        merchants=[p for p in partners if p.kind == "merchant"],
        mobility=[
            Partner(p.slug, p.name, p.kind, tuple(m for m in p.modes if m in modes), p.district)
            for p in partners
            if p.kind == "mobility"
        ],
        baselines=baselines,
    )
