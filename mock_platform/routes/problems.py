"""RFC 9457 problem details for every error the HTTP layer returns, and a request-size limit.

Every error response is ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail``,
``instance`` and a stable machine-readable ``code`` (clients branch on ``code``, never on ``detail``):

=============================  ======  ==========================================================
code                           status  when
=============================  ======  ==========================================================
VALIDATION_ERROR               422     the request body/path/query does not match the schema
INVALID_PUBLIC_KEY             422     the submitted SubjectPublicKeyInfo PEM does not parse
UNSUPPORTED_KEY_TYPE           422     not RSA 2048–4096/e=65537 or EC P-256
INVALID_ATTRIBUTES             422     bad basic four attributes / date of birth / locality
INVALID_VALIDITY               422     the certificate would already be expired (card expiry)
INVALID_SERIAL                 422     the serial in the path is not hex (≤ 40 digits)
INVALID_REVOCATION_REQUEST     422     e.g. an invalidity date in the future
UNKNOWN_CERTIFICATE            404     no certificate with that serial
UNKNOWN_CA                     404     no CA generation with that purpose/number
NOT_FOUND                      404     no such route (including /admin/clock outside test mode)
METHOD_NOT_ALLOWED             405
ALREADY_REVOKED                409     the certificate is permanently revoked
ALREADY_ON_HOLD                409     hold requested twice
NOT_ON_HOLD                    409     release of a certificate that is not on hold
NO_ISSUING_CA                  409     no CA generation valid at the (mock) time
CRL_CONTENTION                 503     a forced CRL issue kept losing its number to concurrent issuers
CLOCK_NOT_SETTABLE             409     /admin/clock with an injected non-settable clock
REQUEST_TOO_LARGE              413     body larger than ``max_request_bytes``
UNSUPPORTED_MEDIA_TYPE         415     POST /ocsp with a Content-Type other than application/ocsp-request
INTERNAL_ERROR                 500     a bug; the detail never contains a traceback or input
=============================  ======  ==========================================================

Validation errors list ``errors: [{loc, msg, type}]`` without the offending input (it may be personal).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ca.errors import (
    AlreadyOnHoldError,
    AlreadyRevokedError,
    CAError,
    CRLContentionError,
    InvalidAttributesError,
    InvalidPublicKeyError,
    InvalidRevocationRequestError,
    InvalidValidityError,
    NoIssuingCAError,
    NotOnHoldError,
    UnknownCAError,
    UnknownCertificateError,
    UnsupportedKeyTypeError,
)

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://myna-rp.example/problems/"

_CA_ERROR_STATUS: tuple[tuple[type[CAError], int, str], ...] = (
    (InvalidPublicKeyError, 422, "Invalid public key"),
    (UnsupportedKeyTypeError, 422, "Unsupported key type"),
    (InvalidAttributesError, 422, "Invalid attributes"),
    (InvalidValidityError, 422, "Invalid validity"),
    (InvalidRevocationRequestError, 422, "Invalid revocation request"),
    (UnknownCertificateError, 404, "Unknown certificate"),
    (UnknownCAError, 404, "Unknown CA"),
    (AlreadyRevokedError, 409, "Certificate already revoked"),
    (AlreadyOnHoldError, 409, "Certificate already on hold"),
    (NotOnHoldError, 409, "Certificate not on hold"),
    (NoIssuingCAError, 409, "No issuing CA"),
    (CRLContentionError, 503, "CRL issue contended"),
)

_HTTP_CODES = {
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    413: ("REQUEST_TOO_LARGE", "Request too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
}


class Problem(BaseModel):
    """RFC 9457 problem details (+ ``code``), for the OpenAPI description of error responses."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_TYPE_BASE + "not-on-hold",
                    "title": "Certificate not on hold",
                    "status": 409,
                    "detail": "the certificate is not on hold",
                    "instance": "/admin/certificates/1f2e3d/release",
                    "code": "NOT_ON_HOLD",
                }
            ]
        }
    )

    type: str = Field(description="URI identifying the problem type (not dereferenceable)")
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str = Field(description="stable machine-readable identifier")


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, code: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra


def problem_type(code: str) -> str:
    """``https://myna-rp.example/problems/<code in kebab case>`` (example domain: never dereferenced)."""
    return PROBLEM_TYPE_BASE + code.lower().replace("_", "-")


def problem_response(
    status: int, code: str, title: str, detail: str, *, instance: str | None = None, **extra: Any
) -> JSONResponse:
    """A ``JSONResponse`` carrying an RFC 9457 problem document with media type application/problem+json."""
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def ca_error_status(error: CAError) -> tuple[int, str]:
    """HTTP status and title for a CA-layer error (422 for unlisted ones: they describe bad input)."""
    for error_type, status, title in _CA_ERROR_STATUS:
        if isinstance(error, error_type):
            return status, title
    return 422, "Request cannot be processed"


def install_problem_handlers(app: FastAPI) -> None:
    """Register handlers so that every error leaves the app as problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, instance=request.url.path, **exc.extra
        )

    async def on_ca_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CAError)
        status, title = ca_error_status(exc)
        return problem_response(status, exc.code, title, exc.message, instance=request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
            for error in exc.errors()
        ]
        return problem_response(
            422,
            "VALIDATION_ERROR",
            "Request validation failed",
            "the request does not match the schema; see 'errors'",
            instance=request.url.path,
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code, title = _HTTP_CODES.get(exc.status_code, (f"HTTP_{exc.status_code}", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        response = problem_response(exc.status_code, code, title, detail, instance=request.url.path)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error(
            "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
        )
        return problem_response(
            500, "INTERNAL_ERROR", "Internal error", "an unexpected error occurred", instance=request.url.path
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(CAError, on_ca_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


class RequestTooLargeError(ProblemError):
    """The request body exceeds the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "REQUEST_TOO_LARGE", "Request too large", f"the request body exceeds {limit} bytes"
        )


class BodySizeLimitMiddleware:
    """Pure ASGI middleware: reject bodies over ``max_bytes`` with a 413 problem, without buffering them.

    A declared ``Content-Length`` over the limit is refused before the body is read; a chunked body is
    counted while it streams and refused as soon as it crosses the limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    response = problem_response(
                        413 if declared > self.max_bytes else 400,
                        "REQUEST_TOO_LARGE" if declared > self.max_bytes else "BAD_CONTENT_LENGTH",
                        "Request too large" if declared > self.max_bytes else "Bad Content-Length",
                        f"the request body exceeds {self.max_bytes} bytes"
                        if declared > self.max_bytes
                        else "the Content-Length header is not a non-negative integer",
                        instance=str(scope.get("path", "")),
                    )
                    await response(scope, receive, send)
                    return
        received = 0
        limit = self.max_bytes
        too_large = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise RequestTooLargeError(limit)
            return message

        async def guarded_send(message: Message) -> None:
            # The framework may turn the error raised while reading the body into its own 400; whatever it
            # answers, a body over the limit is a 413 REQUEST_TOO_LARGE problem.
            nonlocal replaced
            if not too_large:
                await send(message)
                return
            if not replaced:
                replaced = True
                response = problem_response(
                    413,
                    "REQUEST_TOO_LARGE",
                    "Request too large",
                    f"the request body exceeds {limit} bytes",
                    instance=str(scope.get("path", "")),
                )
                await response(scope, receive, send)

        await self.app(scope, limited_receive, guarded_send)


def document_problem_responses(app: FastAPI) -> None:
    """Make the OpenAPI document say what the app does: every 4xx/5xx is ``application/problem+json``.

    FastAPI documents request-validation failures (422) as ``application/json`` ``HTTPValidationError``;
    this app answers them with a problem document (see :func:`install_problem_handlers`), so the generated
    schema is rewritten once, on first use, to match (schemathesis checks responses against it).
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if not isinstance(operation, dict):
                    continue
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"]["content"] = dict(problem_content)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
