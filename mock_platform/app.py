"""The mock platform's FastAPI application factory. There is no module-level app.

Run it with ``myna-mock serve`` or ``uvicorn --factory mock_platform.app:create_app`` (settings from the
``MYNA_MOCK_`` environment). Tests build it in-process::

    app = create_app(Settings(database_url="sqlite://", test_mode=True), clock=MockClock(start))
    with TestClient(app) as client: ...

``app.state.ca_service`` holds the :class:`~mock_platform.ca.service.CAService` of that app instance for
in-process callers (tests, demos) that want the facade next to the HTTP API, and
``app.state.lifecycle`` the :class:`~mock_platform.issuance.service.LifecycleService` (residents, cards,
smartphones; routes in :mod:`mock_platform.routes.lifecycle` and :mod:`mock_platform.routes.smartphone`),
``app.state.mdoc`` the :class:`~mock_platform.mdoc.service.MdocService` (the iPhone attribute credential;
routes in :mod:`mock_platform.routes.mdoc`), ``app.state.oidc`` the :class:`~mock_platform.oidc.OIDCService`
(the OpenID provider shaped like the Digital Authentication App; routes under ``settings.oidc_issuer``'s
path, ``/oidc`` by default), ``app.state.relying_parties`` the
:class:`~mock_platform.rp_auth.RelyingPartyRegistry` (clients of the platform API and the OpenID provider),
``app.state.platform`` the :class:`~mock_platform.platform_api.service.PlatformService` (the platform
operator API under ``/platform/v1``) and ``app.state.platform_webhooks`` its
:class:`~mock_platform.platform_api.webhooks.WebhookDispatcher`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from .ca.crl import CRLSchedule
from .ca.ocsp import ResponderIdType
from .ca.service import CAConfig, CAService
from .clock import Clock, MockClock, SystemClock
from .db import Database
from .issuance.service import LifecycleConfig, LifecycleService
from .mdoc.service import MdocConfig, MdocService
from .oidc import OIDCConfig, OIDCService
from .oidc import routes as oidc_routes
from .platform_api import admin as platform_admin
from .platform_api import routes as platform_routes
from .platform_api.service import PlatformConfig, PlatformService
from .platform_api.webhooks import WebhookDispatcher, WebhookOutbox
from .routes import admin, ca, lifecycle, mdoc, ocsp, smartphone
from .routes.lifecycle_models import install_lifecycle_problem_handler
from .routes.problems import BodySizeLimitMiddleware, document_problem_responses, install_problem_handlers
from .rp_auth import RelyingPartyRegistry
from .settings import Settings


def ca_config_from_settings(settings: Settings) -> CAConfig:
    """The :class:`CAConfig` described by ``settings`` (other fields keep their defaults)."""
    return CAConfig(
        crl_schedule=CRLSchedule(
            issue_time=settings.crl_issue_time, next_update_grace=settings.crl_next_update_grace
        ),
        ocsp_validity=settings.ocsp_validity,
        ocsp_delegated_responder=settings.ocsp_delegated_responder,
        ocsp_responder_id=ResponderIdType(settings.ocsp_responder_id),
        crl_http_base_url=settings.crl_http_base_url,
        ocsp_url=settings.ocsp_url,
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
    config: CAConfig | None = None,
    lifecycle_config: LifecycleConfig | None = None,
    mdoc_config: MdocConfig | None = None,
    webhook_client: httpx.Client | None = None,
    oidc_config: OIDCConfig | None = None,
) -> FastAPI:
    """Build one application instance.

    Args:
        settings: configuration; read from the environment (``MYNA_MOCK_*``) when omitted (the
            ``uvicorn --factory`` case).
        clock: the time source; default: a :class:`MockClock` in test mode (starting at
            ``settings.initial_clock`` or the system time), else :class:`SystemClock`.
        database: an open :class:`Database`; default: one for ``settings.database_url``.
        webhook_client: the HTTP client that delivers the platform API's webhooks to relying parties
            (tests: an in-process transport); default: an ``httpx.Client`` made on first delivery.
        config: CA behaviour; default: derived from ``settings`` (:func:`ca_config_from_settings`).
        lifecycle_config: smartphone-lifecycle behaviour (notice rules, PIN hasher…); default
            :class:`LifecycleConfig` (argon2id at OWASP parameters).
        mdoc_config: the attribute-credential issuer (curve, validity, renewal); default
            :class:`MdocConfig` (P-256/ES256, 30 days, re-issued 7 days before expiry).
        oidc_config: the mock OpenID provider (``app.state.oidc``, routes under the issuer's path);
            default: :class:`OIDCConfig` with ``settings.oidc_issuer``.

    Opens the database, creates missing tables and, on first start, the CA generations (RSA key
    generation: about a second); then applies the CA outbox left by a process that was killed.
    """
    settings = settings if settings is not None else Settings()
    if clock is None:
        system_now = datetime.now(UTC)
        clock = MockClock(settings.clock_start(system_now)) if settings.test_mode else SystemClock()
    database = database if database is not None else Database(settings.database_url)
    service = CAService.create(
        database, clock, config if config is not None else ca_config_from_settings(settings)
    )

    lifecycle_service = LifecycleService(database, clock, service, lifecycle_config)
    # Crash safety: apply the CA actions (revocations, holds, releases) that a killed process committed
    # but never ran (the CA outbox, see docs/lifecycle.md "Crash safety").
    lifecycle_service.settle()
    mdoc_service = MdocService.create(database, clock, mdoc_config)
    relying_parties = RelyingPartyRegistry(database, clock)
    oidc_service = OIDCService(
        database,
        clock,
        ca=service,
        lifecycle=lifecycle_service,
        registry=relying_parties,
        config=oidc_config if oidc_config is not None else OIDCConfig(issuer=settings.oidc_issuer),
    )
    platform = PlatformService(
        database,
        clock,
        service,
        relying_parties,
        PlatformConfig(token_endpoint=settings.platform_token_url),
        lifecycle=lifecycle_service,
    )
    # Webhook events are recorded in the revocation's own transaction (a CA defer listener).
    service.add_defer_listener(WebhookOutbox(clock).on_ca_action)
    webhooks = WebhookDispatcher(
        database,
        clock,
        relying_parties,
        webhook_client,
        make_client=lambda: httpx.Client(timeout=httpx.Timeout(5.0), follow_redirects=False),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        webhooks.close()
        database.dispose()

    app = FastAPI(
        title="myna_rp mock platform",
        summary=(
            "A local stand-in for J-LIS JPKI and the smartphone card lifecycle: CAs, issuance, CRLs, OCSP, "
            "residents, cards, Android and iPhone flows. Synthetic data only."
        ),
        version="0.1.0",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    install_lifecycle_problem_handler(app)
    platform_routes.install_platform_problem_handler(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.include_router(ocsp.build_router(service))
    app.include_router(ca.build_router(service))
    app.include_router(admin.build_router(service, clock=clock, test_mode=settings.test_mode))
    app.include_router(lifecycle.build_router(lifecycle_service))
    app.include_router(smartphone.build_router(lifecycle_service))
    app.include_router(mdoc.build_router(mdoc_service))
    app.include_router(platform_routes.build_router(platform))
    app.include_router(oidc_routes.build_router(oidc_service))
    if settings.test_mode:
        app.include_router(platform_admin.build_router(relying_parties))
        app.include_router(platform_admin.build_webhook_router(webhooks))
    document_problem_responses(app)
    app.state.ca_service = service
    app.state.lifecycle = lifecycle_service
    app.state.mdoc = mdoc_service
    app.state.relying_parties = relying_parties
    app.state.oidc = oidc_service
    app.state.platform = platform
    app.state.platform_webhooks = webhooks
    app.state.settings = settings
    app.state.clock = clock
    return app
