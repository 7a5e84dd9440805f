"""Test-mode admin routes for relying parties (``/admin/relying-parties``).

* ``POST /admin/relying-parties`` — register an RP (public JWKS and/or a generated API key, redirect URIs,
  webhook URL). The API key and the webhook secret are returned once, in this answer only.
* ``GET /admin/relying-parties/{client_id}`` — the registration (no API key; the webhook secret omitted).
* ``POST /admin/webhooks/deliver`` — send the due webhook events now (the dispatcher's HTTP client).

Mounted only in test mode (``Settings.test_mode``), like ``/admin/clock``: a real platform registers RPs
through a contract, not an open endpoint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..routes.problems import Problem, ProblemError
from ..rp_auth import RegistrationError, RelyingParty, RelyingPartyRegistry, generate_api_key
from .webhooks import WebhookDispatcher

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


class RelyingPartyIn(BaseModel):
    """A relying-party registration (give ``jwks``, ``generate_api_key`` or both)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Example Bank",
                    "jwks": {
                        "keys": [
                            {
                                "kty": "EC",
                                "crv": "P-256",
                                "kid": "bank-1",
                                "x": "U4W7F37tnft9viXvseTRQ6of3MEJZ9-J4-A9h004mls",
                                "y": "P-sC0Dl4mH8b8Wdef_9_YHnThkk69k-2WtVQuR_b82k",
                            }
                        ]
                    },
                    "generate_api_key": True,
                    "redirect_uris": ["https://bank.example/callback"],
                    "webhook_url": "https://bank.example/myna/webhook",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    client_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    jwks: dict[str, Any] | None = Field(default=None, description="public JWK Set (RFC 7517 §5)")
    generate_api_key: bool = Field(default=False, description="issue an API key (returned once)")
    redirect_uris: list[str] = Field(default_factory=list, max_length=10)
    webhook_url: str | None = Field(default=None, max_length=500)
    sector_identifier: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="pairwise sector: a host (or https sector_identifier_uri) covering every redirect URI",
    )
    sector_proof: str | None = Field(
        default=None,
        min_length=1,
        max_length=8192,
        description="to join a sector another client holds: its API key, or its client assertion with "
        "aud urn:myna-mock:sector:<sector>",
    )


class RelyingPartyOut(BaseModel):
    """A registered relying party. ``api_key`` and ``webhook_secret`` appear only in the creation answer."""

    client_id: str
    name: str
    jwks: dict[str, Any] | None
    has_api_key: bool
    redirect_uris: list[str]
    webhook_url: str | None
    sector_identifier: str
    created_at: datetime
    api_key: str | None = None
    webhook_secret: str | None = None


def _out(rp: RelyingParty, *, api_key: str | None = None, secret: str | None = None) -> RelyingPartyOut:
    return RelyingPartyOut(
        client_id=rp.client_id,
        name=rp.name,
        jwks=dict(rp.jwks) if rp.jwks is not None else None,
        has_api_key=rp.has_api_key,
        redirect_uris=list(rp.redirect_uris),
        webhook_url=rp.webhook_url,
        sector_identifier=rp.sector_identifier,
        created_at=rp.created_at,
        api_key=api_key,
        webhook_secret=secret,
    )


def build_router(registry: RelyingPartyRegistry) -> APIRouter:
    """The ``/admin/relying-parties`` routes over ``registry`` (mount in test mode only)."""
    router = APIRouter(prefix="/admin/relying-parties", tags=["admin"])

    @router.post(
        "",
        status_code=201,
        summary="Register a relying party (test mode only)",
        responses={409: PROBLEM, 422: PROBLEM},
    )
    def register(request: RelyingPartyIn) -> RelyingPartyOut:
        api_key = generate_api_key() if request.generate_api_key else None
        try:
            rp = registry.register(
                name=request.name,
                client_id=request.client_id,
                jwks=request.jwks,
                api_key=api_key,
                redirect_uris=request.redirect_uris,
                webhook_url=request.webhook_url,
                sector_identifier=request.sector_identifier,
                sector_proof=request.sector_proof,
            )
        except RegistrationError as exc:
            status = 409 if exc.code == "CLIENT_EXISTS" else 422
            raise ProblemError(status, exc.code, "Registration refused", exc.message) from exc
        return _out(rp, api_key=api_key, secret=rp.webhook_secret)

    @router.get(
        "/{client_id}",
        summary="A registered relying party (test mode only)",
        responses={404: PROBLEM},
    )
    def get(client_id: str) -> RelyingPartyOut:
        rp = registry.get(client_id)
        if rp is None:
            raise ProblemError(
                404, "UNKNOWN_CLIENT", "Unknown client", "no relying party with that client_id"
            )
        return _out(rp)

    return router


class DeliveryReportOut(BaseModel):
    """What one delivery run did."""

    delivered: int
    retrying: int
    failed: int


def build_webhook_router(dispatcher: WebhookDispatcher) -> APIRouter:
    """``POST /admin/webhooks/deliver``: send the due webhook events now (test mode only)."""
    router = APIRouter(prefix="/admin/webhooks", tags=["admin"])

    @router.post(
        "/deliver",
        summary="Deliver the due webhook events now (test mode only)",
        responses={409: PROBLEM},
    )
    def deliver() -> DeliveryReportOut:
        try:
            report = dispatcher.deliver_pending()
        except RuntimeError as exc:
            raise ProblemError(409, "WEBHOOKS_DISABLED", "Webhook delivery disabled", str(exc)) from exc
        return DeliveryReportOut(delivered=report.delivered, retrying=report.retrying, failed=report.failed)

    return router
