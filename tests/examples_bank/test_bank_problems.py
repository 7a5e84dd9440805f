"""The bank's error surface: every SDK reason has a non-5xx-by-accident status and a stable problem type,
bad input anywhere is a problem document (never a 500), configuration mistakes fail at start, and the
stores are append-only where the law wants records kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from bank_support import Bank, card_keys, open_account, problem
from lifecycle_support import HANAKO, World
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from examples.bank_kyc import (
    PROBLEM_TYPE_BASE,
    AccountAttributes,
    AttributeUpdate,
    BankDependencies,
    BankSettings,
    CustomerStore,
    build_bank,
    engine_for,
    problem_type,
    reason_status,
)
from myna_rp.errors import ConfigurationError, Reason

#: Reasons that mean "the bank or the platform cannot answer now": 5xx on purpose, with Retry-After.
_SERVER_SIDE = {
    Reason.REVOCATION_UNAVAILABLE,
    Reason.CONFIGURATION_ERROR,
    Reason.RECORD_STORE_ERROR,
    Reason.PLATFORM_UNAVAILABLE,
    Reason.PLATFORM_RESPONSE_INVALID,
    Reason.PLATFORM_REJECTED,
    Reason.CLIENT_AUTHENTICATION_FAILED,
}


@pytest.mark.parametrize("reason", list(Reason))
def test_bank_every_reason_has_a_deliberate_status(reason: Reason) -> None:
    status = reason_status(reason)
    if reason in _SERVER_SIDE:
        assert status in (502, 503)
    else:
        assert 400 <= status < 500
    assert problem_type(reason.value) == PROBLEM_TYPE_BASE + reason.value.lower().replace("_", "-")


def test_bank_status_of_the_main_reasons() -> None:
    assert reason_status(Reason.CHALLENGE_REPLAYED) == 409
    assert reason_status(Reason.CHALLENGE_EXPIRED) == 410
    assert reason_status(Reason.CERTIFICATE_REVOKED) == 403
    assert reason_status(Reason.SIGNATURE_INVALID) == 422
    assert reason_status(Reason.WEBHOOK_SIGNATURE_INVALID) == 401
    assert reason_status(Reason.CONSENT_REQUIRED) == 403
    assert reason_status(Reason.MALFORMED_INPUT) == 400


_ROUTES = [
    ("POST", "/accounts/openings/opn_x/complete"),
    ("POST", "/login"),
    ("POST", "/webhooks/platform"),
    ("POST", "/customers/me/attributes/refresh"),
    ("GET", "/customers/me"),
    ("GET", "/admin/confirmation-records.jsonl"),
]
_BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'{"signing": {"challenge_id": "' + b"A" * 43 + b'", "signature": "AAAA", "certificate": "AAAA"},'
    b' "login": {"challenge_id": "' + b"A" * 43 + b'", "signature": "AAAA", "certificate": "AAAA"}}',
    b'{"session_id": "lgn_x", "challenge_id": "' + b"A" * 43 + b'", "signature": "AA", "certificate": "AA"}',
    '{"name": "見本　花子"}'.encode(),
    b"\xff\xfe",
]


@pytest.mark.parametrize(("method", "path"), _ROUTES)
def test_bank_junk_never_gets_a_500(bank: Bank, method: str, path: str) -> None:
    for body in _BODIES:
        for headers in (
            {"content-type": "application/json"},
            {"webhook-id": "x", "webhook-signature": "v1,AA"},
        ):
            answer = bank.client.request(method, path, content=body, headers=headers)
            assert answer.status_code < 500, (path, body, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
            document = answer.json()
            assert document["type"].startswith(PROBLEM_TYPE_BASE)
            assert document["status"] == answer.status_code
            assert "見本" not in answer.text  # never echoes input


def test_bank_openapi_documents_the_routes(bank: Bank) -> None:
    schema = bank.client.get("/openapi.json").json()
    assert {"/accounts/openings", "/login", "/webhooks/platform", "/customers/me"} <= set(schema["paths"])
    assert bank.client.get("/healthz").json() == {
        "status": "ok",
        "mode": "direct",
        "platform_client_id": bank.rp.client_id,
    }


def test_bank_platform_mode_needs_a_platform_client(world: World, tmp_path: Path) -> None:
    settings = BankSettings(mode="platform", database_url=f"sqlite:///{tmp_path / 'bank.sqlite3'}")
    with pytest.raises(ConfigurationError):
        build_bank(settings, BankDependencies(clock=world.clock, http=world.client))


def test_bank_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="challenge_store"):
        BankSettings(challenge_store="mysql://x")
    with pytest.raises(ValueError, match="whsec_"):
        BankSettings(webhook_secret="plain")
    with pytest.raises(ValueError, match="32 bytes"):
        BankSettings(subject_id_key="00" * 8)
    with pytest.raises(ValueError, match="http"):
        BankSettings(platform_url="ftp://x")


def test_bank_attribute_updates_and_events_are_append_only(world: World, bank: Bank) -> None:
    signing, login = card_keys(world.person(HANAKO))
    opened = open_account(bank, signing, login)
    store = bank.service.customers
    customer = store.get(opened["customer_id"])
    assert customer is not None
    now = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    change = AttributeUpdate(
        update_id=uuid4(),
        customer_id=customer.customer_id,
        recorded_at=now,
        as_of=now,
        source="platform_latest_attributes",
        platform_user_id="u" * 43,
        trigger="customer_request",
        trigger_event_id=None,
        previous=customer.attributes,
        attributes=AccountAttributes(name="見本　花子", address="大阪府見本市1番", date_of_birth="319850704"),
        organisation="Example Bank",
        operator_id="test",
        changed=("address",),
    )
    store.apply_attribute_update(change)
    assert store.record_event(
        event_id="msg_1",
        event_type="certificate.revoked",
        received_at=now,
        customer_id=None,
        outcome="ignored",
    )
    assert not store.record_event(  # the same id again: recognised, nothing written
        event_id="msg_1",
        event_type="certificate.revoked",
        received_at=now,
        customer_id=None,
        outcome="ignored",
    )
    for statement in (
        "UPDATE bank_attribute_updates SET customer_id = 'x'",
        "DELETE FROM bank_attribute_updates",
        "UPDATE bank_webhook_events SET outcome = 'x'",
        "DELETE FROM bank_webhook_events",
        "UPDATE kyc_confirmation_records SET customer_reference = 'x'",
    ):
        with pytest.raises(SQLAlchemyError), store.engine.begin() as connection:
            connection.execute(text(statement))
    assert store.attribute_updates(customer.customer_id) == [change]
    assert len(store.events()) == 1


def test_bank_subject_id_key_is_created_once(tmp_path: Path) -> None:
    engine = engine_for(tmp_path / "nested" / "bank.sqlite3")
    try:
        first = CustomerStore(engine).subject_id_key()
        second = CustomerStore(engine).subject_id_key()
        assert first == second
        assert len(first) == 32
    finally:
        engine.dispose()


def test_bank_unknown_customer_route_problem(bank: Bank) -> None:
    problem(bank.client.get("/customers/me", headers={"Authorization": "Basic abc"}), 401, "UNAUTHENTICATED")
