"""Signed webhooks: recorded in the revocation transaction, delivered by the mock over an injected httpx
client (an in-process receiver), verified by the SDK's WebhookVerifier; forgery and replay refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from lifecycle_support import HANAKO, MOVED, TARO, World
from platform_api_support import BASE_URL, Delivered, Inbox, RelyingPartyKit, register_rp
from sqlalchemy import select

from mock_platform.ca.profile import RevocationReason as MockReason
from mock_platform.ca.service import CAService, CertificateStatus, PendingAction
from mock_platform.db import PendingCAActionRecord
from mock_platform.platform_api.service import PlatformService
from mock_platform.platform_api.webhooks import (
    PlatformWebhookEventRecord,
    WebhookConfig,
    WebhookDispatcher,
    sign_webhook,
)
from myna_rp.errors import ConfigurationError, Reason, WebhookError
from myna_rp.jpki import FormFactor
from myna_rp.platform import (
    MemorySeenEventStore,
    PlatformClient,
    PrivateKeyJWT,
    WebhookEventType,
    WebhookVerifier,
)
from myna_rp.revocation import RevocationReason

DATA = b"webhook test challenge"


def _service(world: World) -> PlatformService:
    service: PlatformService = world.client.app.state.platform  # type: ignore[attr-defined]
    return service


def _dispatcher(world: World) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = world.client.app.state.platform_webhooks  # type: ignore[attr-defined]
    return dispatcher


def _deliver(world: World) -> dict[str, int]:
    answer = world.client.post("/admin/webhooks/deliver")
    assert answer.status_code == 200, answer.text
    report: dict[str, int] = answer.json()
    return report


def _link(platform: PlatformClient, token: Any) -> str:
    user_id = platform.verify_signature(
        data=DATA, signature=token.sign(DATA), certificate=token.certificate
    ).user_id
    assert user_id is not None
    return user_id


def _to(inbox: Inbox, url: str) -> list[Delivered]:
    return [item for item in inbox.received if item.url == url]


BANK_HOOK = "https://bank.example/myna/webhook"


@pytest.fixture(autouse=True)
def _drained(world: World, inbox: Inbox) -> None:
    """Events left by an earlier test of this module's shared app are delivered first, then forgotten."""
    _deliver(world)
    inbox.clear()


def test_attribute_change_is_delivered_and_verified(
    world: World, platform: PlatformClient, bank: RelyingPartyKit, inbox: Inbox
) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    assert phone.signing is not None
    user_id = _link(platform, person.card.signing)
    revoked = {person.card.signing.certificate.serial_number, phone.signing.certificate.serial_number}
    bystander = world.person(TARO)
    _link(platform, bystander.card.signing)
    world.counter.change_attributes(person.card, MOVED)
    assert _deliver(world) == {"delivered": 2, "retrying": 0, "failed": 0}
    delivered = _to(inbox, BANK_HOOK)
    assert len(delivered) == 2
    assert bank.webhook_secret is not None
    verifier = WebhookVerifier(bank.webhook_secret, clock=world.clock)
    events = [verifier.verify(item.headers, item.body) for item in delivered]
    assert {event.type for event in events} == {WebhookEventType.CERTIFICATE_REVOKED}
    assert {event.reason for event in events} == {RevocationReason.AFFILIATION_CHANGED}
    assert {event.user_id for event in events} == {user_id}
    assert {serial for event in events for serial in event.serial_numbers} == revoked
    assert {event.form_factor for event in events} == {FormFactor.CARD, FormFactor.ANDROID}
    assert all(item.headers["content-type"] == "application/json" for item in delivered)
    assert all(event.id == item.headers["webhook-id"] for event, item in zip(events, delivered, strict=True))
    # Nothing personal travels in the event.
    for item in delivered:
        text = item.body.decode()
        assert HANAKO["name"] not in text
        assert MOVED["address"] not in text
        assert person.resident_id not in text
    # Delivered once: a second run sends nothing.
    assert _deliver(world) == {"delivered": 0, "retrying": 0, "failed": 0}


def test_phone_suspension_is_delivered(
    world: World, platform: PlatformClient, bank: RelyingPartyKit, inbox: Inbox
) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    assert phone.signing is not None
    assert phone.user_authentication is not None
    user_id = _link(platform, phone.signing)
    world.counter.suspend_phone(person.resident_id)
    _deliver(world)
    [delivered] = _to(inbox, BANK_HOOK)
    assert bank.webhook_secret is not None
    event = WebhookVerifier(bank.webhook_secret, clock=world.clock).verify(delivered.headers, delivered.body)
    assert event.type is WebhookEventType.SMARTPHONE_SUSPENDED
    assert event.user_id == user_id
    assert event.form_factor is FormFactor.ANDROID
    assert event.reason is None
    assert set(event.serial_numbers) == {
        phone.signing.certificate.serial_number,
        phone.user_authentication.certificate.serial_number,
    }


def test_only_linked_relying_parties_with_a_webhook_hear(world: World, inbox: Inbox) -> None:
    person = world.person(HANAKO)
    no_hook = register_rp(world.client, "No webhook")
    quiet = PlatformClient(
        BASE_URL, world.client, PrivateKeyJWT(no_hook.client_id, no_hook.key), clock=world.clock
    )
    _link(quiet, person.card.signing)
    unlinked = register_rp(world.client, "Unlinked", webhook_url="https://unlinked.example/hook")
    world.counter.change_attributes(person.card, MOVED)
    _deliver(world)
    assert _to(inbox, "https://unlinked.example/hook") == []
    assert inbox.received == []  # the bank never verified this person either
    assert unlinked.webhook_secret is not None


def test_events_are_recorded_in_the_revocation_transaction(
    world: World, platform: PlatformClient, bank: RelyingPartyKit
) -> None:
    person = world.person(HANAKO)
    _link(platform, person.card.signing)
    service = _service(world)
    ca: CAService = service.ca
    serial_hex = format(person.card.signing.certificate.serial_number, "x")

    def events() -> list[PlatformWebhookEventRecord]:
        with service.database.transaction() as session:
            return [
                row
                for row in session.scalars(select(PlatformWebhookEventRecord))
                if json.loads(row.body)["data"].get("serial") == serial_hex
            ]

    def pending() -> int:
        with service.database.transaction() as session:
            return len(
                session.scalars(
                    select(PendingCAActionRecord).where(PendingCAActionRecord.serial_hex == serial_hex)
                ).all()
            )

    # A state change that fails after asking for the revocation leaves neither outbox row nor event.
    def failing_step() -> None:
        with service.database.transaction() as session:
            ca.defer(session, serial_hex, PendingAction.REVOKE, MockReason.AFFILIATION_CHANGED)
            assert pending() == 0  # not visible outside the transaction
            raise RuntimeError("the counter's step failed")

    with pytest.raises(RuntimeError):
        failing_step()
    assert events() == []
    assert pending() == 0
    assert (
        ca.certificate_state(person.card.signing.certificate.serial_number).status is CertificateStatus.GOOD
    )
    # Committed: both, together.
    with service.database.transaction() as session:
        ca.defer(session, serial_hex, PendingAction.REVOKE, MockReason.AFFILIATION_CHANGED)
    assert len(events()) == 1
    assert pending() == 1
    ca.apply_pending_actions(serial_hex)
    assert (
        ca.certificate_state(person.card.signing.certificate.serial_number).status
        is CertificateStatus.REVOKED
    )
    # Other revocation reasons (renewal, key compromise) are not webhook events.
    with service.database.transaction() as session:
        ca.defer(
            session,
            format(person.card.user_authentication.certificate.serial_number, "x"),
            PendingAction.REVOKE,
            MockReason.SUPERSEDED,
        )
    assert len(events()) == 1
    assert bank.client_id


def test_failed_delivery_is_retried_with_the_same_id(
    world: World, platform: PlatformClient, bank: RelyingPartyKit, inbox: Inbox
) -> None:
    person = world.person(HANAKO)
    _link(platform, person.card.signing)
    world.counter.change_attributes(person.card, MOVED)
    inbox.status = 503
    assert _deliver(world) == {"delivered": 0, "retrying": 1, "failed": 0}
    assert _deliver(world) == {"delivered": 0, "retrying": 0, "failed": 0}  # not due yet (30 s backoff)
    world.advance(seconds=31)
    inbox.status = 204
    assert _deliver(world) == {"delivered": 1, "retrying": 0, "failed": 0}
    first, second = _to(inbox, BANK_HOOK)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 31
    assert first.body == second.body
    assert bank.webhook_secret is not None
    event = WebhookVerifier(bank.webhook_secret, clock=world.clock).verify(second.headers, second.body)
    assert event.type is WebhookEventType.CERTIFICATE_REVOKED
    [record] = [view for view in _dispatcher(world).events(bank.client_id) if view.event_id == event.id]
    assert (record.state, record.attempts, record.last_status) == ("delivered", 2, 204)


def test_delivery_gives_up_after_max_attempts(
    world: World, platform: PlatformClient, bank: RelyingPartyKit, inbox: Inbox
) -> None:
    person = world.person(HANAKO)
    _link(platform, person.card.signing)
    world.counter.change_attributes(person.card, MOVED)
    service = _service(world)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(unreachable), timeout=1.0)
    impatient = WebhookDispatcher(
        service.database, world.clock, service.registry, http, WebhookConfig(max_attempts=2, timeout=1.0)
    )
    first = impatient.deliver_pending()
    assert (first.delivered, first.retrying, first.failed) == (0, 1, 0)
    world.advance(minutes=5)
    second = impatient.deliver_pending()
    assert (second.delivered, second.retrying, second.failed) == (0, 0, 1)
    [record] = [view for view in impatient.events(bank.client_id) if view.state == "failed"]
    assert record.attempts == 2
    assert record.last_status is None
    assert inbox.received == []
    http.close()


# --------------------------------------------------------------------------------------------- verifier


SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
EVENT = {
    "id": "msg_1",
    "type": "certificate.revoked",
    "timestamp": "2026-11-29T03:00:00+00:00",
    "data": {
        "user_id": "u" * 43,
        "serial": "1f2e",
        "kind": "signing",
        "form_factor": "card",
        "reason": "affiliationChanged",
        "revoked_at": "2026-11-29T03:00:00+00:00",
    },
}


def _signed(
    world: World, body: bytes, *, event_id: str = "msg_1", secret: str = SECRET, at: int | None = None
) -> dict[str, str]:
    timestamp = at if at is not None else int(world.clock.now().timestamp())
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(secret, event_id, timestamp, body),
    }


def _refused(verifier: WebhookVerifier, headers: dict[str, str], body: bytes) -> Reason:
    with pytest.raises(WebhookError) as caught:
        verifier.verify(headers, body)
    return caught.value.reason


@pytest.fixture
def body() -> bytes:
    return json.dumps(EVENT).encode()


def test_verifier_accepts_a_good_delivery(world: World, body: bytes) -> None:
    event = WebhookVerifier(SECRET, clock=world.clock).verify(_signed(world, body), body)
    assert event.serial_numbers == (0x1F2E,)
    assert event.user_id == "u" * 43
    assert event.data["kind"] == "signing"
    # Header names in any case; one valid among several signatures (secret rotation).
    headers = {k.upper(): v for k, v in _signed(world, body, event_id="msg_2").items()}
    headers["WEBHOOK-SIGNATURE"] = "v1,AAAA " + headers["WEBHOOK-SIGNATURE"]
    second = json.dumps({**EVENT, "id": "msg_2"}).encode()
    headers["WEBHOOK-SIGNATURE"] = "v1,AAAA " + sign_webhook(
        SECRET, "msg_2", int(headers["WEBHOOK-TIMESTAMP"]), second
    )
    assert WebhookVerifier(SECRET, clock=world.clock).verify(headers, second).id == "msg_2"


def test_forgeries_are_refused(world: World, body: bytes) -> None:
    verifier = WebhookVerifier(SECRET, clock=world.clock)
    good = _signed(world, body)
    wrong_secret = "whsec_" + base64.b64encode(b"w" * 32).decode()
    cases = {
        "bad signature": {**good, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()},
        "wrong secret": _signed(world, body, secret=wrong_secret),
        "other id": {**good, "webhook-id": "msg_other"},
        "other timestamp": {**good, "webhook-timestamp": str(int(good["webhook-timestamp"]) - 1)},
        "v2 scheme": {**good, "webhook-signature": good["webhook-signature"].replace("v1,", "v2,")},
        "not base64": {**good, "webhook-signature": "v1,@@@"},
        "no signature": {k: v for k, v in good.items() if k != "webhook-signature"},
        "no id": {k: v for k, v in good.items() if k != "webhook-id"},
        "bad timestamp": {**good, "webhook-timestamp": "yesterday"},
    }
    for name, headers in cases.items():
        assert _refused(verifier, headers, body) is Reason.WEBHOOK_SIGNATURE_INVALID, name
    altered = body.replace(b"affiliationChanged", b"keyCompromise")
    assert _refused(verifier, good, altered) is Reason.WEBHOOK_SIGNATURE_INVALID
    # None of the refusals burnt the id: the genuine delivery still passes.
    assert verifier.verify(good, body).id == "msg_1"


def test_replays_are_refused(world: World, body: bytes) -> None:
    verifier = WebhookVerifier(SECRET, clock=world.clock, tolerance=timedelta(minutes=5))
    headers = _signed(world, body)
    verifier.verify(headers, body)
    assert _refused(verifier, headers, body) is Reason.WEBHOOK_REPLAYED  # the same id twice
    # Re-signed with a fresh timestamp, still the same id.
    assert _refused(verifier, _signed(world, body), body) is Reason.WEBHOOK_REPLAYED
    now = int(world.clock.now().timestamp())
    other = json.dumps({**EVENT, "id": "msg_9"}).encode()
    old = _signed(world, other, event_id="msg_9", at=now - 301)
    assert _refused(verifier, old, other) is Reason.WEBHOOK_REPLAYED
    future = _signed(world, other, event_id="msg_9", at=now + 301)
    assert _refused(verifier, future, other) is Reason.WEBHOOK_REPLAYED
    # Inside the window it passes (the refused attempts did not burn msg_9).
    assert verifier.verify(_signed(world, other, event_id="msg_9", at=now - 299), other).id == "msg_9"


def test_seen_ids_expire_with_the_window(world: World, body: bytes) -> None:
    store = MemorySeenEventStore(world.clock)
    verifier = WebhookVerifier(SECRET, clock=world.clock, seen=store)
    verifier.verify(_signed(world, body), body)
    world.advance(minutes=11)
    # Past twice the tolerance the id is forgotten, and the timestamp check refuses the old delivery.
    assert store.add("msg_1", expires_at=world.clock.now() + timedelta(minutes=1))


def test_authentic_but_unknown_bodies(world: World) -> None:
    verifier = WebhookVerifier(SECRET, clock=world.clock)
    for index, payload in enumerate(
        [
            b"not json",
            b"[]",
            json.dumps({**EVENT, "type": "card.exploded"}).encode(),
            json.dumps({**EVENT, "data": {"user_id": "u"}}).encode(),
        ]
    ):
        event_id = f"msg_x{index}"
        payload = payload.replace(b'"msg_1"', f'"{event_id}"'.encode())
        assert (
            _refused(verifier, _signed(world, payload, event_id=event_id), payload) is Reason.MALFORMED_INPUT
        )


def test_verifier_configuration() -> None:
    for secret in ("plain", "whsec_@@", "whsec_" + base64.b64encode(b"short").decode(), b"short"):
        with pytest.raises(ConfigurationError):
            WebhookVerifier(secret)
    with pytest.raises(ConfigurationError):
        WebhookVerifier(SECRET, tolerance=timedelta(0))
    # Raw key bytes work like the whsec_ form.
    key = b"k" * 32
    expected = base64.b64encode(hmac.new(key, b"i.1.x", hashlib.sha256).digest()).decode()
    assert sign_webhook(SECRET, "i", 1, b"x") == "v1," + expected
