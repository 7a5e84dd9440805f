"""Review findings: an abandoned 機種変更 (4-B) must not hold its handset forever; phone keys a real
handset would never send (reused, the card's own, duplicate certificate kinds) are refused at 2-C/3-C."""

from __future__ import annotations

from typing import Any

import pytest
from lifecycle_support import CARD_PASSWORD, PHONE_PASSWORD, TARO, Person, World, problem
from sqlalchemy import func, select

from mock_platform.ca.profile import FormFactor
from mock_platform.db import (
    CardRecord,
    DeviceRecord,
    OwnedCertificateRecord,
    PinRecord,
    SmartphoneRegistrationRecord,
)
from mock_platform.device import Smartphone


def _db(world: World) -> Any:
    return world.client.app.state.lifecycle._db  # type: ignore[attr-defined]


def _row(world: World, registration_id: str) -> SmartphoneRegistrationRecord:
    with _db(world).transaction() as session:
        record: SmartphoneRegistrationRecord = session.scalars(
            select(SmartphoneRegistrationRecord).where(
                SmartphoneRegistrationRecord.public_id == registration_id
            )
        ).one()
        return record


def _change_device(world: World, person: Person) -> Smartphone:
    """4-B ③–⑩ on a new handset, until ``applied``."""
    new = world.phone()
    body = new.android_apply_all(
        person.card,
        CARD_PASSWORD,
        phone_signing_password="NEWPH2",
        phone_user_authentication_pin="8765",
        device_change=True,
    )
    assert (body["flow"], body["state"]) == ("device_change", "applied")
    return new


# ------------------------------------------------------------------------- 4-B abandoned device change


@pytest.mark.parametrize("next_platform", ["iphone", "android"])
def test_4B_abandoned_device_change_frees_the_new_handset(world: World, next_platform: str) -> None:
    quinn, rin = world.person(), world.person(TARO)
    old = world.android_registered(quinn)
    new = _change_device(world, quinn)  # handset B: applied, holds B's device slot
    old.stop_with_password(PHONE_PASSWORD)  # 2-F on A: the change has nothing left to replace
    # Quinn moves to another handset instead: its registration takes the person's slot
    other = world.iphone_usable(quinn) if next_platform == "iphone" else world.android_registered(quinn)
    assert other.status()["state"] == "registered"
    assert world.counter.resident(quinn.resident_id)["registration_id"] == other.registration_id

    # the abandoned 4-B application ended, with a notice to handset B
    status = new.status()
    assert (status["state"], status["end_reason"]) == ("cancelled", "device_change_obsolete")
    assert status["ended_at"] is not None
    assert status["replaces_id"] is None
    assert status["certificates"] == []
    assert "device_change_ended" in [n["kind"] for n in new.notices()]
    assert problem(new.register).code == "STEP_OUT_OF_ORDER"

    # no orphan rows: no slot held, no certificate owned by it
    row = _row(world, new.registration_id or "")
    assert (row.slot_resident_id, row.slot_device_id, row.replaces_id) == (None, None, None)
    with _db(world).transaction() as session:
        owned = session.scalar(
            select(func.count())
            .select_from(OwnedCertificateRecord)
            .where(OwnedCertificateRecord.registration_id == row.id)
        )
    assert owned == 0

    # handset B is free: another person applies and registers on it
    world.android_registered(rin, phone=new)
    assert new.status()["state"] == "registered"
    assert world.counter.resident(rin.resident_id)["registration_id"] == new.registration_id
    assert world.counter.resident(quinn.resident_id)["registration_id"] == other.registration_id
    assert world.sdk_status(new.signing) == "good"


def test_4B_device_change_survives_the_old_handset_resuming(world: World) -> None:
    """Only a *different* registration taking the slot makes a 4-B obsolete: the replaced handset
    re-registering after a hotline suspension and resume (5-B) leaves the change application alone."""
    quinn = world.person()
    old = world.android_registered(quinn)
    new = _change_device(world, quinn)
    world.counter.suspend_phone(quinn.resident_id)
    old.resume(quinn.card, CARD_PASSWORD)
    world.advance(minutes=5)
    assert old.register()["state"] == "registered"
    assert new.status()["state"] == "applied"
    assert new.register()["state"] == "registered"
    assert old.status()["state"] == "superseded"


def test_4B_abandoned_change_still_pending_when_the_other_handset_is_not_registered_yet(
    world: World,
) -> None:
    """Until the other handset registers, the 4-B application is not ended (nothing is final yet)."""
    quinn = world.person()
    old = world.android_registered(quinn)
    new = _change_device(world, quinn)
    old.stop_with_password(PHONE_PASSWORD)
    other = world.phone()
    other.android_apply_all(
        quinn.card, CARD_PASSWORD, phone_signing_password=PHONE_PASSWORD, phone_user_authentication_pin="4321"
    )
    assert new.status()["state"] == "applied"
    world.advance(minutes=5)
    assert problem(new.register).code == "DEVICE_ALREADY_REGISTERED"  # the other handset holds the slot
    other.register()
    assert new.status()["state"] == "cancelled"


# ------------------------------------------------------------------------- 2-C / 3-C phone keys


def _nothing_stored(world: World, device_id: str, card_id: str) -> None:
    with _db(world).transaction() as session:
        card = session.scalars(select(CardRecord).where(CardRecord.public_id == card_id)).one()
        devices = session.scalar(
            select(func.count()).select_from(DeviceRecord).where(DeviceRecord.device_id == device_id)
        )
        registrations = session.scalar(
            select(func.count())
            .select_from(SmartphoneRegistrationRecord)
            .where(SmartphoneRegistrationRecord.card_id == card.id)
        )
        failures = session.scalars(select(PinRecord.failures).where(PinRecord.card_id == card.id)).all()
    assert (devices, registrations) == (0, 0)
    assert set(failures) == {0}  # not even a PIN entry was counted


def _refused(response: Any, code: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("platform", "signing_key", "authentication_key"),
    [
        ("android", "phone", "same"),
        ("android", "card_signing", "phone"),
        ("android", "phone", "card_user_authentication"),
        ("android", "card_user_authentication", "phone"),
        ("android", "phone", "card_signing"),
        ("iphone", "phone", "same"),
        ("iphone", "card_signing", "phone"),
        ("iphone", "phone", "card_user_authentication"),
    ],
)
def test_2C_phone_keys_must_be_fresh_and_distinct(
    world: World, platform: str, signing_key: str, authentication_key: str
) -> None:
    hanako = world.person()
    phone_signing = world.keys(FormFactor(platform)).public_key_pem()
    phone_authentication = world.keys(FormFactor(platform)).public_key_pem()
    pems = {
        "phone": None,
        "same": phone_signing,
        "card_signing": hanako.card.signing.public_key_pem(),
        "card_user_authentication": hanako.card.user_authentication.public_key_pem(),
    }
    keys = {
        "signing_public_key_pem": pems[signing_key] or phone_signing,
        "user_authentication_public_key_pem": pems[authentication_key] or phone_authentication,
    }
    device_id = f"{platform}-reuse-{signing_key}-{authentication_key}"
    if platform == "android":
        path = "/android/applications"
        body: dict[str, Any] = {
            "card_signing_password": CARD_PASSWORD,
            "certificates": ["signing", "user_authentication"],
            "notes_accepted": True,
        }
    else:
        path = "/iphone/additions"
        body = {"terms_accepted": True, "liveness": "pass"}
    request = {"device_id": device_id, "card_id": hanako.card.card_id, **body, **keys}
    _refused(world.client.post(path, json=request), "KEY_REUSED")
    if platform == "android":  # refused before the password is even checked
        wrong = {**request, "card_signing_password": "WRONG9"}
        _refused(world.client.post(path, json=wrong), "KEY_REUSED")
    _nothing_stored(world, device_id, hanako.card.card_id)

    # the same handset with keys of its own is accepted
    fresh = {
        **request,
        "signing_public_key_pem": phone_signing,
        "user_authentication_public_key_pem": phone_authentication,
    }
    assert world.client.post(path, json=fresh).status_code == 201


def test_2C_single_certificate_keys_checked_against_the_card(world: World) -> None:
    hanako = world.person()
    for kind, card_key in (
        ("signing", hanako.card.user_authentication.public_key_pem()),
        ("user_authentication", hanako.card.signing.public_key_pem()),
    ):
        request = {
            "device_id": f"android-single-{kind}",
            "card_id": hanako.card.card_id,
            "card_signing_password": CARD_PASSWORD,
            "certificates": [kind],
            "notes_accepted": True,
            f"{kind}_public_key_pem": card_key,
        }
        _refused(world.client.post("/android/applications", json=request), "KEY_REUSED")
        _nothing_stored(world, request["device_id"], hanako.card.card_id)


@pytest.mark.parametrize("kind", ["signing", "user_authentication"])
def test_2C_duplicate_certificate_kinds_refused(world: World, kind: str) -> None:
    hanako = world.person()
    device_id = f"android-duplicate-{kind}"
    request = {
        "device_id": device_id,
        "card_id": hanako.card.card_id,
        "card_signing_password": CARD_PASSWORD,
        "certificates": [kind, kind],
        "notes_accepted": True,
        f"{kind}_public_key_pem": world.keys(FormFactor.ANDROID).public_key_pem(),
    }
    _refused(world.client.post("/android/applications", json=request), "DUPLICATE_CERTIFICATE_KIND")
    _nothing_stored(world, device_id, hanako.card.card_id)
    request["certificates"] = [kind]
    assert world.client.post("/android/applications", json=request).status_code == 201
