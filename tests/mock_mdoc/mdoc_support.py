"""The relying party's checks, written here independently of the mock's encoder (cbor2 + cryptography).

Nothing here uses the mock's mdoc encoder; :func:`platform` builds the app under test.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lifecycle_support import AGE_19
from lifecycle_support import AGE_25 as AGE_25
from mock_world import Platform, running_mock

from mock_platform.mdoc.service import MdocConfig

# Persons at the mock clock's NOW (2026-11-29 12:00 JST): AGE_25, AGE_19 (lifecycle_support) and one who
# turns 20 tomorrow.
TURNS_20_TOMORROW: dict[str, Any] = {**AGE_19, "date_of_birth": "420061130"}  # 2006-11-30

DOC_TYPE = "org.iso.23220.1.jp.mnc"
NS = "org.iso.23220.1"
NS_JP = "org.iso.23220.1.jp"


def loads(data: bytes) -> Any:
    return cbor2.loads(data, allow_duplicate_keys=False)


def item_value(tagged: cbor2.CBORTag) -> dict[str, Any]:
    assert tagged.tag == 24
    assert isinstance(tagged.value, bytes)
    item = loads(tagged.value)
    assert isinstance(item, dict)
    return item


def disclosed(issuer_signed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{ns: {element: value}}`` of the items present."""
    return {
        ns: {item_value(t)["elementIdentifier"]: item_value(t)["elementValue"] for t in items}
        for ns, items in issuer_signed.get("nameSpaces", {}).items()
    }


def cose_public_key(key: dict[int, Any]) -> ec.EllipticCurvePublicKey:
    assert key[1] == 2, "EC2"
    curve: ec.EllipticCurve = {1: ec.SECP256R1(), 2: ec.SECP384R1()}[key[-1]]
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(key[-2], "big"), int.from_bytes(key[-3], "big"), curve
    ).public_key()


def verify_sign1(sign1: list[Any], key: ec.EllipticCurvePublicKey, payload: bytes | None = None) -> None:
    """Verify a COSE_Sign1 (attached payload, or ``payload`` when detached). Raises InvalidSignature."""
    protected, _unprotected, attached, signature = sign1
    header = loads(protected)
    algorithms = {-7: hashes.SHA256(), -35: hashes.SHA384(), -36: hashes.SHA512()}
    algorithm = algorithms[header[1]]
    body = attached if payload is None else payload
    assert isinstance(body, bytes)
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", body])
    half = len(signature) // 2
    der = encode_dss_signature(
        int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    )
    key.verify(der, to_be_signed, ec.ECDSA(algorithm))


def signer_certificate(issuer_auth: list[Any]) -> x509.Certificate:
    chain = issuer_auth[1][33]
    leaf = chain if isinstance(chain, bytes) else chain[0]
    return x509.load_der_x509_certificate(leaf)


def check_issuer_signed(issuer_signed: dict[str, Any], iaca: x509.Certificate, raw: bytes) -> dict[str, Any]:
    """Issuer signature, chain to the IACA, digests over the exact tag-24 bytes found in ``raw``;
    returns the MSO."""
    issuer_auth = issuer_signed["issuerAuth"]
    assert 33 not in loads(issuer_auth[0]), "x5chain is in the unprotected header"
    ds = signer_certificate(issuer_auth)
    ds.verify_directly_issued_by(iaca)
    public_key = ds.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    verify_sign1(issuer_auth, public_key)
    mso_tag = loads(issuer_auth[2])
    assert isinstance(mso_tag, cbor2.CBORTag)
    assert mso_tag.tag == 24
    mso = loads(mso_tag.value)
    assert mso["digestAlgorithm"] == "SHA-256"
    for ns, items in issuer_signed.get("nameSpaces", {}).items():
        for tagged in items:
            exact = cbor2.dumps(tagged)
            assert exact in raw, "the item's tag-24 bytes are carried verbatim"
            digest_id = item_value(tagged)["digestID"]
            assert mso["valueDigests"][ns][digest_id] == hashlib.sha256(exact).digest()
    return mso


def device_authentication_bytes(transcript: bytes, doc_type: str, device_name_spaces: cbor2.CBORTag) -> bytes:
    """Rebuilt by the RP from its own transcript bytes."""
    inner = cbor2.dumps(["DeviceAuthentication", loads(transcript), doc_type, device_name_spaces])
    return cbor2.dumps(cbor2.CBORTag(24, inner))


def check_device_signature(document: dict[str, Any], mso: dict[str, Any], transcript: bytes) -> None:
    device_signed = document["deviceSigned"]
    signature = device_signed["deviceAuth"]["deviceSignature"]
    assert signature[2] is None, "detached payload"
    payload = device_authentication_bytes(transcript, document["docType"], device_signed["nameSpaces"])
    verify_sign1(signature, cose_public_key(mso["deviceKeyInfo"]["deviceKey"]), payload)


def full_date(value: Any) -> date:
    if isinstance(value, cbor2.CBORTag):
        assert value.tag == 1004
        return date.fromisoformat(value.value)
    assert isinstance(value, date)
    return value


def platform(
    template: Path, folder: Path, mdoc_config: MdocConfig | None = None
) -> AbstractContextManager[Platform]:
    """The app under test (:func:`mock_world.running_mock`) with ``mdoc_config``: yields its TestClient
    and clock."""
    return running_mock(template, folder, mdoc_config=mdoc_config)
