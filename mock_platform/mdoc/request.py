"""The relying party's side of a request, for tests and demos (the SDK has its own request builders).

* :func:`device_request` — ``DeviceRequest = {"version": "1.0", "docRequests": [{"itemsRequest":
  #6.24(ItemsRequest)}]}`` with ``ItemsRequest = {"docType", "nameSpaces": {ns: {element:
  intentToRetain}}}`` (ISO/IEC 18013-5 §8.3.2.1.2.1); no readerAuth.
* :func:`dcql_query` / :func:`openid4vp_request` — an OpenID4VP 1.0 request over the DC API
  (``response_mode: dc_api``, unencrypted) with a DCQL query for the mdoc.
* :func:`dcapi_request` — the ``org-iso-mdoc`` request data: ``{"deviceRequest", "encryptionInfo"}``
  (both base64url).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from .cbor import embedded, encode
from .elements import DOC_TYPE
from .transcript import b64url, dcapi_encryption_info

Elements = Mapping[str, Mapping[str, bool] | Iterable[str]]


def _normalise(elements: Elements) -> dict[str, dict[str, bool]]:
    result: dict[str, dict[str, bool]] = {}
    for namespace, names in elements.items():
        if isinstance(names, Mapping):
            result[namespace] = {str(k): bool(v) for k, v in names.items()}
        else:
            result[namespace] = {str(name): False for name in names}
    return result


def items_request(elements: Elements, *, doc_type: str = DOC_TYPE) -> dict[str, Any]:
    """``ItemsRequest``: ``elements`` maps a namespace to ``{element: intentToRetain}`` or to names
    (intentToRetain ``false``)."""
    return {"docType": doc_type, "nameSpaces": _normalise(elements)}


def device_request(elements: Elements, *, doc_type: str = DOC_TYPE) -> bytes:
    """The encoded DeviceRequest asking for ``elements`` of ``doc_type``."""
    request = items_request(elements, doc_type=doc_type)
    return encode({"version": "1.0", "docRequests": [{"itemsRequest": embedded(encode(request))}]})


def dcapi_request(
    elements: Elements,
    *,
    nonce: bytes,
    recipient_public_key: ec.EllipticCurvePublicKey,
    doc_type: str = DOC_TYPE,
) -> dict[str, str]:
    """``{"deviceRequest": b64url, "encryptionInfo": b64url}`` of an ``org-iso-mdoc`` DC API request."""
    return {
        "deviceRequest": b64url(device_request(elements, doc_type=doc_type)),
        "encryptionInfo": dcapi_encryption_info(nonce, recipient_public_key),
    }


def dcql_query(elements: Elements, *, credential_id: str = "mnc", doc_type: str = DOC_TYPE) -> dict[str, Any]:
    """A DCQL query for one mdoc with claims ``{"path": [namespace, element], "intent_to_retain"}``."""
    claims = [
        {"path": [namespace, name], "intent_to_retain": retain}
        for namespace, names in _normalise(elements).items()
        for name, retain in names.items()
    ]
    return {
        "credentials": [
            {"id": credential_id, "format": "mso_mdoc", "meta": {"doctype_value": doc_type}, "claims": claims}
        ]
    }


def openid4vp_request(elements: Elements, *, nonce: str, credential_id: str = "mnc") -> dict[str, Any]:
    """An unsigned OpenID4VP request for the DC API (``response_mode: dc_api``)."""
    return {
        "response_type": "vp_token",
        "response_mode": "dc_api",
        "nonce": nonce,
        "dcql_query": dcql_query(elements, credential_id=credential_id),
    }


__all__ = ["dcapi_request", "dcql_query", "device_request", "items_request", "openid4vp_request"]
