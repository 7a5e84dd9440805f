"""The iPhone My Number Card, guide §3 (3-A … 3-F)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from lifecycle_support import CARD_FACE_PIN, CARD_PASSWORD, PHONE_PASSWORD, PHONE_PIN, TARO, World, problem

from mock_platform.clock import JST
from myna_rp.jpki import FormFactor


def _until_credentials(world: World, phone_platform: str = "iphone") -> tuple[object, object]:
    hanako = world.person()
    phone = world.phone(phone_platform)
    phone.iphone_start(hanako.card)
    phone.enter_card_face_pin(CARD_FACE_PIN)
    phone.enter_card_signing_password(CARD_PASSWORD)
    phone.read_card(hanako.card)
    return hanako, phone


def test_3A_the_card_face_pin_is_required_and_locks_after_three(world: World) -> None:
    hanako = world.person()
    phone = world.phone("iphone")
    phone.iphone_start(hanako.card)
    assert problem(phone.enter_card_face_pin, "0000")["remaining_tries"] == 2
    assert problem(phone.enter_card_face_pin, "0000")["remaining_tries"] == 1
    third = problem(phone.enter_card_face_pin, "0000")
    assert (third.code, third["pin"]) == ("PIN_LOCKED", "card_face")
    assert problem(phone.enter_card_face_pin, CARD_FACE_PIN).code == "PIN_LOCKED"
    world.counter.reset_pin(hanako.card, "card_face", "5555")
    assert phone.enter_card_face_pin("5555")["state"] == "awaiting_signing_password"


def test_3C_liveness_failure_stores_nothing(world: World) -> None:
    hanako = world.person()
    phone = world.phone("iphone")
    error = problem(phone.iphone_start, hanako.card, liveness_passed=False)
    assert (error.status, error.code) == (422, "LIVENESS_FAILED")
    assert phone.registration_id is None
    assert problem(phone.notices).code == "UNKNOWN_DEVICE"  # not even the device was recorded


def test_3C_terms_must_be_accepted(world: World) -> None:
    hanako = world.person()
    assert (
        problem(world.phone("iphone").iphone_start, hanako.card, terms_accepted=False).code
        == "TERMS_NOT_ACCEPTED"
    )


def test_3C_steps_in_the_guide_order(world: World) -> None:
    hanako = world.person()
    phone = world.phone("iphone")
    assert phone.iphone_start(hanako.card)["state"] == "awaiting_card_face_pin"
    assert problem(phone.enter_card_signing_password, CARD_PASSWORD).code == "STEP_OUT_OF_ORDER"
    assert problem(phone.read_card, hanako.card).code == "STEP_OUT_OF_ORDER"
    assert phone.enter_card_face_pin(CARD_FACE_PIN)["state"] == "awaiting_signing_password"
    assert problem(phone.enter_card_signing_password, "WRONG1")["remaining_tries"] == 4
    assert phone.enter_card_signing_password(CARD_PASSWORD)["state"] == "awaiting_card_read"
    assert phone.read_card(hanako.card)["state"] == "awaiting_passwords"
    assert problem(phone.add_to_wallet).code == "STEP_OUT_OF_ORDER"
    assert phone.set_passwords(signing_password=PHONE_PASSWORD, user_authentication_pin=PHONE_PIN)[
        "state"
    ] == ("awaiting_wallet")
    assert phone.add_to_wallet()["state"] == "pending"


def test_3C_android_calls_are_refused_on_an_iphone_id(world: World) -> None:
    hanako = world.person()
    phone = world.phone("iphone")
    phone.iphone_start(hanako.card)
    android = world.phone("android", device_id=phone.device_id)
    assert problem(android.android_apply, hanako.card, CARD_PASSWORD).code == "PLATFORM_MISMATCH"


@pytest.mark.parametrize(
    ("password", "pin", "code"),
    [
        ("iphone1", PHONE_PIN, "INVALID_PASSWORD_FORMAT"),
        (PHONE_PASSWORD, "12345", "INVALID_PASSWORD_FORMAT"),
    ],
)
def test_3D_iphone_pin_and_password_formats(world: World, password: str, pin: str, code: str) -> None:
    _, phone = _until_credentials(world)
    assert problem(phone.set_passwords, signing_password=password, user_authentication_pin=pin).code == code  # type: ignore[attr-defined]


def test_3D_iphone_pin_typed_twice(world: World) -> None:
    _, phone = _until_credentials(world)
    error = problem(
        phone.set_passwords,  # type: ignore[attr-defined]
        signing_password=PHONE_PASSWORD,
        user_authentication_pin=PHONE_PIN,
        user_authentication_pin_confirmation="0000",
    )
    assert (error.code, error["pin"]) == ("PASSWORD_MISMATCH", "phone_user_authentication")
    error = problem(phone.set_passwords, user_authentication_pin=PHONE_PIN)  # type: ignore[attr-defined]
    assert error.code == "INVALID_LIFECYCLE_REQUEST"  # the iPhone needs both


def test_3D_iphone_signing_password_may_equal_the_cards(world: World) -> None:
    _, phone = _until_credentials(world)
    body = phone.set_passwords(signing_password=CARD_PASSWORD, user_authentication_pin=PHONE_PIN)  # type: ignore[attr-defined]
    assert body["state"] == "awaiting_wallet"


def test_3D_pending_until_the_usable_time_then_usable(world: World) -> None:
    hanako = world.person()
    phone = world.phone("iphone")
    body = phone.iphone_add_all(
        hanako.card,
        card_face_pin=CARD_FACE_PIN,
        card_signing_password=CARD_PASSWORD,
        iphone_pin=PHONE_PIN,
        iphone_signing_password=PHONE_PASSWORD,
    )
    added = datetime.fromisoformat(body["applied_at"])
    notice_at, usable_at = (
        datetime.fromisoformat(body["notice_at"]),
        datetime.fromisoformat(body["usable_at"]),
    )
    assert (notice_at - added, usable_at - notice_at) == (timedelta(minutes=5), timedelta(minutes=5))
    assert body["certificates"] == []
    with pytest.raises(LookupError):
        phone.sign(b"pending")  # nothing an RP could verify yet
    world.advance(minutes=5)
    assert [n["kind"] for n in phone.notices()] == ["wallet_usable"]
    error = problem(phone.provision)  # the notice came, but use lags by about 5 minutes
    assert (error.code, datetime.fromisoformat(error["usable_at"])) == ("NOT_READY", usable_at)
    assert phone.status()["state"] == "pending"
    world.advance(minutes=5)
    assert phone.provision()["state"] == "registered"
    verification = world.verifier().verify_signature(
        data=b"doc", signature=phone.sign(b"doc"), certificate=phone.signing_certificate
    )
    assert verification.form_factor is FormFactor.IPHONE


def test_3D_added_after_1930_is_usable_from_0805_next_day(world: World) -> None:
    hanako = world.person()
    world.set_jst(21, 0)
    phone = world.phone("iphone")
    body = phone.iphone_add_all(
        hanako.card,
        card_face_pin=CARD_FACE_PIN,
        card_signing_password=CARD_PASSWORD,
        iphone_pin=PHONE_PIN,
        iphone_signing_password=PHONE_PASSWORD,
    )
    usable = datetime.fromisoformat(body["usable_at"]).astimezone(JST)
    assert (usable.day - world.clock.now().astimezone(JST).day, usable.hour, usable.minute) == (1, 8, 5)
    world.set_jst(8, 4, days=1)
    assert problem(phone.provision).code == "NOT_READY"
    world.advance(minutes=1)
    assert phone.provision()["state"] == "registered"


def test_3D_the_iphone_gets_signing_and_user_authentication_certificates(world: World) -> None:
    hanako = world.person()
    phone = world.iphone_usable(hanako)
    assert sorted(c["kind"] for c in phone.status()["certificates"]) == ["signing", "user_authentication"]
    assert world.sdk_status(phone.user_authentication) == "good"


def test_3E_delete_on_this_iphone_with_its_signing_password(world: World) -> None:
    hanako = world.person()
    phone = world.iphone_usable(hanako)
    assert phone.stop_with_password(PHONE_PASSWORD)["state"] == "revoked"
    assert world.sdk_status(phone.signing) == "revoked:cessationOfOperation"
    assert world.sdk_status(phone.user_authentication) == "revoked:cessationOfOperation"


def test_3E_delete_on_this_iphone_with_the_physical_card(world: World) -> None:
    hanako = world.person()
    phone = world.iphone_usable(hanako)
    assert phone.stop_with_card(hanako.card, CARD_PASSWORD)["state"] == "revoked"
    assert world.sdk_status(phone.signing) == "revoked:cessationOfOperation"


def test_3F_delete_from_another_iphone(world: World) -> None:
    hanako = world.person()
    lost = world.iphone_usable(hanako)
    other = world.phone("iphone")
    assert problem(other.delete_other, hanako.card, "WRONG1").code == "PIN_INCORRECT"
    body = other.delete_other(hanako.card, CARD_PASSWORD)
    assert (body["registration_id"], body["state"]) == (lost.registration_id, "revoked")
    assert world.sdk_status(lost.signing) == "revoked:cessationOfOperation"
    assert world.sdk_status(lost.user_authentication) == "revoked:cessationOfOperation"
    assert [n["kind"] for n in lost.notices()][-1] == "revoked"
    world.iphone_usable(hanako, other)  # the freed person can now add the card on this iPhone


def test_3F_only_from_a_handset_without_a_card(world: World) -> None:
    hanako, taro = world.person(), world.person(TARO)
    world.iphone_usable(hanako)
    taros_phone = world.iphone_usable(taro)
    assert problem(taros_phone.delete_other, hanako.card, CARD_PASSWORD).code == "INVALID_LIFECYCLE_REQUEST"
    nobody = world.person(TARO)
    assert (
        problem(world.phone("iphone").delete_other, nobody.card, CARD_PASSWORD).code == "UNKNOWN_REGISTRATION"
    )
