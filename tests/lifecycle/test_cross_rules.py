"""Rules across both platforms: FAQ 2/4/5/6, device change (§4), lost phone and lost card (§5-B),
change of the basic four attributes, PIN counters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from lifecycle_support import (
    CARD_AUTH_PIN,
    CARD_FACE_PIN,
    CARD_PASSWORD,
    MOVED,
    PHONE_PASSWORD,
    PHONE_PIN,
    TARO,
    World,
    problem,
)

from mock_platform.clock import JST
from mock_platform.device import PlatformProblemError, Smartphone


def _start(world: World, phone: Smartphone, person: object) -> None:
    card = person.card  # type: ignore[attr-defined]
    if phone.platform == "android":
        phone.android_apply(card, CARD_PASSWORD)
        phone.read_card(card)
    else:
        phone.iphone_start(card)
        phone.enter_card_face_pin(CARD_FACE_PIN)
        phone.enter_card_signing_password(CARD_PASSWORD)
        phone.read_card(card)


@pytest.mark.parametrize(
    ("first", "second"),
    [("android", "android"), ("android", "iphone"), ("iphone", "android"), ("iphone", "iphone")],
)
def test_FAQ2_one_device_per_person_in_every_combination(world: World, first: str, second: str) -> None:
    hanako = world.person()
    if first == "android":
        world.android_registered(hanako)
    else:
        world.iphone_usable(hanako)
    second_phone = world.phone(second)
    with pytest.raises(PlatformProblemError) as refused:
        _start(world, second_phone, hanako)
    assert (refused.value.status, refused.value.code) == (409, "DEVICE_ALREADY_REGISTERED")


def test_FAQ2_one_device_per_person_iphone_then_android(world: World) -> None:
    hanako = world.person()
    world.iphone_usable(hanako)
    error = problem(world.phone("android").android_apply, hanako.card, CARD_PASSWORD)
    assert error.code == "DEVICE_ALREADY_REGISTERED"


def test_FAQ2_a_pending_application_already_holds_the_slot(world: World) -> None:
    hanako = world.person()
    first = world.phone()
    _start(world, first, hanako)  # card read: the slot is taken
    assert problem(world.phone("iphone").iphone_start, hanako.card).code == "DEVICE_ALREADY_REGISTERED"
    first.cancel()  # an abandoned application frees it
    world.iphone_usable(hanako)


def test_FAQ2_one_person_per_device(world: World) -> None:
    hanako, taro = world.person(), world.person(TARO)
    phone = world.android_registered(hanako)
    error = problem(phone.android_apply, taro.card, CARD_PASSWORD)
    assert error.code == "DEVICE_ALREADY_REGISTERED"


def test_FAQ2_concurrent_applications_racing_one_wins(world: World) -> None:
    """Ten handsets reach the card read for one person at the same moment: the UNIQUE slot lets one win."""
    hanako = world.person()
    phones = [world.phone() for _ in range(10)]
    for phone in phones:
        phone.android_apply(hanako.card, CARD_PASSWORD, certificates=("user_authentication",))
    reads = [hanako.card.read(phone._api) for phone in phones]

    def card_read(index: int) -> int:
        phone = phones[index]
        response = world.client.post(
            f"/android/applications/{phone.registration_id}/card-read",
            json={"device_id": phone.device_id, "card_read": reads[index]},
        )
        return int(response.status_code)

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(card_read, range(10)))
    assert sorted(statuses) == [200] + [409] * 9
    states = [phone.status()["state"] for phone in phones]
    assert states.count("awaiting_passwords") == 1
    assert world.counter.resident(hanako.resident_id)["registration_id"] is not None


def test_4B_android_to_android_supersedes_old(world: World) -> None:
    hanako = world.person()
    old = world.android_registered(hanako)
    new = world.phone()
    body = new.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password="NEWPH2",
        phone_user_authentication_pin="8765",
        device_change=True,
    )
    assert (body["flow"], body["replaces_id"]) == ("device_change", old.registration_id)
    assert world.sdk_status(old.signing) == "good"  # until the new ones are issued
    world.advance(minutes=5)
    new.register()
    assert old.status()["state"] == "superseded"
    assert world.sdk_status(old.signing) == "revoked:superseded"
    assert world.sdk_status(old.user_authentication) == "revoked:superseded"
    assert world.sdk_status(new.signing) == "good"
    assert world.counter.resident(hanako.resident_id)["registration_id"] == new.registration_id
    assert "superseded" in [n["kind"] for n in old.notices()]


def test_4B_device_change_needs_a_registered_android(world: World) -> None:
    hanako = world.person()
    error = problem(world.phone().android_apply, hanako.card, CARD_PASSWORD, device_change=True)
    assert error.code == "NO_REGISTRATION_TO_CHANGE"
    world.iphone_usable(hanako)
    error = problem(world.phone().android_apply, hanako.card, CARD_PASSWORD, device_change=True)
    assert error.code == "NO_REGISTRATION_TO_CHANGE"  # from an iPhone: delete first (3-E), then 2-C


def test_4_android_to_iphone_revoke_first_then_add(world: World) -> None:
    hanako = world.person()
    android = world.android_registered(hanako)
    assert problem(world.phone("iphone").iphone_start, hanako.card).code == "DEVICE_ALREADY_REGISTERED"
    android.stop_with_password(PHONE_PASSWORD)
    iphone = world.iphone_usable(hanako)
    assert world.sdk_status(iphone.signing) == "good"


def test_4_iphone_to_android_delete_first_then_apply(world: World) -> None:
    hanako = world.person()
    iphone = world.iphone_usable(hanako)
    iphone.stop_with_password(PHONE_PASSWORD)
    android = world.android_registered(hanako)
    assert world.sdk_status(android.signing) == "good"
    assert world.sdk_status(iphone.signing) == "revoked:cessationOfOperation"


def test_4_iphone_to_iphone_delete_first_then_add(world: World) -> None:
    hanako = world.person()
    old = world.iphone_usable(hanako)
    old.stop_with_card(hanako.card, CARD_PASSWORD)
    new = world.iphone_usable(hanako)
    assert world.sdk_status(new.user_authentication) == "good"


def test_FAQ4_phone_validity_is_capped_by_the_card_certificate(world: World) -> None:
    hanako = world.person(card_expiry=date(2027, 3, 31))
    card_not_after = hanako.card.signing.certificate.not_valid_after_utc
    assert card_not_after.astimezone(JST).date() == date(2027, 3, 31)
    android = world.android_registered(hanako)
    assert android.signing_certificate.not_valid_after_utc == card_not_after
    auth_cap = hanako.card.user_authentication.certificate.not_valid_after_utc
    assert android.user_authentication_certificate.not_valid_after_utc == auth_cap


def test_FAQ4_card_certificate_renewal_requires_registering_again(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    old_card_signing = hanako.card.signing
    world.counter.renew_card(hanako.card)
    assert phone.status()["state"] == "card_renewed"
    assert world.sdk_status(phone.signing) == "revoked:superseded"
    assert world.sdk_status(old_card_signing) == "revoked:superseded"
    assert world.sdk_status(hanako.card.signing) == "good"
    assert "re_registration_required" in [n["kind"] for n in phone.notices()]
    again = world.android_registered(hanako, phone)  # the same handset registers again
    assert world.sdk_status(again.signing) == "good"


@pytest.mark.parametrize(
    ("on", "platform", "expected"),
    [
        ("2025-08-31", "android", False),
        ("2025-09-01", "android", True),
        ("2025-09-01", "iphone", True),
        ("2025-08-31", "card", True),
    ],
)
def test_FAQ5_health_insurance_on_the_phone_from_2025_09_01(
    world: World, on: str, platform: str, expected: bool
) -> None:
    body = world.client.get("/smartphone/uses", params={"on": on, "platform": platform}).json()
    assert body["health_insurance"] is expected


@pytest.mark.parametrize("platform", ["android", "iphone"])
def test_FAQ6_drivers_licence_never_on_the_phone(world: World, platform: str) -> None:
    for on in ("2025-01-01", "2030-12-31"):
        body = world.client.get("/smartphone/uses", params={"on": on, "platform": platform}).json()
        assert body["drivers_licence"] is False
    assert world.client.get("/smartphone/uses", params={"on": "2030-01-01", "platform": "card"}).json()[
        "drivers_licence"
    ]


@pytest.mark.parametrize("platform", ["android", "iphone"])
def test_5B_lost_phone_suspend_and_resume(world: World, platform: str) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako) if platform == "android" else world.iphone_usable(hanako)
    old_signing = phone.signing
    suspended = world.counter.suspend_phone(hanako.resident_id)
    assert suspended["state"] == "suspended"
    assert world.sdk_status(phone.user_authentication) == "on_hold"
    assert world.sdk_status(phone.signing) == "revoked:keyCompromise"
    assert "suspended" in [n["kind"] for n in phone.notices()]
    # found: resume in the app (card signing password + card read)
    resumed = phone.resume(hanako.card, CARD_PASSWORD)
    assert resumed["state"] == ("applied" if platform == "android" else "pending")
    assert world.sdk_status(phone.user_authentication) == "good"  # hold released
    world.advance(minutes=10)
    registered = phone.register() if platform == "android" else phone.provision()
    assert registered["state"] == "registered"
    assert phone.signing is not old_signing
    assert world.sdk_status(phone.signing) == "good"  # re-issued
    assert world.sdk_status(old_signing) == "revoked:keyCompromise"


def test_5B_lost_phone_hotline_needs_a_registered_phone(world: World) -> None:
    hanako = world.person()
    assert problem(world.counter.suspend_phone, hanako.resident_id).code == "UNKNOWN_REGISTRATION"
    assert problem(world.counter.suspend_phone, "res_nobody").code == "UNKNOWN_RESIDENT"


def test_5B_lost_card_suspended_then_found(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    old_card_signing = hanako.card.signing
    assert world.counter.suspend_card(hanako.card)["state"] == "suspended"
    assert world.sdk_status(hanako.card.user_authentication) == "on_hold"
    assert world.sdk_status(old_card_signing) == "revoked:keyCompromise"
    assert world.sdk_status(phone.signing) == "good"  # the mock keeps the phone
    assert problem(world.phone("iphone").iphone_start, hanako.card).code == "CARD_NOT_USABLE"
    found = world.counter.card_found(hanako.card)
    assert found["state"] == "active"
    assert world.sdk_status(hanako.card.user_authentication) == "good"  # hold released at the counter
    assert world.sdk_status(old_card_signing) == "revoked:keyCompromise"  # stays revoked
    assert world.sdk_status(hanako.card.signing) == "good"  # a new one was issued


def test_RULE_change_of_attributes_revokes_every_signing_certificate_keeps_user_authentication(
    world: World,
) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    old_card_signing = hanako.card.signing
    world.counter.change_attributes(hanako.card, MOVED)
    assert world.sdk_status(old_card_signing) == "revoked:affiliationChanged"
    assert world.sdk_status(phone.signing) == "revoked:affiliationChanged"
    assert world.sdk_status(phone.user_authentication) == "good"
    assert world.sdk_status(hanako.card.user_authentication) == "good"
    verification = world.verifier().verify_signature(
        data=b"x", signature=hanako.card.signing.sign(b"x"), certificate=hanako.card.signing.certificate
    )
    assert verification.attributes is not None
    assert verification.attributes.address == MOVED["address"]
    assert world.counter.resident(hanako.resident_id)["attributes_version"] == 2
    assert "signing_revoked" in [n["kind"] for n in phone.notices()]


def test_RULE_card_and_phone_pin_counters_are_separate(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    assert problem(phone.stop_with_password, "WRONG9")["remaining_tries"] == 4
    assert problem(phone.stop_with_password, "WRONG9")["remaining_tries"] == 3
    card_error = problem(hanako.card.verify_pin, world.client, "card_signing", "WRONG9")
    assert card_error["remaining_tries"] == 4  # the card's counter is untouched by the phone's


def test_RULE_card_user_authentication_pin_locks_after_three(world: World) -> None:
    hanako = world.person()
    card = hanako.card
    assert problem(card.verify_pin, world.client, "card_user_authentication", "0000")["remaining_tries"] == 2
    card.verify_pin(world.client, "card_user_authentication", CARD_AUTH_PIN)  # correct: counter reset
    for remaining in (2, 1):
        assert (
            problem(card.verify_pin, world.client, "card_user_authentication", "0000")["remaining_tries"]
            == remaining
        )
    assert problem(card.verify_pin, world.client, "card_user_authentication", "0000").code == "PIN_LOCKED"
    assert (
        problem(card.verify_pin, world.client, "card_user_authentication", CARD_AUTH_PIN).code == "PIN_LOCKED"
    )
    world.counter.reset_pin(card, "card_user_authentication", "2468")
    card.verify_pin(world.client, "card_user_authentication", "2468")


def test_RULE_counter_pin_reset_checks_the_format(world: World) -> None:
    hanako = world.person()
    assert (
        problem(world.counter.reset_pin, hanako.card, "card_signing", "short").code
        == "INVALID_PASSWORD_FORMAT"
    )
    assert (
        problem(world.counter.reset_pin, hanako.card, "card_face", "12345").code == "INVALID_PASSWORD_FORMAT"
    )
    with pytest.raises(PlatformProblemError):
        world.counter.issue_card(
            hanako.resident_id, signing_password="AB1234", user_authentication_pin="1", card_face_pin="1234"
        )


def test_RULE_phone_signing_password_locks_after_five(world: World) -> None:
    hanako = world.person()
    phone = world.android_registered(hanako)
    for _ in range(4):
        problem(phone.stop_with_password, "WRONG9")
    assert problem(phone.stop_with_password, "WRONG9").code == "PIN_LOCKED"
    assert problem(phone.stop_with_password, PHONE_PASSWORD).code == "PIN_LOCKED"
    assert phone.stop_with_card(hanako.card, CARD_PASSWORD)["state"] == "revoked"  # the card still works


def test_RULE_phone_pin_stored_only_as_argon2id_hash(world: World) -> None:
    from mock_platform.db import PinRecord

    hanako = world.person()
    world.android_registered(hanako)
    service = world.client.app.state.lifecycle  # type: ignore[attr-defined]
    with service._db.transaction() as session:
        hashes = [record.hash for record in session.query(PinRecord).all()]
    assert hashes
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any(secret in h for h in hashes for secret in (CARD_PASSWORD, PHONE_PASSWORD, PHONE_PIN))


def test_4B_old_handset_stopped_meanwhile_the_new_one_still_registers(world: World) -> None:
    hanako = world.person()
    old = world.android_registered(hanako)
    new = world.phone()
    new.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password="NEWPH2",
        phone_user_authentication_pin="8765",
        device_change=True,
    )
    old.stop_with_password(PHONE_PASSWORD)
    world.advance(minutes=5)
    assert new.register()["state"] == "registered"
    assert old.status()["state"] == "revoked"
    assert world.counter.resident(hanako.resident_id)["registration_id"] == new.registration_id


def test_4B_only_one_device_change_per_old_handset(world: World) -> None:
    hanako = world.person()
    world.android_registered(hanako)
    world.phone().android_apply(hanako.card, CARD_PASSWORD, device_change=True)
    error = problem(world.phone().android_apply, hanako.card, CARD_PASSWORD, device_change=True)
    assert error.code == "DEVICE_ALREADY_REGISTERED"


def test_FAQ4_renewal_ends_unfinished_applications_too(world: World) -> None:
    hanako = world.person()
    phone = world.phone("iphone")
    phone.iphone_start(hanako.card)
    world.counter.renew_card(hanako.card)
    assert phone.status()["state"] == "card_renewed"


def test_RULE_one_card_per_resident_even_when_issued_concurrently(world: World) -> None:
    resident_id = world.counter.enrol(TARO)

    def issue(_: int) -> str:
        try:
            world.counter.issue_card(
                resident_id,
                signing_password=CARD_PASSWORD,
                user_authentication_pin=CARD_AUTH_PIN,
                card_face_pin=CARD_FACE_PIN,
            )
        except PlatformProblemError as error:
            return error.code
        return "issued"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(issue, range(4)))
    assert outcomes == ["CARD_ALREADY_ISSUED"] * 3 + ["issued"]
    assert len(world.counter.resident(resident_id)["card_ids"]) == 1
