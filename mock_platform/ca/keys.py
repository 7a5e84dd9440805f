"""Key generation, loading and the key types the mock accepts.

J-LIS issues RSA-2048 (e = 65537) keys on cards; smartphone keys are **assumed** RSA-2048 too, but the
mock also issues to ECDSA P-256 keys because the SDK must accept them (domain-jpki.md).
"""

from __future__ import annotations

from enum import StrEnum

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import InvalidPublicKeyError, UnsupportedKeyTypeError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

RSA_PUBLIC_EXPONENT = 65537
RSA_MIN_BITS = 2048
RSA_MAX_BITS = 4096


class KeyType(StrEnum):
    """Key types the mock generates."""

    RSA_2048 = "rsa2048"
    EC_P256 = "ec_p256"


def generate_private_key(key_type: KeyType = KeyType.RSA_2048) -> PrivateKey:
    """A fresh private key of ``key_type`` (RSA: e = 65537)."""
    if key_type is KeyType.RSA_2048:
        return rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def check_public_key(key: object) -> PublicKey:
    """Return ``key`` if the mock issues certificates to it, else raise.

    Accepted: RSA with 2048–4096-bit modulus and e = 65537; ECDSA on P-256 (secp256r1).

    Raises:
        UnsupportedKeyTypeError: any other key (DSA, Ed25519, other curves, small RSA, other exponent).
    """
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        if not RSA_MIN_BITS <= key.key_size <= RSA_MAX_BITS or numbers.e != RSA_PUBLIC_EXPONENT:
            raise UnsupportedKeyTypeError("RSA keys must be 2048–4096 bits with e = 65537")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise UnsupportedKeyTypeError("EC keys must be on P-256 (secp256r1)")
        return key
    raise UnsupportedKeyTypeError("only RSA and ECDSA P-256 public keys are accepted")


def load_public_key_pem(pem: str | bytes) -> PublicKey:
    """Parse a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo, RFC 5280 §4.1.2.7) and check its type.

    Raises:
        InvalidPublicKeyError: not a PEM SubjectPublicKeyInfo.
        UnsupportedKeyTypeError: see :func:`check_public_key`.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        raise InvalidPublicKeyError("expected a PEM 'PUBLIC KEY' (SubjectPublicKeyInfo) block")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidPublicKeyError("the public key could not be parsed") from exc
    return check_public_key(key)


def public_key_pem(key: PublicKey) -> str:
    """SubjectPublicKeyInfo PEM of ``key``."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_key_to_pem(key: PrivateKey) -> str:
    """Unencrypted PKCS#8 PEM (this is a mock: CA keys sit in its database in the clear)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def load_private_key_pem(pem: str) -> PrivateKey:
    """Inverse of :func:`private_key_to_pem`; raises :class:`ValueError` for other key types."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError("stored key is neither RSA nor EC")
    return key
