"""One scripted walk through the whole guide, every step's revocation answer checked with the SDK.

Android apply → notice → register → sign → revoke; Android → Android (4-B); Android → iPhone; iPhone →
Android; delete from another iPhone (3-F); lost phone → resume (5-B); move → signing revoked while user
authentication survives.
"""

from __future__ import annotations

import pytest
from lifecycle_support import CARD_FACE_PIN, CARD_PASSWORD, MOVED, PHONE_PASSWORD, PHONE_PIN, World, problem

from myna_rp.errors import CertificateRevokedError, Reason
from myna_rp.jpki import FormFactor


def test_walk_through_the_whole_guide(world: World) -> None:
    hanako = world.person()
    verifier = world.verifier

    # §2 Android: apply (2-C) → passwords (2-D) → notice → register (2-E) → sign → revoke (2-F)
    android = world.phone("android")
    applied = android.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password=PHONE_PASSWORD,
        phone_user_authentication_pin=PHONE_PIN,
    )
    assert applied["state"] == "applied"
    assert problem(android.register).code == "NOT_READY"
    world.advance(minutes=5)
    assert [n["kind"] for n in android.notices()] == ["registration_ready"]
    android.register()
    signed = verifier().verify_signature(
        data=b"e-tax", signature=android.sign(b"e-tax"), certificate=android.signing_certificate
    )
    assert (signed.form_factor, signed.revocation.status.value) == (FormFactor.ANDROID, "good")
    android.stop_with_password(PHONE_PASSWORD)
    with pytest.raises(CertificateRevokedError) as revoked:
        verifier().verify_signature(
            data=b"e-tax", signature=android.sign(b"e-tax"), certificate=android.signing_certificate
        )
    assert revoked.value.reason is Reason.CERTIFICATE_REVOKED
    assert world.sdk_status(android.user_authentication) == "revoked:cessationOfOperation"

    # §4-B Android → Android: 機種変更 supersedes the old handset when the new one registers
    old = world.android_registered(hanako)
    new = world.phone("android")
    new.android_apply_all(
        hanako.card,
        CARD_PASSWORD,
        phone_signing_password="NEWPH2",
        phone_user_authentication_pin="8765",
        device_change=True,
    )
    assert world.sdk_status(old.signing) == "good"
    world.advance(minutes=5)
    new.register()
    assert world.sdk_status(old.signing) == "revoked:superseded"
    assert world.sdk_status(new.signing) == "good"

    # §4 Android → iPhone: revoke on Android (2-F, here by reading the card), then add (3-C)
    assert problem(world.phone("iphone").iphone_start, hanako.card).code == "DEVICE_ALREADY_REGISTERED"
    new.stop_with_card(hanako.card, CARD_PASSWORD)
    assert world.sdk_status(new.signing) == "revoked:cessationOfOperation"
    iphone = world.phone("iphone")
    iphone.iphone_add_all(
        hanako.card,
        card_face_pin=CARD_FACE_PIN,
        card_signing_password=CARD_PASSWORD,
        iphone_pin=PHONE_PIN,
        iphone_signing_password=PHONE_PASSWORD,
    )
    assert problem(iphone.provision).code == "NOT_READY"  # pending
    world.advance(minutes=10)
    iphone.provision()
    assert world.sdk_status(iphone.signing) == "good"

    # §4 iPhone → Android: delete on the iPhone (3-E), then apply (2-C)
    iphone.stop_with_password(PHONE_PASSWORD)
    assert world.sdk_status(iphone.signing) == "revoked:cessationOfOperation"
    android2 = world.android_registered(hanako)
    assert world.sdk_status(android2.signing) == "good"
    android2.stop_with_password(PHONE_PASSWORD)

    # 3-F: delete from another iPhone (this one has no card), with the physical card
    iphone2 = world.iphone_usable(hanako)
    spare = world.phone("iphone")
    spare.delete_other(hanako.card, CARD_PASSWORD)
    assert world.sdk_status(iphone2.signing) == "revoked:cessationOfOperation"
    assert world.sdk_status(iphone2.user_authentication) == "revoked:cessationOfOperation"

    # §5-B lost phone → hotline → found → resume → register again
    lost = world.android_registered(hanako)
    world.counter.suspend_phone(hanako.resident_id)
    assert world.sdk_status(lost.user_authentication) == "on_hold"
    assert world.sdk_status(lost.signing) == "revoked:keyCompromise"
    lost.resume(hanako.card, CARD_PASSWORD)
    assert world.sdk_status(lost.user_authentication) == "good"
    world.advance(minutes=5)
    lost.register()
    assert world.sdk_status(lost.signing) == "good"

    # move: every signing certificate (card and phone) revoked; user authentication survives
    world.counter.change_attributes(hanako.card, MOVED)
    assert world.sdk_status(lost.signing) == "revoked:affiliationChanged"
    assert world.sdk_status(lost.user_authentication) == "good"
    assert world.sdk_status(hanako.card.user_authentication) == "good"
    moved = verifier().verify_signature(
        data=b"x", signature=hanako.card.signing.sign(b"x"), certificate=hanako.card.signing.certificate
    )
    assert moved.attributes is not None
    assert moved.attributes.address == MOVED["address"]
