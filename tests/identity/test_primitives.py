"""Pure identity logic: envelope encryption, uniqueness keys, status lists, DIDs, settings."""

from __future__ import annotations

import json
import os

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from api.auth.tokens import InvalidAccessToken, decode_access_token, issue_access_token
from api.settings import DEV_MASTER_KEY, Environment, Settings
from identity import status_list
from identity.did import DIDError, parse_pkh_did, pkh_did, web_did, web_did_url
from identity.envelope import DecryptionFailed, Envelope
from identity.uniqueness import uniqueness_key


def test_envelope_round_trip_and_authentication() -> None:
    env = Envelope(os.urandom(32))
    key, wrapped = env.new_data_key()
    assert env.unwrap(wrapped) == key
    blob = env.encrypt(key, b"Kim Minji", b"personal_data/1/name")
    assert b"Kim" not in blob
    assert env.decrypt(key, blob, b"personal_data/1/name") == b"Kim Minji"
    with pytest.raises(DecryptionFailed):  # copied to another row or field
        env.decrypt(key, blob, b"personal_data/2/name")
    with pytest.raises(DecryptionFailed):  # one bit changed
        env.decrypt(key, blob[:-1] + bytes([blob[-1] ^ 1]), b"personal_data/1/name")
    with pytest.raises(DecryptionFailed):  # another master key cannot unwrap
        Envelope(os.urandom(32)).unwrap(wrapped)


def test_uniqueness_key_is_keyed_and_normalised() -> None:
    a = uniqueness_key("900101-1234567", "pepper-1")
    assert a == uniqueness_key(" 9001011234567 ", "pepper-1")
    assert a != uniqueness_key("900101-1234567", "pepper-2")
    assert a != uniqueness_key("900101-1234568", "pepper-1")
    assert len(a) == 64 and "9001011234567" not in a


@given(st.sets(st.integers(min_value=0, max_value=status_list.MIN_SIZE - 1), max_size=50))
def test_status_list_round_trip(bits: set[int]) -> None:
    decoded = status_list.decode(status_list.encode(bits))
    assert len(decoded) * 8 == status_list.MIN_SIZE
    for index in [*list(bits)[:10], 0, status_list.MIN_SIZE - 1]:
        assert status_list.is_set(decoded, index) == (index in bits)


def test_status_list_index_zero_is_the_leftmost_bit() -> None:
    assert status_list.decode(status_list.encode({0}, size=16)) == b"\x80\x00"


def test_dids() -> None:
    address = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
    did = pkh_did(31337, address)
    assert did == "did:pkh:eip155:31337:0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert parse_pkh_did(did)[0] == 31337
    with pytest.raises(DIDError):
        parse_pkh_did("did:pkh:eip155:1:0xnope")
    web = web_did("https://crda.incheon.go.kr:8443", "verifiers", "abc")
    assert web == "did:web:crda.incheon.go.kr%3A8443:verifiers:abc"
    assert web_did_url(web) == "https://crda.incheon.go.kr:8443/verifiers/abc/did.json"


def test_production_refuses_placeholder_identity_secrets() -> None:
    strong = {
        "operator_key": "0x" + "11" * 32,
        "issuer_key": "0x" + "22" * 32,
        "relayer_key": "0x" + "33" * 32,
        "session_keys": '{"k1": "pem"}',
        "uniqueness_pepper": "a real secret pepper",
        "master_key": "A" * 43,
        "admin_address": "0x" + "44" * 20,
    }
    Settings(environment=Environment.production, **strong)  # type: ignore[arg-type]
    for name, placeholder in (
        ("session_keys", ""),
        ("master_key", DEV_MASTER_KEY),
        ("uniqueness_pepper", "dev-only-uniqueness-pepper"),
    ):
        with pytest.raises(ValueError, match=f"CRDA_{name.upper()}"):
            Settings(environment=Environment.production, **{**strong, name: placeholder})  # type: ignore[arg-type]


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_session_key_rotation() -> None:
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    before = Settings(session_keys=json.dumps({"k1": _pem(old)}), session_active_kid="k1")  # type: ignore[arg-type]
    during = Settings(
        session_keys=json.dumps({"k1": _pem(old), "k2": _pem(new)}),  # type: ignore[arg-type]
        session_active_kid="k2",
    )
    after = Settings(session_keys=json.dumps({"k2": _pem(new)}), session_active_kid="k2")  # type: ignore[arg-type]
    old_token, _ttl = issue_access_token(before, "account-1", "citizen")
    new_token, _ttl = issue_access_token(during, "account-1", "citizen")
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    assert decode_access_token(during, old_token).subject == "account-1"  # still accepted
    assert decode_access_token(after, new_token).subject == "account-1"
    with pytest.raises(InvalidAccessToken) as info:
        decode_access_token(after, old_token)  # the old key was dropped
    assert info.value.reason == "unknown-key"
