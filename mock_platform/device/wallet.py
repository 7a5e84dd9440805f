"""The holder's side of an mdoc presentation: DeviceRequest in, DeviceResponse out (ISO/IEC 18013-5 §8.3).

Pure functions used by :class:`~mock_platform.device.simulator.Smartphone` (which adds the platform
calls and the channel envelopes):

* :func:`parse_device_request` — ``{"version", "docRequests": [{"itemsRequest": #6.24(ItemsRequest)}]}``
  → the requested documents (``readerAuth`` is ignored: the mock does no reader authentication).
* :func:`build_device_response` — **selective disclosure**: only the requested elements that were
  issued (and not withheld by the user) are copied, as the issuer's exact ``#6.24`` bytes; requested but
  not returned elements are listed in the document's ``errors`` (code 0, "data not returned");
  ``individual_number_unicode`` therefore leaves the device only when the request names it; a **device
  signature** (COSE_Sign1, detached payload, the device key) over
  ``DeviceAuthenticationBytes = #6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript, docType,
  DeviceNameSpacesBytes])`` — the SessionTranscript spliced in as the caller's exact bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

from ..mdoc.cbor import TAG_ENCODED_CBOR, embedded, encode
from ..mdoc.cose import sign1

#: ISO 18013-5 §8.3.2.1.2.3 error code: data not returned.
NOT_RETURNED = 0
_MAX_REQUEST_BYTES = 64 * 1024
_MAX_DEPTH = 16


class DeviceRequestError(ValueError):
    """The DeviceRequest is not well-formed (the device answers nothing)."""


@dataclass(frozen=True, slots=True)
class RequestedDocument:
    """One ``ItemsRequest``: the docType and ``{namespace: {element: intentToRetain}}``."""

    doc_type: str
    elements: Mapping[str, Mapping[str, bool]]


def _loads(data: bytes) -> Any:
    if len(data) > _MAX_REQUEST_BYTES:
        raise DeviceRequestError("request too large")
    try:
        return cbor2.loads(data, max_depth=_MAX_DEPTH, allow_duplicate_keys=False)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DeviceRequestError("the request is not valid CBOR") from exc


def parse_items_request(value: Any) -> RequestedDocument:
    """An ``ItemsRequest`` map (already decoded)."""
    if not isinstance(value, dict) or not isinstance(value.get("docType"), str):
        raise DeviceRequestError("ItemsRequest needs a docType")
    name_spaces = value.get("nameSpaces")
    if not isinstance(name_spaces, dict) or not name_spaces:
        raise DeviceRequestError("ItemsRequest needs nameSpaces")
    elements: dict[str, dict[str, bool]] = {}
    for namespace, names in name_spaces.items():
        if not isinstance(namespace, str) or not isinstance(names, dict) or not names:
            raise DeviceRequestError("nameSpaces maps a namespace to {element: intentToRetain}")
        for name, retain in names.items():
            if not isinstance(name, str) or not isinstance(retain, bool):
                raise DeviceRequestError("an element request is element identifier → bool")
        elements[namespace] = dict(names)
    return RequestedDocument(value["docType"], elements)


def parse_device_request(data: bytes) -> list[RequestedDocument]:
    """The documents a DeviceRequest asks for. Raises :class:`DeviceRequestError`."""
    request = _loads(data)
    if not isinstance(request, dict) or request.get("version") != "1.0":
        raise DeviceRequestError("DeviceRequest version 1.0 expected")
    doc_requests = request.get("docRequests")
    if not isinstance(doc_requests, list) or not doc_requests:
        raise DeviceRequestError("DeviceRequest needs docRequests")
    documents = []
    for doc_request in doc_requests:
        items = doc_request.get("itemsRequest") if isinstance(doc_request, dict) else None
        if (
            not isinstance(items, cbor2.CBORTag)
            or items.tag != TAG_ENCODED_CBOR
            or not isinstance(items.value, bytes)
        ):
            raise DeviceRequestError("itemsRequest must be #6.24(bstr)")
        documents.append(parse_items_request(_loads(items.value)))
    return documents


def device_authentication_bytes(session_transcript: bytes, doc_type: str, device_name_spaces: bytes) -> bytes:
    """``#6.24(bstr .cbor DeviceAuthentication)`` with the transcript's exact bytes spliced in."""
    device_authentication = (
        b"\x84" + encode("DeviceAuthentication") + session_transcript + encode(doc_type) + device_name_spaces
    )
    return encode(embedded(device_authentication))


def _issued_items(issuer_signed: Mapping[str, Any]) -> dict[str, dict[str, cbor2.CBORTag]]:
    items: dict[str, dict[str, cbor2.CBORTag]] = {}
    for namespace, tagged_items in issuer_signed.get("nameSpaces", {}).items():
        for tagged in tagged_items:
            item = cbor2.loads(tagged.value)
            items.setdefault(namespace, {})[item["elementIdentifier"]] = tagged
    return items


def build_device_response(
    *,
    issuer_signed: bytes,
    doc_type: str,
    device_key: ec.EllipticCurvePrivateKey,
    requests: Iterable[RequestedDocument],
    session_transcript: bytes,
    withhold: Iterable[tuple[str, str]] = (),
) -> bytes:
    """The encoded DeviceResponse answering ``requests`` from one held credential.

    Args:
        issuer_signed: the encoded IssuerSigned the issuer handed over.
        doc_type: its docType.
        device_key: the private key whose public half is in the MSO's deviceKeyInfo.
        requests: the parsed DeviceRequest.
        session_transcript: the channel's SessionTranscript bytes.
        withhold: ``(namespace, element)`` pairs the user declines to share (answered as not returned).
    """
    held = cbor2.loads(issuer_signed)
    issued = _issued_items(held)
    declined = set(withhold)
    documents: list[dict[str, Any]] = []
    document_errors: list[dict[str, int]] = []
    for request in requests:
        if request.doc_type != doc_type:
            document_errors.append({request.doc_type: NOT_RETURNED})
            continue
        disclosed: dict[str, list[cbor2.CBORTag]] = {}
        errors: dict[str, dict[str, int]] = {}
        for namespace, names in request.elements.items():
            for name in names:
                # only what the request names is ever looked up: individual_number_unicode
                # leaves the device only when the request asks for it by name
                tagged = issued.get(namespace, {}).get(name)
                if tagged is None or (namespace, name) in declined:
                    errors.setdefault(namespace, {})[name] = NOT_RETURNED
                    continue
                disclosed.setdefault(namespace, []).append(tagged)
        device_name_spaces = encode(embedded(encode({})))
        payload = device_authentication_bytes(session_transcript, doc_type, device_name_spaces)
        signed_part: dict[str, Any] = {"issuerAuth": held["issuerAuth"]}
        if disclosed:
            signed_part = {"nameSpaces": disclosed, **signed_part}
        document: dict[str, Any] = {
            "docType": doc_type,
            "issuerSigned": signed_part,
            "deviceSigned": {
                "nameSpaces": cbor2.loads(device_name_spaces),
                "deviceAuth": {"deviceSignature": sign1(payload, device_key, detached=True)},
            },
        }
        if errors:
            document["errors"] = errors
        documents.append(document)
    response: dict[str, Any] = {"version": "1.0"}
    if documents:
        response["documents"] = documents
    if document_errors:
        response["documentErrors"] = document_errors
    response["status"] = 0
    return encode(response)


__all__ = [
    "NOT_RETURNED",
    "DeviceRequestError",
    "RequestedDocument",
    "build_device_response",
    "device_authentication_bytes",
    "parse_device_request",
    "parse_items_request",
]
