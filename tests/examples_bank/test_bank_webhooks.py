"""The platform's webhooks at the example bank: a customer who moved (attribute change at the municipal
counter → signing certificates revoked, affiliationChanged → signed webhook → customer flagged → latest
attributes fetched with consent → flag cleared, new address), a lost phone, and forged or replayed
deliveries."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from bank_support import (
    Bank,
    MakeBank,
    card_keys,
    deliver_webhooks,
    grant_consent,
    login,
    me,
    open_account,
    phone_keys,
    problem,
)
from lifecycle_support import CARD_AUTH_PIN, HANAKO, MOVED, PHONE_PIN, TARO, World

from mock_platform.platform_api.webhooks import sign_webhook


def _moved(world: World, person: Any) -> None:
    """The municipal counter records the move: every signing certificate of the person is revoked
    (affiliationChanged) and the card gets a new one; the platform queues one webhook per revocation."""
    world.counter.change_attributes(person.card, dict(MOVED))


def _signed(
    secret: str, body: dict[str, Any], *, event_id: str | None = None, at: datetime | None = None
) -> tuple[dict[str, str], bytes]:
    event_id = event_id or body["id"]
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int((at or datetime.now(UTC)).timestamp())
    return (
        {
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(secret, event_id, timestamp, payload),
        },
        payload,
    )


def _revocation_event(user_id: str, serial_hex: str, when: datetime) -> dict[str, Any]:
    return {
        "id": "msg_" + secrets.token_urlsafe(12),
        "type": "certificate.revoked",
        "timestamp": when.isoformat(),
        "data": {
            "user_id": user_id,
            "serial": serial_hex,
            "kind": "signing",
            "form_factor": "card",
            "reason": "affiliationChanged",
            "revoked_at": when.isoformat(),
        },
    }


def test_bank_customer_who_moved_is_flagged_and_updated_with_consent(world: World, bank: Bank) -> None:
    """Direct mode. The customer consented at the platform to the bank getting the latest attributes
    (which also links them to the bank there). They move; the webhook flags them, the bank fetches the
    new attributes with that consent, records the change and clears the flag — all in one delivery."""
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    signing, authentication = phone_keys(phone)
    opened = open_account(bank, signing, authentication)
    customer_id = opened["customer_id"]
    grant_consent(world, bank.rp.client_id, phone, pin=PHONE_PIN)

    _moved(world, person)
    report = deliver_webhooks(world)
    assert report["delivered"] >= 1

    deliveries = bank.deliveries()
    assert deliveries
    assert all(d.status == 200 for d in deliveries)
    outcomes = {d.answer["outcome"] for d in deliveries}
    assert "updated" in outcomes
    for delivery in deliveries:
        assert delivery.answer["type"] == "certificate.revoked"
    # The flag was set by the event (append-only event log), then cleared by the fresh attributes.
    events = bank.service.customers.events(customer_id)
    assert events
    assert {e.outcome for e in events} == {"flagged_for_reverification"}
    customer = bank.service.customers.get(customer_id)
    assert customer is not None
    assert customer.reverification_required is False
    assert customer.attributes.address == MOVED["address"]
    assert customer.attributes.name == HANAKO["name"]
    assert customer.attributes_source == "platform"
    assert customer.platform_user_id is not None
    updates = bank.service.customers.attribute_updates(customer_id)
    assert updates
    first = updates[0]
    assert "address" in first.changed
    assert "name" not in first.changed
    assert "date_of_birth" not in first.changed
    assert first.previous.address == HANAKO["address"]
    assert first.attributes.address == MOVED["address"]
    assert first.trigger == "webhook"
    assert first.trigger_event_id in {e.event_id for e in events}
    assert first.platform_user_id == customer.platform_user_id
    # The confirmation record of the opening is untouched (append-only), still the old address.
    (record,) = bank.records()
    assert record.attributes.address == HANAKO["address"]
    # The user-authentication certificate survives a move: she still logs in and sees the new address.
    token = login(bank, authentication).json()["access_token"]
    account = me(bank, token).json()
    assert account["address"] == MOVED["address"]
    assert account["reverification_required"] is False
    assert account["attributes_source"] == "platform"


def test_bank_moved_customer_without_consent_stays_flagged_until_refresh(
    world: World, make_bank: MakeBank
) -> None:
    """Platform mode: the opening's verification linked the customer at the platform (user ID known),
    so the move is reported — but without consent the latest attributes are refused (CONSENT_REQUIRED):
    the customer stays flagged. After consenting, the customer asks for a refresh: flag cleared."""
    bank = make_bank("platform")
    person = world.person(HANAKO)
    phone = world.iphone_usable(person)
    signing, authentication = phone_keys(phone)
    opened = open_account(bank, signing, authentication)
    customer_id = opened["customer_id"]

    _moved(world, person)
    deliver_webhooks(world)
    deliveries = bank.deliveries()
    assert deliveries
    assert all(d.status == 200 for d in deliveries)
    answers = [d.answer for d in deliveries]
    assert {a["outcome"] for a in answers} == {"flagged"}
    assert {a["reason"] for a in answers} == {"CONSENT_REQUIRED"}
    customer = bank.service.customers.get(customer_id)
    assert customer is not None
    assert customer.reverification_required is True
    assert customer.reverification_reason == "attributes_changed"
    assert customer.attributes.address == HANAKO["address"]
    assert bank.service.customers.attribute_updates(customer_id) == []

    logged_in = login(bank, authentication).json()
    assert logged_in["reverification_required"] is True
    token = logged_in["access_token"]
    problem(
        bank.client.post("/customers/me/attributes/refresh", headers={"Authorization": f"Bearer {token}"}),
        403,
        "CONSENT_REQUIRED",
    )
    grant_consent(world, bank.rp.client_id, phone, pin=PHONE_PIN)
    refreshed = bank.client.post(
        "/customers/me/attributes/refresh", headers={"Authorization": f"Bearer {token}"}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["address"] == MOVED["address"]
    assert refreshed.json()["reverification_required"] is False
    (update,) = bank.service.customers.attribute_updates(customer_id)
    assert update.trigger == "customer_request"
    assert "address" in update.changed
    assert "name" not in update.changed
    # Withdrawn consent: refused again, nothing appended.
    grant_consent(world, bank.rp.client_id, phone, pin=PHONE_PIN, action="withdraw")
    problem(
        bank.client.post("/customers/me/attributes/refresh", headers={"Authorization": f"Bearer {token}"}),
        403,
        "CONSENT_REQUIRED",
    )
    assert len(bank.service.customers.attribute_updates(customer_id)) == 1


def test_bank_redelivered_webhook_is_acknowledged_once(world: World, bank: Bank) -> None:
    person = world.person(HANAKO)
    signing, authentication = card_keys(person)
    opened = open_account(bank, signing, authentication)
    grant_consent(world, bank.rp.client_id, person.card, pin=CARD_AUTH_PIN)
    _moved(world, person)
    deliver_webhooks(world)
    (delivery,) = bank.deliveries()  # card only: one signing certificate revoked
    assert delivery.answer["outcome"] == "updated"
    again = bank.client.post("/webhooks/platform", content=delivery.body, headers=delivery.headers)
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "duplicate"
    assert again.json()["type"] == "certificate.revoked"
    assert len(bank.service.customers.attribute_updates(opened["customer_id"])) == 1
    assert len(bank.service.customers.events()) == 1


def test_bank_forged_webhooks_are_refused(world: World, bank: Bank) -> None:
    person = world.person(HANAKO)
    signing, authentication = card_keys(person)
    opened = open_account(bank, signing, authentication)
    customer = bank.service.customers.get(opened["customer_id"])
    assert customer is not None
    now = world.clock.now()
    event = _revocation_event("u" * 43, customer.signing_serial_hex, now)
    secret = bank.rp.webhook_secret
    assert secret is not None

    def post(headers: dict[str, str], body: bytes) -> Any:
        return bank.client.post("/webhooks/platform", content=body, headers=headers)

    # Signed with another secret (an attacker's).
    forged_headers, body = _signed("whsec_" + "QUJD" * 8, event, at=now)
    problem(post(forged_headers, body), 401, "WEBHOOK_SIGNATURE_INVALID")
    # No signature at all.
    headers, body = _signed(secret, event, at=now)
    problem(
        post({k: v for k, v in headers.items() if k != "webhook-signature"}, body),
        401,
        "WEBHOOK_SIGNATURE_INVALID",
    )
    # A genuine signature over another body (tampered user id).
    tampered = json.dumps({**event, "data": {**event["data"], "user_id": "v" * 43}}).encode()
    problem(post(headers, tampered), 401, "WEBHOOK_SIGNATURE_INVALID")
    # A genuine delivery from outside the replay window (10 minutes old).
    stale_headers, stale_body = _signed(secret, event, at=now - timedelta(minutes=10))
    problem(post(stale_headers, stale_body), 409, "WEBHOOK_REPLAYED")
    # Nothing happened to the customer.
    after = bank.service.customers.get(opened["customer_id"])
    assert after == customer
    assert bank.service.customers.events() == []
    # The same event, genuine and fresh, is processed: the bank matches the revoked serial.
    answer = post(headers, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "flagged"  # no consent at the platform for this made-up user id
    flagged = bank.service.customers.get(opened["customer_id"])
    assert flagged is not None
    assert flagged.reverification_required is True
    assert flagged.platform_user_id == "u" * 43


def test_bank_webhook_for_someone_else_is_recorded_and_ignored(world: World, bank: Bank) -> None:
    open_account(bank, *card_keys(world.person(HANAKO)))
    stranger = world.person(TARO)  # consents to the bank, but never opened an account
    grant_consent(world, bank.rp.client_id, stranger.card, pin=CARD_AUTH_PIN)
    _moved(world, stranger)
    deliver_webhooks(world)
    (delivery,) = bank.deliveries()
    assert delivery.status == 200
    assert delivery.answer["outcome"] == "unknown_customer"
    (event,) = bank.service.customers.events()
    assert event.customer_id is None
    assert event.outcome == "unknown_customer"


def test_bank_lost_phone_webhook_suspends_the_login(world: World, bank: Bank) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    signing, authentication = phone_keys(phone)
    opened = open_account(bank, signing, authentication)
    grant_consent(world, bank.rp.client_id, phone, pin=PHONE_PIN)
    world.counter.suspend_phone(person.resident_id)
    deliver_webhooks(world)
    deliveries = [d for d in bank.deliveries() if d.answer.get("type") == "smartphone.suspended"]
    assert len(deliveries) == 1
    assert deliveries[0].answer["outcome"] == "login_suspended"
    (credential,) = bank.service.customers.login_credentials(opened["customer_id"])
    assert credential.suspended_at is not None
    problem(login(bank, authentication), 403, "CERTIFICATE_ON_HOLD")


def test_bank_without_a_webhook_secret_refuses_webhooks(world: World, make_bank: MakeBank) -> None:
    bank = make_bank(webhook_secret=False)
    event = _revocation_event("u" * 43, "1234", world.clock.now())
    headers, body = _signed("whsec_" + "QUJD" * 8, event, at=world.clock.now())
    problem(
        bank.client.post("/webhooks/platform", content=body, headers=headers), 503, "PLATFORM_NOT_CONFIGURED"
    )


def test_bank_refresh_needs_the_platform(world: World, make_bank: MakeBank) -> None:
    bank = make_bank(platform=False)
    signing, authentication = card_keys(world.person(HANAKO))
    open_account(bank, signing, authentication)
    token = login(bank, authentication).json()["access_token"]
    problem(
        bank.client.post("/customers/me/attributes/refresh", headers={"Authorization": f"Bearer {token}"}),
        503,
        "PLATFORM_NOT_CONFIGURED",
    )


def test_bank_refresh_before_the_platform_user_id_is_known(world: World, bank: Bank) -> None:
    signing, authentication = card_keys(world.person(HANAKO))
    open_account(bank, signing, authentication)
    token = login(bank, authentication).json()["access_token"]
    problem(
        bank.client.post("/customers/me/attributes/refresh", headers={"Authorization": f"Bearer {token}"}),
        409,
        "PLATFORM_USER_UNKNOWN",
    )
