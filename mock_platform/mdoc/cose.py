"""COSE_Sign1 signing (RFC 9052 §4.4) and COSE_Key (RFC 9053 §7.1.1) over ``cbor2`` + ``cryptography``.

The mock only *signs*; it never verifies (that is the SDK's job, written independently). Kept minimal on
purpose: ECDSA on P-256/P-384/P-521 (ES256/ES384/ES512), untagged COSE_Sign1 as ISO/IEC 18013-5 uses it
(``IssuerAuth``, ``DeviceSignature``), optional detached payload, ``x5chain`` (label 33, RFC 9360) in the
unprotected header.

``Sig_structure = ["Signature1", body_protected (bstr), external_aad (bstr, empty), payload (bstr)]``;
the signature is ``r || s``, each left-padded to the curve's byte length (RFC 9053 §2.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .cbor import encode

HEADER_ALG = 1
HEADER_KID = 4
HEADER_X5CHAIN = 33

KTY_EC2 = 2
KEY_KTY = 1
KEY_CRV = -1
KEY_X = -2
KEY_Y = -3


class CoseAlgorithm(IntEnum):
    ES256 = -7
    ES384 = -35
    ES512 = -36


class CoseCurve(IntEnum):
    P256 = 1
    P384 = 2
    P521 = 3


@dataclass(frozen=True, slots=True)
class _CurveInfo:
    cose: CoseCurve
    algorithm: CoseAlgorithm
    hash: type[hashes.HashAlgorithm]
    size: int


_CURVES: dict[str, _CurveInfo] = {
    "secp256r1": _CurveInfo(CoseCurve.P256, CoseAlgorithm.ES256, hashes.SHA256, 32),
    "secp384r1": _CurveInfo(CoseCurve.P384, CoseAlgorithm.ES384, hashes.SHA384, 48),
    "secp521r1": _CurveInfo(CoseCurve.P521, CoseAlgorithm.ES512, hashes.SHA512, 66),
}


def _curve(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> _CurveInfo:
    try:
        return _CURVES[key.curve.name]
    except KeyError as exc:
        raise ValueError(f"unsupported curve {key.curve.name}") from exc


def algorithm_for(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> CoseAlgorithm:
    """ES256 for P-256, ES384 for P-384, ES512 for P-521."""
    return _curve(key).algorithm


def cose_key(public_key: ec.EllipticCurvePublicKey) -> dict[int, Any]:
    """The EC2 COSE_Key of ``public_key``: ``{1: 2, -1: crv, -2: x, -3: y}``."""
    info = _curve(public_key)
    numbers = public_key.public_numbers()
    return {
        KEY_KTY: KTY_EC2,
        KEY_CRV: int(info.cose),
        KEY_X: numbers.x.to_bytes(info.size, "big"),
        KEY_Y: numbers.y.to_bytes(info.size, "big"),
    }


def public_key_from_cose(key: dict[int, Any]) -> ec.EllipticCurvePublicKey:
    """Inverse of :func:`cose_key` (EC2 on P-256/384/521 only). Raises :class:`ValueError`."""
    curves: dict[int, ec.EllipticCurve] = {1: ec.SECP256R1(), 2: ec.SECP384R1(), 3: ec.SECP521R1()}
    if key.get(KEY_KTY) != KTY_EC2 or key.get(KEY_CRV) not in curves:
        raise ValueError("not an EC2 COSE_Key on P-256/384/521")
    x, y = key.get(KEY_X), key.get(KEY_Y)
    if not isinstance(x, bytes) or not isinstance(y, bytes):
        raise ValueError("COSE_Key x and y must be byte strings")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), curves[key[KEY_CRV]]
    )
    return numbers.public_key()


def sig_structure(protected: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """``Sig_structure`` for COSE_Sign1 (RFC 9052 §4.4), encoded."""
    return encode(["Signature1", protected, external_aad, payload])


def sign1(
    payload: bytes,
    private_key: ec.EllipticCurvePrivateKey,
    *,
    x5chain: Sequence[bytes] = (),
    detached: bool = False,
) -> list[Any]:
    """An untagged COSE_Sign1 ``[protected, unprotected, payload | null, signature]``.

    Args:
        payload: the bytes signed (for a detached payload, the receiver rebuilds them).
        private_key: an EC key; the algorithm follows its curve.
        x5chain: DER certificates, leaf first, put in the *unprotected* header (label 33): one
            certificate as a bstr, several as an array (RFC 9360).
        detached: emit ``null`` as the payload.
    """
    info = _curve(private_key)
    protected = encode({HEADER_ALG: int(info.algorithm)})
    unprotected: dict[int, Any] = {}
    if len(x5chain) == 1:
        unprotected[HEADER_X5CHAIN] = bytes(x5chain[0])
    elif x5chain:
        unprotected[HEADER_X5CHAIN] = [bytes(c) for c in x5chain]
    der = private_key.sign(sig_structure(protected, payload), ec.ECDSA(info.hash()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(info.size, "big") + s.to_bytes(info.size, "big")
    return [protected, unprotected, None if detached else payload, signature]


__all__ = [
    "HEADER_ALG",
    "HEADER_X5CHAIN",
    "CoseAlgorithm",
    "CoseCurve",
    "algorithm_for",
    "cose_key",
    "public_key_from_cose",
    "sig_structure",
    "sign1",
]
