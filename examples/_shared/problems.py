"""RFC 9457 problem details (``application/problem+json``) for the example services.

A problem has the RFC members ``type`` (a stable URI: the service's type base + the code in kebab case),
``title``, ``status``, ``detail``, ``instance`` (the request path), plus ``code`` (the stable
machine-readable code) and, for SDK errors, ``reason`` (the :class:`myna_rp.errors.Reason` value). Every
503 carries ``Retry-After``; a 405 carries ``Allow`` (RFC 9110 §10.2.1). Request bodies are never echoed
and a 500's detail says nothing: details never carry personal data.

Each service describes its problems once with a :class:`Problems` value and installs the handlers with
:meth:`Problems.install`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from myna_rp.challenge import ChallengeStoreUnavailableError
from myna_rp.errors import MynaRPError, Reason

from .errors import ProblemError

PROBLEM_MEDIA_TYPE = "application/problem+json"
_DEFAULT_STATUS = (422, "Evidence does not verify")
_RETRY_AFTER = {503: "30"}
_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
_OPENAPI_PROBLEM: dict[str, Any] = {"content": {PROBLEM_MEDIA_TYPE: {}}, "description": "RFC 9457 problem"}


def openapi_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a FastAPI route answering problem documents with these statuses."""
    return dict.fromkeys(statuses, _OPENAPI_PROBLEM)


def allowed_methods(request: Request) -> str:
    """The ``Allow`` value of a 405 (RFC 9110 §10.2.1): every method of every route matching the path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "\x00"})  # no method matches: path only
        if match is Match.PARTIAL:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


@dataclass(frozen=True, slots=True)
class Problems:
    """How one service answers its errors.

    Attributes:
        type_base: the ``type`` URI prefix (the code in kebab case follows).
        reason_statuses: HTTP status and title per SDK reason; a reason not listed is a 422 "Evidence does
            not verify".
        logger: the logger name of the 500 handler (it logs the exception's type only, never its message).
        headers: headers of every problem answer (e.g. ``Cache-Control: no-store``).
        challenges: the ``WWW-Authenticate`` challenge of each 401 code (RFC 9110 §11.6.1).
        default_challenge: the challenge of a 401 whose code is not in ``challenges``; ``None``: none.
        sdk_members: extension members an SDK error adds (e.g. the JPKI fallback of an Android refusal).
    """

    type_base: str
    reason_statuses: Mapping[Reason, tuple[int, str]]
    logger: str
    headers: Mapping[str, str] = field(default_factory=dict)
    challenges: Mapping[str, str] = field(default_factory=dict)
    default_challenge: str | None = None
    sdk_members: Callable[[Request, MynaRPError], dict[str, Any]] | None = None

    def type_of(self, code: str) -> str:
        """The stable ``type`` URI of a problem code."""
        return self.type_base + code.lower().replace("_", "-")

    def status_of(self, reason: Reason) -> tuple[int, str]:
        """The HTTP status and title answered for an SDK reason."""
        return self.reason_statuses.get(reason, _DEFAULT_STATUS)

    def response(
        self,
        request: Request,
        *,
        status: int,
        code: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> JSONResponse:
        """A problem answer (``extra``: extension members); adds ``Retry-After`` to a 503 and the code's
        ``WWW-Authenticate`` challenge to a 401 unless ``headers`` has one."""
        body: dict[str, Any] = {
            "type": self.type_of(code),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": request.url.path,
            "code": code,
            **extra,
        }
        answer_headers: dict[str, str] = {**self.headers, **(headers or {})}
        if status in _RETRY_AFTER:
            answer_headers["Retry-After"] = _RETRY_AFTER[status]
        challenge = self.challenges.get(code, self.default_challenge)
        if status == 401 and challenge is not None:
            answer_headers.setdefault("WWW-Authenticate", challenge)
        return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=answer_headers)

    def sdk_response(self, request: Request, error: MynaRPError, **more: Any) -> JSONResponse:
        """The problem of an SDK error: its reason is the code (``more``: extension members, ``detail``
        replaces the SDK message). A challenge-store outage is a 503 ``CHALLENGE_STORE_UNAVAILABLE`` (not
        the client's fault), whatever route it happened on."""
        if isinstance(error, ChallengeStoreUnavailableError):
            return self.response(
                request,
                status=503,
                code="CHALLENGE_STORE_UNAVAILABLE",
                title="Challenge store unavailable",
                detail="the challenge store could not answer: nothing was accepted; try again later",
                reason=error.reason.value,
            )
        status, title = self.status_of(error.reason)
        extra: dict[str, Any] = {"reason": error.reason.value}
        if self.sdk_members is not None:
            extra.update(self.sdk_members(request, error))
        detail = more.pop("detail", error.message)  # SDK messages are free of personal data by contract
        extra.update(more)
        return self.response(
            request, status=status, code=error.reason.value, title=title, detail=detail, **extra
        )

    def error_response(self, request: Request, error: ProblemError) -> JSONResponse:
        """The problem of the service's own refusal."""
        extra = dict(error.extra)
        if error.reason is not None:
            extra["reason"] = error.reason.value
        headers = {"WWW-Authenticate": error.www_authenticate} if error.www_authenticate else None
        return self.response(
            request,
            status=error.status,
            code=error.code,
            title=error.title,
            detail=error.detail,
            headers=headers,
            **extra,
        )

    def install(self, app: FastAPI, error_type: type[ProblemError] = ProblemError) -> None:
        """Route every error of ``app`` to a problem document: SDK errors, the service's ``error_type``,
        body validation (422 ``VALIDATION_ERROR``, without the input), 404/405 and any bug (500)."""
        log = logging.getLogger(self.logger)

        async def on_sdk(request: Request, exc: Exception) -> JSONResponse:
            assert isinstance(exc, MynaRPError)
            return self.sdk_response(request, exc)

        async def on_refusal(request: Request, exc: Exception) -> JSONResponse:
            assert isinstance(exc, ProblemError)
            return self.error_response(request, exc)

        async def on_validation(request: Request, exc: Exception) -> JSONResponse:
            assert isinstance(exc, RequestValidationError)
            # Never echo the input: it may be a certificate or a response carrying personal data.
            errors = [
                {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                for e in exc.errors()
            ]
            return self.response(
                request,
                status=422,
                code="VALIDATION_ERROR",
                title="Invalid request",
                detail="the request does not match the schema",
                errors=errors,
            )

        async def on_http(request: Request, exc: Exception) -> JSONResponse:
            assert isinstance(exc, StarletteHTTPException)
            code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
            headers = dict(exc.headers or {})
            if exc.status_code == 405:
                headers["Allow"] = allowed_methods(request)
            return self.response(
                request,
                status=exc.status_code,
                code=code,
                title=str(exc.detail),
                detail=str(exc.detail),
                headers=headers,
            )

        async def on_bug(request: Request, exc: Exception) -> JSONResponse:
            # The exception's type only: its message could quote input.
            log.error("internal error on %s: %s", request.url.path, type(exc).__name__)
            return self.response(
                request, status=500, code="INTERNAL_ERROR", title="Internal error", detail="internal error"
            )

        app.add_exception_handler(MynaRPError, on_sdk)
        app.add_exception_handler(error_type, on_refusal)
        app.add_exception_handler(RequestValidationError, on_validation)
        app.add_exception_handler(StarletteHTTPException, on_http)
        app.add_exception_handler(Exception, on_bug)
