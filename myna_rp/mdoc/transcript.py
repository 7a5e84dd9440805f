"""SessionTranscript: what the holder's device signature (or MAC) is bound to, per channel.

ISO/IEC 18013-5 §9.1.5.1: ``SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, Handover]`` and
``SessionTranscriptBytes = #6.24(bstr .cbor SessionTranscript)``. The transcript is kept as the exact
bytes it was received or built as; it is never rebuilt from parsed values.

Builders (exact bytes, preferred CBOR serialization):

- :func:`apple_transcript` — Apple "Verify with Wallet" in an iOS app:
  ``[null, null, ["AppleIdentityPresentment_1.0", nonce, merchantId, teamId, SHA-256(RP encryption key)]]``.
- :func:`dcapi_transcript` — W3C Digital Credentials API, protocol ``org-iso-mdoc`` (ISO/IEC 18013-7
  Annex C): ``[null, null, ["dcapi", SHA-256(CBOR([base64url(EncryptionInfo), origin]))]]``.
- :func:`openid4vp_dcapi_transcript` — OpenID4VP 1.0 over the DC API (Appendix B.2.6.2):
  ``[null, null, ["OpenID4VPDCAPIHandover", SHA-256(CBOR([origin, nonce, jwk_thumbprint / null]))]]``.
- :func:`openid4vp_transcript` — OpenID4VP 1.0 redirect flows (Appendix B.2.6.1):
  ``[null, null, ["OpenID4VPHandover", SHA-256(CBOR([client_id, nonce, jwk_thumbprint / null,
  response_uri]))]]``.
- :meth:`SessionTranscript.from_bytes` — anything else (proximity, older drafts) as received.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import MalformedInputError
from .cbor import STRICT, CBOROptions, EncodedCBOR, dumps, expect_list, loads


class Channel(StrEnum):
    """How the presentation reached the relying party, read from the transcript's Handover."""

    APPLE = "apple"  # AppleIdentityPresentment_1.0
    DCAPI = "dcapi"  # ISO/IEC 18013-7 Annex C (org-iso-mdoc)
    OPENID4VP_DCAPI = "openid4vp_dcapi"  # OpenID4VP over the DC API
    OPENID4VP = "openid4vp"  # OpenID4VP redirect (1.0 handover, or the older ISO 18013-7 form)
    PROXIMITY = "proximity"  # ISO/IEC 18013-5 device engagement (NFC/QR)
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SessionTranscript:
    """A SessionTranscript held as exact bytes.

    Attributes:
        raw: the CBOR encoding of the SessionTranscript array (not tag-24 wrapped).
        channel: what the Handover says about the channel.
    """

    raw: bytes
    channel: Channel = field(default=Channel.UNKNOWN)

    @classmethod
    def from_bytes(cls, data: bytes, options: CBOROptions = STRICT) -> SessionTranscript:
        """Accept the transcript's CBOR, tag-24 wrapped (SessionTranscriptBytes) or not.

        Raises:
            MalformedInputError: not CBOR, or not a three-element array.
        """
        value = loads(data, options)
        raw = data
        if isinstance(value, EncodedCBOR):
            raw = value.content
            value = value.decode(options)
        items = expect_list(value, "SessionTranscript")
        if len(items) != 3:
            raise MalformedInputError("SessionTranscript must be a three-element array")
        return cls(raw=bytes(raw), channel=_channel_of(items))

    @property
    def tagged(self) -> bytes:
        """SessionTranscriptBytes: ``#6.24(bstr .cbor SessionTranscript)`` (§9.1.5.1)."""
        return EncodedCBOR.wrap(self.raw).raw


def _channel_of(items: list[Any]) -> Channel:
    handover = items[2]
    if items[0] is not None:
        return Channel.PROXIMITY
    if isinstance(handover, list) and handover and isinstance(handover[0], str):
        return {
            "AppleIdentityPresentment_1.0": Channel.APPLE,
            "dcapi": Channel.DCAPI,
            "OpenID4VPDCAPIHandover": Channel.OPENID4VP_DCAPI,
            "OpenID4VPHandover": Channel.OPENID4VP,
        }.get(handover[0], Channel.UNKNOWN)
    if isinstance(handover, list) and len(handover) == 3 and isinstance(handover[0], bytes):
        return Channel.OPENID4VP  # ISO 18013-7 (2024) / OpenID4VP draft 18 OID4VPHandover
    return Channel.UNKNOWN


def _transcript(handover: list[Any], channel: Channel) -> SessionTranscript:
    return SessionTranscript(raw=dumps([None, None, handover]), channel=channel)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def apple_transcript(
    *, nonce: bytes, merchant_id: str, team_id: str, encryption_key_hash: bytes
) -> SessionTranscript:
    """Apple "Verify with Wallet" (in-app) transcript.

    Shape: ``[null, null, ["AppleIdentityPresentment_1.0", nonce, merchantId, teamId, keyHash]]`` where
    ``keyHash`` is the SHA-256 of the RP's encryption public key (see :func:`public_key_sha256`).
    """
    if not nonce:
        raise MalformedInputError("the Apple transcript needs a non-empty nonce")
    handover = ["AppleIdentityPresentment_1.0", nonce, merchant_id, team_id, encryption_key_hash]
    return _transcript(handover, Channel.APPLE)


def public_key_sha256(key: ec.EllipticCurvePublicKey) -> bytes:
    """SHA-256 of an EC public key as an uncompressed X9.62 point (the Apple ``pkRHash`` form)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return _sha256(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def dcapi_transcript(*, encryption_info_b64url: str, origin: str) -> SessionTranscript:
    """ISO/IEC 18013-7 Annex C (``org-iso-mdoc`` over the DC API) transcript.

    ``encryption_info_b64url`` is the base64url string exactly as sent in the request (the CBOR
    ``["dcapi", {"nonce", "recipientPublicKey"}]``); ``origin`` the web origin the browser asserted.
    Shape: ``[null, null, ["dcapi", SHA-256(CBOR([encryption_info_b64url, origin]))]]``.
    """
    info_hash = _sha256(dumps([encryption_info_b64url, origin]))
    return _transcript(["dcapi", info_hash], Channel.DCAPI)


def dcapi_encryption_info(*, nonce: bytes, recipient_public_key: ec.EllipticCurvePublicKey) -> str:
    """Build the Annex C ``EncryptionInfo`` as the base64url string (no padding) sent to the browser."""
    from .cose import public_key_to_cose_key

    info = ["dcapi", {"nonce": nonce, "recipientPublicKey": public_key_to_cose_key(recipient_public_key)}]
    return base64.urlsafe_b64encode(dumps(info)).rstrip(b"=").decode("ascii")


def openid4vp_dcapi_transcript(
    *, origin: str, nonce: str, jwk_thumbprint: bytes | None = None
) -> SessionTranscript:
    """OpenID4VP 1.0 over the DC API (Appendix B.2.6.2).

    ``jwk_thumbprint`` is the RFC 7638 SHA-256 thumbprint of the verifier's encryption JWK when the
    response is encrypted (``dc_api.jwt``), else ``None`` (encoded as CBOR null, never as empty bytes).
    """
    info = dumps([origin, nonce, jwk_thumbprint or None])
    return _transcript(["OpenID4VPDCAPIHandover", _sha256(info)], Channel.OPENID4VP_DCAPI)


def openid4vp_transcript(
    *, client_id: str, nonce: str, response_uri: str | None, jwk_thumbprint: bytes | None = None
) -> SessionTranscript:
    """OpenID4VP 1.0 redirect / ``direct_post`` flows (Appendix B.2.6.1).

    ``client_id`` includes its prefix (e.g. ``x509_san_dns:example.com``); ``response_uri`` is ``None``
    when the response mode has none (encoded as null).
    """
    info = dumps([client_id, nonce, jwk_thumbprint or None, response_uri])
    return _transcript(["OpenID4VPHandover", _sha256(info)], Channel.OPENID4VP)


def jwk_thumbprint(jwk: dict[str, Any]) -> bytes:
    """RFC 7638 SHA-256 thumbprint of an EC or OKP/RSA public JWK (required members, sorted, compact)."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
    members = required.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise MalformedInputError("JWK lacks the members RFC 7638 requires for its key type")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _sha256(canonical.encode("utf-8"))
