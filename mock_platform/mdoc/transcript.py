"""SessionTranscripts of the online channels and the HPKE sealing the device side uses.

Every builder returns the **exact bytes** of the SessionTranscript (CBOR, not tag-24 wrapped): they are
what HPKE takes as ``info`` and what DeviceAuthentication embeds. Callers keep these bytes; nothing is
rebuilt from parsed values.

* Apple "Verify with Wallet" (in an iOS app): ``[null, null, ["AppleIdentityPresentment_1.0", nonce,
  merchantId, teamId, pkRHash]]`` where ``pkRHash = SHA-256(recipient public key)``. The key is hashed in
  its uncompressed SEC1/X9.62 form (65 bytes for P-256), as public verifier implementations do
  (**assumed**: Apple's text says only "the SHA256 hash of the recipient public key").
* ISO/IEC 18013-7 Annex C (W3C Digital Credentials API, protocol ``org-iso-mdoc``):
  ``EncryptionInfo = ["dcapi", {"nonce": bstr, "recipientPublicKey": COSE_Key}]`` sent base64url (no
  padding); ``[null, null, ["dcapi", SHA-256(CBOR([base64url EncryptionInfo, origin]))]]``.
* OpenID4VP over the DC API: ``[null, null, ["OpenID4VPDCAPIHandover", SHA-256(CBOR([origin, nonce,
  jwk_thumbprint | null]))]]``; the redirect form ``["OpenID4VPHandover", SHA-256(CBOR([client_id, nonce,
  jwk_thumbprint | null, response_uri]))]``.

HPKE (RFC 9180): base mode, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM, ``info`` = transcript
bytes, empty ``aad`` — through ``pyhpke``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

from .cbor import encode
from .cose import cose_key

APPLE_HANDOVER = "AppleIdentityPresentment_1.0"
APPLE_ALGORITHM = "APPLE-HPKE-v1"
DCAPI = "dcapi"
OPENID4VP_DCAPI_HANDOVER = "OpenID4VPDCAPIHandover"
OPENID4VP_HANDOVER = "OpenID4VPHandover"


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url` (padding optional). Raises :class:`ValueError` on bad input."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


def uncompressed_point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def apple_recipient_key_hash(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """``pkRHash``: SHA-256 of the recipient's uncompressed public point."""
    return hashlib.sha256(uncompressed_point(public_key)).digest()


def apple_session_transcript(
    *, nonce: bytes, merchant_id: str, team_id: str, recipient_public_key: ec.EllipticCurvePublicKey
) -> bytes:
    handover = [APPLE_HANDOVER, nonce, merchant_id, team_id, apple_recipient_key_hash(recipient_public_key)]
    return encode([None, None, handover])


def dcapi_encryption_info(nonce: bytes, recipient_public_key: ec.EllipticCurvePublicKey) -> str:
    """The base64url ``EncryptionInfo`` an RP sends (18013-7 Annex C)."""
    return b64url(encode([DCAPI, {"nonce": nonce, "recipientPublicKey": cose_key(recipient_public_key)}]))


def dcapi_session_transcript(encryption_info: str, origin: str) -> bytes:
    info_hash = hashlib.sha256(encode([encryption_info, origin])).digest()
    return encode([None, None, [DCAPI, info_hash]])


def openid4vp_dcapi_session_transcript(origin: str, nonce: str, jwk_thumbprint: bytes | None = None) -> bytes:
    info_hash = hashlib.sha256(encode([origin, nonce, jwk_thumbprint])).digest()
    return encode([None, None, [OPENID4VP_DCAPI_HANDOVER, info_hash]])


def openid4vp_redirect_session_transcript(
    client_id: str, nonce: str, response_uri: str, jwk_thumbprint: bytes | None = None
) -> bytes:
    info_hash = hashlib.sha256(encode([client_id, nonce, jwk_thumbprint, response_uri])).digest()
    return encode([None, None, [OPENID4VP_HANDOVER, info_hash]])


def hpke_suite() -> CipherSuite:
    """DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM."""
    return CipherSuite.new(KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES128_GCM)


def hpke_seal(recipient: ec.EllipticCurvePublicKey, plaintext: bytes, info: bytes) -> tuple[bytes, bytes]:
    """HPKE base-mode single-shot seal: ``(enc, ciphertext)`` (empty aad)."""
    enc, context = hpke_suite().create_sender_context(KEMKey.from_pyca_cryptography_key(recipient), info=info)
    return enc, context.seal(plaintext, aad=b"")


def hpke_open(recipient: ec.EllipticCurvePrivateKey, enc: bytes, ciphertext: bytes, info: bytes) -> bytes:
    """The inverse of :func:`hpke_seal` (for the RP side of tests and demos)."""
    context = hpke_suite().create_recipient_context(
        enc, KEMKey.from_pyca_cryptography_key(recipient), info=info
    )
    return context.open(ciphertext, aad=b"")


def apple_envelope(
    device_response: bytes, *, recipient_public_key: ec.EllipticCurvePublicKey, session_transcript: bytes
) -> bytes:
    """``{"algorithm": "APPLE-HPKE-v1", "params": {"mode": 0, "pkEm", "pkRHash", "infoHash"}, "data"}``
    sealing ``{"identity": DeviceResponse}`` (the DeviceResponse's own bytes spliced in, not re-encoded)."""
    plaintext = b"\xa1" + encode("identity") + device_response
    enc, ciphertext = hpke_seal(recipient_public_key, plaintext, session_transcript)
    envelope: dict[str, Any] = {
        "algorithm": APPLE_ALGORITHM,
        "params": {
            "mode": 0,
            "pkEm": enc,
            "pkRHash": apple_recipient_key_hash(recipient_public_key),
            "infoHash": hashlib.sha256(session_transcript).digest(),
        },
        "data": ciphertext,
    }
    return encode(envelope)


def dcapi_encrypted_response(
    device_response: bytes, *, recipient_public_key: ec.EllipticCurvePublicKey, session_transcript: bytes
) -> bytes:
    """``EncryptedResponse = ["dcapi", {"enc": bstr, "cipherText": bstr}]`` (CBOR)."""
    enc, ciphertext = hpke_seal(recipient_public_key, device_response, session_transcript)
    return encode([DCAPI, {"enc": enc, "cipherText": ciphertext}])


__all__ = [
    "APPLE_ALGORITHM",
    "APPLE_HANDOVER",
    "DCAPI",
    "OPENID4VP_DCAPI_HANDOVER",
    "OPENID4VP_HANDOVER",
    "apple_envelope",
    "apple_recipient_key_hash",
    "apple_session_transcript",
    "b64url",
    "b64url_decode",
    "dcapi_encrypted_response",
    "dcapi_encryption_info",
    "dcapi_session_transcript",
    "hpke_open",
    "hpke_seal",
    "hpke_suite",
    "openid4vp_dcapi_session_transcript",
    "openid4vp_redirect_session_transcript",
    "uncompressed_point",
]
