"""Opening the Apple (APPLE-HPKE-v1) and DC API (ISO/IEC 18013-7 Annex C) envelopes; sealed here with
pyhpke directly (RFC 9180 base mode, DHKEM(P-256)/HKDF-SHA256/AES-128-GCM, info = transcript bytes)."""

from __future__ import annotations

import hashlib

import cbor2
import pyhpke
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from mdoc_issuer import NOW, IssuerPKI, issue

from myna_rp import MynaRPError, Reason
from myna_rp.mdoc import (
    IACAStore,
    MdocVerifier,
    SessionTranscript,
    apple_transcript,
    dcapi_encryption_info,
    dcapi_transcript,
    open_apple_envelope,
    open_dcapi_response,
    public_key_sha256,
)

SUITE = pyhpke.CipherSuite.new(
    pyhpke.KEMId.DHKEM_P256_HKDF_SHA256, pyhpke.KDFId.HKDF_SHA256, pyhpke.AEADId.AES128_GCM
)


def _seal(public: ec.EllipticCurvePublicKey, info: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    enc, sender = SUITE.create_sender_context(pyhpke.KEMKey.from_pyca_cryptography_key(public), info=info)
    return enc, sender.seal(plaintext, aad=b"")


def test_apple_envelope_round_trip_and_verify() -> None:
    rp_key = ec.generate_private_key(ec.SECP256R1())
    transcript = apple_transcript(
        nonce=b"0123456789abcdef",
        merchant_id="merchant.jp.example",
        team_id="TEAM123456",
        encryption_key_hash=public_key_sha256(rp_key.public_key()),
    )
    pki = IssuerPKI()
    issued = issue(pki, transcript=transcript.raw)
    enc, ct = _seal(rp_key.public_key(), transcript.raw, cbor2.dumps({"identity": issued.device_response}))
    point = rp_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    envelope = cbor2.dumps(
        {
            "algorithm": "APPLE-HPKE-v1",
            "params": {
                "mode": 0,
                "pkEm": enc,
                "pkRHash": hashlib.sha256(point).digest(),
                "infoHash": hashlib.sha256(transcript.raw).digest(),
            },
            "data": ct,
        }
    )
    response = open_apple_envelope(envelope, recipient_private_key=rp_key, session_transcript=transcript)
    assert response == issued.device_response
    p = MdocVerifier(IACAStore([pki.iaca])).verify(response, session_transcript=transcript, at=NOW)
    assert p.channel.value == "apple"

    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(MynaRPError) as info:
        open_apple_envelope(envelope, recipient_private_key=other, session_transcript=transcript)
    assert info.value.reason is Reason.ENVELOPE_INVALID
    wrong_transcript = SessionTranscript.from_bytes(cbor2.dumps([None, None, ["x"]]))
    with pytest.raises(MynaRPError) as info:
        open_apple_envelope(envelope, recipient_private_key=rp_key, session_transcript=wrong_transcript)
    assert info.value.reason is Reason.ENVELOPE_INVALID


def test_dcapi_response_round_trip() -> None:
    rp_key = ec.generate_private_key(ec.SECP256R1())
    info = dcapi_encryption_info(nonce=b"0123456789abcdef", recipient_public_key=rp_key.public_key())
    transcript = dcapi_transcript(encryption_info_b64url=info, origin="https://shop.example")
    enc, ct = _seal(rp_key.public_key(), transcript.raw, b"device response bytes")
    wire = cbor2.dumps(["dcapi", {"enc": enc, "cipherText": ct}])
    assert open_dcapi_response(wire, recipient_private_key=rp_key, session_transcript=transcript) == (
        b"device response bytes"
    )
    other = dcapi_transcript(encryption_info_b64url=info, origin="https://evil.example")
    with pytest.raises(MynaRPError) as err:
        open_dcapi_response(wire, recipient_private_key=rp_key, session_transcript=other)
    assert err.value.reason is Reason.ENVELOPE_INVALID
    with pytest.raises(MynaRPError):
        open_dcapi_response(
            cbor2.dumps(["other", {}]), recipient_private_key=rp_key, session_transcript=transcript
        )
