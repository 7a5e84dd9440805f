"""Verification of the platform's signed webhooks (Standard Webhooks scheme) with a replay window.

The platform POSTs a JSON event with three headers:

* ``webhook-id``: the event id (the same on every retry of one event);
* ``webhook-timestamp``: Unix seconds of the attempt;
* ``webhook-signature``: one or more space-separated ``v1,<base64>`` values, each
  base64(HMAC-SHA256(key, ``"{id}.{timestamp}.{body}"``)) where key is the base64-decoded part of the
  ``whsec_…`` secret the platform gave at registration (several values during a secret rotation).

:meth:`WebhookVerifier.verify` checks, in this order: the three headers are present and well formed
(``webhook-id`` and ``webhook-timestamp`` once; ``webhook-signature`` may come on several header lines, all
of whose values are considered); one signature matches (constant-time comparison,
:func:`hmac.compare_digest`) → else ``WEBHOOK_SIGNATURE_INVALID``; the timestamp lies within ``tolerance``
of the clock (either side) → else ``WEBHOOK_REPLAYED``; the body is an event of a known shape whose ``id``
is the ``webhook-id`` → else ``MALFORMED_INPUT``; with ``mark=True`` (the default) the event id was not
seen before (a :class:`SeenEventStore`; ids are remembered for twice the tolerance, after which the
timestamp check refuses them anyway) → else ``WEBHOOK_REPLAYED``. Only an authentic event can burn an id.
All failures raise :class:`~myna_rp.errors.WebhookError`.

**Never lose an event.** ``verify(..., mark=True)`` records the id *before* you have stored the event: if
your store then fails and you answer 5xx, the platform's retry is refused as ``WEBHOOK_REPLAYED`` and the
event is gone. The safe pattern records the id only after the durable write::

    event = verifier.verify(request.headers, body, mark=False)   # authentic, fresh, well formed
    if verifier.is_processed(event):                              # a redelivery of a processed event
        return 204
    store.apply_and_record(event)   # one transaction; a UNIQUE event id there settles concurrent retries
    verifier.mark_processed(event)  # only now

Answer 2xx for a duplicate (it is a redelivery, not an attack on you) and 4xx for the other failures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from ..clock import Clock, SystemClock
from ..errors import ConfigurationError, Reason, WebhookError
from ..jpki.profile import FormFactor
from ..revocation.status import RevocationReason

_MAX_BODY_BYTES = 256 * 1024


class WebhookEventType(StrEnum):
    """The events the platform sends."""

    CERTIFICATE_REVOKED = "certificate.revoked"  # a signing certificate revoked: affiliationChanged (異動)
    SMARTPHONE_SUSPENDED = "smartphone.suspended"  # the holder's phone suspended (lost/stolen)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified webhook event.

    Attributes:
        id: the event id (``webhook-id``).
        type: what happened.
        timestamp: when the platform recorded the event (aware UTC).
        user_id: the holder's user ID at this RP (as returned by platform verifications).
        serial_numbers: the certificates concerned (the revoked one; the phone's certificates).
        reason: the CRLReason for ``certificate.revoked`` (``affiliationChanged``), else ``None``.
        form_factor: card, Android or iPhone.
        data: the whole ``data`` object as sent (for fields added later).
    """

    id: str
    type: WebhookEventType
    timestamp: datetime
    user_id: str
    serial_numbers: tuple[int, ...]
    reason: RevocationReason | None
    form_factor: FormFactor
    data: Mapping[str, Any] = field(repr=False)


class SeenEventStore(Protocol):
    """Remembers event ids; ``add`` is atomic: True the first time, False if already present."""

    def add(self, event_id: str, *, expires_at: datetime) -> bool: ...


class ProcessedEventStore(SeenEventStore, Protocol):
    """A :class:`SeenEventStore` that can also answer "seen?" without recording (for
    :meth:`WebhookVerifier.is_processed`)."""

    def contains(self, event_id: str) -> bool: ...


class MemorySeenEventStore:
    """In-process :class:`SeenEventStore` (one worker). Use a shared store (e.g. Redis ``SET NX EX``)
    when several workers receive webhooks. Expired ids are purged on each call."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def add(self, event_id: str, *, expires_at: datetime) -> bool:
        now = self._clock.now()
        with self._lock:
            for known, until in list(self._seen.items()):
                if until <= now:
                    del self._seen[known]
            if event_id in self._seen:
                return False
            self._seen[event_id] = expires_at
            return True

    def contains(self, event_id: str) -> bool:
        """Whether ``event_id`` is remembered (and not expired)."""
        now = self._clock.now()
        with self._lock:
            until = self._seen.get(event_id)
            return until is not None and until > now


#: What :meth:`WebhookVerifier.verify` accepts as headers: a mapping (``dict``, ``httpx.Headers``,
#: Starlette's ``request.headers``) or the raw ``(name, value)`` pairs.
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def _header_values(headers: Headers, name: str) -> list[str]:
    """Every value of header ``name`` (any case), one per header line.

    ``httpx.Headers.get_list`` / Starlette's ``Headers.getlist`` when the object has them (their
    ``items()`` or ``[]`` would merge or drop repeated lines), else the items / pairs themselves.
    """
    for getter_name in ("get_list", "getlist"):
        getter = getattr(headers, getter_name, None)
        if callable(getter):
            return [str(value) for value in getter(name)]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [str(value) for key, value in pairs if str(key).lower() == name]


def _header(headers: Headers, name: str) -> str:
    """The single value of ``name``; missing, or several different values → ``WEBHOOK_SIGNATURE_INVALID``."""
    values = set(_header_values(headers, name))
    if not values:
        raise WebhookError(f"missing {name} header", reason=Reason.WEBHOOK_SIGNATURE_INVALID)
    if len(values) > 1:
        raise WebhookError(f"conflicting {name} headers", reason=Reason.WEBHOOK_SIGNATURE_INVALID)
    return values.pop()


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        if len(secret) < 16:
            raise ConfigurationError("the webhook key must be at least 16 bytes")
        return secret
    if not secret.startswith("whsec_"):
        raise ConfigurationError("webhook secrets start with 'whsec_'")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError("the webhook secret is not whsec_ + base64") from exc
    if len(key) < 16:
        raise ConfigurationError("the webhook key must be at least 16 bytes")
    return key


class WebhookVerifier:
    """Verifies webhook deliveries from the platform.

    Args:
        secret: the ``whsec_…`` secret from the RP registration (or the raw key bytes).
        clock: "now" for the replay window; default :class:`SystemClock`.
        tolerance: how far the timestamp may be from now, either side (default 5 minutes).
        seen: where event ids are remembered; default a :class:`MemorySeenEventStore` on ``clock``.

    Raises:
        ConfigurationError: a malformed secret or a non-positive tolerance.
    """

    def __init__(
        self,
        secret: str | bytes,
        *,
        clock: Clock | None = None,
        tolerance: timedelta = timedelta(minutes=5),
        seen: SeenEventStore | None = None,
    ) -> None:
        if tolerance <= timedelta(0):
            raise ConfigurationError("tolerance must be positive")
        self._key = _key(secret)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._tolerance = tolerance
        self._seen: SeenEventStore = seen if seen is not None else MemorySeenEventStore(self._clock)

    def verify(self, headers: Headers, body: bytes, *, mark: bool = True) -> WebhookEvent:
        """Check one delivery and return its event.

        Args:
            headers: the request headers (any case): a mapping (``dict``, ``httpx.Headers``, Starlette's
                ``request.headers``) or ``(name, value)`` pairs; repeated ``webhook-signature`` lines are
                all considered.
            body: the raw request body, exactly as received (before any JSON parsing).
            mark: record the event id as seen now (the default, kept for compatibility). Pass ``False``
                and call :meth:`mark_processed` after your durable store succeeded, so that a failed store
                and the platform's retry cannot lose the event (see the module docstring).

        Raises:
            WebhookError: ``WEBHOOK_SIGNATURE_INVALID`` (missing/malformed/conflicting headers, no matching
                signature), ``WEBHOOK_REPLAYED`` (timestamp outside the window; with ``mark``, event id
                seen before), ``MALFORMED_INPUT`` (an authentic body that is not a known event).
        """
        if not isinstance(body, bytes | bytearray) or len(body) > _MAX_BODY_BYTES:
            raise WebhookError("the body is missing or too large", reason=Reason.WEBHOOK_SIGNATURE_INVALID)
        event_id = _header(headers, "webhook-id")
        timestamp_text = _header(headers, "webhook-timestamp")
        signatures = " ".join(_header_values(headers, "webhook-signature"))
        if not signatures:
            raise WebhookError("missing webhook-signature header", reason=Reason.WEBHOOK_SIGNATURE_INVALID)
        if (
            not event_id
            or len(event_id) > 100
            or not timestamp_text.isascii()  # str.isdigit() alone accepts "²", which int() refuses
            or not timestamp_text.isdigit()
            or len(timestamp_text) > 12
        ):
            raise WebhookError(
                "malformed webhook-id or webhook-timestamp", reason=Reason.WEBHOOK_SIGNATURE_INVALID
            )
        message = f"{event_id}.{timestamp_text}.".encode() + bytes(body)
        expected = hmac.new(self._key, message, hashlib.sha256).digest()
        if not any(self._matches(candidate, expected) for candidate in signatures.split(" ")):
            raise WebhookError("no webhook signature matches", reason=Reason.WEBHOOK_SIGNATURE_INVALID)
        now = self._clock.now()
        # Compared in seconds: a 12-digit timestamp lies beyond datetime's range (year 9999).
        if abs(now.timestamp() - int(timestamp_text)) > self._tolerance.total_seconds():
            raise WebhookError(
                "the webhook timestamp is outside the replay window", reason=Reason.WEBHOOK_REPLAYED
            )
        event = self._event(event_id, body)
        if mark and not self.mark_processed(event):
            raise WebhookError("this webhook event was already received", reason=Reason.WEBHOOK_REPLAYED)
        return event

    def mark_processed(self, event: WebhookEvent | str) -> bool:
        """Record ``event`` (or its id) as processed; ``False`` if it already was (a duplicate).

        Call it after the event is durably stored (``verify(..., mark=False)``). The id is remembered for
        twice the tolerance; later deliveries fail the timestamp check anyway.
        """
        event_id = event.id if isinstance(event, WebhookEvent) else event
        return self._seen.add(event_id, expires_at=self._clock.now() + 2 * self._tolerance)

    def is_processed(self, event: WebhookEvent | str) -> bool:
        """Whether ``event`` (or its id) was marked processed, without recording anything.

        Raises:
            ConfigurationError: the ``seen`` store has no ``contains`` (it is a plain
                :class:`SeenEventStore`, not a :class:`ProcessedEventStore`).
        """
        contains = getattr(self._seen, "contains", None)
        if not callable(contains):
            raise ConfigurationError("the seen-event store cannot answer is_processed (no contains())")
        event_id = event.id if isinstance(event, WebhookEvent) else event
        return bool(contains(event_id))

    @staticmethod
    def _matches(candidate: str, expected: bytes) -> bool:
        version, _, value = candidate.partition(",")
        if version != "v1" or not value:
            return False
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, expected)

    @staticmethod
    def _event(event_id: str, body: bytes) -> WebhookEvent:
        def malformed(what: str) -> WebhookError:
            return WebhookError(
                f"the webhook body is not a known event ({what})", reason=Reason.MALFORMED_INPUT
            )

        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: deep nesting
            raise malformed("not JSON") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise malformed("no data object")
        data: dict[str, Any] = payload["data"]
        try:
            event_type = WebhookEventType(str(payload.get("type")))
            if payload.get("id", event_id) != event_id:
                raise malformed("id differs from webhook-id")
            timestamp = datetime.fromisoformat(str(payload["timestamp"]))
            if timestamp.tzinfo is None:
                raise malformed("naive timestamp")
            timestamp = timestamp.astimezone(UTC)  # may overflow at year 1 / 9999 with an offset
            user_id = data["user_id"]
            if not isinstance(user_id, str) or not user_id:
                raise malformed("user_id")
            form_factor = FormFactor(data["form_factor"])
            if event_type is WebhookEventType.CERTIFICATE_REVOKED:
                serials: tuple[int, ...] = (int(str(data["serial"]), 16),)
                reason: RevocationReason | None = RevocationReason(data["reason"])
            else:
                listed = data["serials"]
                if not isinstance(listed, list):
                    raise malformed("serials")
                serials = tuple(int(str(item), 16) for item in listed)
                reason = None
        except WebhookError:
            raise
        except (KeyError, ValueError, TypeError, OverflowError) as exc:
            raise malformed(type(exc).__name__) from exc
        return WebhookEvent(
            id=event_id,
            type=event_type,
            timestamp=timestamp,
            user_id=user_id,
            serial_numbers=serials,
            reason=reason,
            form_factor=form_factor,
            data=data,
        )
