"""The My Number Card attribute document (domain-mdoc.md) and minimal DeviceRequests (18013-5 §8.3.2.1).

docType ``org.iso.23220.1.jp.mnc``; namespaces ``org.iso.23220.1`` (ISO/IEC 23220-2 common elements) and
``org.iso.23220.1.jp`` (Japanese elements). ``individual_number_unicode`` (個人番号) must not be collected by
private services: :func:`build_device_request` refuses it unless ``allow_individual_number=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from ..errors import IndividualNumberRefusedError, MalformedInputError
from .cbor import EncodedCBOR, dumps

JP_MNC_DOCTYPE = "org.iso.23220.1.jp.mnc"
NS_23220 = "org.iso.23220.1"
NS_JP = "org.iso.23220.1.jp"
NS_MDL = "org.iso.18013.5.1"
MDL_DOCTYPE = "org.iso.18013.5.1.mDL"
INDIVIDUAL_NUMBER_ELEMENT = "individual_number_unicode"

JP_MNC_ELEMENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        NS_23220: ("age_over_18", "age_over_20", "age_in_years", "birth_date", "sex"),
        NS_JP: (
            "full_name_unicode",
            "resident_address_unicode",
            "local_gov_code_unicode",
            "birth_date_unicode",
            "sex_unicode",
            "portrait",
            INDIVIDUAL_NUMBER_ELEMENT,
        ),
    }
)


def build_device_request(
    doc_type: str,
    elements: Mapping[str, Sequence[str]],
    *,
    intent_to_retain: bool = False,
    allow_individual_number: bool = False,
) -> bytes:
    """A DeviceRequest (version "1.0", one DocRequest, no readerAuth) asking for ``elements``.

    Shape (§8.3.2.1.2.1): ``{"version": "1.0", "docRequests": [{"itemsRequest": #6.24(bstr .cbor
    {"docType": doc_type, "nameSpaces": {ns: {identifier: intentToRetain}}})}]}``.

    Raises:
        IndividualNumberRefusedError: ``individual_number_unicode`` requested without opt-in.
        MalformedInputError: no element requested.
    """
    name_spaces: dict[str, dict[str, bool]] = {}
    for namespace, identifiers in elements.items():
        for identifier in identifiers:
            if identifier == INDIVIDUAL_NUMBER_ELEMENT and not allow_individual_number:
                raise IndividualNumberRefusedError(
                    "individual_number_unicode may not be requested without allow_individual_number=True"
                )
            name_spaces.setdefault(namespace, {})[identifier] = intent_to_retain
    if not name_spaces:
        raise MalformedInputError("a DeviceRequest must ask for at least one element")
    items_request = EncodedCBOR.wrap(dumps({"docType": doc_type, "nameSpaces": name_spaces}))
    return dumps({"version": "1.0", "docRequests": [{"itemsRequest": items_request}]})


def age_request(
    minimum_age: int = 20, *, doc_type: str = JP_MNC_DOCTYPE, namespace: str | None = None
) -> bytes:
    """The minimal DeviceRequest for an age check: ``age_over_NN`` only, not retained.

    The namespace defaults to ``org.iso.23220.1`` for the My Number Card and ``org.iso.18013.5.1`` for an
    mDL.

    Raises:
        MalformedInputError: ``minimum_age`` outside 0..99 (the element name has two digits).
    """
    if not 0 <= minimum_age <= 99:
        raise MalformedInputError("minimum_age must be between 0 and 99")
    ns = namespace or (NS_MDL if doc_type == MDL_DOCTYPE else NS_23220)
    return build_device_request(doc_type, {ns: [f"age_over_{minimum_age:02d}"]})
