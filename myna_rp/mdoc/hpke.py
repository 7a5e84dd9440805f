"""Opening the HPKE envelopes of the online channels (RFC 9180 base mode, via ``pyhpke``).

Suite for both: DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM, ``info`` = the SessionTranscript's
CBOR bytes, empty ``aad`` (domain-mdoc.md).

- Apple "Verify with Wallet": ``{"algorithm": "APPLE-HPKE-v1", "params": {"mode": 0, "pkEm", "pkRHash",
  "infoHash"}, "data"}``; plaintext ``{"identity": DeviceResponse}``. ``pkRHash`` must be the SHA-256 of
  the recipient key (uncompressed point or SubjectPublicKeyInfo DER), ``infoHash`` the SHA-256 of the
  transcript bytes.
- W3C DC API ``org-iso-mdoc`` (ISO/IEC 18013-7 Annex C): ``["dcapi", {"enc": bstr, "cipherText": bstr}]``;
  plaintext is the DeviceResponse.

Both return the DeviceResponse bytes for :meth:`myna_rp.mdoc.MdocVerifier.verify`. Failures raise
:class:`~myna_rp.errors.MdocVerificationError` (ENVELOPE_INVALID) or MalformedInputError; no ``pyhpke``
exception escapes.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import MalformedInputError, MdocVerificationError, Reason
from .cbor import STRICT, CBOROptions, dumps, expect_bytes, expect_list, expect_map, expect_str, loads
from .transcript import SessionTranscript

APPLE_HPKE_ALGORITHM = "APPLE-HPKE-v1"


def _open(enc: bytes, ciphertext: bytes, recipient_key: ec.EllipticCurvePrivateKey, info: bytes) -> bytes:
    import pyhpke

    if not isinstance(recipient_key, ec.EllipticCurvePrivateKey) or recipient_key.curve.name != "secp256r1":
        raise MdocVerificationError(
            "the HPKE recipient key must be a P-256 private key", reason=Reason.ENVELOPE_INVALID
        )
    suite = pyhpke.CipherSuite.new(
        pyhpke.KEMId.DHKEM_P256_HKDF_SHA256, pyhpke.KDFId.HKDF_SHA256, pyhpke.AEADId.AES128_GCM
    )
    try:
        skr = pyhpke.KEMKey.from_pyca_cryptography_key(recipient_key)
        context = suite.create_recipient_context(enc, skr, info=info)
        return bytes(context.open(ciphertext, aad=b""))
    except (pyhpke.PyHPKEError, ValueError, TypeError) as exc:
        raise MdocVerificationError(
            "the HPKE envelope does not open with this key and transcript", reason=Reason.ENVELOPE_INVALID
        ) from exc


def open_apple_envelope(
    envelope: bytes,
    *,
    recipient_private_key: ec.EllipticCurvePrivateKey,
    session_transcript: SessionTranscript,
    options: CBOROptions = STRICT,
) -> bytes:
    """Open an ``APPLE-HPKE-v1`` envelope and return the DeviceResponse bytes it carries.

    Raises:
        MalformedInputError: not the envelope shape.
        MdocVerificationError: ENVELOPE_INVALID (wrong algorithm or mode, pkRHash not this key, infoHash not
            this transcript, decryption failure); UNSUPPORTED_ALGORITHM is never used here.
    """
    value = expect_map(loads(envelope, options), "Apple HPKE envelope")
    if value.get("algorithm") != APPLE_HPKE_ALGORITHM:
        raise MdocVerificationError("envelope algorithm is not APPLE-HPKE-v1", reason=Reason.ENVELOPE_INVALID)
    params = expect_map(value.get("params"), "params")
    if params.get("mode") != 0:
        raise MdocVerificationError("only HPKE base mode (0) is accepted", reason=Reason.ENVELOPE_INVALID)
    pk_em = expect_bytes(params.get("pkEm"), "pkEm")
    pk_r_hash = expect_bytes(params.get("pkRHash"), "pkRHash")
    info_hash = expect_bytes(params.get("infoHash"), "infoHash")
    data = expect_bytes(value.get("data"), "data")
    public = recipient_private_key.public_key()
    known_hashes = (
        hashlib.sha256(public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)).digest(),
        hashlib.sha256(public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest(),
    )
    if not any(hmac.compare_digest(pk_r_hash, h) for h in known_hashes):
        raise MdocVerificationError("the envelope was sealed to another key", reason=Reason.ENVELOPE_INVALID)
    if not hmac.compare_digest(info_hash, hashlib.sha256(session_transcript.raw).digest()):
        raise MdocVerificationError(
            "the envelope is bound to another session transcript", reason=Reason.ENVELOPE_INVALID
        )
    plaintext = _open(pk_em, data, recipient_private_key, session_transcript.raw)
    inner = expect_map(loads(plaintext, options), "Apple plaintext")
    identity = inner.get("identity")
    if isinstance(identity, bytes):
        return identity
    return dumps(expect_map(identity, "identity"))


def open_dcapi_response(
    response: bytes,
    *,
    recipient_private_key: ec.EllipticCurvePrivateKey,
    session_transcript: SessionTranscript,
    options: CBOROptions = STRICT,
) -> bytes:
    """Open an ISO/IEC 18013-7 Annex C ``["dcapi", {"enc", "cipherText"}]`` response (raw CBOR bytes; the
    caller base64url-decodes the browser's ``response`` string first). Returns the DeviceResponse bytes.

    Raises:
        MalformedInputError / MdocVerificationError (ENVELOPE_INVALID), as :func:`open_apple_envelope`.
    """
    items = expect_list(loads(response, options), "DC API response")
    if len(items) != 2 or expect_str(items[0], "DC API response type") != "dcapi":
        raise MalformedInputError('the DC API response must be ["dcapi", {"enc", "cipherText"}]')
    body = expect_map(items[1], "EncryptedResponseData")
    enc = expect_bytes(body.get("enc"), "enc")
    ciphertext = expect_bytes(body.get("cipherText"), "cipherText")
    return _open(enc, ciphertext, recipient_private_key, session_transcript.raw)
