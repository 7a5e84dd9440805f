"""HTTP layer of the platform operator API (``/platform/v1``). Thin: logic in :mod:`.service`.

Relying-party routes need either ``Authorization: Bearer <token>`` (a token from ``POST
/platform/v1/token``: OAuth 2.0 client credentials with private_key_jwt, RFC 6749 §4.4 + RFC 7523 §2.2)
or ``X-API-Key: <key>`` (local use). Holder routes (``/platform/v1/holder/…``) are the platform's own app
talking for the holder: a consent challenge names the holder's token (ids RPs never see; a few open per
token), and the consent itself needs that token's user-authentication signature over the consent structure
*and* its PIN (lockout rules) — see :mod:`.service`.

The token endpoint expects ``aud`` = :attr:`PlatformConfig.token_endpoint` (``Settings.public_base_url`` +
``/platform/v1/token``), a configured URL: never one rebuilt from the request's ``Host`` header, which a
client chooses (an assertion made for another server must not be accepted here).

=====================================================  ======================================================
route                                                  what
=====================================================  ======================================================
``POST /platform/v1/token``                            client credentials → bearer token (5 min)
``POST /platform/v1/signatures/verify``                raw signature (PKCS#1 v1.5 / ECDSA, SHA-256)
``POST /platform/v1/signatures/verify-cms``            CMS SignedData, attached or detached
``POST /platform/v1/authentication/challenges``        a platform-issued login nonce (single use, 5 min)
``POST /platform/v1/authentication/verify``            the user-authentication signature over that nonce
``GET  /platform/v1/certificates/{serial}/status``     status now (現況確認) of a linked person's certificate
``GET  /platform/v1/users/{user_id}/attributes``       latest basic four attributes (consent required)
``POST /platform/v1/holder/consent-challenges``        (holder app) a consent challenge for one token
``POST /platform/v1/holder/consents``                  (holder app) signature + PIN: give/withdraw consent
=====================================================  ======================================================

Problem codes (RFC 9457, ``application/problem+json``): ``INVALID_CLIENT`` / ``INVALID_TOKEN`` /
``UNAUTHENTICATED`` 401; ``CONSENT_REQUIRED`` 403; ``UNKNOWN_USER``, ``UNKNOWN_CERTIFICATE``,
``UNKNOWN_CLIENT``, ``UNKNOWN_TOKEN`` 404; ``CHALLENGE_REPLAYED``, ``TOKEN_NOT_USABLE`` 409;
``TOO_MANY_CHALLENGES`` 429; ``PIN_INCORRECT`` 403 / ``PIN_LOCKED`` 423 (consent); verification failures 422
with the SDK's reason strings (``SIGNATURE_INVALID``, ``CERTIFICATE_REVOKED`` + ``revocation`` member,
``CERTIFICATE_ON_HOLD``, ``CERTIFICATE_EXPIRED``, ``CERTIFICATE_NOT_YET_VALID``, ``UNTRUSTED_ISSUER``,
``WRONG_KEY_USAGE``, ``UNSUPPORTED_ALGORITHM``, ``MALFORMED_INPUT``), ``CHALLENGE_UNKNOWN`` /
``CHALLENGE_EXPIRED`` / ``CHALLENGE_MISMATCH`` 422; token endpoint: ``INVALID_REQUEST`` /
``UNSUPPORTED_GRANT_TYPE`` 400 with the RFC 6749 §5.2 ``error`` member too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..routes.admin import parse_serial
from ..routes.problems import Problem, ProblemError, problem_response
from ..rp_auth import (
    CLIENT_ASSERTION_TYPE,
    ClientAuthenticationError,
    RelyingParty,
    invalid_client_response,
)
from .service import (
    ConsentAction,
    HolderToken,
    PlatformService,
    PlatformServiceError,
)
from .verification import (
    AttributeFacts,
    CertificateFacts,
    PlatformVerificationError,
    RevocationFacts,
    SignatureFacts,
)

PREFIX = "/platform/v1"
TOKEN_PATH = PREFIX + "/token"
PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
_B64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"
_USER_ID_PATTERN = r"^[A-Za-z0-9_-]{43}$"
_MAX_DATA_B64 = 44_000  # 32 KiB of data
_MAX_CERT_B64 = 22_000  # 16 KiB certificate
_MAX_SIG_B64 = 1_400  # 1 KiB signature (RSA-4096 is 512 bytes)
_MAX_CMS_B64 = 60_000


# --------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------


def _b64_field(max_length: int, description: str) -> Any:
    return Field(min_length=1, max_length=max_length, pattern=_B64_PATTERN, description=description)


class TokenOut(BaseModel):
    """RFC 6749 §5.1 access token response."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the RFC 6750 token type
    expires_in: int = Field(description="seconds")


class SignatureVerifyIn(BaseModel):
    """A raw JPKI signature: PKCS#1 v1.5 (RSA) or ECDSA over SHA-256(data)."""

    model_config = ConfigDict(extra="forbid")

    data: str = _b64_field(_MAX_DATA_B64, "base64 of the exact signed bytes")
    signature: str = _b64_field(_MAX_SIG_B64, "base64 of the signature value")
    certificate: str = _b64_field(_MAX_CERT_B64, "base64 of the signer's DER certificate")
    include_certificate: bool = Field(default=False, description="echo the DER certificate in the answer")


class CMSVerifyIn(BaseModel):
    """A CMS SignedData (RFC 5652), attached or detached."""

    model_config = ConfigDict(extra="forbid")

    signed_data: str = _b64_field(_MAX_CMS_B64, "base64 of the DER ContentInfo/SignedData")
    content: str | None = Field(
        default=None, max_length=_MAX_DATA_B64, pattern=_B64_PATTERN, description="detached content (base64)"
    )
    certificate: str | None = Field(
        default=None,
        max_length=_MAX_CERT_B64,
        pattern=_B64_PATTERN,
        description="the signer certificate when the SignedData does not include it",
    )
    include_certificate: bool = False


class AttributesOut(BaseModel):
    """The basic four attributes (基本4情報) as carried in the certificate (strings as on the wire)."""

    name: str
    name_substitute_positions: str = Field(description="0/1 per name character; empty when absent")
    gender: str = Field(description="1 male, 2 female, 3 not stated")
    date_of_birth: str = Field(description="EYYYYMMDD")
    address: str
    address_substitute_positions: str


class CertificateOut(BaseModel):
    """A certificate summary (no DER unless asked)."""

    serial: str = Field(description="lower-case hex")
    issuer: str = Field(description="RFC 4514 string")
    sha256_fingerprint: str
    not_before: datetime
    not_after: datetime
    kind: Literal["signing", "user_authentication"]
    form_factor: Literal["card", "android", "iphone"]
    der: str | None = Field(default=None, description="base64 DER, only with include_certificate")


class RevocationOut(BaseModel):
    """Revocation status now, from the platform's OCSP responder (RFC 6960)."""

    status: Literal["good", "revoked", "on_hold"]
    reason: str | None = Field(description="RFC 5280 CRLReason when revoked / on hold")
    revoked_at: datetime | None
    source: Literal["ocsp"] = "ocsp"
    this_update: datetime
    next_update: datetime | None
    produced_at: datetime
    ocsp_response: str = Field(description="base64 DER OCSPResponse (evidence for a confirmation record)")


class SignatureVerificationOut(BaseModel):
    """A valid signature by a signing certificate."""

    result: Literal["valid"] = "valid"
    user_id: str | None = Field(
        description="the holder's stable ID for this RP; null without a registered holder"
    )
    attributes: AttributesOut
    certificate: CertificateOut
    revocation: RevocationOut
    verified_at: datetime
    signed_content: str | None = Field(default=None, description="CMS only: base64 of the signed content")
    signed_content_sha256: str
    cms_signing_time: datetime | None = None


class ChallengeOut(BaseModel):
    """A platform-issued nonce (32 bytes, single use)."""

    challenge_id: str
    nonce: str = Field(description="base64; sign exactly these bytes (login) or the consent message")
    expires_at: datetime


class AuthenticationVerifyIn(BaseModel):
    """The user-authentication certificate's signature over a platform-issued nonce."""

    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(min_length=1, max_length=40)
    signature: str = _b64_field(_MAX_SIG_B64, "base64 signature over the nonce bytes")
    certificate: str = _b64_field(_MAX_CERT_B64, "base64 DER user-authentication certificate")


class AuthenticationOut(BaseModel):
    """A verified login (利用者証明): no personal data."""

    result: Literal["valid"] = "valid"
    user_id: str | None
    certificate: CertificateOut
    revocation: RevocationOut
    verified_at: datetime


class CertificateStatusOut(BaseModel):
    """現況確認: a certificate's status now."""

    certificate: CertificateOut
    revocation: RevocationOut
    checked_at: datetime


class LatestAttributesOut(BaseModel):
    """The holder's current basic four attributes (may differ from an old certificate's)."""

    user_id: str
    attributes: AttributesOut
    as_of: datetime


class ConsentChallengeIn(BaseModel):
    """The holder's app asks for a consent challenge for one of the holder's tokens."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=64)
    action: Literal["grant", "withdraw"]
    method: Literal["card", "smartphone"]
    card_id: str | None = Field(default=None, min_length=1, max_length=64)
    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    registration_id: str | None = Field(default=None, min_length=1, max_length=64)


class ConsentChallengeOut(BaseModel):
    """A consent challenge: sign ``consent_message(action, client_id, nonce)`` with the token's
    user-authentication key (a structure starting with ``myna-platform-consent/``)."""

    challenge_id: str
    nonce: str = Field(description="base64 of the 32-byte nonce inside the consent structure")
    client_id: str
    relying_party_name: str
    action: Literal["grant", "withdraw"]
    expires_at: datetime


class ConsentIn(BaseModel):
    """Consent given or withdrawn: the token's signature over the consent structure, and its PIN."""

    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(min_length=1, max_length=40)
    signature: str = _b64_field(_MAX_SIG_B64, "base64 signature over the consent structure")
    user_authentication_pin: str = Field(min_length=1, max_length=64, description="the token's 4-digit PIN")


class ConsentOut(BaseModel):
    client_id: str
    relying_party_name: str
    status: Literal["granted", "withdrawn"]
    updated_at: datetime


# --------------------------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------------------------


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProblemError(422, "MALFORMED_INPUT", "Malformed input", f"{what} is not base64") from exc


def _attributes_out(facts: AttributeFacts) -> AttributesOut:
    return AttributesOut(
        name=facts.name,
        name_substitute_positions=facts.name_substitute_positions,
        gender=facts.gender,
        date_of_birth=facts.date_of_birth,
        address=facts.address,
        address_substitute_positions=facts.address_substitute_positions,
    )


def _certificate_out(facts: CertificateFacts, *, include: bool = False) -> CertificateOut:
    return CertificateOut(
        serial=facts.serial_hex,
        issuer=facts.issuer,
        sha256_fingerprint=facts.sha256_fingerprint,
        not_before=facts.not_before,
        not_after=facts.not_after,
        kind=facts.kind.value,
        form_factor=facts.form_factor.value,
        der=base64.b64encode(facts.der).decode("ascii") if include else None,
    )


def revocation_out(facts: RevocationFacts) -> RevocationOut:
    """The JSON shape of :class:`RevocationFacts` (also the ``revocation`` member of revoked problems)."""
    return RevocationOut(
        status=facts.status.value,
        reason=facts.reason.value if facts.reason is not None else None,
        revoked_at=facts.revoked_at,
        this_update=facts.this_update,
        next_update=facts.next_update,
        produced_at=facts.produced_at,
        ocsp_response=base64.b64encode(facts.ocsp_response).decode("ascii"),
    )


def _signature_out(
    facts: SignatureFacts, user_id: str | None, *, include: bool, cms: bool
) -> SignatureVerificationOut:
    if facts.attributes is None:  # a signing certificate of the mock always carries them
        raise ProblemError(422, "MALFORMED_INPUT", "Malformed input", "the certificate carries no attributes")
    return SignatureVerificationOut(
        user_id=user_id,
        attributes=_attributes_out(facts.attributes),
        certificate=_certificate_out(facts.certificate, include=include),
        revocation=revocation_out(facts.revocation),
        verified_at=facts.verified_at,
        signed_content=base64.b64encode(facts.signed_content).decode("ascii") if cms else None,
        signed_content_sha256=hashlib.sha256(facts.signed_content).hexdigest(),
        cms_signing_time=facts.cms_signing_time,
    )


@contextmanager
def _problems() -> Iterator[None]:
    """Service and verification errors as problem documents."""
    try:
        yield
    except PlatformVerificationError as exc:
        extra: dict[str, Any] = {}
        if exc.revocation is not None:
            extra["revocation"] = revocation_out(exc.revocation).model_dump(mode="json")
        raise ProblemError(422, exc.code.value, "Verification failed", exc.message, **extra) from exc
    except PlatformServiceError as exc:
        raise ProblemError(exc.status, exc.code, "Request refused", exc.message) from exc


# --------------------------------------------------------------------------------------------------------
# Router
# --------------------------------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="a token from POST /platform/v1/token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (local use)")
_WWW_AUTHENTICATE = 'Bearer realm="myna-mock-platform"'


def build_router(service: PlatformService) -> APIRouter:
    """The ``/platform/v1`` routes over ``service``."""
    router = APIRouter(prefix=PREFIX, tags=["platform"])
    registry = service.registry

    def authenticate(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
    ) -> RelyingParty:
        if bearer is not None:
            rp = service.bearer(bearer.credentials)
            if rp is None:
                raise AuthenticationProblemError(
                    "INVALID_TOKEN", "the access token is unknown or expired", bearer_error="invalid_token"
                )
            return rp
        if api_key is not None:
            try:
                return registry.verify_api_key(api_key)
            except ClientAuthenticationError as exc:
                raise AuthenticationProblemError("INVALID_CLIENT", exc.message) from exc
        raise AuthenticationProblemError("UNAUTHENTICATED", "send a bearer token or an X-API-Key header")

    # A default-value dependency: with postponed annotations FastAPI resolves names in module globals,
    # where this closure is not visible.
    client = Depends(authenticate)
    auth_problems: dict[int | str, dict[str, Any]] = {401: PROBLEM}

    @router.post(
        "/token",
        summary="Client credentials token (private_key_jwt)",
        response_model=TokenOut,
        responses={400: PROBLEM, 401: PROBLEM, 415: PROBLEM},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type", "client_assertion_type", "client_assertion"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "client_assertion_type": {"type": "string", "enum": [CLIENT_ASSERTION_TYPE]},
                                "client_assertion": {"type": "string", "maxLength": 8192},
                                "client_id": {"type": "string", "maxLength": 64},
                                "scope": {"type": "string", "maxLength": 200},
                            },
                        }
                    }
                },
            }
        },
    )
    async def token(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return problem_response(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                "send application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
                instance=request.url.path,
            )
        raw = await request.body()
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            form = {}
        if any(len(values) != 1 for values in form.values()):
            return _oauth_problem(request, 400, "invalid_request", "repeated form parameters (RFC 6749 §3.2)")
        fields = {name: values[0] for name, values in form.items()}
        if fields.get("grant_type") != "client_credentials":
            return _oauth_problem(
                request, 400, "unsupported_grant_type", "only client_credentials is offered"
            )
        if fields.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not fields.get("client_assertion"):
            return _oauth_problem(
                request, 400, "invalid_request", "client_assertion and its type are required (RFC 7523 §2.2)"
            )
        # The configured public URL (RFC 7523 §3 item 3), never the Host header the client chose.
        audience = service.config.token_endpoint
        try:
            rp = await _run(
                registry.verify_client_assertion,
                fields["client_assertion"],
                audience=audience,
                client_id=fields.get("client_id"),
            )
        except ClientAuthenticationError as exc:
            response = invalid_client_response(exc, instance=request.url.path)
            response.headers["WWW-Authenticate"] = _WWW_AUTHENTICATE
            return response
        issued = await _run(service.issue_token, rp)
        body = TokenOut(access_token=issued.value, expires_in=issued.expires_in)
        return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @router.post(
        "/signatures/verify",
        summary="Verify a raw JPKI signature (署名検証)",
        responses={**auth_problems, 422: PROBLEM},
    )
    def verify_signature(request: SignatureVerifyIn, rp: RelyingParty = client) -> SignatureVerificationOut:
        data = _b64(request.data, "data")
        signature = _b64(request.signature, "signature")
        certificate = _b64(request.certificate, "certificate")
        with _problems():
            facts, user_id = service.verify_signature(
                rp, data=data, signature=signature, certificate_der=certificate
            )
            return _signature_out(facts, user_id, include=request.include_certificate, cms=False)

    @router.post(
        "/signatures/verify-cms",
        summary="Verify a CMS SignedData by a JPKI signing certificate",
        responses={**auth_problems, 422: PROBLEM},
    )
    def verify_cms(request: CMSVerifyIn, rp: RelyingParty = client) -> SignatureVerificationOut:
        signed_data = _b64(request.signed_data, "signed_data")
        content = _b64(request.content, "content") if request.content is not None else None
        certificate = _b64(request.certificate, "certificate") if request.certificate is not None else None
        with _problems():
            facts, user_id = service.verify_cms(
                rp, signed_data=signed_data, content=content, certificate_der=certificate
            )
            return _signature_out(facts, user_id, include=request.include_certificate, cms=True)

    @router.post(
        "/authentication/challenges",
        status_code=201,
        summary="A platform-issued login nonce (single use)",
        responses=auth_problems,
    )
    def new_challenge(rp: RelyingParty = client) -> ChallengeOut:
        issued = service.new_challenge(rp.client_id)
        return ChallengeOut(
            challenge_id=issued.challenge_id,
            nonce=base64.b64encode(issued.nonce).decode("ascii"),
            expires_at=issued.expires_at,
        )

    @router.post(
        "/authentication/verify",
        summary="Verify a login with the user-authentication certificate (利用者証明)",
        responses={**auth_problems, 409: PROBLEM, 422: PROBLEM},
    )
    def verify_authentication(
        request: AuthenticationVerifyIn, rp: RelyingParty = client
    ) -> AuthenticationOut:
        signature = _b64(request.signature, "signature")
        certificate = _b64(request.certificate, "certificate")
        with _problems():
            facts = service.verify_authentication(
                rp, challenge_id=request.challenge_id, signature=signature, certificate_der=certificate
            )
        return AuthenticationOut(
            user_id=facts.user_id,
            certificate=_certificate_out(facts.certificate),
            revocation=revocation_out(facts.revocation),
            verified_at=facts.verified_at,
        )

    @router.get(
        "/certificates/{serial}/status",
        summary="Status of a certificate now (現況確認)",
        responses={**auth_problems, 404: PROBLEM, 422: PROBLEM},
    )
    def certificate_status(
        serial: Annotated[str, Path(max_length=44, description="hex serial")], rp: RelyingParty = client
    ) -> CertificateStatusOut:
        number = parse_serial(serial)
        with _problems():
            facts, revocation = service.certificate_status(rp, number)
        return CertificateStatusOut(
            certificate=_certificate_out(facts),
            revocation=revocation_out(revocation),
            checked_at=revocation.produced_at,
        )

    @router.get(
        "/users/{user_id}/attributes",
        summary="Latest basic four attributes of a consenting holder",
        responses={**auth_problems, 403: PROBLEM, 404: PROBLEM, 422: PROBLEM},
    )
    def latest_attributes(
        user_id: Annotated[str, Path(pattern=_USER_ID_PATTERN, description="the holder's user ID")],
        rp: RelyingParty = client,
    ) -> LatestAttributesOut:
        with _problems():
            latest = service.latest_attributes(rp, user_id)
        return LatestAttributesOut(
            user_id=latest.user_id, attributes=_attributes_out(latest.attributes), as_of=latest.as_of
        )

    @router.post(
        "/holder/consent-challenges",
        status_code=201,
        summary="(holder app) A consent challenge for one of the holder's tokens",
        responses={403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM, 429: PROBLEM, 503: PROBLEM},
    )
    def consent_challenge(request: ConsentChallengeIn) -> ConsentChallengeOut:
        token = HolderToken(request.method, request.card_id, request.device_id, request.registration_id)
        with _problems():
            issued = service.new_consent_challenge(
                client_id=request.client_id, action=ConsentAction(request.action), token=token
            )
        return ConsentChallengeOut(
            challenge_id=issued.challenge_id,
            nonce=base64.b64encode(issued.nonce).decode("ascii"),
            client_id=issued.client_id,
            relying_party_name=issued.relying_party_name,
            action="grant" if issued.action is ConsentAction.GRANT else "withdraw",
            expires_at=issued.expires_at,
        )

    @router.post(
        "/holder/consents",
        summary="(holder app) Give or withdraw consent: signature over the consent structure + PIN",
        responses={403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM, 423: PROBLEM, 503: PROBLEM},
    )
    def set_consent(request: ConsentIn) -> ConsentOut:
        signature = _b64(request.signature, "signature")
        with _problems():
            state = service.set_consent(
                challenge_id=request.challenge_id, signature=signature, pin=request.user_authentication_pin
            )
        return ConsentOut(
            client_id=state.client_id,
            relying_party_name=state.relying_party_name,
            status="granted" if state.status == "granted" else "withdrawn",
            updated_at=state.updated_at,
        )

    return router


def _oauth_problem(request: Request, status: int, error: str, description: str) -> JSONResponse:
    """An RFC 6749 §5.2 error that is also an RFC 9457 problem (``code`` = the error upper-cased)."""
    response = problem_response(
        status,
        error.upper(),
        "Token request refused",
        description,
        instance=request.url.path,
        error=error,
        error_description=description,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


_run = run_in_threadpool  # blocking database work off the event loop


class AuthenticationProblemError(Exception):
    """401 for a relying-party route: a problem document plus ``WWW-Authenticate`` (RFC 6750 §3)."""

    def __init__(self, code: str, detail: str, *, bearer_error: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.bearer_error = bearer_error


def install_platform_problem_handler(app: FastAPI) -> None:
    """Answer :class:`AuthenticationProblemError` with 401 problem+json and a ``WWW-Authenticate`` header."""

    async def on_authentication(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthenticationProblemError)
        response = problem_response(
            401, exc.code, "Authentication failed", exc.detail, instance=request.url.path
        )
        challenge = _WWW_AUTHENTICATE
        if exc.bearer_error is not None:
            challenge += f', error="{exc.bearer_error}"'
        response.headers["WWW-Authenticate"] = challenge
        return response

    app.add_exception_handler(AuthenticationProblemError, on_authentication)
