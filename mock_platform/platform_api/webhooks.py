"""Signed webhooks to relying parties (Standard Webhooks style), recorded in the revocation transaction.

Events
------

``certificate.revoked``
    A linked person's **signing** certificate was revoked with ``affiliationChanged`` (異動等失効: a basic
    four attribute changed at the municipal counter). ``data``: ``user_id``, ``serial`` (hex),
    ``kind``, ``form_factor``, ``reason``, ``revoked_at``.
``smartphone.suspended``
    A linked person's phone was suspended (hotline, lost or stolen: 一時利用停止). ``data``: ``user_id``,
    ``form_factor``, ``suspended_at``, ``serials`` (the phone's certificates, hex).

Durability: :meth:`WebhookOutbox.on_ca_action` is a :class:`~mock_platform.ca.service.CAService` defer
listener, so the event rows are inserted **in the same transaction** as the lifecycle state change and
its CA-outbox rows: both commit or neither. One row per (RP, event); an RP receives events only for
persons linked to it (it verified one of their certificates through the platform, or they consented).

Delivery (:meth:`WebhookDispatcher.deliver_pending`, over an injected :class:`httpx.Client`): ``POST`` of
the JSON body to the RP's webhook URL with

* ``webhook-id``: the event id (``msg_…``; the same on every retry: the receiver's dedupe key);
* ``webhook-timestamp``: Unix seconds of this attempt;
* ``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(key, ``"{id}.{timestamp}.{body}"``)), where key is
  the base64-decoded part of the RP's ``whsec_…`` secret (the Standard Webhooks scheme).

A 2xx answer marks the event delivered; anything else (including a transport error) schedules a retry
with exponential backoff (30 s, 60 s, … capped at 1 h), and the event is marked ``failed`` after
:attr:`WebhookConfig.max_attempts`. Rows are claimed with a lease, so concurrent dispatchers rarely send
twice; receivers dedupe on ``webhook-id`` anyway (at-least-once delivery).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..ca.profile import CertificateKind, RevocationReason
from ..ca.service import PendingAction
from ..clock import Clock
from ..db import Base, Database, OwnedCertificateRecord, SmartphoneRegistrationRecord, UTCDateTime
from ..rp_auth import RelyingPartyRecord, RelyingPartyRegistry
from .service import PlatformUserLinkRecord

logger = logging.getLogger(__name__)

EVENT_CERTIFICATE_REVOKED = "certificate.revoked"
EVENT_SMARTPHONE_SUSPENDED = "smartphone.suspended"


class PlatformWebhookEventRecord(Base):
    """One event for one RP: the exact body to send and its delivery state."""

    __tablename__ = "platform_webhook_events"
    __table_args__ = (UniqueConstraint("client_id", "dedupe_key", name="uq_platform_webhook_dedupe"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def sign_webhook(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` over ``"{event_id}.{timestamp}.{body}"`` (Standard Webhooks).

    ``secret`` is ``whsec_`` + base64 of the key bytes. Raises :class:`ValueError` on another shape.
    """
    if not secret.startswith("whsec_"):
        raise ValueError("webhook secrets start with 'whsec_'")
    key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    message = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Delivery behaviour: attempts, backoff, the claim lease and the per-request timeout (seconds)."""

    max_attempts: int = 8
    first_retry: timedelta = timedelta(seconds=30)
    max_retry: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(seconds=60)
    timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class WebhookEventView:
    """An event as stored (for tests and the admin route)."""

    event_id: str
    client_id: str
    type: str
    state: str
    attempts: int
    body: str
    last_status: int | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :meth:`WebhookDispatcher.deliver_pending` run did."""

    delivered: int
    retrying: int
    failed: int


class WebhookOutbox:
    """Records webhook events inside the revocation transaction (a CA defer listener)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def on_ca_action(
        self, session: Session, serial_hex: str, action: PendingAction, reason: RevocationReason | None
    ) -> None:
        """Classify one deferred CA action; insert one event per linked RP with a webhook URL."""
        if action not in (PendingAction.REVOKE, PendingAction.HOLD):
            return
        owned = session.scalar(
            select(OwnedCertificateRecord).where(OwnedCertificateRecord.serial_hex == serial_hex)
        )
        if owned is None:
            return
        now = self._clock.now()
        event_type: str
        data: dict[str, Any]
        if (
            action is PendingAction.REVOKE
            and reason is RevocationReason.AFFILIATION_CHANGED
            and owned.kind == CertificateKind.SIGNING.value
        ):
            event_type, dedupe = EVENT_CERTIFICATE_REVOKED, f"{EVENT_CERTIFICATE_REVOKED}:{serial_hex}"
            data = {
                "serial": serial_hex,
                "kind": owned.kind,
                "form_factor": owned.form_factor,
                "reason": reason.value,
                "revoked_at": now.isoformat(),
            }
        elif owned.registration_id is not None:
            registration = session.get(SmartphoneRegistrationRecord, owned.registration_id)
            if registration is None or registration.state != "suspended":
                return
            event_type = EVENT_SMARTPHONE_SUSPENDED
            dedupe = f"{event_type}:{registration.public_id}:{registration.updated_at.isoformat()}"
            data = {
                "form_factor": registration.platform,
                "suspended_at": registration.updated_at.isoformat(),
                "serials": [
                    s for s in (registration.signing_serial, registration.user_authentication_serial) if s
                ],
            }
        else:
            return
        targets = session.execute(
            select(PlatformUserLinkRecord.client_id, PlatformUserLinkRecord.user_id)
            .join(RelyingPartyRecord, RelyingPartyRecord.client_id == PlatformUserLinkRecord.client_id)
            .where(
                PlatformUserLinkRecord.resident_id == owned.resident_id,
                RelyingPartyRecord.webhook_url.is_not(None),
            )
            .order_by(PlatformUserLinkRecord.id)
        ).all()
        for client_id, user_id in targets:
            seen = session.scalar(
                select(PlatformWebhookEventRecord.id).where(
                    PlatformWebhookEventRecord.client_id == client_id,
                    PlatformWebhookEventRecord.dedupe_key == dedupe,
                )
            )
            if seen is not None:
                continue
            event_id = "msg_" + secrets.token_urlsafe(18)
            body = {
                "id": event_id,
                "type": event_type,
                "timestamp": now.isoformat(),
                "data": {"user_id": user_id, **data},
            }
            session.add(
                PlatformWebhookEventRecord(
                    event_id=event_id,
                    client_id=client_id,
                    type=event_type,
                    dedupe_key=dedupe,
                    body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            session.flush()  # visible to the dedupe query of the next action in this transaction


class WebhookDispatcher:
    """Delivers pending webhook events over an injected :class:`httpx.Client`.

    Args:
        database: the mock's database.
        clock: "now" (timestamps, retry schedule).
        registry: where each RP's webhook URL and secret live.
        http: the client used for delivery (tests: an in-process transport).
        make_client: without ``http``, makes (once, lazily) the client to use; neither refuses delivery.
        config: attempts, backoff, lease, timeout.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        registry: RelyingPartyRegistry,
        http: httpx.Client | None,
        config: WebhookConfig | None = None,
        *,
        make_client: Callable[[], httpx.Client] | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._registry = registry
        self._http = http
        self._make_client = make_client
        self._owned: httpx.Client | None = None
        self._config = config if config is not None else WebhookConfig()

    def _client(self) -> httpx.Client:
        if self._http is not None:
            return self._http
        if self._owned is None:
            if self._make_client is None:
                raise RuntimeError("no HTTP client configured for webhook delivery")
            self._owned = self._make_client()
        return self._owned

    def close(self) -> None:
        """Close the client this dispatcher made itself (an injected client stays open)."""
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def events(self, client_id: str | None = None) -> list[WebhookEventView]:
        """Stored events, oldest first (optionally of one RP)."""
        with self._db.transaction() as session:
            query = select(PlatformWebhookEventRecord).order_by(PlatformWebhookEventRecord.id)
            if client_id is not None:
                query = query.where(PlatformWebhookEventRecord.client_id == client_id)
            return [
                WebhookEventView(r.event_id, r.client_id, r.type, r.state, r.attempts, r.body, r.last_status)
                for r in session.scalars(query)
            ]

    def deliver_pending(self, *, limit: int = 100) -> DeliveryReport:
        """Send every due event once (oldest first, at most ``limit``).

        Raises:
            RuntimeError: no HTTP client was configured.
        """
        http = self._client()
        now = self._clock.now()
        with self._db.transaction() as session:
            due = list(
                session.scalars(
                    select(PlatformWebhookEventRecord.id)
                    .where(
                        PlatformWebhookEventRecord.state == "pending",
                        PlatformWebhookEventRecord.next_attempt_at <= now,
                    )
                    .order_by(PlatformWebhookEventRecord.id)
                    .limit(limit)
                )
            )
        delivered = retrying = failed = 0
        for row_id in due:
            outcome = self._deliver_one(http, row_id, now)
            delivered += outcome == "delivered"
            retrying += outcome == "pending"
            failed += outcome == "failed"
        return DeliveryReport(delivered, retrying, failed)

    def _deliver_one(self, http: httpx.Client, row_id: int, now: datetime) -> str | None:
        with self._db.transaction() as session:
            claimed = session.execute(
                update(PlatformWebhookEventRecord)
                .where(
                    PlatformWebhookEventRecord.id == row_id,
                    PlatformWebhookEventRecord.state == "pending",
                    PlatformWebhookEventRecord.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + self._config.lease)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            record = session.get_one(PlatformWebhookEventRecord, row_id)
            event_id, client_id, body, attempts = (
                record.event_id,
                record.client_id,
                record.body,
                record.attempts,
            )
        if claimed != 1:
            return None  # another dispatcher has it
        rp = self._registry.get(client_id)
        status: int | None = None
        error: str | None = None
        if rp is None or rp.webhook_url is None or rp.webhook_secret is None:
            error = "the relying party has no webhook URL any more"
        else:
            payload = body.encode("utf-8")
            timestamp = int(now.timestamp())
            headers = {
                "content-type": "application/json",
                "webhook-id": event_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign_webhook(rp.webhook_secret, event_id, timestamp, payload),
            }
            try:
                response = http.post(
                    rp.webhook_url, content=payload, headers=headers, timeout=self._config.timeout
                )
                status = response.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
        attempts += 1
        if error is None:
            state, next_at = "delivered", now
        elif attempts >= self._config.max_attempts:
            state, next_at = "failed", now
        else:
            delay = min(self._config.first_retry * (2 ** (attempts - 1)), self._config.max_retry)
            state, next_at = "pending", now + delay
        with self._db.transaction() as session:
            record = session.get_one(PlatformWebhookEventRecord, row_id)
            record.state = state
            record.attempts = attempts
            record.next_attempt_at = next_at
            record.last_status = status
            record.last_error = error
            record.delivered_at = now if state == "delivered" else None
        logger.info("webhook %s to %s: %s (attempt %d)", event_id, client_id, error or "delivered", attempts)
        return state
