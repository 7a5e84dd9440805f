"""Regression tests of the issue-6 review of the example bank.

Holder binding in platform mode (HOLDER_MISMATCH), a certificate revoked after an earlier opening check,
append-only tables against ``INSERT OR REPLACE`` (SQLite) and upserts (PostgreSQL), the challenge store
down (503 + Retry-After on every route that issues or consumes), validly signed webhooks with an absurd
timestamp or a deeply nested body (4xx, never 500), the direct-mode refresh dead end explained, account
closing (retention deadline), the Redis challenge store shared by two banks (key prefix), ``Allow`` on 405
and ``WWW-Authenticate`` on 401, and the README's section-3 snippet run as written.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import sqlite3
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from bank_support import (
    Bank,
    MakeBank,
    card_keys,
    complete_opening,
    deliver_webhooks,
    login,
    me,
    open_account,
    opening_body,
    problem,
    start_opening,
)
from lifecycle_support import CARD_AUTH_PIN, HANAKO, MOVED, TARO, World
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from examples.age_check import ShopSettings
from examples.bank_kyc import BankSettings, CustomerStore, engine_for
from mock_platform.device.platform_holder import give_consent
from mock_platform.platform_api.webhooks import sign_webhook
from myna_rp.kyc import RetentionProfile
from myna_rp.kyc.record import JST

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "challenge"))

from challenge_support import REDIS_URL_VARIABLE, redis_unavailable

README = Path(__file__).resolve().parents[2] / "examples" / "bank_kyc" / "README.md"


# --------------------------------------------------------------------------------------------- holders


def test_bank_review_platform_mode_refuses_two_holders(world: World, make_bank: MakeBank) -> None:
    """A's signing signature (a relayed challenge) + B's login certificate: refused before any record."""
    bank = make_bank("platform")
    victim_signing, _ = card_keys(world.person(HANAKO))
    _, attacker_login = card_keys(world.person(TARO))
    opening = start_opening(bank)
    assert "." in opening["login"]["challenge_id"]  # platform mode: the platform's nonce is signed
    answer = complete_opening(bank, opening, opening_body(opening, victim_signing, attacker_login))
    body = problem(answer, 403, "HOLDER_MISMATCH")
    assert body["reason"] == "HOLDER_MISMATCH"
    assert bank.records() == []
    assert bank.customer_count() == 0
    problem(login(bank, attacker_login), 401, "LOGIN_NOT_RECOGNISED")


def test_bank_review_platform_mode_same_holder_opens_and_knows_the_user(
    world: World, make_bank: MakeBank
) -> None:
    bank = make_bank("platform")
    signing, login_key = card_keys(world.person(HANAKO))
    opened = open_account(bank, signing, login_key)
    [record] = bank.records()
    assert record.user_id is not None
    token = login(bank, login_key).json()["access_token"]
    assert me(bank, token).json()["platform_user_linked"] is True
    assert opened["verification"]["mode"] == "platform"


def test_bank_review_platform_login_handle_cannot_be_tampered(world: World, make_bank: MakeBank) -> None:
    bank = make_bank("platform")
    signing, login_key = card_keys(world.person(HANAKO))
    opening = start_opening(bank)
    body = opening_body(opening, signing, login_key)
    bank_part, platform_id, _nonce = body["login"]["challenge_id"].split(".")
    other = start_opening(bank)["login"]["challenge_id"].split(".")[2]  # another opening's nonce
    body["login"]["challenge_id"] = ".".join((bank_part, platform_id, other))
    problem(complete_opening(bank, opening, body), 403, "CHALLENGE_MISMATCH")
    assert bank.records() == []
    body["login"]["challenge_id"] = bank_part  # a direct-mode handle sent to a platform-mode bank
    problem(complete_opening(bank, start_opening(bank), body), 400, "MALFORMED_INPUT")


# --------------------------------------------------------------------------------------------- revocation


def test_bank_review_certificate_revoked_after_an_earlier_check(world: World, bank: Bank) -> None:
    """Open once (OCSP good), move (the card's signing certificate is revoked), try again within the
    OCSP answer's lifetime with the old certificate: refused, no second record."""
    person = world.person(HANAKO)
    signing, login_key = card_keys(person)
    open_account(bank, signing, login_key)
    world.counter.change_attributes(person.card, MOVED)
    world.advance(minutes=5)
    _, stranger_login = card_keys(world.person(TARO))
    opening = start_opening(bank)
    problem(
        complete_opening(bank, opening, opening_body(opening, signing, stranger_login)),
        403,
        "CERTIFICATE_REVOKED",
    )
    assert len(bank.records()) == 1


# --------------------------------------------------------------------------------------------- append-only


def _bank_db(bank: Bank) -> str:
    database = bank.service.customers.engine.url.database
    assert database is not None
    return database


def test_bank_review_sqlite_append_only_tables_refuse_replace(world: World, make_bank: MakeBank) -> None:
    bank = make_bank("platform")
    person = world.person(HANAKO)
    signing, login_key = card_keys(person)
    opened = open_account(bank, signing, login_key)
    give_consent(world.client, person.card, bank.rp.client_id, pin=CARD_AUTH_PIN)
    world.counter.change_attributes(person.card, MOVED)
    deliver_webhooks(world)  # a processed event and an attribute update
    token = login(bank, login_key).json()["access_token"]
    assert (
        bank.client.post("/accounts/close", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    raw = sqlite3.connect(_bank_db(bank))
    try:
        for table, column, value in [
            ("bank_webhook_events", "outcome", "forged"),
            ("bank_attribute_updates", "document", "{}"),
            ("bank_account_closures", "closed_on", "2099-12-31"),
            ("kyc_confirmation_records", "document", "{}"),
        ]:
            columns = [r[1] for r in raw.execute(f"PRAGMA table_info({table})")]
            row = raw.execute(f"SELECT * FROM {table} LIMIT 1").fetchone()
            assert row is not None, table
            forged = list(row)
            forged[columns.index(column)] = value
            marks = ", ".join("?" * len(columns))
            for verb in ("INSERT OR REPLACE INTO", "REPLACE INTO"):
                with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                    raw.execute(f"{verb} {table} ({', '.join(columns)}) VALUES ({marks})", forged)
            assert raw.execute(f"SELECT * FROM {table} WHERE seq = ?", (row[0],)).fetchone() == row
        raw.commit()
    finally:
        raw.close()
    assert bank.service.customers.closed_on(opened["customer_id"]) is not None


def test_bank_review_postgres_append_only_tables_refuse_upserts(postgres_schema_url: str) -> None:
    engine = engine_for(postgres_schema_url)
    try:
        store = CustomerStore(engine)
        assert store.record_event(
            event_id="msg_1",
            event_type="certificate.revoked",
            received_at=datetime(2026, 11, 29, tzinfo=UTC),
            customer_id=None,
            outcome="unknown_customer",
        )
        assert not store.record_event(  # a redelivery is still recognised (UNIQUE), not an error
            event_id="msg_1",
            event_type="certificate.revoked",
            received_at=datetime(2026, 11, 29, tzinfo=UTC),
            customer_id=None,
            outcome="unknown_customer",
        )
        for statement in [
            "INSERT INTO bank_webhook_events (seq, event_id, event_type, received_at, customer_id, outcome) "
            "SELECT seq, event_id, event_type, received_at, customer_id, outcome FROM bank_webhook_events "
            "ON CONFLICT (seq) DO UPDATE SET outcome = 'forged'",
            "INSERT INTO bank_webhook_events (event_id, event_type, received_at, customer_id, outcome) "
            "VALUES ('msg_1', 'x', now(), NULL, 'forged') "
            "ON CONFLICT (event_id) DO UPDATE SET outcome = 'forged'",
        ]:
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
        [event] = store.events()
        assert event.outcome == "unknown_customer"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------- outages


def test_bank_review_challenge_store_down_is_503(world: World, make_bank: MakeBank) -> None:
    bank = make_bank(challenge_store="redis://127.0.0.1:1/0")
    for path in ("/accounts/openings", "/login/challenges"):
        answer = bank.client.post(path)
        body = problem(answer, 503, "CHALLENGE_STORE_UNAVAILABLE")
        assert body["reason"] == "CHALLENGE_UNKNOWN"
        assert answer.headers["retry-after"].isdigit()
    # Consuming (login with a well-formed handle): 503 too, not 422 "unknown challenge".
    _, login_key = card_keys(world.person(HANAKO))
    answer = bank.client.post(
        "/login",
        json={
            "session_id": "lgn_x",
            "challenge_id": "A" * 43,
            "signature": "AAAA",
            "certificate": login_key.der_b64,
        },
    )
    problem(answer, 503, "CHALLENGE_STORE_UNAVAILABLE")


# --------------------------------------------------------------------------------------------- webhooks


def _signed(bank: Bank, event_id: str, timestamp: int, payload: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(bank.rp.webhook_secret, event_id, timestamp, payload),
    }


def test_bank_review_webhook_with_an_absurd_timestamp_is_refused(world: World, bank: Bank) -> None:
    for stamp in (999_999_999_999, 0):
        event_id = "msg_" + secrets.token_hex(6)
        payload = json.dumps(
            {
                "id": event_id,
                "type": "certificate.revoked",
                "timestamp": world.clock.now().isoformat(),
                "data": {},
            }
        ).encode()
        answer = bank.client.post(
            "/webhooks/platform", content=payload, headers=_signed(bank, event_id, stamp, payload)
        )
        problem(answer, 409, "WEBHOOK_REPLAYED")


def test_bank_review_webhook_with_a_deeply_nested_body_is_refused(world: World, bank: Bank) -> None:
    event_id = "msg_deep"
    payload = b'{"id":"msg_deep","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    now = int(world.clock.now().timestamp())
    answer = bank.client.post(
        "/webhooks/platform", content=payload, headers=_signed(bank, event_id, now, payload)
    )
    problem(answer, 400, "MALFORMED_INPUT")


def test_bank_review_webhook_timestamp_out_of_range_with_offset(world: World, bank: Bank) -> None:
    event_id = "msg_" + secrets.token_hex(6)
    payload = json.dumps(
        {
            "id": event_id,
            "type": "certificate.revoked",
            "timestamp": "0001-01-01T00:00:00+01:00",  # astimezone(UTC) overflows
            "data": {"user_id": "u", "serial": "01", "form_factor": "card", "reason": "affiliationChanged"},
        }
    ).encode()
    now = int(world.clock.now().timestamp())
    answer = bank.client.post(
        "/webhooks/platform", content=payload, headers=_signed(bank, event_id, now, payload)
    )
    problem(answer, 400, "MALFORMED_INPUT")


# --------------------------------------------------------------------------------------------- refresh


def test_bank_review_direct_mode_refresh_says_what_to_do(world: World, bank: Bank) -> None:
    """Direct mode, moved before consenting: no webhook reaches the bank; refresh explains why and what
    to do (instead of a bare 'not known yet')."""
    person = world.person(HANAKO)
    signing, login_key = card_keys(person)
    open_account(bank, signing, login_key)
    world.counter.change_attributes(person.card, MOVED)
    give_consent(world.client, person.card, bank.rp.client_id, pin=CARD_AUTH_PIN)
    deliver_webhooks(world)
    token = login(bank, login_key).json()["access_token"]
    assert me(bank, token).json()["reverification_required"] is False  # the bank was never told
    answer = bank.client.post(
        "/customers/me/attributes/refresh", headers={"Authorization": f"Bearer {token}"}
    )
    body = problem(answer, 409, "PLATFORM_USER_UNKNOWN")
    assert "BANK_KYC_MODE=platform" in body["detail"]
    assert "consent" in body["detail"]


def test_bank_review_platform_mode_refresh_works_for_a_move_before_consent(
    world: World, make_bank: MakeBank
) -> None:
    bank = make_bank("platform")
    person = world.person(HANAKO)
    signing, login_key = card_keys(person)
    open_account(bank, signing, login_key)
    world.counter.change_attributes(person.card, MOVED)
    deliver_webhooks(world)  # flagged; no consent yet: stays flagged
    give_consent(world.client, person.card, bank.rp.client_id, pin=CARD_AUTH_PIN)
    token = login(bank, login_key).json()["access_token"]
    answer = bank.client.post(
        "/customers/me/attributes/refresh", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["address"] == MOVED["address"]
    assert answer.json()["reverification_required"] is False


# --------------------------------------------------------------------------------------------- closing


def test_bank_review_closing_an_account_starts_the_retention(world: World, bank: Bank) -> None:
    signing, login_key = card_keys(world.person(HANAKO))
    opened = open_account(bank, signing, login_key)
    [record] = bank.records()
    assert bank.service.kyc.records.retention(record).retain_until is None
    problem(bank.client.post("/accounts/close"), 401, "UNAUTHENTICATED")
    world.advance(days=40)
    token = login(bank, login_key).json()["access_token"]
    answer = bank.client.post("/accounts/close", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    closed = answer.json()
    closed_on = date.fromisoformat(closed["closed_on"])
    assert closed_on == world.clock.now().astimezone(JST).date()
    expected = RetentionProfile.BANK.retain_until(closed_on)
    assert closed["records_retained_until"] == expected.isoformat()
    assert bank.service.kyc.records.retention(record).retain_until == expected
    assert (expected - closed_on).days in (7 * 365 + 1, 7 * 365 + 2)
    assert closed["customer_id"] == opened["customer_id"]
    # The session ended, the certificate no longer logs in, closing twice is refused.
    problem(me(bank, token), 401, "UNAUTHENTICATED")
    problem(login(bank, login_key), 409, "ACCOUNT_CLOSED")
    # The export shows the deadline.
    lines = [json.loads(line) for line in _export(bank).splitlines()]
    assert [line["retention_status"]["retain_until"] for line in lines] == [expected.isoformat()]


def _export(bank: Bank) -> str:
    stream = io.StringIO()
    bank.service.kyc.records.export_jsonl(stream)
    return stream.getvalue()


# --------------------------------------------------------------------------------------------- Redis


def _redis_url() -> str:
    url = os.environ.get(REDIS_URL_VARIABLE, "").strip()
    if not url:
        redis_unavailable(f"{REDIS_URL_VARIABLE} is not set")
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        redis_unavailable(f"cannot connect to {url} ({exc})")
    finally:
        client.close()
    return url


def test_bank_review_default_key_prefixes_differ() -> None:
    bank_prefix = BankSettings().challenge_key_prefix
    shop_prefix = ShopSettings().challenge_key_prefix
    assert bank_prefix
    assert shop_prefix
    assert not bank_prefix.startswith(shop_prefix)
    assert not shop_prefix.startswith(bank_prefix)


def test_bank_review_two_banks_share_the_redis_challenge_store(world: World, make_bank: MakeBank) -> None:
    url = _redis_url()
    import redis

    prefix = f"test:{uuid.uuid4().hex[:12]}:bank_kyc:challenge:"
    client = redis.Redis.from_url(url)
    try:
        first = make_bank(challenge_store=url, challenge_key_prefix=prefix)
        second = make_bank(challenge_store=url, challenge_key_prefix=prefix)
        signing, login_key = card_keys(world.person(HANAKO))
        opening = start_opening(first)
        keys = list(client.scan_iter(match=prefix + "*"))
        assert len(keys) == 2  # the two challenges of the opening, under the configured prefix
        body = opening_body(opening, signing, login_key)
        answer = complete_opening(second, opening, body)  # another worker finishes it
        assert answer.status_code == 201, answer.text
        problem(complete_opening(first, opening, body), 409, "CHALLENGE_REPLAYED")
        assert len(first.records()) + len(second.records()) >= 1
    finally:
        stale = list(client.scan_iter(match=prefix + "*"))
        if stale:
            client.delete(*stale)
        client.close()


# --------------------------------------------------------------------------------------------- HTTP details


def test_bank_review_405_has_allow_and_401_has_www_authenticate(world: World, bank: Bank) -> None:
    answer = bank.client.get("/accounts/openings")
    problem(answer, 405, "METHOD_NOT_ALLOWED")
    assert answer.headers["allow"] == "POST"
    answer = bank.client.delete("/customers/me")
    problem(answer, 405, "METHOD_NOT_ALLOWED")
    assert answer.headers["allow"] == "GET"
    _, stranger = card_keys(world.person(TARO))
    answer = login(bank, stranger)
    problem(answer, 401, "LOGIN_NOT_RECOGNISED")
    assert answer.headers["www-authenticate"].startswith("JPKI ")
    answer = bank.client.get("/customers/me")
    problem(answer, 401, "UNAUTHENTICATED")
    assert answer.headers["www-authenticate"].startswith("Bearer ")
    answer = bank.client.get("/admin/confirmation-records.jsonl")
    problem(answer, 401, "UNAUTHENTICATED")
    assert answer.headers["www-authenticate"].startswith("Admin-Token ")
    forged = bank.client.post(
        "/webhooks/platform",
        content=b"{}",
        headers={"webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
    )
    problem(forged, 401, "WEBHOOK_SIGNATURE_INVALID")
    assert forged.headers["www-authenticate"].startswith("Standard-Webhooks ")


# --------------------------------------------------------------------------------------------- README


def test_bank_review_readme_opening_snippet_runs_as_written(world: World, bank: Bank, capsys: Any) -> None:
    """The Python block of README section 3, run with its two clients bound to the in-process mock and
    bank (the only lines replaced)."""
    readme = README.read_text(encoding="utf-8")
    marker = readme.index("<!-- bank-readme-opening-snippet")
    match = re.search(r"```python\n(.*?)```", readme[marker:], re.S)
    assert match is not None
    code = match.group(1)
    client_lines = [
        line for line in code.splitlines() if re.match(r"(platform|bank) = httpx\.Client\(", line)
    ]
    assert len(client_lines) == 2
    for line in client_lines:
        code = code.replace(line + "\n", "")
    namespace: dict[str, Any] = {"platform": world.client, "bank": bank.client, "__name__": "readme_snippet"}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["opened"].status_code == 201, namespace["opened"].text
    assert "cus_" in capsys.readouterr().out
    assert len(bank.records()) == 1
