"""The My Number Card attribute document (domain-mdoc.md) and minimal DeviceRequests (18013-5 §8.3.2.1).

docType ``org.iso.23220.1.jp.mnc``; namespaces ``org.iso.23220.1`` (ISO/IEC 23220-2 common elements) and
``org.iso.23220.1.jp`` (Japanese elements). ``individual_number_unicode`` (個人番号) must not be collected by
private services: :func:`build_device_request` refuses it unless ``allow_individual_number=True``.

Element types (:func:`check_element`, applied by the verifier to every disclosed element of these
namespaces; domain-mdoc.md, ISO/IEC 23220-2, ISO/IEC 18013-5 §7.2.1 Table 5 for the mDL age elements):

============================  ===========================================================================
``age_over_NN``               bool (NN two ASCII digits) — ``org.iso.23220.1`` and ``org.iso.18013.5.1``
``age_in_years``              uint — both
``age_birth_year``            uint — ``org.iso.18013.5.1``
``birth_date``                full-date (tag 1004 → ``date``); in ``org.iso.23220.1`` also the map
                              ``{"birth_date": full-date, ? "approximate_mask": tstr}``
``sex``                       uint, an ISO/IEC 5218 code (0, 1, 2, 9) — ``org.iso.23220.1``
``portrait``                  bstr — ``org.iso.23220.1.jp`` and ``org.iso.18013.5.1``
``*_unicode`` (jp namespace)  tstr
============================  ===========================================================================

Other namespaces and unknown identifiers are passed through as decoded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import Any

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


# ASCII digits only: ``\d`` would also match other Unicode digits (age_over_٢٠, age_over_２０), names that
# ISO/IEC 18013-5 §7.2.5 does not define and that must never be read as age_over_20.
AGE_OVER_ELEMENT = re.compile(r"age_over_([0-9]{2})\Z")
_ISO_5218 = frozenset({0, 1, 2, 9})
_MASK_KEYS = frozenset({"birth_date", "approximate_mask"})


def is_full_date(value: object) -> bool:
    """A CBOR full-date (tag 1004) as decoded: a ``date`` that is not a ``datetime`` (tag 0)."""
    return type(value) is date


def _is_bool(value: object) -> bool:
    return type(value) is bool


def _is_uint(value: object) -> bool:
    return type(value) is int and value >= 0


def _is_tstr(value: object) -> bool:
    return type(value) is str


def _is_bstr(value: object) -> bool:
    return type(value) is bytes


def _is_sex(value: object) -> bool:
    return type(value) is int and value in _ISO_5218


def _is_23220_birth_date(value: object) -> bool:
    if type(value) is date:
        return True
    if not isinstance(value, Mapping) or "birth_date" not in value or not set(value) <= _MASK_KEYS:
        return False
    mask = value.get("approximate_mask")
    return type(value["birth_date"]) is date and (mask is None or type(mask) is str)


_Rule = tuple[Callable[[object], bool], str]
_BOOL: _Rule = (_is_bool, "a bool")
_UINT: _Rule = (_is_uint, "an unsigned integer")
_TSTR: _Rule = (_is_tstr, "a text string")
_BSTR: _Rule = (_is_bstr, "a byte string")
_FULL_DATE: _Rule = (is_full_date, "a full-date (tag 1004)")

ELEMENT_RULES: Mapping[str, Mapping[str, _Rule]] = MappingProxyType(
    {
        NS_23220: MappingProxyType(
            {
                "age_in_years": _UINT,
                "birth_date": (_is_23220_birth_date, "a full-date or a {birth_date, approximate_mask} map"),
                "sex": (_is_sex, "an ISO/IEC 5218 code (0, 1, 2 or 9)"),
            }
        ),
        NS_JP: MappingProxyType(
            {
                "full_name_unicode": _TSTR,
                "resident_address_unicode": _TSTR,
                "local_gov_code_unicode": _TSTR,
                "birth_date_unicode": _TSTR,
                "sex_unicode": _TSTR,
                "portrait": _BSTR,
                INDIVIDUAL_NUMBER_ELEMENT: _TSTR,
            }
        ),
        NS_MDL: MappingProxyType(
            {
                "age_in_years": _UINT,
                "age_birth_year": _UINT,
                "birth_date": _FULL_DATE,
                "portrait": _BSTR,
            }
        ),
    }
)
# Namespaces whose age_over_NN elements must be bool.
AGE_OVER_NAMESPACES = frozenset({NS_23220, NS_MDL})


# (namespace, identifier) -> rule: one lookup per element on the verifier's item loop.
_RULES_BY_ELEMENT: Mapping[tuple[str, str], _Rule] = MappingProxyType(
    {(ns, identifier): rule for ns, rules in ELEMENT_RULES.items() for identifier, rule in rules.items()}
)


def check_element(namespace: str, identifier: str, value: Any) -> None:
    """Check the CBOR type of a known element (see the module docstring); others pass.

    Raises:
        MalformedInputError: the value has another type (the message names the element, never its value).
    """
    rule = _RULES_BY_ELEMENT.get((namespace, identifier))
    if rule is None:
        if (
            type(value) is bool
            or namespace not in AGE_OVER_NAMESPACES
            or AGE_OVER_ELEMENT.match(identifier) is None
        ):
            return
        rule = _BOOL
    check, expected = rule
    if not check(value):
        raise MalformedInputError(f"element {namespace}/{identifier} must be {expected}")


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
