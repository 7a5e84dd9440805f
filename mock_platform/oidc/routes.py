"""HTTP layer of the mock OpenID provider, mounted under the issuer's path (``/oidc`` by default).

=======================================  ================================================================
route                                    what
=======================================  ================================================================
GET  /.well-known/openid-configuration   provider metadata (OIDC Discovery 1.0 §4)
GET  /jwks                               the ID-token verification keys (RFC 7517 JWK Set)
GET/POST /authorize                      authentication request (OIDC Core §3.1.2): 200 with the pending
                                         interaction; 303 to the RP with ``error`` for a bad request once
                                         the redirect URI is verified; 400 problem otherwise
GET  /interactions/{id}                  the holder's app reads the request (consent screen)
POST /interactions/{id}/approve          the app approves: token, PINs, signatures → 303 to the RP
POST /interactions/{id}/decline          the holder declines → 303 to the RP with error=access_denied
POST /token                              token endpoint (RFC 6749 §3.2): private_key_jwt; errors carry
                                         the RFC 6749 §5.2 members (``error``, ``error_description``)
                                         inside a problem document (as the platform API's token route)
GET/POST /userinfo                       UserInfo (OIDC Core §5.3), bearer token (RFC 6750 §2.1)
POST /sign-transactions                  create a sign transaction (bearer, scope ``sign``)
GET  /sign-transactions/{id}             its status, signature and signing certificate
=======================================  ================================================================

Every other error is RFC 9457 problem+json with a stable ``code`` (bearer errors add
``WWW-Authenticate``); bad input never answers 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..routes.problems import Problem, problem_response
from .errors import AuthorizationRedirectError, BearerTokenError, OAuthError, OIDCProblemError
from .service import Approval, OIDCService, SignTransactionView, b64url, b64url_decode

T = TypeVar("T")

PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {"application/problem+json": {}},
    "description": "problem",
}
FORM = "application/x-www-form-urlencoded"
_MAX_FIELDS = 64
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenOut(BaseModel):
    """RFC 6749 §5.1 / OIDC Core §3.1.3.3 token response."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    id_token: str | None = None
    authorization_details: list[dict[str, Any]] | None = None


class AuthorizationStartedOut(BaseModel):
    """The pending interaction (in a real deployment: the page with the QR code / app link)."""

    interaction_id: str
    expires_at: datetime
    interaction_uri: str


class SignRequestOut(BaseModel):
    transaction_id: str
    digest: str = Field(description="base64url SHA-256 digest (32 bytes)")
    digest_info: str = Field(description="base64url DER DigestInfo the token signs (RFC 8017 §9.2)")


class InteractionOut(BaseModel):
    """The consent screen's content."""

    interaction_id: str
    status: Literal["pending", "approved", "declined", "failed", "expired"]
    client_id: str
    client_name: str
    scopes: list[str]
    claims: list[str]
    acr_values: list[str]
    needs_signing_certificate: bool
    challenge: str = Field(description="base64url; sign interaction_message(id, challenge, purpose)")
    sign: SignRequestOut | None
    expires_at: datetime


class ApprovalIn(BaseModel):
    """The holder's approval. PINs are plain strings without a pattern (a wrong one counts as a failure)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["card", "smartphone"]
    card_id: str | None = Field(default=None, max_length=64)
    device_id: str | None = Field(default=None, max_length=64)
    registration_id: str | None = Field(default=None, max_length=64)
    user_authentication_pin: str = Field(min_length=1, max_length=64)
    user_authentication_signature: str = Field(min_length=1, max_length=2048, description="base64url")
    signing_password: str | None = Field(default=None, min_length=1, max_length=64)
    signing_signature: str | None = Field(
        default=None, min_length=1, max_length=2048, description="base64url"
    )


class SignTransactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digest: str = Field(
        min_length=1, max_length=256, description="base64url of a SHA-256 digest, or of its DigestInfo DER"
    )
    digest_info: bool = Field(default=False, description="digest is an RFC 8017 §9.2 DigestInfo")


class SignTransactionOut(BaseModel):
    transaction_id: str
    status: Literal["pending", "signed", "declined", "failed", "expired"]
    digest: str
    digest_info_given: bool
    created_at: datetime
    expires_at: datetime
    signed_at: datetime | None = None
    signature: str | None = Field(default=None, description="base64url PKCS#1 v1.5 signature")
    certificate: str | None = Field(default=None, description="base64url DER signing certificate")
    sub: str | None = Field(default=None, description="pairwise subject of the signer for this client")
    acr: str | None = None


def _transaction_out(view: SignTransactionView) -> SignTransactionOut:
    return SignTransactionOut(
        transaction_id=view.transaction_id,
        status=view.status,
        digest=b64url(view.digest),
        digest_info_given=view.digest_info_given,
        created_at=view.created_at,
        expires_at=view.expires_at,
        signed_at=view.signed_at,
        signature=b64url(view.signature) if view.signature is not None else None,
        certificate=b64url(view.certificate_der) if view.certificate_der is not None else None,
        sub=view.subject,
        acr=view.acr,
    )


def _oauth_error(request: Request, error: OAuthError) -> JSONResponse:
    """An RFC 6749 §5.2 error (``error``, ``error_description``) that is also an RFC 9457 problem
    (``code`` = the error upper-cased), like the platform API's token endpoint: OAuth clients read
    ``error``, problem clients (and the schema fuzz test) read ``code``."""
    response = problem_response(
        error.status_code,
        error.error.upper(),
        "Token request refused",
        error.description,
        instance=request.url.path,
        error=error.error,
        error_description=error.description,
    )
    response.headers.update(_NO_STORE)
    return response


def _bearer_problem(request: Request, error: BearerTokenError) -> JSONResponse:
    response = problem_response(
        error.status, error.code, error.title, error.detail, instance=request.url.path
    )
    response.headers["WWW-Authenticate"] = error.www_authenticate
    return response


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=_NO_STORE)


async def _form(request: Request) -> list[tuple[str, str]]:
    """An ``application/x-www-form-urlencoded`` body (UTF-8), duplicates kept. Raises ValueError."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise ValueError(f"the body must be {FORM}")
    body = await request.body()
    return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)


def _form_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {FORM: {"schema": {"type": "object", "properties": properties, "required": required}}},
        }
    }


_AUTHORIZE_PARAMS = {
    name: {"type": "string"}
    for name in (
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "acr_values",
        "prompt",
        "max_age",
        "authorization_details",
    )
}
_TOKEN_PARAMS = {
    name: {"type": "string"}
    for name in (
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "client_id",
        "client_assertion_type",
        "client_assertion",
        "scope",
    )
}


def build_router(service: OIDCService) -> APIRouter:
    """The provider's routes under ``service.config.path_prefix``."""
    router = APIRouter(prefix=service.config.path_prefix, tags=["oidc"])

    async def threaded(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(call, *args, **kwargs)

    @router.get("/.well-known/openid-configuration", summary="OpenID provider metadata (Discovery §4)")
    def discovery() -> dict[str, Any]:
        return service.discovery()

    @router.get("/jwks", summary="ID-token verification keys (JWK Set)")
    def jwks() -> dict[str, Any]:
        return service.jwks()

    async def authorize(request: Request, params: list[tuple[str, str]]) -> Response:
        try:
            started = await threaded(service.authorize, params)
        except AuthorizationRedirectError as error:
            if error.redirect_uri is None:  # pragma: no cover - authorize() always addresses them
                raise
            return _redirect(
                service.error_redirect(error.redirect_uri, error.state, error.error, error.description)
            )
        body = AuthorizationStartedOut(
            interaction_id=started.interaction_id,
            expires_at=started.expires_at,
            interaction_uri=started.interaction_uri,
        )
        return JSONResponse(body.model_dump(mode="json"), headers=_NO_STORE)

    authorize_responses: dict[int | str, dict[str, Any]] = {
        200: {"model": AuthorizationStartedOut, "description": "the pending interaction"},
        303: {"description": "back to the RP's redirect URI with error, error_description, state, iss"},
        400: PROBLEM,
    }

    @router.get(
        "/authorize",
        summary="Authentication request (OIDC Core §3.1.2.1), query parameters",
        responses=authorize_responses,
        response_model=None,
        openapi_extra={
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": schema}
                for name, schema in _AUTHORIZE_PARAMS.items()
            ]
        },
    )
    async def authorize_get(request: Request) -> Response:
        return await authorize(request, list(request.query_params.multi_items()))

    @router.post(
        "/authorize",
        summary="Authentication request (OIDC Core §3.1.2.1), form body",
        responses=authorize_responses,
        response_model=None,
        openapi_extra=_form_schema(_AUTHORIZE_PARAMS, []),
    )
    async def authorize_post(request: Request) -> Response:
        try:
            params = await _form(request)
        except (ValueError, UnicodeDecodeError) as exc:
            return problem_response(
                400, "INVALID_REQUEST", "Invalid request", str(exc), instance=request.url.path
            )
        return await authorize(request, params)

    @router.get(
        "/interactions/{interaction_id}",
        summary="The holder's app reads a pending authorization request",
        responses={404: PROBLEM},
    )
    def interaction(interaction_id: str) -> InteractionOut:
        view = service.interaction(interaction_id)
        sign = None
        if view.sign is not None:
            sign = SignRequestOut(
                transaction_id=view.sign.transaction_id,
                digest=b64url(view.sign.digest),
                digest_info=b64url(view.sign.digest_info),
            )
        return InteractionOut(
            interaction_id=view.interaction_id,
            status=view.status,
            client_id=view.client_id,
            client_name=view.client_name,
            scopes=list(view.scopes),
            claims=list(view.claims),
            acr_values=list(view.acr_values),
            needs_signing_certificate=view.needs_signing_certificate,
            challenge=b64url(view.challenge),
            sign=sign,
            expires_at=view.expires_at,
        )

    @router.post(
        "/interactions/{interaction_id}/approve",
        summary="The holder consents and authenticates (token, PINs, signatures)",
        status_code=303,
        response_class=RedirectResponse,
        responses={
            303: {"description": "to the RP's redirect URI with code, state and iss"},
            403: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
            422: PROBLEM,
            423: PROBLEM,
        },
    )
    def approve(interaction_id: str, request: ApprovalIn) -> RedirectResponse:
        try:
            user_signature = b64url_decode(request.user_authentication_signature)
            signing_signature = (
                b64url_decode(request.signing_signature) if request.signing_signature is not None else None
            )
        except ValueError as exc:
            raise OIDCProblemError(
                422, "INVALID_APPROVAL", "Invalid approval", "signatures must be base64url"
            ) from exc
        location = service.approve(
            interaction_id,
            Approval(
                method=request.method,
                card_id=request.card_id,
                device_id=request.device_id,
                registration_id=request.registration_id,
                user_authentication_pin=request.user_authentication_pin,
                user_authentication_signature=user_signature,
                signing_password=request.signing_password,
                signing_signature=signing_signature,
            ),
        )
        return _redirect(location)

    @router.post(
        "/interactions/{interaction_id}/decline",
        summary="The holder declines",
        status_code=303,
        response_class=RedirectResponse,
        responses={303: {"description": "to the RP with error=access_denied"}, 404: PROBLEM, 409: PROBLEM},
    )
    def decline(interaction_id: str) -> RedirectResponse:
        return _redirect(service.decline(interaction_id))

    @router.post(
        "/token",
        summary="Token endpoint (RFC 6749 §3.2; private_key_jwt)",
        response_model=None,
        responses={
            200: {"model": TokenOut, "description": "tokens"},
            400: {**PROBLEM, "description": "RFC 6749 §5.2 error (error, error_description) as a problem"},
            401: {**PROBLEM, "description": "invalid_client, as a problem with error/error_description"},
        },
        openapi_extra=_form_schema(_TOKEN_PARAMS, ["grant_type"]),
    )
    async def token(request: Request) -> Response:
        try:
            form = await _form(request)
        except (ValueError, UnicodeDecodeError) as exc:
            return _oauth_error(request, OAuthError("invalid_request", str(exc)))
        try:
            body = await threaded(service.token, form)
        except OAuthError as error:
            return _oauth_error(request, error)
        return JSONResponse(body, headers=_NO_STORE)

    async def userinfo(request: Request) -> Response:
        try:
            claims = await threaded(service.userinfo, request.headers.get("authorization"))
        except BearerTokenError as error:
            return _bearer_problem(request, error)
        return JSONResponse(claims, headers=_NO_STORE)

    userinfo_responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "sub and the claims of the granted scopes"},
        401: PROBLEM,
        403: PROBLEM,
    }

    @router.get(
        "/userinfo", summary="UserInfo (OIDC Core §5.3)", response_model=None, responses=userinfo_responses
    )
    async def userinfo_get(request: Request) -> Response:
        return await userinfo(request)

    @router.post(
        "/userinfo", summary="UserInfo (OIDC Core §5.3)", response_model=None, responses=userinfo_responses
    )
    async def userinfo_post(request: Request) -> Response:
        return await userinfo(request)

    @router.post(
        "/sign-transactions",
        summary="Create a sign transaction (bearer token with scope sign)",
        status_code=201,
        response_model=None,
        responses={201: {"model": SignTransactionOut}, 401: PROBLEM, 403: PROBLEM, 422: PROBLEM},
    )
    async def create_sign_transaction(request: Request, body: SignTransactionIn) -> Response:
        try:
            view = await threaded(
                service.create_sign_transaction,
                request.headers.get("authorization"),
                digest=body.digest,
                digest_info=body.digest_info,
            )
        except BearerTokenError as error:
            return _bearer_problem(request, error)
        return JSONResponse(
            _transaction_out(view).model_dump(mode="json"), status_code=201, headers=_NO_STORE
        )

    @router.get(
        "/sign-transactions/{transaction_id}",
        summary="A sign transaction: status, signature, signing certificate",
        response_model=None,
        responses={200: {"model": SignTransactionOut}, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM},
    )
    async def get_sign_transaction(request: Request, transaction_id: str) -> Response:
        try:
            view = await threaded(
                service.sign_transaction, request.headers.get("authorization"), transaction_id
            )
        except BearerTokenError as error:
            return _bearer_problem(request, error)
        return JSONResponse(_transaction_out(view).model_dump(mode="json"), headers=_NO_STORE)

    return router


__all__ = ["build_router"]
