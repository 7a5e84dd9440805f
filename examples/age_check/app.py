"""The shop's HTTP API (FastAPI): an age-restricted checkout on top of :class:`AgeCheckShop`.

Serve it (the mock platform must be up first, see the README)::

    AGE_SHOP_CLOCK=platform .venv/bin/uvicorn --factory examples.age_check.app:create_app \\
        --host 127.0.0.1 --port 8701

Routes (every error is RFC 9457 ``application/problem+json``, see :mod:`examples.age_check.problems`):

====================================================  =====================================================
``POST /checkouts``                                   open a checkout → ``{order_id, status, …}`` (201)
``GET  /checkouts/{order_id}``                        its state: status, age check (yes/no, evidence, time)
``POST /checkouts/{order_id}/age-check/dc-api``       iPhone, web: challenge + ``org-iso-mdoc`` request (201)
``POST /checkouts/{order_id}/age-check/dc-api/response``  ``{challenge_id, response}`` → decision
``POST /checkouts/{order_id}/age-check/apple``        iPhone, in-app: challenge + identity request data (201)
``POST /checkouts/{order_id}/age-check/apple/response``   ``{challenge_id, envelope}`` → decision
``POST /checkouts/{order_id}/age-check/android``      409 ATTRIBUTE_PROOF_UNSUPPORTED with the JPKI fallback
``POST /checkouts/{order_id}/age-check/jpki/challenge``   challenge to sign + consent notice (201)
``POST /checkouts/{order_id}/age-check/jpki``         ``{consent, challenge_id, signature, certificate}``
``POST /checkouts/{order_id}/place``                  place an approved order (200) — else 403
====================================================  =====================================================

A decision answers 200 ``{order_id, over: true, evidence, checked_at}``; under the minimum age the answer
is recorded and the response is a 403 problem ``AGE_REQUIREMENT_NOT_MET``.

``create_app(settings=None, *, dependencies=None)`` builds everything it is not given from the settings
(``AGE_SHOP_*`` environment): tests inject the clock, the trust configuration and the stores; uvicorn's
``--factory`` calls it with no argument. Nothing lives at module level.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from myna_rp.challenge import ChallengeStore
from myna_rp.clock import Clock, SystemClock
from myna_rp.errors import AttributeProofUnsupported, ConfigurationError

from .._shared.problems import openapi_problems as _problems
from .._shared.wiring import challenge_store
from .orders import AgeCheckRecord, MemoryOrderStore, Order, OrderStore, SQLiteOrderStore
from .problems import install_problem_handlers, sdk_problem
from .service import AgeCheckShop
from .settings import ShopSettings
from .trust import PlatformClock, ShopTrust, trust_from_platform

# ------------------------------------------------------------------------------------------- wiring


@dataclass
class ShopDependencies:
    """What the shop is built from; anything left ``None`` is built from :class:`ShopSettings`.

    Attributes:
        clock: "now" (tests: the mock's clock).
        trust: the verifiers; default read from ``settings.platform_url`` (:func:`trust_from_platform`).
        challenges: the challenge store; default from ``settings.challenge_store``.
        orders: the order store; default from ``settings.order_store``.
        http: the client to the platform (trust download, OCSP, CRL); default
            ``httpx.Client(base_url=settings.platform_url)``, closed with the app.
        reader_key_secret: DC API reader-key secret; default from settings, else random per process.
        apple_encryption_key: the merchant encryption key; default from settings, else a fresh key.
    """

    clock: Clock | None = None
    trust: ShopTrust | None = None
    challenges: ChallengeStore | None = None
    orders: OrderStore | None = None
    http: httpx.Client | None = None
    reader_key_secret: bytes | None = field(default=None, repr=False)
    apple_encryption_key: ec.EllipticCurvePrivateKey | None = field(default=None, repr=False)


def _order_store(settings: ShopSettings) -> OrderStore:
    if settings.order_store == "memory":
        return MemoryOrderStore()
    return SQLiteOrderStore(settings.order_store.removeprefix("sqlite:///"))


def _apple_key(settings: ShopSettings) -> ec.EllipticCurvePrivateKey:
    if settings.apple_encryption_key_path is None:
        return ec.generate_private_key(ec.SECP256R1())
    try:
        key = serialization.load_pem_private_key(Path(settings.apple_encryption_key_path).read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot load the Apple encryption key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError("the Apple encryption key must be an EC P-256 private key")
    return key


def build_shop(
    settings: ShopSettings, dependencies: ShopDependencies
) -> tuple[AgeCheckShop, Callable[[], None]]:
    """The :class:`AgeCheckShop`, and a function closing what was built here (not what was injected):
    the HTTP client to the platform, a SQLite or Redis challenge store.

    Raises:
        ConfigurationError: the platform cannot be read, a key or store cannot be opened.
    """
    owned: list[Callable[[], None]] = []

    def close() -> None:
        while owned:
            owned.pop()()

    http = dependencies.http
    if http is None and (
        dependencies.trust is None or (dependencies.clock is None and settings.clock == "platform")
    ):
        http = httpx.Client(base_url=settings.platform_url, timeout=settings.http_timeout_seconds)
        owned.append(http.close)
    try:
        clock = dependencies.clock
        if clock is None:
            clock = (
                PlatformClock(http) if settings.clock == "platform" and http is not None else SystemClock()
            )
        trust = dependencies.trust
        if trust is None:
            assert http is not None
            trust = trust_from_platform(http, clock=clock)
        secret = dependencies.reader_key_secret
        if secret is None:
            secret = (
                bytes.fromhex(settings.reader_key_secret)
                if settings.reader_key_secret is not None
                else secrets.token_bytes(32)
            )
        # `is None`, not `or`: a store object's truthiness is not its presence.
        challenges = dependencies.challenges
        if challenges is None:
            challenges = challenge_store(settings, clock, owned)
        orders = dependencies.orders if dependencies.orders is not None else _order_store(settings)
        apple_key = dependencies.apple_encryption_key
        if apple_key is None:
            apple_key = _apple_key(settings)
        shop = AgeCheckShop(
            trust=trust,
            challenges=challenges,
            orders=orders,
            clock=clock,
            origin=settings.origin,
            merchant_id=settings.merchant_id,
            team_id=settings.team_id,
            reader_key_secret=secret,
            apple_encryption_key=apple_key,
            minimum_age=settings.minimum_age,
            challenge_ttl=timedelta(seconds=settings.challenge_ttl_seconds),
        )
    except BaseException:
        close()
        raise
    return shop, close


# ------------------------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


_ChallengeId = Annotated[str, Field(min_length=1, max_length=64, description="base64url challenge handle")]


class AgeCheckOut(_Model):
    """The whole memory of an age check: yes/no, the evidence type, the time, the order."""

    order_id: str
    over: bool
    evidence: str = Field(description="age_over_NN | birth_date | age_in_years | jpki_date_of_birth")
    checked_at: datetime

    @classmethod
    def of(cls, record: AgeCheckRecord) -> AgeCheckOut:
        return cls(
            order_id=record.order_id, over=record.over, evidence=record.evidence, checked_at=record.checked_at
        )


class CheckoutOut(_Model):
    order_id: str
    status: str = Field(description="age_check_required | approved | refused | placed")
    minimum_age: int
    age_check: AgeCheckOut | None
    placed_at: datetime | None
    links: dict[str, str]

    @classmethod
    def of(cls, order: Order, minimum_age: int) -> CheckoutOut:
        base = f"/checkouts/{order.order_id}"
        return cls(
            order_id=order.order_id,
            status=order.status.value,
            minimum_age=minimum_age,
            age_check=AgeCheckOut.of(order.age_check) if order.age_check else None,
            placed_at=order.placed_at,
            links={
                "dc_api": f"{base}/age-check/dc-api",
                "apple": f"{base}/age-check/apple",
                "android": f"{base}/age-check/android",
                "place": f"{base}/place",
            },
        )


class DCAPIRequestOut(_Model):
    order_id: str
    challenge_id: str
    expires_at: datetime
    protocol: str = "org-iso-mdoc"
    request: dict[str, str] = Field(description='{"deviceRequest": b64url, "encryptionInfo": b64url}')
    origin: str
    response_url: str


class DCAPIResponseIn(_Model):
    challenge_id: _ChallengeId
    response: str = Field(min_length=1, max_length=1 << 20, description="b64url of the wallet's answer")


class AppleRequestOut(_Model):
    order_id: str
    challenge_id: str
    expires_at: datetime
    nonce: str = Field(description="b64url; the identity request nonce")
    merchant_id: str
    team_id: str
    device_request: str = Field(description="b64url of the DeviceRequest CBOR")
    encryption_public_key: str = Field(description="b64url of the P-256 key (X9.62 uncompressed point)")
    response_url: str


class AppleResponseIn(_Model):
    challenge_id: _ChallengeId
    envelope: str = Field(min_length=1, max_length=1 << 20, description="b64url of the APPLE-HPKE-v1 CBOR")


class JPKIChallengeOut(_Model):
    order_id: str
    challenge_id: str
    challenge: str = Field(description="b64url of the exact bytes to sign")
    expires_at: datetime
    consent_notice: str
    response_url: str


class JPKIResponseIn(_Model):
    consent: StrictBool = Field(
        default=False, description="true only when the customer agreed to the date of birth being read"
    )
    challenge_id: _ChallengeId
    signature: str = Field(min_length=1, max_length=4096, description="b64/b64url raw signature")
    certificate: str = Field(min_length=1, max_length=16384, description="PEM, or b64/b64url DER")


# ------------------------------------------------------------------------------------------- the app


def create_app(
    settings: ShopSettings | None = None, *, dependencies: ShopDependencies | None = None
) -> FastAPI:
    """Build the shop. ``uvicorn --factory examples.age_check.app:create_app`` calls it without arguments.

    Raises:
        ConfigurationError: the trust configuration, a key or a store cannot be set up.
    """
    settings = settings if settings is not None else ShopSettings()
    shop, close = build_shop(settings, dependencies or ShopDependencies())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            close()

    app = FastAPI(
        title="Age-check shop (myna_rp example)",
        version="0.1.0",
        summary=f"An age-restricted checkout (minimum age {shop.minimum_age}) calling verify_age()",
        lifespan=lifespan,
    )
    app.state.shop = shop
    install_problem_handlers(app)

    @app.post("/checkouts", status_code=201, summary="Open a checkout (age check required)")
    def open_checkout() -> CheckoutOut:
        return CheckoutOut.of(shop.open_checkout(), shop.minimum_age)

    @app.get("/checkouts/{order_id}", summary="A checkout's state", responses=_problems(404))
    def get_checkout(order_id: str) -> CheckoutOut:
        return CheckoutOut.of(shop.order(order_id), shop.minimum_age)

    @app.post(
        "/checkouts/{order_id}/age-check/dc-api",
        status_code=201,
        summary="iPhone, web: the org-iso-mdoc request (ISO/IEC 18013-7 Annex C)",
        responses=_problems(404, 409, 422),
    )
    def dc_api_request(order_id: str) -> DCAPIRequestOut:
        request = shop.dc_api_request(order_id)
        return DCAPIRequestOut(
            order_id=order_id,
            challenge_id=request.challenge.id,
            expires_at=request.challenge.expires_at,
            request={"deviceRequest": request.device_request, "encryptionInfo": request.encryption_info},
            origin=request.origin,
            response_url=f"/checkouts/{order_id}/age-check/dc-api/response",
        )

    @app.post(
        "/checkouts/{order_id}/age-check/dc-api/response",
        summary="iPhone, web: the wallet's encrypted answer → the age decision",
        responses=_problems(400, 403, 404, 409, 410, 422, 503),
    )
    def dc_api_response(order_id: str, body: DCAPIResponseIn) -> AgeCheckOut:
        return AgeCheckOut.of(
            shop.complete_dc_api(order_id, challenge_id=body.challenge_id, response=body.response)
        )

    @app.post(
        "/checkouts/{order_id}/age-check/apple",
        status_code=201,
        summary='iPhone, in-app: the "Verify with Wallet" request data',
        responses=_problems(404, 409, 422),
    )
    def apple_request(order_id: str) -> AppleRequestOut:
        request = shop.apple_request(order_id)
        return AppleRequestOut(
            order_id=order_id,
            challenge_id=request.challenge.id,
            expires_at=request.challenge.expires_at,
            nonce=request.challenge.id,
            merchant_id=request.merchant_id,
            team_id=request.team_id,
            device_request=request.device_request,
            encryption_public_key=request.encryption_public_key,
            response_url=f"/checkouts/{order_id}/age-check/apple/response",
        )

    @app.post(
        "/checkouts/{order_id}/age-check/apple/response",
        summary="iPhone, in-app: the APPLE-HPKE-v1 envelope → the age decision",
        responses=_problems(400, 403, 404, 409, 410, 422, 503),
    )
    def apple_response(order_id: str, body: AppleResponseIn) -> AgeCheckOut:
        return AgeCheckOut.of(
            shop.complete_apple(order_id, challenge_id=body.challenge_id, envelope=body.envelope)
        )

    @app.post(
        "/checkouts/{order_id}/age-check/android",
        summary="Android: no attribute proof — answers the JPKI fallback offer (409 problem)",
        responses=_problems(404, 409),
        status_code=409,
    )
    def android(order_id: str, request: Request) -> JSONResponse:
        try:
            shop.android(order_id)
        except AttributeProofUnsupported as error:
            return sdk_problem(
                request,
                error,
                detail="this device cannot prove an age by itself; with your consent, the JPKI signing "
                "certificate can answer instead (see consent_notice and fallback_url)",
                consent_notice=shop.consent_notice(),
            )
        raise AssertionError("unreachable")  # pragma: no cover

    @app.post(
        "/checkouts/{order_id}/age-check/jpki/challenge",
        status_code=201,
        summary="JPKI fallback: the challenge to sign with the signing certificate",
        responses=_problems(404, 409, 422),
    )
    def jpki_challenge(order_id: str) -> JPKIChallengeOut:
        challenge = shop.jpki_challenge(order_id)
        return JPKIChallengeOut(
            order_id=order_id,
            challenge_id=challenge.id,
            challenge=challenge.id,
            expires_at=challenge.expires_at,
            consent_notice=shop.consent_notice(),
            response_url=f"/checkouts/{order_id}/age-check/jpki",
        )

    @app.post(
        "/checkouts/{order_id}/age-check/jpki",
        summary="JPKI fallback: signature + signing certificate, with explicit consent → the age decision",
        responses=_problems(400, 403, 404, 409, 410, 422, 503),
    )
    def jpki_response(order_id: str, body: JPKIResponseIn) -> AgeCheckOut:
        return AgeCheckOut.of(
            shop.complete_jpki(
                order_id,
                consent=body.consent,
                challenge_id=body.challenge_id,
                signature=body.signature,
                certificate=body.certificate,
            )
        )

    @app.post("/checkouts/{order_id}/place", summary="Place an approved order", responses=_problems(403, 404))
    def place(order_id: str) -> CheckoutOut:
        return CheckoutOut.of(shop.place(order_id), shop.minimum_age)

    return app
