"""The bank's HTTP API (FastAPI) on top of :class:`~examples.bank_kyc.service.BankService`.

Serve it (the mock platform must be up first, see the README)::

    BANK_KYC_CLOCK=platform .venv/bin/uvicorn --factory examples.bank_kyc.app:create_app \\
        --host 127.0.0.1 --port 8702

Routes (every error is RFC 9457 ``application/problem+json``, see :mod:`examples.bank_kyc.problems`):

=============================================  ==========================================================
``POST /accounts/openings``                    start an account opening → two challenges to sign (201)
``POST /accounts/openings/{id}/complete``      both signatures → customer + confirmation record (201)
``POST /login/challenges``                     a login challenge (201)
``POST /login``                                user-authentication signature → bearer token
``GET  /customers/me``                         the logged-in customer's account data
``POST /customers/me/attributes/refresh``      fetch the latest attributes from the platform (consent)
``POST /accounts/close``                       close the logged-in customer's account (retention starts)
``POST /webhooks/platform``                    the platform's signed webhooks (Standard Webhooks)
``GET  /admin/confirmation-records.jsonl``     export of the confirmation records (``X-Admin-Token``)
``GET  /admin/attribute-updates.jsonl``        export of the appended attribute updates (same token)
``GET  /healthz``                              liveness, verification mode, the bank's platform client_id
=============================================  ==========================================================

Binary members (signatures, certificates, CMS) are standard base64 or base64url; a certificate may also be
PEM. ``create_app(settings=None, *, dependencies=None)`` builds everything it is not given from the
settings (``BANK_KYC_*`` environment); uvicorn's ``--factory`` calls it with no argument. Nothing lives at
module level.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from myna_rp.challenge import Challenge, ChallengeStore
from myna_rp.clock import Clock, SystemClock
from myna_rp.errors import ConfigurationError
from myna_rp.identity import VerificationMode
from myna_rp.jpki import JPKIVerifier
from myna_rp.kyc import (
    DirectVerification,
    KycService,
    PlatformVerification,
    RetentionProfile,
    SignatureVerification,
    SQLRecordRepository,
    VerifierIdentity,
)
from myna_rp.platform import APIKey, PlatformClient

from .._shared.encoding import b64url
from .._shared.problems import openapi_problems as _problems
from .._shared.wiring import challenge_store
from .customers import Customer, CustomerStore, engine_for
from .errors import AdminUnauthenticatedError, MalformedRequestError
from .problems import install_problem_handlers, problem_response
from .service import BankService, LatestAttributesSource, LoginEvidence, SigningEvidence
from .settings import BankSettings
from .trust import PlatformClock, verifier_from_platform

_MAX_WEBHOOK_BYTES = 256 * 1024


# ------------------------------------------------------------------------------------------- wiring


@dataclass
class BankDependencies:
    """What the bank is built from; anything left ``None`` is built from :class:`BankSettings`.

    Attributes:
        clock: "now" (tests: the mock's clock).
        verifier: the ``JPKIVerifier`` for direct eKYC and logins (hard-fail revocation); default read
            from ``settings.platform_url`` (:func:`~examples.bank_kyc.trust.verifier_from_platform`).
        challenges: the challenge store; default from ``settings.challenge_store``.
        engine: the database of customers and confirmation records; default from ``settings.database_url``.
        platform: the platform client (platform-mode eKYC, latest attributes); default a
            :class:`~myna_rp.platform.PlatformClient` when ``settings.platform_api_key`` is set.
        http: the client to the platform (trust download, OCSP, CRL, platform API); default
            ``httpx.Client(base_url=settings.platform_url)``, closed with the app.
    """

    clock: Clock | None = None
    verifier: JPKIVerifier | None = None
    challenges: ChallengeStore | None = None
    engine: Engine | None = None
    platform: PlatformClient | LatestAttributesSource | None = None
    http: httpx.Client | None = None


def build_bank(
    settings: BankSettings, dependencies: BankDependencies
) -> tuple[BankService, list[Callable[[], None]]]:
    """The :class:`BankService` and what the app must close at shutdown (clients, engines it made).

    Raises:
        ConfigurationError: the platform cannot be read, platform mode without a platform client, a
            store cannot be opened.
        RecordStoreError: the database cannot be opened.
    """
    closers: list[Callable[[], None]] = []
    try:
        http = dependencies.http
        if http is None:
            owned = httpx.Client(base_url=settings.platform_url, timeout=settings.http_timeout_seconds)
            closers.append(owned.close)
            http = owned
        clock = dependencies.clock
        if clock is None:
            clock = PlatformClock(http) if settings.clock == "platform" else SystemClock()
        engine = dependencies.engine
        if engine is None:
            engine = engine_for(settings.database_url)
            closers.append(engine.dispose)
        customers = CustomerStore(engine)
        records = SQLRecordRepository(engine)
        verifier = dependencies.verifier
        if verifier is None:
            key = (
                bytes.fromhex(settings.subject_id_key)
                if settings.subject_id_key is not None
                else customers.subject_id_key()
            )
            verifier = verifier_from_platform(http, clock=clock, subject_id_key=key)
        challenges = dependencies.challenges
        if challenges is None:
            challenges = challenge_store(settings, clock, closers)
        platform = dependencies.platform
        if platform is None and settings.platform_api_key is not None:
            platform = PlatformClient(
                f"{settings.platform_url}/platform/v1",
                http,
                APIKey(settings.platform_api_key),
                clock=clock,
                timeout=settings.http_timeout_seconds,
            )
        step: SignatureVerification
        if settings.mode == "direct":
            step = DirectVerification(verifier)
        else:
            if not isinstance(platform, PlatformClient):
                raise ConfigurationError(
                    "platform mode needs a PlatformClient (set BANK_KYC_PLATFORM_API_KEY)"
                )
            step = PlatformVerification(platform)
        # Platform mode: the login certificate is verified by the platform too, so the platform user IDs
        # of both certificates can be compared at opening (HOLDER_MISMATCH otherwise).
        binding = platform if settings.mode == "platform" and isinstance(platform, PlatformClient) else None
        ttl = timedelta(seconds=settings.challenge_ttl_seconds)
        kyc = KycService(
            challenges=challenges,
            verifier=step,
            records=records,
            verifier_identity=VerifierIdentity(settings.organisation, settings.operator_id),
            profile=RetentionProfile.BANK,
            clock=clock,
            keep_certificate=settings.keep_certificate,
            challenge_ttl=ttl,
        )
        bank = BankService(
            kyc=kyc,
            challenges=challenges,
            verifier=verifier,
            customers=customers,
            clock=clock,
            platform=platform,
            webhook_secret=settings.webhook_secret,
            webhook_tolerance=timedelta(seconds=settings.webhook_tolerance_seconds),
            organisation=settings.organisation,
            operator_id=settings.operator_id,
            challenge_ttl=ttl,
            session_ttl=timedelta(seconds=settings.session_ttl_seconds),
            login_binding=binding,
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return bank, closers


# ------------------------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


_ChallengeId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        description="the challenge handle (base64url; the login handle of a platform-mode opening has three)",
    ),
]
_Signature = Annotated[str, Field(min_length=1, max_length=4096, description="base64/base64url signature")]
_Certificate = Annotated[
    str, Field(min_length=1, max_length=16384, description="PEM, or base64/base64url of the DER")
]


class ChallengeOut(_Model):
    challenge_id: str = Field(description="the handle to send back")
    challenge: str = Field(
        description="base64url of the exact 32 bytes to sign (equal to challenge_id, except for the login "
        "challenge of a platform-mode opening: the platform's nonce)"
    )
    expires_at: datetime
    sign_with: str


class OpeningOut(_Model):
    opening_id: str
    signing: ChallengeOut
    login: ChallengeOut
    complete_url: str
    notice: str


class SigningIn(_Model):
    challenge_id: _ChallengeId
    signature: _Signature | None = None
    certificate: _Certificate | None = None
    cms: str | None = Field(default=None, min_length=1, max_length=65536, description="base64 CMS SignedData")


class LoginSignatureIn(_Model):
    challenge_id: _ChallengeId
    signature: _Signature
    certificate: _Certificate


class CompleteOpeningIn(_Model):
    signing: SigningIn
    login: LoginSignatureIn


class VerificationOut(_Model):
    mode: str
    form_factor: str
    certificate_serial: str
    revocation_source: str | None
    verified_at: datetime


class OpenedOut(_Model):
    customer_id: str
    record_id: str
    opened_at: datetime
    verification: VerificationOut
    login_form_factor: str
    attributes_kept: list[str]


class LoginChallengeOut(_Model):
    session_id: str
    challenge_id: str
    challenge: str
    expires_at: datetime
    login_url: str


class LoginIn(_Model):
    session_id: str = Field(min_length=1, max_length=64)
    challenge_id: _ChallengeId
    signature: _Signature
    certificate: _Certificate


class LoginOut(_Model):
    customer_id: str
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type
    expires_at: datetime
    form_factor: str
    reverification_required: bool


class LoginCredentialOut(_Model):
    form_factor: str
    bound_at: datetime
    suspended: bool


class CustomerOut(_Model):
    """The customer's own account data (shown to the logged-in customer only)."""

    customer_id: str
    opened_at: datetime
    name: str
    address: str
    date_of_birth: str = Field(description="EYYYYMMDD as in the certificate (era digit + date)")
    attributes_source: str = Field(description="signing_certificate | platform")
    attributes_as_of: datetime
    reverification_required: bool
    reverification_reason: str | None
    platform_user_linked: bool
    login_credentials: list[LoginCredentialOut]


class ClosedOut(_Model):
    customer_id: str
    closed_on: date = Field(description="the day the relationship ended (Japan time)")
    records_retained_until: date | None = Field(
        description="the last day the confirmation records are kept (7 years after closed_on, 民法 第143条)"
    )


class WebhookOut(_Model):
    event_id: str
    type: str
    outcome: str
    reason: str | None


# ------------------------------------------------------------------------------------------- helpers


def _binary(value: str, what: str) -> bytes:
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.encode("ascii", "replace")
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequestError(f"{what} is neither base64 nor base64url") from exc


def _challenge_out(
    challenge: Challenge, sign_with: str, *, handle: str | None = None, to_sign: bytes | None = None
) -> ChallengeOut:
    return ChallengeOut(
        challenge_id=handle if handle is not None else challenge.id,
        challenge=b64url(to_sign if to_sign is not None else challenge.value),
        expires_at=challenge.expires_at,
        sign_with=sign_with,
    )


def _too_large(request: Request) -> JSONResponse:
    """413: a webhook body over :data:`_MAX_WEBHOOK_BYTES` (declared or read)."""
    return problem_response(
        request, status=413, code="PAYLOAD_TOO_LARGE", title="Payload too large", detail="body too large"
    )


def _jsonl(export: Callable[[io.StringIO], object]) -> PlainTextResponse:
    """An export (``export(stream)`` writes JSON lines) as an ``application/jsonl`` answer."""
    stream = io.StringIO()
    export(stream)
    return PlainTextResponse(stream.getvalue(), media_type="application/jsonl; charset=utf-8")


def _customer_out(bank: BankService, customer: Customer) -> CustomerOut:
    a = customer.attributes
    return CustomerOut(
        customer_id=customer.customer_id,
        opened_at=customer.opened_at,
        name=a.name,
        address=a.address,
        date_of_birth=a.date_of_birth,
        attributes_source=customer.attributes_source,
        attributes_as_of=customer.attributes_as_of,
        reverification_required=customer.reverification_required,
        reverification_reason=customer.reverification_reason,
        platform_user_linked=customer.platform_user_id is not None,
        login_credentials=[
            LoginCredentialOut(
                form_factor=c.form_factor, bound_at=c.bound_at, suspended=c.suspended_at is not None
            )
            for c in bank.customers.login_credentials(customer.customer_id)
        ],
    )


_bearer = HTTPBearer(auto_error=False, description="the access_token of POST /login")


# ------------------------------------------------------------------------------------------- the app


def create_app(
    settings: BankSettings | None = None, *, dependencies: BankDependencies | None = None
) -> FastAPI:
    """Build the bank. ``uvicorn --factory examples.bank_kyc.app:create_app`` calls it without arguments.

    Raises:
        ConfigurationError, RecordStoreError: see :func:`build_bank`.
    """
    settings = settings if settings is not None else BankSettings()
    bank, closers = build_bank(settings, dependencies or BankDependencies())
    mode = VerificationMode(settings.mode)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for close in reversed(closers):
                close()

    app = FastAPI(
        title="Example bank: account opening with the My Number Card (myna_rp example)",
        version="0.1.0",
        summary="eKYC with the JPKI signing certificate, login with the user authentication certificate",
        lifespan=lifespan,
    )
    app.state.bank = bank
    app.state.mode = mode
    install_problem_handlers(app)

    def current_customer(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Customer:
        return bank.customer_for_token(credentials.credentials if credentials is not None else None)

    def admin(x_admin_token: Annotated[str | None, Header()] = None) -> None:
        expected = settings.admin_token
        if (
            expected is None
            or x_admin_token is None
            or not hmac.compare_digest(x_admin_token.encode(), expected.encode())
        ):
            raise AdminUnauthenticatedError("send X-Admin-Token (BANK_KYC_ADMIN_TOKEN)")

    # Default-value dependencies: with postponed annotations FastAPI resolves names in module globals,
    # where these closures are not visible.
    logged_in = Depends(current_customer)
    admin_only = Depends(admin)

    @app.get("/healthz", summary="Liveness, the eKYC verification mode, the bank's client_id at the platform")
    def healthz() -> dict[str, str | None]:
        return {"status": "ok", "mode": mode.value, "platform_client_id": settings.platform_client_id}

    @app.post(
        "/accounts/openings",
        status_code=201,
        summary="Start an account opening: two challenges to sign",
        responses=_problems(422, 503),
    )
    def start_opening() -> OpeningOut:
        opening = bank.start_opening()
        return OpeningOut(
            opening_id=opening.opening_id,
            signing=_challenge_out(
                opening.signing, "signing certificate (署名用電子証明書): signing password"
            ),
            login=_challenge_out(
                opening.login,
                "user authentication certificate (利用者証明用電子証明書): 4-digit PIN",
                handle=opening.login_handle,
                to_sign=opening.login_to_sign,
            ),
            complete_url=f"/accounts/openings/{opening.opening_id}/complete",
            notice=(
                "To open the account we read your name, address and date of birth from your signing "
                "certificate and keep a confirmation record (確認記録) for 7 years after the account is "
                "closed. Your user authentication certificate becomes your login."
            ),
        )

    @app.post(
        "/accounts/openings/{opening_id}/complete",
        status_code=201,
        summary="Finish the opening: eKYC (revocation REQUIRE), confirmation record, customer",
        responses=_problems(400, 403, 409, 410, 422, 502, 503),
    )
    def complete_opening(opening_id: str, body: CompleteOpeningIn) -> OpenedOut:
        s = body.signing
        signing = SigningEvidence(
            challenge_id=s.challenge_id,
            signature=_binary(s.signature, "signing.signature") if s.signature is not None else None,
            certificate=_binary(s.certificate, "signing.certificate") if s.certificate is not None else None,
            cms=_binary(s.cms, "signing.cms") if s.cms is not None else None,
        )
        login = LoginEvidence(
            challenge_id=body.login.challenge_id,
            signature=_binary(body.login.signature, "login.signature"),
            certificate=_binary(body.login.certificate, "login.certificate"),
        )
        result = bank.complete_opening(opening_id, signing=signing, login=login)
        record = result.record
        return OpenedOut(
            customer_id=result.customer.customer_id,
            record_id=str(record.record_id),
            opened_at=result.customer.opened_at,
            verification=VerificationOut(
                mode=record.mode.value,
                form_factor=record.certificate.form_factor.value,
                certificate_serial=format(record.certificate.serial_number, "x"),
                revocation_source=record.revocation.source.value if record.revocation.source else None,
                verified_at=record.verified_at,
            ),
            login_form_factor=result.login.form_factor,
            attributes_kept=["name", "address", "date_of_birth"],
        )

    @app.post("/login/challenges", status_code=201, summary="A login challenge", responses=_problems(503))
    def login_challenge() -> LoginChallengeOut:
        challenge = bank.start_login()
        return LoginChallengeOut(
            session_id=challenge.session_id,
            challenge_id=challenge.id,
            challenge=challenge.id,
            expires_at=challenge.expires_at,
            login_url="/login",
        )

    @app.post(
        "/login",
        summary="Log in with the user authentication certificate",
        responses=_problems(400, 401, 403, 409, 410, 422, 503),
    )
    def login(body: LoginIn) -> LoginOut:
        result = bank.complete_login(
            body.session_id,
            LoginEvidence(
                challenge_id=body.challenge_id,
                signature=_binary(body.signature, "signature"),
                certificate=_binary(body.certificate, "certificate"),
            ),
        )
        return LoginOut(
            customer_id=result.customer.customer_id,
            access_token=result.access_token,
            expires_at=result.expires_at,
            form_factor=result.form_factor,
            reverification_required=result.customer.reverification_required,
        )

    @app.get("/customers/me", summary="The logged-in customer's account data", responses=_problems(401))
    def me(customer: Customer = logged_in) -> CustomerOut:
        return _customer_out(bank, customer)

    @app.post(
        "/customers/me/attributes/refresh",
        summary="Fetch the latest attributes from the platform (with the holder's consent)",
        responses=_problems(401, 403, 409, 502, 503),
    )
    def refresh(customer: Customer = logged_in) -> CustomerOut:
        return _customer_out(bank, bank.refresh_attributes(customer.customer_id))

    @app.post(
        "/accounts/close",
        summary="Close the logged-in customer's account: the confirmation records' retention starts",
        responses=_problems(400, 401, 409, 503),
    )
    def close_account(customer: Customer = logged_in) -> ClosedOut:
        ended = bank.close_account(customer.customer_id)
        records = bank.kyc.records
        retention = [records.retention(r) for r in records.records(customer_reference=customer.customer_id)]
        deadlines = sorted({r.retain_until for r in retention if r.retain_until is not None})
        return ClosedOut(
            customer_id=customer.customer_id,
            closed_on=ended.ended_on,
            records_retained_until=deadlines[-1] if deadlines else None,
        )

    @app.post(
        "/webhooks/platform",
        summary="The platform's signed webhooks (certificate.revoked, smartphone.suspended)",
        responses=_problems(400, 401, 409, 413, 503),
    )
    async def webhook(request: Request) -> Any:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > _MAX_WEBHOOK_BYTES:
            return _too_large(request)
        body = await request.body()
        if len(body) > _MAX_WEBHOOK_BYTES:
            return _too_large(request)
        outcome = await run_in_threadpool(bank.handle_webhook, dict(request.headers), body)
        return WebhookOut(
            event_id=outcome.event_id, type=outcome.event_type, outcome=outcome.outcome, reason=outcome.reason
        )

    @app.get(
        "/admin/confirmation-records.jsonl",
        summary="Export the confirmation records (確認記録) as JSON lines",
        response_class=PlainTextResponse,
        responses=_problems(401, 503),
        dependencies=[admin_only],
    )
    def export_records() -> PlainTextResponse:
        return _jsonl(bank.kyc.records.export_jsonl)

    @app.get(
        "/admin/attribute-updates.jsonl",
        summary="Export the appended attribute updates as JSON lines",
        response_class=PlainTextResponse,
        responses=_problems(401, 503),
        dependencies=[admin_only],
    )
    def export_updates() -> PlainTextResponse:
        return _jsonl(bank.customers.export_updates_jsonl)

    return app
