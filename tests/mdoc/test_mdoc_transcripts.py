"""SessionTranscript builders: exact bytes.

The OpenID4VP vectors are the non-normative examples of OpenID for Verifiable Presentations 1.0,
Appendix B.2.6.1 (OpenID4VPHandover, redirect) and B.2.6.2 (OpenID4VPDCAPIHandover), as published in
github.com/openid/OpenID4VP, file ``1.0/openid-4-verifiable-presentations-1_0.md`` (client_id
``x509_san_dns:example.com``, origin ``https://example.com``, nonce
``exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA``, the example encryption JWK whose RFC 7638 thumbprint is
``4283ec92…9047``, response_uri ``https://example.com/response``)."""

from __future__ import annotations

import base64
import hashlib

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from myna_rp import MalformedInputError
from myna_rp.mdoc import (
    Channel,
    SessionTranscript,
    apple_transcript,
    dcapi_encryption_info,
    dcapi_transcript,
    jwk_thumbprint,
    openid4vp_dcapi_transcript,
    openid4vp_transcript,
    public_key_sha256,
)

NONCE = "exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA"
JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
    "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc",
    "use": "enc",
    "alg": "ECDH-ES",
    "kid": "1",
}
THUMBPRINT = bytes.fromhex("4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047")


def test_jwk_thumbprint_of_the_spec_key() -> None:
    assert jwk_thumbprint(JWK) == THUMBPRINT


def test_openid4vp_redirect_handover_spec_vector() -> None:
    t = openid4vp_transcript(
        client_id="x509_san_dns:example.com",
        nonce=NONCE,
        jwk_thumbprint=THUMBPRINT,
        response_uri="https://example.com/response",
    )
    assert t.raw.hex() == (
        "83f6f682714f70656e494434565048616e646f7665725820048bc053c00442af9b8eed494cefdd9d95240d254b046b11b6801372"
        "2aad38ac"
    )
    assert t.channel is Channel.OPENID4VP


def test_openid4vp_dcapi_handover_spec_vector() -> None:
    t = openid4vp_dcapi_transcript(origin="https://example.com", nonce=NONCE, jwk_thumbprint=THUMBPRINT)
    assert t.raw.hex() == (
        "83f6f682764f70656e4944345650444341504948616e646f7665725820fbece366f4212f9762c74cfdbf83b8c69e371d5d68cea0"
        "9cb4c48ca6daab761a"
    )
    assert t.channel is Channel.OPENID4VP_DCAPI


def test_absent_thumbprint_is_null_not_empty() -> None:
    a = openid4vp_dcapi_transcript(origin="https://example.com", nonce=NONCE)
    info = cbor2.dumps(["https://example.com", NONCE, None])
    assert a.raw == cbor2.dumps([None, None, ["OpenID4VPDCAPIHandover", hashlib.sha256(info).digest()]])


def test_dcapi_annex_c_transcript() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    info = dcapi_encryption_info(nonce=b"0123456789abcdef", recipient_public_key=key)
    decoded = cbor2.loads(base64.urlsafe_b64decode(info + "=" * (-len(info) % 4)))
    assert decoded[0] == "dcapi"
    assert decoded[1]["nonce"] == b"0123456789abcdef"
    assert decoded[1]["recipientPublicKey"][1] == 2
    t = dcapi_transcript(encryption_info_b64url=info, origin="https://shop.example")
    digest = hashlib.sha256(cbor2.dumps([info, "https://shop.example"])).digest()
    assert t.raw == cbor2.dumps([None, None, ["dcapi", digest]])
    assert t.channel is Channel.DCAPI


def test_apple_transcript() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    key_hash = public_key_sha256(key)
    t = apple_transcript(
        nonce=b"n" * 16, merchant_id="merchant.jp.example", team_id="TEAM123456", encryption_key_hash=key_hash
    )
    assert cbor2.loads(t.raw) == [
        None,
        None,
        ["AppleIdentityPresentment_1.0", b"n" * 16, "merchant.jp.example", "TEAM123456", key_hash],
    ]
    assert t.channel is Channel.APPLE
    with pytest.raises(MalformedInputError):
        apple_transcript(nonce=b"", merchant_id="m", team_id="t", encryption_key_hash=key_hash)


def test_from_bytes_keeps_exact_bytes_and_tags() -> None:
    raw = openid4vp_dcapi_transcript(origin="https://example.com", nonce=NONCE).raw
    tagged = cbor2.dumps(cbor2.CBORTag(24, raw))
    assert SessionTranscript.from_bytes(raw).raw == raw
    parsed = SessionTranscript.from_bytes(tagged)
    assert parsed.raw == raw
    assert parsed.tagged == tagged
    with pytest.raises(MalformedInputError):
        SessionTranscript.from_bytes(cbor2.dumps([None, None]))
