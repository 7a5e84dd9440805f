"""Every error of the bank as an RFC 9457 problem document (``application/problem+json``).

A problem has the RFC members ``type`` (a stable URI: :data:`PROBLEM_TYPE_BASE` + the code in kebab case),
``title``, ``status``, ``detail``, ``instance``, plus ``code`` (the stable machine-readable code) and, for
SDK errors, ``reason`` (the :class:`myna_rp.errors.Reason` value). Clients branch on ``code``/``type``.
Details never carry personal data (SDK messages are free of it by contract; request bodies are never
echoed).

=================================  ======  ===============================================================
code                               status  when
=================================  ======  ===============================================================
MALFORMED_INPUT                    400     undecodable base64, certificate, CMS, challenge id; evidence
                                           missing or ambiguous
VALIDATION_ERROR                   422     the JSON body does not match the schema
CHALLENGE_MISMATCH                 403     the challenge belongs to another opening/login (it is burned)
CHALLENGE_REPLAYED                 409     the challenge (hence the signature) was used before
CHALLENGE_EXPIRED                  410     the challenge's TTL is over: start again
CHALLENGE_UNKNOWN                  422     never issued here (or already forgotten)
CHALLENGE_STORE_UNAVAILABLE        503     the challenge store (SQLite, Redis) could not answer: retry
                                           later (``reason`` CHALLENGE_UNKNOWN: nothing was accepted)
HOLDER_MISMATCH                    403     platform mode: the signing and the login certificate belong to
                                           different holders (platform user IDs differ)
CERTIFICATE_REVOKED                403     revoked (e.g. affiliationChanged after a move, a stopped phone)
CERTIFICATE_ON_HOLD                403     on hold (a phone reported lost)
SIGNATURE_INVALID, UNTRUSTED_…     422     the evidence does not verify (any path/signature/profile reason:
                                           CERTIFICATE_EXPIRED, WRONG_KEY_USAGE, WRONG_CERTIFICATE_KIND…)
REVOCATION_UNAVAILABLE             503     no revocation answer under REQUIRE (hard fail): retry later
ACCOUNT_EXISTS                     409     a certificate presented at opening already belongs to a customer
ACCOUNT_CLOSED                     409     login to, or closing of, a closed account
LOGIN_NOT_RECOGNISED               401     a valid login certificate bound to no customer
                                           (``WWW-Authenticate: JPKI realm="bank-kyc"``)
UNAUTHENTICATED                    401     no/unknown/expired bearer token on a customer route
                                           (``WWW-Authenticate: Bearer realm="bank-kyc"``)
CONSENT_REQUIRED                   403     the holder has not consented to share the latest attributes
PLATFORM_USER_UNKNOWN              409     the customer's platform user ID is not known yet
PLATFORM_NOT_CONFIGURED            503     the route needs the platform API / webhook secret
PLATFORM_UNAVAILABLE               503     the platform did not answer (after retries)
PLATFORM_RESPONSE_INVALID, …       502     the platform answered something unusable / refused our call
CLIENT_AUTHENTICATION_FAILED       503     the platform refused the bank's credentials (configuration)
WEBHOOK_SIGNATURE_INVALID          401     a webhook without a valid signature (forged, wrong secret)
                                           (``WWW-Authenticate: Standard-Webhooks realm="bank-kyc"``)
WEBHOOK_REPLAYED                   409     a webhook timestamp outside the replay window
RECORD_STORE_ERROR                 503     the database failed; nothing was written
CONFIGURATION_ERROR                503     the bank's configuration is unusable
NOT_FOUND / METHOD_NOT_ALLOWED     404/405 405 with ``Allow`` (RFC 9110 §15.5.6)
INTERNAL_ERROR                     500     a bug; never caused by input, the detail says nothing
=================================  ======  ===============================================================

Every 503 carries ``Retry-After``; every 401 a ``WWW-Authenticate`` challenge (RFC 9110 §11.6.1,
§15.5.2) naming how to authenticate: ``Bearer`` (RFC 6750) on customer routes, the custom schemes
``JPKI`` (a login signed with the user authentication certificate, ``POST /login/challenges``) and
``Standard-Webhooks`` (the platform's webhook signature), and ``Admin-Token`` (``X-Admin-Token``).
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
from myna_rp.errors import MynaRPError, Reason

from .errors import BankError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://myna-rp.example/examples/bank-kyc/problems/"

_LOG = logging.getLogger("examples.bank_kyc")

#: Status and title per SDK reason; a reason not listed is a 422 "evidence does not verify".
_REASON_STATUS: dict[Reason, tuple[int, str]] = {
    Reason.MALFORMED_INPUT: (400, "Malformed request"),
    Reason.CHALLENGE_MISMATCH: (403, "Challenge of another session"),
    Reason.CHALLENGE_REPLAYED: (409, "Challenge already used"),
    Reason.CHALLENGE_EXPIRED: (410, "Challenge expired"),
    Reason.CHALLENGE_UNKNOWN: (422, "Unknown challenge"),
    Reason.CERTIFICATE_REVOKED: (403, "Certificate revoked"),
    Reason.CERTIFICATE_ON_HOLD: (403, "Certificate on hold"),
    Reason.REVOCATION_UNAVAILABLE: (503, "Revocation status unavailable"),
    Reason.CONFIGURATION_ERROR: (503, "Bank misconfigured"),
    Reason.RECORD_STORE_ERROR: (503, "Storage unavailable"),
    Reason.CONSENT_REQUIRED: (403, "Consent required"),
    Reason.PLATFORM_UNAVAILABLE: (503, "Platform unavailable"),
    Reason.PLATFORM_RESPONSE_INVALID: (502, "Invalid platform response"),
    Reason.PLATFORM_REJECTED: (502, "Platform refused the request"),
    Reason.CLIENT_AUTHENTICATION_FAILED: (503, "Platform credentials refused"),
    Reason.WEBHOOK_SIGNATURE_INVALID: (401, "Webhook signature invalid"),
    Reason.WEBHOOK_REPLAYED: (409, "Webhook replayed"),
    Reason.HOLDER_MISMATCH: (403, "Certificates of different holders"),
}
_DEFAULT_STATUS = (422, "Evidence does not verify")
_RETRY_AFTER = {503: "30"}
#: The WWW-Authenticate challenge of each 401 code (RFC 9110 §11.6.1); others get the Bearer one.
_CHALLENGES = {
    "UNAUTHENTICATED": 'Bearer realm="bank-kyc"',
    "LOGIN_NOT_RECOGNISED": 'JPKI realm="bank-kyc"',
    "WEBHOOK_SIGNATURE_INVALID": 'Standard-Webhooks realm="bank-kyc"',
}


def problem_type(code: str) -> str:
    """The stable ``type`` URI of a problem code."""
    return PROBLEM_TYPE_BASE + code.lower().replace("_", "-")


def reason_status(reason: Reason) -> int:
    """The HTTP status the bank answers for an SDK reason."""
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
    answer_headers: dict[str, str] = {"Cache-Control": "no-store", **(headers or {})}
    if status in _RETRY_AFTER:
        answer_headers["Retry-After"] = _RETRY_AFTER[status]
    if status == 401:
        answer_headers.setdefault("WWW-Authenticate", _CHALLENGES.get(code, _CHALLENGES["UNAUTHENTICATED"]))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=answer_headers)


def sdk_problem(request: Request, error: MynaRPError) -> JSONResponse:
    """The problem document of an SDK error (its reason is the code; a challenge-store outage is a 503
    ``CHALLENGE_STORE_UNAVAILABLE``, not the client's fault)."""
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
    return problem_response(
        request,
        status=status,
        code=error.reason.value,
        title=title,
        detail=error.message,
        reason=error.reason.value,
    )


def bank_problem(request: Request, error: BankError) -> JSONResponse:
    extra = dict(error.extra)
    if error.reason is not None:
        extra["reason"] = error.reason.value
    headers = {"WWW-Authenticate": error.www_authenticate} if error.www_authenticate else None
    return problem_response(
        request,
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        headers=headers,
        **extra,
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

    async def on_bank(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BankError)
        return bank_problem(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Never echo the input: it may be a certificate carrying the basic four attributes.
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
        # The exception's type only: its message could quote input.
        _LOG.error("internal error on %s: %s", request.url.path, type(exc).__name__)
        return problem_response(
            request, status=500, code="INTERNAL_ERROR", title="Internal error", detail="internal error"
        )

    app.add_exception_handler(MynaRPError, on_sdk)
    app.add_exception_handler(BankError, on_bank)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
