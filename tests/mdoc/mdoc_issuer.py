"""A small, independent mdoc issuer and holder for tests (ISO/IEC 18013-5 §9.1.2-9.1.3).

Written with ``cryptography`` and ``cbor2`` directly — it uses neither ``myna_rp`` nor ``mock_platform`` —
so a mistake in the SDK's encoding is not mirrored here. Every knob makes one kind of bad response:

- ``tamper_item``: change an element value after digesting (digest mismatch);
- ``mso_doc_type``: a docType in the MSO other than the document's;
- ``valid_from``/``valid_until``/``signed``: MSO validity;
- ``omit_digest_for``: leave an element out of valueDigests;
- ``duplicate_key``: a duplicate key in the IssuerSignedItem map of the first element;
- ``tamper_issuer_signature``: flip a bit of the issuerAuth signature;
- ``sign_transcript``: device-sign another transcript than the verifier's;
- ``non_preferred``: send one element's IssuerSignedItemBytes with non-preferred headers (tag ``d9 00 18``,
  byte string ``5a`` + 4-byte length), digested as sent — or, with ``digest_preferred_form``, digested in
  its preferred form (the bytes sent then do not match the MSO);
- ``fixed_random``: use these bytes as every element's ``random`` (lets a test predict an item's bytes).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
DOCTYPE = "org.iso.23220.1.jp.mnc"
NS = "org.iso.23220.1"
NS_JP = "org.iso.23220.1.jp"

_CURVES = {
    "P-256": (ec.SECP256R1(), hashes.SHA256(), -7, 1, 32),
    "P-384": (ec.SECP384R1(), hashes.SHA384(), -35, 2, 48),
}


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


@dataclass
class IssuerPKI:
    """An IACA root and a document signer it issued (P-256 by default)."""

    curve: str = "P-256"
    iaca_key: ec.EllipticCurvePrivateKey = field(init=False)
    iaca: x509.Certificate = field(init=False)
    ds_key: ec.EllipticCurvePrivateKey = field(init=False)
    ds: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        curve, hash_alg, *_ = _CURVES[self.curve]
        self.iaca_key = ec.generate_private_key(curve)
        start, end = NOW - timedelta(days=365), NOW + timedelta(days=3650)
        ski = x509.SubjectKeyIdentifier.from_public_key(self.iaca_key.public_key())
        self.iaca = (
            x509.CertificateBuilder()
            .subject_name(_name("test IACA"))
            .issuer_name(_name("test IACA"))
            .public_key(self.iaca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(ski, critical=False)
            .sign(self.iaca_key, hash_alg)
        )
        self.ds_key = ec.generate_private_key(curve)
        self.ds = (
            x509.CertificateBuilder()
            .subject_name(_name("test DS"))
            .issuer_name(self.iaca.subject)
            .public_key(self.ds_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=30))
            .not_valid_after(NOW + timedelta(days=400))
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.0.18013.5.1.2")]), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ds_key.public_key()), critical=False
            )
            .sign(self.iaca_key, hash_alg)
        )

    @property
    def ds_der(self) -> bytes:
        return self.ds.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class _Raw:
    """Bytes written into the encoding as they are (for non-preferred encodings cbor2 would not emit)."""

    data: bytes


def _write_raw(encoder: cbor2.CBOREncoder, value: object) -> None:
    if not isinstance(value, _Raw):
        raise TypeError(f"cannot encode {type(value).__name__}")
    encoder.write(value.data)


def _tag24(value: Any) -> cbor2.CBORTag:
    return cbor2.CBORTag(24, cbor2.dumps(value))


def _tdate(value: datetime) -> cbor2.CBORTag:
    return cbor2.CBORTag(0, value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _raw_sig(
    key: ec.EllipticCurvePrivateKey, data: bytes, hash_alg: hashes.HashAlgorithm, size: int
) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_alg)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _cose_key(key: ec.EllipticCurvePublicKey, crv: int, size: int) -> dict[int, Any]:
    n = key.public_numbers()
    return {1: 2, -1: crv, -2: n.x.to_bytes(size, "big"), -3: n.y.to_bytes(size, "big")}


def _encode_value(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return cbor2.CBORTag(1004, value.isoformat())
    return value


def session_transcript(nonce: bytes = b"nonce-0123456789") -> bytes:
    """A DC-API-shaped SessionTranscript (CBOR, untagged) for tests."""
    return cbor2.dumps([None, None, ["dcapi", hashlib.sha256(nonce).digest()]])


def default_elements(birth: date = date(2001, 4, 2)) -> dict[str, dict[str, Any]]:
    """Six elements of the My Number Card profile (domain-mdoc.md)."""
    return {
        NS: {"age_over_18": True, "age_over_20": True, "age_in_years": 25, "birth_date": birth},
        NS_JP: {
            "full_name_unicode": "山田\u3000花子",
            "resident_address_unicode": "東京都千代田区永田町1-7-1",
        },
    }


@dataclass
class Issued:
    device_response: bytes
    transcript: bytes
    device_key: ec.EllipticCurvePrivateKey


def issue(
    pki: IssuerPKI,
    *,
    elements: Mapping[str, Mapping[str, Any]] | None = None,
    disclose: Sequence[tuple[str, str]] | None = None,
    doc_type: str = DOCTYPE,
    mso_doc_type: str | None = None,
    digest_algorithm: str = "SHA-256",
    signed: datetime | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    transcript: bytes | None = None,
    sign_transcript: bytes | None = None,
    tamper_item: tuple[str, str, Any] | None = None,
    omit_digest_for: tuple[str, str] | None = None,
    duplicate_key: bool = False,
    tamper_issuer_signature: bool = False,
    x5chain: Sequence[bytes] | None = None,
    non_preferred: tuple[str, str] | None = None,
    digest_preferred_form: bool = False,
    fixed_random: bytes | None = None,
) -> Issued:
    """Issue a credential and present it (deviceSignature) over ``transcript``."""
    curve, hash_alg, alg, crv, size = _CURVES[pki.curve]
    elements = elements if elements is not None else default_elements()
    digest = {
        "SHA-256": hashlib.sha256,
        "SHA-384": hashlib.sha384,
        "SHA-512": hashlib.sha512,
        "MD5": hashlib.md5,
    }[digest_algorithm]
    device_key = ec.generate_private_key(curve)
    items: dict[str, list[cbor2.CBORTag | _Raw]] = {}
    value_digests: dict[str, dict[int, bytes]] = {}
    digest_id = 0
    for namespace, values in elements.items():
        for identifier, value in values.items():
            item = {
                "digestID": digest_id,
                "random": fixed_random if fixed_random is not None else os.urandom(16),
                "elementIdentifier": identifier,
                "elementValue": _encode_value(value),
            }
            item_bytes = cbor2.dumps(_tag24(item))
            sent: bytes | None = None
            if non_preferred == (namespace, identifier):
                content = cbor2.dumps(item)
                sent = b"\xd9\x00\x18\x5a" + len(content).to_bytes(4, "big") + content
                if not digest_preferred_form:
                    item_bytes = sent
            if not (omit_digest_for and omit_digest_for == (namespace, identifier)):
                value_digests.setdefault(namespace, {})[digest_id] = digest(item_bytes).digest()
            if tamper_item and tamper_item[:2] == (namespace, identifier):
                item["elementValue"] = _encode_value(tamper_item[2])
            encoded = cbor2.dumps(item)
            if duplicate_key and not items:
                # append a second "random" key: a map with a duplicate key (RFC 8949 §5.6)
                encoded = bytes([encoded[0] + 1]) + encoded[1:] + cbor2.dumps("random") + cbor2.dumps(b"x")
            if disclose is None or (namespace, identifier) in disclose:
                items.setdefault(namespace, []).append(
                    _Raw(sent) if sent is not None else cbor2.CBORTag(24, encoded)
                )
            digest_id += 1
    mso = {
        "version": "1.0",
        "digestAlgorithm": digest_algorithm,
        "valueDigests": value_digests,
        "deviceKeyInfo": {"deviceKey": _cose_key(device_key.public_key(), crv, size)},
        "docType": mso_doc_type or doc_type,
        "validityInfo": {
            "signed": _tdate(signed or NOW - timedelta(days=1)),
            "validFrom": _tdate(valid_from or NOW - timedelta(days=1)),
            "validUntil": _tdate(valid_until or NOW + timedelta(days=90)),
        },
    }
    protected = cbor2.dumps({1: alg})
    payload = cbor2.dumps(_tag24(mso))
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    signature = _raw_sig(pki.ds_key, to_sign, hash_alg, size)
    if tamper_issuer_signature:
        signature = bytes([signature[0] ^ 0x01]) + signature[1:]
    chain = list(x5chain) if x5chain is not None else [pki.ds_der]
    issuer_auth = [protected, {33: chain[0] if len(chain) == 1 else chain}, payload, signature]

    transcript = transcript if transcript is not None else session_transcript()
    device_ns = _tag24({})
    device_auth_bytes = cbor2.dumps(
        _tag24(["DeviceAuthentication", cbor2.loads(sign_transcript or transcript), doc_type, device_ns])
    )
    device_protected = cbor2.dumps({1: alg})
    device_sig = _raw_sig(
        device_key, cbor2.dumps(["Signature1", device_protected, b"", device_auth_bytes]), hash_alg, size
    )
    document = {
        "docType": doc_type,
        "issuerSigned": {"nameSpaces": items, "issuerAuth": issuer_auth},
        "deviceSigned": {
            "nameSpaces": device_ns,
            "deviceAuth": {"deviceSignature": [device_protected, {}, None, device_sig]},
        },
    }
    response = cbor2.dumps({"version": "1.0", "documents": [document], "status": 0}, default=_write_raw)
    return Issued(response, transcript, device_key)
