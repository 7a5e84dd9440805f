"""Raw signature checks as made by a JPKI token (domain-jpki.md, "How the signature is made").

RSA: PKCS#1 v1.5 over the DigestInfo of the hash of the data (RFC 8017 §8.2). ECDSA P-256 leaves (allowed
by the SDK, domain-jpki.md) sign with ECDSA over the same hash; the signature may be DER (RFC 3279) or the
raw ``r || s`` form that smart-card tokens often return.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..errors import Reason, VerificationError

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_EC_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_MIN_RSA_BITS = 2048


def _ecdsa_candidates(signature: bytes, key: ec.EllipticCurvePublicKey) -> list[bytes]:
    """The DER forms ``signature`` may stand for: itself (DER), and, when its length is exactly that of
    ``r || s`` for the curve, the raw form re-encoded. Both are tried: a raw signature may begin with
    0x30 like DER does (1 in 256), and length alone cannot tell them apart."""
    size = (key.curve.key_size + 7) // 8
    candidates = [signature]
    if len(signature) == 2 * size:
        raw = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        candidates = [raw, signature] if signature[0] != 0x30 else [signature, raw]
    return candidates


def verify_signature_bytes(
    public_key: object, signature: bytes, data: bytes, hash_algorithm: hashes.HashAlgorithm
) -> None:
    """Verify ``signature`` over ``data`` with ``public_key``.

    Raises:
        VerificationError: reason SIGNATURE_INVALID when the signature does not verify, or
            UNSUPPORTED_ALGORITHM for a key type or size the JPKI profile does not allow.
    """
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < _MIN_RSA_BITS:
                raise VerificationError("RSA key shorter than 2048 bits", reason=Reason.UNSUPPORTED_ALGORITHM)
            public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if not isinstance(public_key.curve, _EC_CURVES):
                raise VerificationError("EC curve not allowed", reason=Reason.UNSUPPORTED_ALGORITHM)
            for position, candidate in enumerate(candidates := _ecdsa_candidates(signature, public_key)):
                try:
                    public_key.verify(candidate, data, ec.ECDSA(hash_algorithm))
                    break
                except (InvalidSignature, ValueError):
                    if position == len(candidates) - 1:
                        raise
        else:
            raise VerificationError(
                f"key type {type(public_key).__name__} is not used by JPKI",
                reason=Reason.UNSUPPORTED_ALGORITHM,
            )
    except InvalidSignature as exc:
        raise VerificationError("signature does not verify", reason=Reason.SIGNATURE_INVALID) from exc
    except ValueError as exc:  # e.g. an ECDSA signature that is not DER
        raise VerificationError(f"signature is malformed: {exc}", reason=Reason.SIGNATURE_INVALID) from exc
