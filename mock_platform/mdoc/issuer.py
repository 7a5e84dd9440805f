"""Building one ``IssuerSigned`` (ISO/IEC 18013-5 §8.3.2.1.2.2, §9.1.2): items, MSO, issuerAuth.

Pure functions, no database: :class:`~mock_platform.mdoc.service.MdocService` calls
:func:`build_issuer_signed` with the holder's elements, the device key and the document signer.

* each element becomes ``IssuerSignedItem = {"digestID", "random", "elementIdentifier", "elementValue"}``
  with a fresh 32-byte ``random`` (≥ 16 required) and a digestID drawn at random (unique in the MSO, so
  the IDs leak neither order nor count), wrapped as ``IssuerSignedItemBytes = #6.24(bstr .cbor item)``;
* ``valueDigests[ns][digestID] = SHA-256(<the exact encoding of IssuerSignedItemBytes>)`` — the tag, the
  bstr header and the item bytes, as 18013-5 §9.1.2.5 specifies;
* ``MobileSecurityObject = {"version": "1.0", "digestAlgorithm": "SHA-256", "valueDigests",
  "deviceKeyInfo": {"deviceKey": COSE_Key}, "docType", "validityInfo": {"signed", "validFrom",
  "validUntil", "expectedUpdate"}}`` with tdate values;
* ``issuerAuth`` = COSE_Sign1 over ``#6.24(bstr .cbor MSO)`` (attached payload), the document signer's
  certificate in ``x5chain`` (unprotected, label 33). The IACA is not included: it is the trust anchor.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from .cbor import encode, tag24, tdate
from .cose import cose_key, sign1

MSO_VERSION = "1.0"
DIGEST_ALGORITHM = "SHA-256"
RANDOM_BYTES = 32


@dataclass(frozen=True, slots=True)
class Validity:
    signed: datetime
    valid_from: datetime
    valid_until: datetime
    expected_update: datetime


def _digest_ids(count: int) -> list[int]:
    ids: set[int] = set()
    while len(ids) < count:
        ids.add(secrets.randbelow(2**31))
    return list(ids)


def build_issuer_signed(
    *,
    doc_type: str,
    elements: Mapping[str, Mapping[str, Any]],
    device_key: ec.EllipticCurvePublicKey,
    validity: Validity,
    signer_key: ec.EllipticCurvePrivateKey,
    signer_certificate_der: bytes,
) -> bytes:
    """The encoded ``IssuerSigned = {"nameSpaces": {ns: [IssuerSignedItemBytes…]}, "issuerAuth"}``."""
    total = sum(len(values) for values in elements.values())
    ids = iter(_digest_ids(total))
    name_spaces: dict[str, list[Any]] = {}
    value_digests: dict[str, dict[int, bytes]] = {}
    for namespace, values in elements.items():
        items, digests = [], {}
        for identifier, value in values.items():
            digest_id = next(ids)
            item, item_bytes = tag24(
                {
                    "digestID": digest_id,
                    "random": secrets.token_bytes(RANDOM_BYTES),
                    "elementIdentifier": identifier,
                    "elementValue": value,
                }
            )
            items.append(item)
            digests[digest_id] = hashlib.sha256(item_bytes).digest()
        name_spaces[namespace] = items
        value_digests[namespace] = digests
    mso = {
        "version": MSO_VERSION,
        "digestAlgorithm": DIGEST_ALGORITHM,
        "valueDigests": value_digests,
        "deviceKeyInfo": {"deviceKey": cose_key(device_key)},
        "docType": doc_type,
        "validityInfo": {
            "signed": tdate(validity.signed),
            "validFrom": tdate(validity.valid_from),
            "validUntil": tdate(validity.valid_until),
            "expectedUpdate": tdate(validity.expected_update),
        },
    }
    _, mso_bytes = tag24(mso)
    issuer_auth = sign1(mso_bytes, signer_key, x5chain=[signer_certificate_der])
    return encode({"nameSpaces": name_spaces, "issuerAuth": issuer_auth})


__all__ = ["DIGEST_ALGORITHM", "MSO_VERSION", "RANDOM_BYTES", "Validity", "build_issuer_signed"]
