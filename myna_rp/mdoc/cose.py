"""COSE_Sign1 and COSE_Mac0 (RFC 9052 §4.2, §6.2) verification over ``cryptography``: the subset mdoc uses.

Why not a COSE library: the benchmark (``benchmarks/bench_mdoc.py``) showed that going through a general
COSE library costs more than the ECDSA verifications themselves, so the two structures mdoc needs are
implemented here (about a hundred lines) and tested against the COSE WG examples
(``tests/mdoc/test_cose.py``). Supported algorithms (RFC 9053): ES256 (-7), ES384 (-35), ES512 (-36) with
their curves P-256/P-384/P-521 only (ISO/IEC 18013-5 §9.1.3.6 ties the curve to the hash), and HMAC
256/256 (5), 384/384 (6), 512/512 (7). The algorithm is read from the **protected** header only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..errors import MalformedInputError, MdocVerificationError, Reason
from .cbor import STRICT, CBOROptions, expect_bytes, expect_list, expect_map, loads

TAG_COSE_SIGN1 = 18
TAG_COSE_MAC0 = 17

HEADER_ALG = 1
HEADER_CRIT = 2
_UNDERSTOOD_LABELS = frozenset({1, 2, 3, 4, 33})  # alg, crit, content type, kid, x5chain
HEADER_KID = 4
HEADER_X5CHAIN = 33  # RFC 9360


class CoseAlgorithm(IntEnum):
    """COSE algorithm identifiers (IANA COSE Algorithms registry) supported by this module."""

    ES256 = -7
    ES384 = -35
    ES512 = -36
    HMAC_256_256 = 5
    HMAC_384_384 = 6
    HMAC_512_512 = 7


_ECDSA: Mapping[int, tuple[type[ec.EllipticCurve], hashes.HashAlgorithm, int]] = MappingProxyType(
    {
        CoseAlgorithm.ES256: (ec.SECP256R1, hashes.SHA256(), 32),
        CoseAlgorithm.ES384: (ec.SECP384R1, hashes.SHA384(), 48),
        CoseAlgorithm.ES512: (ec.SECP521R1, hashes.SHA512(), 66),
    }
)
_HMAC: Mapping[int, str] = MappingProxyType(
    {
        CoseAlgorithm.HMAC_256_256: "sha256",
        CoseAlgorithm.HMAC_384_384: "sha384",
        CoseAlgorithm.HMAC_512_512: "sha512",
    }
)

# COSE_Key (RFC 9052 §7, RFC 9053 §7.1): kty 2 = EC2; crv 1/2/3 = P-256/P-384/P-521
_COSE_CURVES: Mapping[int, ec.EllipticCurve] = MappingProxyType(
    {1: ec.SECP256R1(), 2: ec.SECP384R1(), 3: ec.SECP521R1()}
)


@dataclass(frozen=True, slots=True)
class CoseMessage:
    """A parsed COSE_Sign1 or COSE_Mac0 (RFC 9052 §4.2 / §6.2).

    Attributes:
        protected_raw: the protected header bucket exactly as received (a bstr's content).
        protected: its decoded map (empty when the bstr is empty).
        unprotected: the unprotected header map.
        payload: the payload bytes, or ``None`` when detached (nil).
        tag: the signature or MAC bytes.
    """

    protected_raw: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes | None
    tag: bytes

    @property
    def algorithm(self) -> int:
        """The ``alg`` of the protected header. Raises MdocVerificationError (UNSUPPORTED_ALGORITHM)."""
        alg = self.protected.get(HEADER_ALG)
        if not isinstance(alg, int) or isinstance(alg, bool):
            raise MdocVerificationError(
                "COSE message without an integer alg in its protected header",
                reason=Reason.UNSUPPORTED_ALGORITHM,
            )
        return alg


# The exact preferred encodings of a protected header holding only ``alg`` ({1: alg}), by far the most
# common; any other bytes go through the strict decoder.
_ALG_ONLY_HEADERS: Mapping[bytes, int] = MappingProxyType(
    {
        b"\xa1\x01\x26": -7,  # ES256
        b"\xa1\x01\x38\x22": -35,  # ES384
        b"\xa1\x01\x38\x23": -36,  # ES512
        b"\xa1\x01\x05": 5,  # HMAC 256/256
        b"\xa1\x01\x06": 6,  # HMAC 384/384
        b"\xa1\x01\x07": 7,  # HMAC 512/512
    }
)


def parse_cose(value: object, *, tag: int, what: str, options: CBOROptions = STRICT) -> CoseMessage:
    """Parse a decoded COSE_Sign1 (``tag`` 18) or COSE_Mac0 (17) array, tagged or untagged.

    Raises:
        MalformedInputError: not a four-element array of the right types, a wrong tag, duplicate labels
            between the buckets (RFC 9052 §3).
    """
    import cbor2

    if isinstance(value, cbor2.CBORTag):
        if value.tag != tag:
            raise MalformedInputError(f"{what}: COSE tag {value.tag}, expected {tag}")
        value = value.value
    items = expect_list(value, what)
    if len(items) != 4:
        raise MalformedInputError(f"{what} must be a four-element COSE array")
    protected_raw = expect_bytes(items[0], f"{what} protected header")
    known = _ALG_ONLY_HEADERS.get(protected_raw)
    if known is not None:
        protected = {HEADER_ALG: known}
    else:
        protected = (
            dict(expect_map(loads(protected_raw, options), f"{what} protected header"))
            if protected_raw
            else {}
        )
    unprotected = dict(expect_map(items[1], f"{what} unprotected header"))
    if set(protected) & set(unprotected):
        raise MalformedInputError(f"{what}: a header label appears in both buckets (RFC 9052 §3)")
    critical = protected.get(HEADER_CRIT)
    if critical is not None:
        # RFC 9052 §3.1: crit is a non-empty array of labels that MUST be understood; we understand alg,
        # crit, content type, kid and x5chain, and reject anything else rather than ignore it.
        if not isinstance(critical, list) or not critical:
            raise MalformedInputError(f"{what}: crit must be a non-empty array of labels (RFC 9052 §3.1)")
        unknown = [label for label in critical if label not in _UNDERSTOOD_LABELS]
        if unknown:
            raise MdocVerificationError(
                f"{what}: critical header label(s) {unknown!r} not understood (RFC 9052 §3.1)",
                reason=Reason.UNSUPPORTED_ALGORITHM,
            )
    payload = items[2]
    if payload is not None:
        payload = expect_bytes(payload, f"{what} payload")
    signature = expect_bytes(items[3], f"{what} signature/tag")
    return CoseMessage(protected_raw, protected, unprotected, payload, signature)


def _bstr(data: bytes) -> bytes:
    """The preferred (RFC 8949 §4.2.1) byte-string header for ``data``, then ``data``."""
    n = len(data)
    if n < 24:
        head = bytes([0x40 | n])
    elif n < 0x100:
        head = bytes([0x58, n])
    elif n < 0x10000:
        head = b"\x59" + n.to_bytes(2, "big")
    elif n < 0x100000000:
        head = b"\x5a" + n.to_bytes(4, "big")
    else:
        head = b"\x5b" + n.to_bytes(8, "big")
    return head + data


# array(4) followed by the context text string, in preferred encoding
_SIGNATURE1_HEAD = b"\x84\x6aSignature1"
_MAC0_HEAD = b"\x84\x64MAC0"


def sig_structure(message: CoseMessage, payload: bytes, external_aad: bytes = b"") -> bytes:
    """``Sig_structure`` for COSE_Sign1 (RFC 9052 §4.4): ["Signature1", protected, external_aad, payload],
    in preferred encoding (the same bytes as ``dumps`` of that array)."""
    return b"".join((_SIGNATURE1_HEAD, _bstr(message.protected_raw), _bstr(external_aad), _bstr(payload)))


def mac_structure(message: CoseMessage, payload: bytes, external_aad: bytes = b"") -> bytes:
    """``MAC_structure`` for COSE_Mac0 (RFC 9052 §6.3): ["MAC0", protected, external_aad, payload]."""
    return b"".join((_MAC0_HEAD, _bstr(message.protected_raw), _bstr(external_aad), _bstr(payload)))


def verify_sign1(
    message: CoseMessage,
    key: ec.EllipticCurvePublicKey,
    *,
    detached_payload: bytes | None = None,
    failure: Reason = Reason.SIGNATURE_INVALID,
) -> None:
    """Verify a COSE_Sign1 with an EC public key (ECDSA, RFC 9053 §2.1; signature is r || s).

    ``detached_payload`` must be given iff the message's payload is nil.

    Raises:
        MdocVerificationError: reason UNSUPPORTED_ALGORITHM (unknown alg, or a curve that does not match
            the alg), or ``failure`` when the signature does not verify.
        MalformedInputError: payload both attached and detached, or neither.
    """
    if (message.payload is None) == (detached_payload is None):
        raise MalformedInputError("COSE_Sign1 needs exactly one of an attached or a detached payload")
    payload = message.payload if message.payload is not None else detached_payload
    assert payload is not None
    alg = message.algorithm
    spec = _ECDSA.get(alg)
    if spec is None:
        raise MdocVerificationError(f"COSE alg {alg} is not supported", reason=Reason.UNSUPPORTED_ALGORITHM)
    curve_type, hash_algorithm, size = spec
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, curve_type):
        raise MdocVerificationError(
            f"COSE alg {CoseAlgorithm(alg).name} does not match the signer's key",
            reason=Reason.UNSUPPORTED_ALGORITHM,
        )
    if len(message.tag) != 2 * size:
        raise MdocVerificationError("ECDSA signature of the wrong length", reason=failure)
    der = encode_dss_signature(
        int.from_bytes(message.tag[:size], "big"), int.from_bytes(message.tag[size:], "big")
    )
    try:
        key.verify(der, sig_structure(message, payload), ec.ECDSA(hash_algorithm))
    except InvalidSignature as exc:
        raise MdocVerificationError("COSE_Sign1 signature does not verify", reason=failure) from exc


def verify_mac0(
    message: CoseMessage,
    key: bytes,
    *,
    detached_payload: bytes | None = None,
    failure: Reason = Reason.SIGNATURE_INVALID,
) -> None:
    """Verify a COSE_Mac0 with a symmetric key (HMAC, RFC 9053 §3.1; full-length tags only).

    Raises:
        MdocVerificationError: UNSUPPORTED_ALGORITHM or ``failure`` (tag mismatch, compared in constant
            time).
    """
    if (message.payload is None) == (detached_payload is None):
        raise MalformedInputError("COSE_Mac0 needs exactly one of an attached or a detached payload")
    payload = message.payload if message.payload is not None else detached_payload
    assert payload is not None
    alg = message.algorithm
    digest = _HMAC.get(alg)
    if digest is None:
        raise MdocVerificationError(
            f"COSE MAC alg {alg} is not supported", reason=Reason.UNSUPPORTED_ALGORITHM
        )
    expected = hmac.new(key, mac_structure(message, payload), getattr(hashlib, digest)).digest()
    if not hmac.compare_digest(expected, message.tag):
        raise MdocVerificationError("COSE_Mac0 tag does not verify", reason=failure)


def cose_key_to_public_key(value: object) -> ec.EllipticCurvePublicKey:
    """An EC2 COSE_Key map (RFC 9053 §7.1.1: kty 2, crv 1/2/3, x, y) as a ``cryptography`` public key.

    Raises:
        MdocVerificationError: UNSUPPORTED_ALGORITHM for other key types or curves.
        MalformedInputError: missing or malformed coordinates, a point not on the curve.
    """
    key = expect_map(value, "COSE_Key")
    if key.get(1) != 2:
        raise MdocVerificationError("only EC2 COSE keys are supported", reason=Reason.UNSUPPORTED_ALGORITHM)
    curve = _COSE_CURVES.get(key.get(-1))  # type: ignore[arg-type]
    if curve is None:
        raise MdocVerificationError(
            "COSE key curve is not P-256/384/521", reason=Reason.UNSUPPORTED_ALGORITHM
        )
    x = expect_bytes(key.get(-2), "COSE_Key x")
    y = key.get(-3)
    size = (curve.key_size + 7) // 8
    if not isinstance(y, bytes) or len(x) != size or len(y) != size:
        raise MalformedInputError("COSE_Key needs x and y coordinates of the curve's size")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y)
    except ValueError as exc:
        raise MalformedInputError("COSE_Key point is not on its curve") from exc


def public_key_to_cose_key(key: ec.EllipticCurvePublicKey) -> dict[int, object]:
    """The EC2 COSE_Key map of ``key`` (kty, crv, x, y)."""
    crv = {"secp256r1": 1, "secp384r1": 2, "secp521r1": 3}.get(key.curve.name)
    if crv is None:
        raise MdocVerificationError("curve is not P-256/384/521", reason=Reason.UNSUPPORTED_ALGORITHM)
    numbers = key.public_numbers()
    size = (key.curve.key_size + 7) // 8
    return {1: 2, -1: crv, -2: numbers.x.to_bytes(size, "big"), -3: numbers.y.to_bytes(size, "big")}
