"""Who a per-client limit counts, and limits that cannot be read (pure logic)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.ratelimit import client_address
from api.settings import Settings


def test_a_client_is_its_address_an_ipv6_host_its_64_block() -> None:
    assert client_address("203.0.113.9") == "203.0.113.9"
    assert client_address("::ffff:203.0.113.9") == "203.0.113.9"
    assert client_address("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:2:bbbb::7") == client_address("2001:db8:1:2::99")
    assert client_address(None) == client_address("") == "unknown"
    assert client_address("testclient") == "testclient"


def test_a_rate_limit_that_cannot_be_read_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="not a rate limit"):
        Settings(_env_file=None, rate_limit_certificate_verify="many")  # type: ignore[call-arg]
    Settings(_env_file=None, rate_limit_certificate_verify="5 per second; 100/day")  # type: ignore[call-arg]
