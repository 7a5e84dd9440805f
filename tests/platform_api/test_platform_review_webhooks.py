"""Review fixes of the webhook verifier (issue 5 review): an event is recorded only after the RP stored it
(``verify(..., mark=False)`` + ``mark_processed``), repeated ``webhook-signature`` lines are all considered
(dict, ``httpx.Headers``, Starlette ``Headers``, raw pairs), absurd timestamps are typed errors, and the
body's ``id`` must be the ``webhook-id``. No mock app needed: the platform's signer and a fixed clock."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest
from starlette.datastructures import Headers as StarletteHeaders

from mock_platform.platform_api.webhooks import sign_webhook
from myna_rp.clock import FixedClock
from myna_rp.errors import ConfigurationError, Reason, WebhookError
from myna_rp.platform import MemorySeenEventStore, WebhookEvent, WebhookVerifier

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"r" * 32).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()


def _body(event_id: str) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": "certificate.revoked",
            "timestamp": "2026-11-29T03:00:00+00:00",
            "data": {
                "user_id": "u" * 43,
                "serial": "1f2e",
                "kind": "signing",
                "form_factor": "card",
                "reason": "affiliationChanged",
            },
        }
    ).encode()


def _headers(event_id: str, body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = at if at is not None else int(NOW.timestamp())
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(secret, event_id, timestamp, body),
    }


def _verifier() -> WebhookVerifier:
    clock = FixedClock(NOW)
    return WebhookVerifier(SECRET, clock=clock, seen=MemorySeenEventStore(clock))


def _reason(verifier: WebhookVerifier, headers: object, body: bytes) -> Reason:
    with pytest.raises(WebhookError) as caught:
        verifier.verify(headers, body)  # type: ignore[arg-type]
    return caught.value.reason


# ------------------------------------------------------------------------------------ 7. never lose an event


def test_a_failed_store_does_not_lose_the_event() -> None:
    """The review's scenario: verify → the RP's store fails → 500 → the platform retries. With
    ``mark=False`` the retry is accepted, and only ``mark_processed`` makes later deliveries duplicates."""
    verifier = _verifier()
    body = _body("msg_store")
    headers = _headers("msg_store", body)
    stored: list[WebhookEvent] = []

    def handle(*, store_fails: bool) -> str:
        event = verifier.verify(headers, body, mark=False)
        if verifier.is_processed(event):
            return "duplicate"
        if store_fails:
            raise RuntimeError("database down")  # → the RP answers 500, the platform retries
        stored.append(event)
        assert verifier.mark_processed(event)
        return "stored"

    with pytest.raises(RuntimeError):
        handle(store_fails=True)
    assert not verifier.is_processed("msg_store")
    assert handle(store_fails=False) == "stored"
    assert handle(store_fails=False) == "duplicate"
    assert [event.id for event in stored] == ["msg_store"]
    # The default (mark=True) still refuses a processed id, as before.
    assert _reason(verifier, headers, body) is Reason.WEBHOOK_REPLAYED
    assert not verifier.mark_processed("msg_store")


def test_default_verify_still_marks_on_verification() -> None:
    verifier = _verifier()
    body = _body("msg_default")
    headers = _headers("msg_default", body)
    assert verifier.verify(headers, body).id == "msg_default"
    assert verifier.is_processed("msg_default")
    assert _reason(verifier, headers, body) is Reason.WEBHOOK_REPLAYED


def test_is_processed_needs_a_store_that_can_answer() -> None:
    class AddOnly:
        def add(self, event_id: str, *, expires_at: datetime) -> bool:
            return True

    verifier = WebhookVerifier(SECRET, clock=FixedClock(NOW), seen=AddOnly())
    with pytest.raises(ConfigurationError):
        verifier.is_processed("msg_1")


# ------------------------------------------------------------------------------------ 8. headers and edges


@pytest.mark.parametrize("shape", ["pairs", "httpx", "starlette"])
def test_every_signature_header_line_is_considered(shape: str) -> None:
    """A proxy (or a rotation) may send two ``webhook-signature`` lines; the valid one is the second."""
    body = _body("msg_lines")
    good = _headers("msg_lines", body)
    stale = sign_webhook(OTHER_SECRET, "msg_lines", int(NOW.timestamp()), body)
    pairs = [
        ("webhook-id", good["webhook-id"]),
        ("webhook-timestamp", good["webhook-timestamp"]),
        ("Webhook-Signature", stale),
        ("webhook-signature", good["webhook-signature"]),
    ]
    headers: object
    if shape == "pairs":
        headers = pairs
    elif shape == "httpx":
        headers = httpx.Headers(pairs)
    else:
        headers = StarletteHeaders(raw=[(k.lower().encode(), v.encode()) for k, v in pairs])
    assert _verifier().verify(headers, body).id == "msg_lines"  # type: ignore[arg-type]
    # With only the stale line it is refused.
    only_stale = [pair for pair in pairs if pair[1] != good["webhook-signature"]]
    assert _reason(_verifier(), only_stale, body) is Reason.WEBHOOK_SIGNATURE_INVALID


def test_conflicting_id_lines_are_refused() -> None:
    body = _body("msg_a")
    good = _headers("msg_a", body)
    pairs = [*good.items(), ("webhook-id", "msg_b")]
    assert _reason(_verifier(), pairs, body) is Reason.WEBHOOK_SIGNATURE_INVALID


@pytest.mark.parametrize("timestamp", ["999999999999", "²", "١٢٣", "-5", "1e9"])
def test_absurd_timestamps_are_typed_errors(timestamp: str) -> None:
    body = _body("msg_time")
    headers = {**_headers("msg_time", body), "webhook-timestamp": timestamp}
    # Correctly signed over that very timestamp where possible: only the timestamp is wrong.
    if timestamp.isascii() and timestamp.isdigit():
        headers["webhook-signature"] = sign_webhook(SECRET, "msg_time", int(timestamp), body)
    reason = _reason(_verifier(), headers, body)
    assert reason in (Reason.WEBHOOK_REPLAYED, Reason.WEBHOOK_SIGNATURE_INVALID)


def test_body_id_must_equal_the_webhook_id_header() -> None:
    """An authentic delivery whose JSON ``id`` names another event (only that check refuses it)."""
    body = _body("msg_inner")
    headers = _headers("msg_outer", body)  # signed correctly for webhook-id msg_outer
    assert _reason(_verifier(), headers, body) is Reason.MALFORMED_INPUT
    # The same body with a matching header passes.
    assert _verifier().verify(_headers("msg_inner", body), body).id == "msg_inner"
