"""RFC 9457 problem details for every refusal of the shop — never a 500 for bad input.

Every error answer is ``application/problem+json`` with ``type`` (stable URI:
``https://myna-rp.example/examples/age-check/problems/<code in kebab case>``), ``title``, ``status``,
``detail``, ``instance`` (the request path) and ``code`` (the SDK :class:`~myna_rp.errors.Reason` value or
the shop's own code; clients branch on ``code`` or ``type``, never on ``detail``). Extension members:
``fallback``, ``fallback_url``, ``consent_notice`` (Android), ``order_id``, ``minimum_age``, ``evidence``
(under age), ``errors`` (validation, without the offending input).

=================================  ======  ===============================================================
code                               status  when
=================================  ======  ===============================================================
AGE_REQUIREMENT_NOT_MET            403     verified: under the minimum age — checkout refused (recorded)
AGE_CHECK_REQUIRED                 403     placing an order whose age check did not pass
JPKI_FALLBACK_DECLINED             403     the Android customer did not consent to the JPKI fallback
CERTIFICATE_REVOKED / _ON_HOLD     403     the JPKI signing certificate is revoked / on hold
CHALLENGE_MISMATCH                 403     the challenge belongs to another checkout (or purpose); burned
CHALLENGE_REPLAYED                 409     the challenge (hence the response/signature) was used before
CHALLENGE_EXPIRED                  410     the challenge's TTL is over: start the age check again
CHALLENGE_UNKNOWN                  422     never issued here (or already forgotten)
CHALLENGE_STORE_UNAVAILABLE        503     the challenge store (SQLite, Redis) could not answer: retry
                                           later (``reason`` CHALLENGE_UNKNOWN: nothing was accepted)
ORDER_STORE_UNAVAILABLE            503     the order store (SQLite) is locked or failing: retry later
ATTRIBUTE_PROOF_UNSUPPORTED        409     Android: no attribute proof; ``fallback`` names the JPKI route
CHECKOUT_ALREADY_DECIDED           409     the checkout's age check already has an answer
UNKNOWN_CHECKOUT                   404     no such order id
AGE_NOT_DISCLOSED                  422     nothing verified decides the age (element withheld, partial date)
ENVELOPE_INVALID, DEVICE_AUTH_…    422     the mdoc evidence does not verify (any mdoc reason)
SIGNATURE_INVALID, UNTRUSTED_…     422     the JPKI evidence does not verify (any path/signature reason)
INDIVIDUAL_NUMBER_REFUSED          422     the response discloses the My Number (個人番号): refused
MALFORMED_INPUT                    400     undecodable base64, CBOR, certificate, challenge id
VALIDATION_ERROR                   422     the JSON body does not match the schema
REVOCATION_UNAVAILABLE             503     no revocation answer under REQUIRE (hard fail): try again later
CONFIGURATION_ERROR                503     the shop's trust configuration is unusable
NOT_FOUND / METHOD_NOT_ALLOWED     404/405 405 with ``Allow`` (RFC 9110 §15.5.6)
INTERNAL_ERROR                     500     a bug; never caused by input, the detail says nothing
=================================  ======  ===============================================================

Every 503 carries ``Retry-After``. The shop has no authenticated route, hence no 401.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from myna_rp.challenge import ChallengeStoreUnavailableError
from myna_rp.errors import AttributeProofUnsupported, MynaRPError, Reason

from .errors import ShopError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://myna-rp.example/examples/age-check/problems/"

_LOG = logging.getLogger("examples.age_check")

#: Status and title per SDK reason; a reason not listed is a 422 "evidence does not verify".
_REASON_STATUS: dict[Reason, tuple[int, str]] = {
    Reason.MALFORMED_INPUT: (400, "Malformed request"),
    Reason.CERTIFICATE_REVOKED: (403, "Certificate revoked"),
    Reason.CERTIFICATE_ON_HOLD: (403, "Certificate on hold"),
    Reason.CHALLENGE_MISMATCH: (403, "Challenge of another checkout"),
    Reason.CHALLENGE_REPLAYED: (409, "Challenge already used"),
    Reason.CHALLENGE_EXPIRED: (410, "Challenge expired"),
    Reason.CHALLENGE_UNKNOWN: (422, "Unknown challenge"),
    Reason.ATTRIBUTE_PROOF_UNSUPPORTED: (409, "Attribute proof not supported on this device"),
    Reason.AGE_NOT_DISCLOSED: (422, "Age not disclosed"),
    Reason.INDIVIDUAL_NUMBER_REFUSED: (422, "Individual number refused"),
    Reason.REVOCATION_UNAVAILABLE: (503, "Revocation status unavailable"),
    Reason.CONFIGURATION_ERROR: (503, "Shop misconfigured"),
    Reason.CONSENT_REQUIRED: (403, "Consent required"),
}
_DEFAULT_STATUS = (422, "Evidence does not verify")
_RETRY_AFTER = {503: "30"}


def problem_type(code: str) -> str:
    """The stable ``type`` URI of a problem code."""
    return PROBLEM_TYPE_BASE + code.lower().replace("_", "-")


def reason_status(reason: Reason) -> int:
    """The HTTP status the shop answers for an SDK reason."""
    return _REASON_STATUS.get(reason, _DEFAULT_STATUS)[0]


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        **extra,
    }
    answer_headers = dict(headers or {})
    if status in _RETRY_AFTER:
        answer_headers["Retry-After"] = _RETRY_AFTER[status]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=answer_headers)


def sdk_problem(request: Request, error: MynaRPError, **more: Any) -> JSONResponse:
    """The problem document of an SDK error (``more``: extension members). A challenge-store outage is a
    503 ``CHALLENGE_STORE_UNAVAILABLE`` (not the customer's fault), whatever route it happened on."""
    if isinstance(error, ChallengeStoreUnavailableError):
        return problem_response(
            request,
            status=503,
            code="CHALLENGE_STORE_UNAVAILABLE",
            title="Challenge store unavailable",
            detail="the challenge store could not answer: nothing was accepted; try again later",
            reason=error.reason.value,
        )
    status, title = _REASON_STATUS.get(error.reason, _DEFAULT_STATUS)
    extra: dict[str, Any] = {"reason": error.reason.value}
    if isinstance(error, AttributeProofUnsupported):
        order_id = request.path_params.get("order_id")
        extra["fallback"] = error.fallback
        if order_id is not None:
            extra["fallback_url"] = f"/checkouts/{order_id}/age-check/jpki/challenge"
    detail = more.pop("detail", error.message)  # SDK messages are free of personal data by contract
    extra.update(more)
    return problem_response(
        request, status=status, code=error.reason.value, title=title, detail=detail, **extra
    )


def shop_problem(request: Request, error: ShopError) -> JSONResponse:
    extra = dict(error.extra)
    if error.reason is not None:
        extra["reason"] = error.reason.value
    return problem_response(
        request, status=error.status, code=error.code, title=error.title, detail=error.detail, **extra
    )


def allowed_methods(request: Request) -> str:
    """The ``Allow`` value of a 405 (RFC 9110 §10.2.1): every method of every route matching the path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "\x00"})  # no method matches: path only
        if match is Match.PARTIAL:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error to a problem document."""

    async def on_sdk(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MynaRPError)
        return sdk_problem(request, exc)

    async def on_shop(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ShopError)
        return shop_problem(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Never echo the input: it may be a certificate or a response carrying personal data.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return problem_response(
            request,
            status=422,
            code="VALIDATION_ERROR",
            title="Invalid request",
            detail="the request does not match the schema",
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, f"HTTP_{exc.status_code}")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem_response(
            request,
            status=exc.status_code,
            code=code,
            title=str(exc.detail),
            detail=str(exc.detail),
            headers=headers,
        )

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        _LOG.error("internal error on %s: %s", request.url.path, type(exc).__name__)
        return problem_response(
            request, status=500, code="INTERNAL_ERROR", title="Internal error", detail="internal error"
        )

    app.add_exception_handler(MynaRPError, on_sdk)
    app.add_exception_handler(ShopError, on_shop)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
