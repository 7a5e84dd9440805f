"""OCSP over HTTP (RFC 6960 Appendix A).

* ``POST /ocsp`` — body: DER OCSPRequest, ``Content-Type: application/ocsp-request`` (absent is tolerated).
* ``GET /ocsp/{request}`` — the DER request base64-encoded then URL-encoded (A.1.1); standard and
  URL-safe alphabets, with or without padding, are accepted (``%2F``/``%2B``/``%3D`` decode first).

Both answer ``200 application/ocsp-response`` — also for a malformed or unauthorized request, which get
the OCSP error statuses ``malformedRequest``/``unauthorized`` rather than an HTTP error, and for an
internal failure (``internalError``). ``Cache-Control: no-store``: the mock clock can jump.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Annotated

from cryptography.x509 import ocsp
from fastapi import APIRouter, Depends, Request, Response

from ..ca.ocsp import unsuccessful_response
from ..ca.service import CAService
from .problems import Problem, ProblemError

logger = logging.getLogger(__name__)

OCSP_REQUEST_MEDIA_TYPE = "application/ocsp-request"
OCSP_RESPONSE_MEDIA_TYPE = "application/ocsp-response"


async def _request_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type")
    if content_type is not None and content_type.split(";")[0].strip().lower() != OCSP_REQUEST_MEDIA_TYPE:
        raise ProblemError(
            415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type", f"expected {OCSP_REQUEST_MEDIA_TYPE}"
        )
    return await request.body()


def decode_get_request(encoded: str) -> bytes | None:
    """The DER bytes of an RFC 6960 A.1.1 GET path segment, or ``None`` when it is not base64."""
    text = encoded.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def build_router(service: CAService) -> APIRouter:
    """Routes ``POST /ocsp`` and ``GET /ocsp/{request}`` answering from ``service``."""
    router = APIRouter(tags=["ocsp"])

    def respond(der: bytes | None) -> Response:
        if not der:
            body = unsuccessful_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        else:
            try:
                body = service.ocsp_respond(der)
            except Exception:
                logger.exception("OCSP responder failure")
                body = unsuccessful_response(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
        return Response(
            content=body, media_type=OCSP_RESPONSE_MEDIA_TYPE, headers={"Cache-Control": "no-store"}
        )

    @router.post(
        "/ocsp",
        response_class=Response,
        summary="OCSP request (POST, RFC 6960 A.1)",
        responses={
            200: {"content": {OCSP_RESPONSE_MEDIA_TYPE: {}}, "description": "DER OCSPResponse"},
            413: {"model": Problem, "content": {"application/problem+json": {}}},
            415: {"model": Problem, "content": {"application/problem+json": {}}},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {OCSP_REQUEST_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    def post_ocsp(body: Annotated[bytes, Depends(_request_body)]) -> Response:
        return respond(body)

    @router.get(
        "/ocsp/{encoded:path}",
        response_class=Response,
        summary="OCSP request (GET, RFC 6960 A.1.1)",
        responses={200: {"content": {OCSP_RESPONSE_MEDIA_TYPE: {}}, "description": "DER OCSPResponse"}},
    )
    def get_ocsp(encoded: str) -> Response:
        return respond(decode_get_request(encoded))

    return router
