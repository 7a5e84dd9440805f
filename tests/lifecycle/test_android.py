"""Android smartphone certificates, guide §2 (2-A … 2-F) and the notice rule (FAQ 1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from lifecycle_support import CARD_PASSWORD, PHONE_PASSWORD, PHONE_PIN, TARO, World, problem

from mock_platform.clock import JST
from myna_rp.jpki import FormFactor


def test_2A_card_whose_signing_certificate_is_not_valid_cannot_apply(world: World) -> None:
    hanako = world.person()
    world.counter.suspend_card(hanako.card)  # lost card: signing certificate revoked
    error = problem(world.phone().android_apply, hanako.card, CARD_PASSWORD)
    assert (error.status, error.code) == (409, "CARD_NOT_USABLE")


def test_2A_unknown_card_is_a_clear_404(world: World) -> None:
    hanako = world.person()
    hanako.card.card_id = "card_000000000000000000000000"
    error = problem(world.phone().android_apply, hanako.card, CARD_PASSWORD)
    assert (error.status, error.code) == (404, "UNKNOWN_CARD")


def test_2C_wrong_signing_password_counts_down(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    remaining = [problem(phone.android_apply, hanako.card, "WRONG1")["remaining_tries"] for _ in range(4)]
    assert remaining == [4, 3, 2, 1]
    phone.android_apply(hanako.card, CARD_PASSWORD)  # a correct entry resets the counter
    phone.cancel()
    assert problem(phone.android_apply, hanako.card, "WRONG1")["remaining_tries"] == 4


def test_2C_five_wrong_signing_passwords_lock_until_the_counter_resets_it(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    for _ in range(4):
        assert problem(phone.android_apply, hanako.card, "WRONG1").code == "PIN_INCORRECT"
    fifth = problem(phone.android_apply, hanako.card, "WRONG1")
    assert (fifth.status, fifth.code, fifth["pin"]) == (423, "PIN_LOCKED", "card_signing")
    assert problem(phone.android_apply, hanako.card, CARD_PASSWORD).code == "PIN_LOCKED"
    world.counter.reset_pin(hanako.card, "card_signing", "NEWPW9")
    assert phone.android_apply(hanako.card, "NEWPW9")["state"] == "awaiting_card_read"


def test_2C_one_certificate_may_be_unchecked(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako, certificates=("user_authentication",))
    kinds = [c["kind"] for c in phone.status()["certificates"]]
    assert kinds == ["user_authentication"]
    assert phone.signing is None
    assert world.sdk_status(phone.user_authentication) == "good"


def test_2C_at_least_one_certificate_and_the_notes_must_be_accepted(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    assert (
        problem(phone.android_apply, hanako.card, CARD_PASSWORD, certificates=()).code
        == "NO_CERTIFICATE_CHOSEN"
    )
    error = problem(phone.android_apply, hanako.card, CARD_PASSWORD, notes_accepted=False)
    assert error.code == "TERMS_NOT_ACCEPTED"


def test_2C_card_read_must_be_signed_by_this_card(world: World) -> None:
    hanako, taro = world.person(), world.person(TARO)
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD)
    impostor = hanako.card
    impostor_signing, impostor.signing = impostor.signing, taro.card.signing  # another card's key
    assert problem(phone.read_card, impostor).code == "CARD_READ_FAILED"
    impostor.signing = impostor_signing
    assert phone.read_card(hanako.card)["state"] == "awaiting_passwords"


def test_2C_card_challenge_is_single_use(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD)
    read = hanako.card.read(phone._api)
    path = f"/android/applications/{phone.registration_id}/card-read"
    first = world.client.post(path, json={"device_id": phone.device_id, "card_read": read})
    assert first.status_code == 200
    phone.cancel()
    other = world.phone()
    other.android_apply(hanako.card, CARD_PASSWORD)
    replay = world.client.post(
        f"/android/applications/{other.registration_id}/card-read",
        json={"device_id": other.device_id, "card_read": read},
    )
    assert replay.json()["code"] == "CHALLENGE_EXPIRED"


def test_2C_steps_out_of_order_are_refused(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD)
    error = problem(phone.set_passwords, signing_password=PHONE_PASSWORD, user_authentication_pin=PHONE_PIN)
    assert (error.status, error.code, error["state"]) == (409, "STEP_OUT_OF_ORDER", "awaiting_card_read")
    assert problem(phone.register).code == "STEP_OUT_OF_ORDER"


def test_2C_steps_only_from_the_applying_handset(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD)
    thief = world.phone()
    thief.registration_id = phone.registration_id
    assert problem(thief.read_card, hanako.card).code == "WRONG_DEVICE"


@pytest.mark.parametrize(
    ("signing", "pin", "field"),
    [
        ("phone1", PHONE_PIN, "phone_signing"),  # lower case
        ("PHON1", PHONE_PIN, "phone_signing"),  # 5 characters
        ("PHONE1234567890AB", PHONE_PIN, "phone_signing"),  # 17 characters
        ("PHONEX", PHONE_PIN, "phone_signing"),  # no digit
        ("PHONE-1", PHONE_PIN, "phone_signing"),  # symbol
        (PHONE_PASSWORD, "123", "phone_user_authentication"),
        (PHONE_PASSWORD, "12a4", "phone_user_authentication"),
    ],
)
def test_2D_bad_password_format_is_a_clear_error_and_nothing_is_stored(
    world: World, signing: str, pin: str, field: str
) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD)
    phone.read_card(hanako.card)
    error = problem(phone.set_passwords, signing_password=signing, user_authentication_pin=pin)
    assert (error.status, error.code, error["pin"]) == (422, "INVALID_PASSWORD_FORMAT", field)
    assert phone.status()["state"] == "awaiting_passwords"
    assert (
        phone.set_passwords(signing_password=PHONE_PASSWORD, user_authentication_pin=PHONE_PIN)["state"]
        == "applied"
    )


def test_2D_typed_twice_mismatch_is_refused_and_nothing_is_stored(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD)
    phone.read_card(hanako.card)
    error = problem(
        phone.set_passwords,
        signing_password=PHONE_PASSWORD,
        signing_password_confirmation="PHONE2",
        user_authentication_pin=PHONE_PIN,
    )
    assert (error.code, error["pin"]) == ("PASSWORD_MISMATCH", "phone_signing")
    error = problem(
        phone.set_passwords,
        signing_password=PHONE_PASSWORD,
        user_authentication_pin=PHONE_PIN,
        user_authentication_pin_confirmation="9999",
    )
    assert error.code == "PASSWORD_MISMATCH"
    assert phone.status()["state"] == "awaiting_passwords"


def test_2D_signing_password_only_when_the_signing_certificate_was_applied_for(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply(hanako.card, CARD_PASSWORD, certificates=("user_authentication",))
    phone.read_card(hanako.card)
    error = problem(phone.set_passwords, signing_password=PHONE_PASSWORD, user_authentication_pin=PHONE_PIN)
    assert error.code == "INVALID_LIFECYCLE_REQUEST"
    assert phone.set_passwords(user_authentication_pin=PHONE_PIN)["state"] == "applied"


def test_2E_notice_a_few_minutes_after_an_application_in_business_hours(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    body = phone.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password=PHONE_PASSWORD,
        phone_user_authentication_pin=PHONE_PIN,
    )
    applied = datetime.fromisoformat(body["applied_at"])
    assert datetime.fromisoformat(body["notice_at"]) - applied == (world.clock.now() - world.clock.now()) + (
        datetime.fromisoformat(body["notice_at"]) - applied
    )
    assert (datetime.fromisoformat(body["notice_at"]) - applied).total_seconds() == 300
    assert phone.notices() == []
    world.advance(minutes=5)
    [notice] = phone.notices()
    assert (notice["kind"], notice["registration_id"]) == ("registration_ready", phone.registration_id)


@pytest.mark.parametrize(
    ("hour", "minute", "notice_day", "notice_time"),
    [
        (8, 0, 0, (8, 5)),
        (19, 29, 0, (19, 34)),
        (19, 30, 1, (8, 0)),
        (23, 59, 1, (8, 0)),
        (0, 30, 0, (8, 0)),
        (7, 59, 0, (8, 0)),
    ],
)
def test_2E_notice_rule_business_hours_0800_to_1930(
    world: World, hour: int, minute: int, notice_day: int, notice_time: tuple[int, int]
) -> None:
    hanako = world.person()
    world.set_jst(hour, minute, days=1)
    phone = world.phone()
    body = phone.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password=PHONE_PASSWORD,
        phone_user_authentication_pin=PHONE_PIN,
    )
    applied = datetime.fromisoformat(body["applied_at"]).astimezone(JST)
    notice = datetime.fromisoformat(body["notice_at"]).astimezone(JST)
    assert (notice.date() - applied.date()).days == notice_day
    assert (notice.hour, notice.minute) == notice_time


@pytest.mark.parametrize("day", range(7))
def test_2E_notice_rule_is_the_same_every_day_of_the_week(world: World, day: int) -> None:
    hanako = world.person()
    world.set_jst(20, 0, days=day + 1)
    phone = world.phone()
    body = phone.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_user_authentication_pin=PHONE_PIN,
        certificates=("user_authentication",),
    )
    notice = datetime.fromisoformat(body["notice_at"]).astimezone(JST)
    assert (notice.hour, notice.minute, notice.weekday()) == (
        8,
        0,
        (world.clock.now().astimezone(JST).weekday() + 1) % 7,
    )


def test_2E_register_before_notice_is_not_ready(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password=PHONE_PASSWORD,
        phone_user_authentication_pin=PHONE_PIN,
    )
    world.advance(minutes=4, seconds=59)
    error = problem(phone.register)
    assert (error.status, error.code) == (409, "NOT_READY")
    assert "notice_at" in error.body
    world.advance(seconds=1)
    assert phone.register()["state"] == "registered"


def test_2E_registration_writes_android_certificates_the_sdk_accepts(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    verification = world.verifier().verify_signature(
        data=b"contract", signature=phone.sign(b"contract"), certificate=phone.signing_certificate
    )
    assert verification.form_factor is FormFactor.ANDROID
    assert verification.attributes is not None
    assert verification.attributes.address == "東京都千代田区試験町一丁目99番99号"
    login = world.verifier().verify_authentication(
        challenge=b"nonce-1",
        signature=phone.authenticate(b"nonce-1"),
        certificate=phone.user_authentication_certificate,
    )
    assert login.form_factor is FormFactor.ANDROID
    assert phone.signing_certificate.public_key() == phone.signing.public_key()  # type: ignore[union-attr]


def test_2F_stop_with_the_phone_signing_password_revokes_both(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    assert problem(phone.stop_with_password, "WRONG9")["remaining_tries"] == 4
    body = phone.stop_with_password(PHONE_PASSWORD)
    assert (body["state"], body["end_reason"]) == ("revoked", "stopped_by_user")
    assert world.sdk_status(phone.signing) == "revoked:cessationOfOperation"
    assert world.sdk_status(phone.user_authentication) == "revoked:cessationOfOperation"
    assert world.counter.resident(hanako.resident_id)["registration_id"] is None


def test_2F_stop_by_reading_the_card_instead(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    assert problem(phone.stop_with_card, hanako.card, "WRONG9").code == "PIN_INCORRECT"
    assert phone.stop_with_card(hanako.card, CARD_PASSWORD)["state"] == "revoked"
    assert world.sdk_status(phone.signing) == "revoked:cessationOfOperation"
    assert world.sdk_status(hanako.card.signing) == "good"


def test_2F_auth_only_handset_has_no_phone_password_and_stops_with_the_card(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako, certificates=("user_authentication",))
    assert problem(phone.stop_with_password, PHONE_PASSWORD).code == "INVALID_LIFECYCLE_REQUEST"
    assert phone.stop_with_card(hanako.card, CARD_PASSWORD)["state"] == "revoked"


def test_FAQ1_usable_only_after_registration_following_the_notice(world: World) -> None:
    hanako = world.person()
    phone = world.phone()
    phone.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password=PHONE_PASSWORD,
        phone_user_authentication_pin=PHONE_PIN,
    )
    with pytest.raises(LookupError):
        phone.sign(b"too early")
    world.advance(minutes=5)
    phone.register()
    assert isinstance(phone.signing_certificate, x509.Certificate)
    assert world.sdk_status(phone.signing) == "good"
    assert datetime.fromisoformat(phone.status()["registered_at"]) == world.clock.now().astimezone(UTC)
