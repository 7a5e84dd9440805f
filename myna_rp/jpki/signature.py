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


def _raw_ecdsa_to_der(signature: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    size = (key.curve.key_size + 7) // 8
    if len(signature) == 2 * size and signature[0] != 0x30:
        return encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
    return signature


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
            public_key.verify(_raw_ecdsa_to_der(signature, public_key), data, ec.ECDSA(hash_algorithm))
        else:
            raise VerificationError(
                f"key type {type(public_key).__name__} is not used by JPKI",
                reason=Reason.UNSUPPORTED_ALGORITHM,
            )
    except InvalidSignature as exc:
        raise VerificationError("signature does not verify", reason=Reason.SIGNATURE_INVALID) from exc
    except ValueError as exc:  # e.g. an ECDSA signature that is not DER
        raise VerificationError(f"signature is malformed: {exc}", reason=Reason.SIGNATURE_INVALID) from exc
