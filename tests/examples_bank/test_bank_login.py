"""Login at the example bank with the user authentication certificate (利用者証明用電子証明書): the customer
is found by the certificate's opaque subject id, never by personal data."""

from __future__ import annotations

import json
import logging

import pytest
from bank_support import Bank, b64, b64url_decode, card_keys, login, me, open_account, phone_keys, problem
from lifecycle_support import HANAKO, PHONE_PASSWORD, TARO, World


def test_bank_login_with_the_card_finds_the_same_customer(world: World, bank: Bank) -> None:
    signing, authentication = card_keys(world.person(HANAKO))
    opened = open_account(bank, signing, authentication)
    answer = login(bank, authentication)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer_id"] == opened["customer_id"]
    assert body["token_type"] == "Bearer"
    assert body["form_factor"] == "card"
    assert body["reverification_required"] is False
    assert set(body) == {
        "customer_id",
        "access_token",
        "token_type",
        "expires_at",
        "form_factor",
        "reverification_required",
    }
    account = me(bank, body["access_token"])
    assert account.status_code == 200, account.text
    data = account.json()
    assert data["customer_id"] == opened["customer_id"]
    assert data["name"] == HANAKO["name"]
    assert data["address"] == HANAKO["address"]
    assert data["date_of_birth"] == HANAKO["date_of_birth"]
    assert "gender" not in data  # not kept for the account
    assert data["login_credentials"] == [
        {"form_factor": "card", "bound_at": data["login_credentials"][0]["bound_at"], "suspended": False}
    ]


def test_bank_login_with_the_phone_used_at_opening(world: World, bank: Bank) -> None:
    phone = world.iphone_usable(world.person(TARO))
    signing, authentication = phone_keys(phone)
    opened = open_account(bank, signing, authentication)
    answer = login(bank, authentication)
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer_id"] == opened["customer_id"]
    assert answer.json()["form_factor"] == "iphone"


def test_bank_stranger_is_refused(world: World, bank: Bank) -> None:
    signing, authentication = card_keys(world.person(HANAKO))
    open_account(bank, signing, authentication)
    _, stranger = card_keys(world.person(TARO))  # a valid certificate, no account here
    problem(login(bank, stranger), 401, "LOGIN_NOT_RECOGNISED")


def test_bank_another_certificate_of_the_customer_is_not_linked(world: World, bank: Bank) -> None:
    """The link is the certificate bound at opening: the same person's phone is another certificate."""
    person = world.person(HANAKO)
    signing, card_authentication = card_keys(person)
    open_account(bank, signing, card_authentication)
    _, phone_authentication = phone_keys(world.android_registered(person))
    problem(login(bank, phone_authentication), 401, "LOGIN_NOT_RECOGNISED")


def test_bank_login_refusals(world: World, bank: Bank) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    signing, authentication = phone_keys(phone)
    open_account(bank, signing, authentication)
    # The signing certificate is not a login certificate.
    problem(login(bank, signing), 422, "WRONG_KEY_USAGE")
    # A signature over something else.
    challenge = bank.client.post("/login/challenges").json()
    body = {
        "session_id": challenge["session_id"],
        "challenge_id": challenge["challenge_id"],
        "signature": b64(authentication.sign(b"something else")),
        "certificate": authentication.der_b64,
    }
    problem(bank.client.post("/login", json=body), 422, "SIGNATURE_INVALID")
    # The challenge was burned by the failed attempt.
    body["signature"] = b64(authentication.sign(b64url_decode(challenge["challenge"])))
    problem(bank.client.post("/login", json=body), 409, "CHALLENGE_REPLAYED")
    # Another login session's challenge.
    other = bank.client.post("/login/challenges").json()
    problem(
        bank.client.post("/login", json={**body, "session_id": other["session_id"]}),
        409,
        "CHALLENGE_REPLAYED",
    )
    fresh = bank.client.post("/login/challenges").json()
    problem(
        bank.client.post(
            "/login",
            json={
                **body,
                "challenge_id": fresh["challenge_id"],
                "signature": b64(authentication.sign(b64url_decode(fresh["challenge"]))),
            },
        ),
        403,
        "CHALLENGE_MISMATCH",
    )
    # A lost phone: the user-authentication certificate is on hold.
    world.counter.suspend_phone(person.resident_id)
    problem(login(bank, authentication), 403, "CERTIFICATE_ON_HOLD")


def test_bank_login_after_the_phone_is_stopped(world: World, bank: Bank) -> None:
    phone = world.android_registered(world.person(HANAKO))
    signing, authentication = phone_keys(phone)
    open_account(bank, signing, authentication)
    phone.stop_with_password(PHONE_PASSWORD)
    problem(login(bank, authentication), 403, "CERTIFICATE_REVOKED")


def test_bank_customer_routes_need_a_live_token(world: World, bank: Bank) -> None:
    signing, authentication = card_keys(world.person(HANAKO))
    open_account(bank, signing, authentication)
    problem(bank.client.get("/customers/me"), 401, "UNAUTHENTICATED")
    problem(me(bank, "not-a-token"), 401, "UNAUTHENTICATED")
    token = login(bank, authentication).json()["access_token"]
    assert me(bank, token).status_code == 200
    world.advance(minutes=31)  # sessions last 30 minutes
    body = problem(me(bank, token), 401, "UNAUTHENTICATED")
    assert "expired" in body["detail"]


def test_bank_logs_carry_no_personal_data(world: World, bank: Bank, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signing, authentication = card_keys(world.person(HANAKO))
    opened = open_account(bank, signing, authentication)
    token = login(bank, authentication).json()["access_token"]
    me(bank, token)
    _, stranger = card_keys(world.person(TARO))
    login(bank, stranger)
    text = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("examples.bank_kyc", "myna_rp"))
    )
    assert opened["customer_id"] in text  # the log does say what happened
    assert "account opened" in text
    for resident in (HANAKO, TARO):
        for key in ("name", "address", "date_of_birth"):
            assert resident[key] not in text
    assert token not in text
    assert json.dumps(HANAKO["name"])[1:-1] not in text
