"""The uniqueness key: one person, one identity, without keeping their national identifier.

``HMAC-SHA256(pepper, normalised national identifier)``. The pepper is a secret of the
platform (``CRDA_UNIQUENESS_PEPPER``), so the key cannot be reversed by enumerating the
(small) space of national identifiers without it. The verifier's desk computes the key; the
identifier itself is never sent to, or stored by, the API.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_DOMAIN = b"crda/uniqueness/v1\x00"
UNIQUENESS_KEY_PATTERN = r"^[0-9a-f]{64}$"


def normalise_national_id(national_id: str) -> str:
    """Digits and letters only, upper case: '900101-1234567' and '9001011234567' match."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", national_id).upper()
    if not cleaned:
        raise ValueError("empty national identifier")
    return cleaned


def uniqueness_key(national_id: str, pepper: str, country: str = "KR") -> str:
    """Hex HMAC of ``country:identifier`` under the pepper (64 lower-case hex characters)."""
    message = _DOMAIN + f"{country.upper()}:{normalise_national_id(national_id)}".encode()
    return hmac.new(pepper.encode(), message, hashlib.sha256).hexdigest()
