"""End to end through the mock: an Android phone (guide §2-E, registered) has no attribute proof. The
SDK's ``verify_age`` answers its JPKI verification with ``AttributeProofUnsupported`` naming the fallback;
with the caller's explicit opt-in it answers from the signing certificate's date of birth."""

from __future__ import annotations

import secrets

import pytest
from e2e_age_support import AGE_19, AGE_25, CHANNELS, PARTIAL_DOB
from lifecycle_support import NOW, World

from mock_platform.device import AttributeProofUnsupportedProblemError, Smartphone
from myna_rp import (
    AgeEvidence,
    AgeNotDeterminedError,
    AndroidDevice,
    AttributeProofUnsupported,
    CertificateKind,
    FormFactor,
    JPKIVerification,
    Reason,
    age_request,
    verify_age,
)


def jpki_signature(world: World, phone: Smartphone) -> JPKIVerification:
    """The shop's challenge signed with the phone's signing key, verified by the SDK (path + OCSP)."""
    challenge = secrets.token_bytes(32)
    result = world.verifier().verify_signature(
        data=challenge, signature=phone.sign(challenge), certificate=phone.signing_certificate
    )
    assert result.certificate_kind is CertificateKind.SIGNING
    assert result.form_factor is FormFactor.ANDROID
    return result


def test_2E_android_verify_age_raises_attribute_proof_unsupported(world: World) -> None:
    android = world.android_registered(world.person(AGE_25))
    verification = jpki_signature(world, android)
    for evidence in (verification, AndroidDevice()):
        with pytest.raises(AttributeProofUnsupported) as raised:
            verify_age(evidence, 20)
        assert raised.value.reason is Reason.ATTRIBUTE_PROOF_UNSUPPORTED
        assert raised.value.fallback == "jpki_signing_certificate"
        assert "allow_jpki_date_of_birth=True" in raised.value.message


def test_2E_android_phone_answers_attribute_proof_unsupported(world: World) -> None:
    android = world.android_registered(world.person(AGE_25))
    for channel in CHANNELS.values():
        with pytest.raises(AttributeProofUnsupportedProblemError) as raised:
            channel(android, age_request(20))
        assert raised.value.code == "ATTRIBUTE_PROOF_UNSUPPORTED"
        assert raised.value.status == 409
        assert raised.value.body["fallback"] == "jpki_signing_certificate"
    answer = world.client.get(f"/admin/mdoc/registrations/{android.registration_id}/credential")
    assert answer.json()["code"] == "ATTRIBUTE_PROOF_UNSUPPORTED"


@pytest.mark.parametrize(("person", "over"), [(AGE_25, True), (AGE_19, False)], ids=["25", "19"])
def test_2E_jpki_fallback_answers_when_opted_in(world: World, person: dict[str, str], over: bool) -> None:
    android = world.android_registered(world.person(person))
    verification = jpki_signature(world, android)
    answer = verify_age(verification, 20, allow_jpki_date_of_birth=True)
    assert answer.over is over
    assert answer.evidence == AgeEvidence("jpki", "date_of_birth", None, verification.check.verified_at)
    assert verification.check.verified_at == world.clock.now()
    assert answer.evidence.verified_at >= NOW


def test_2E_jpki_fallback_partial_date_of_birth_fails_closed(world: World) -> None:
    android = world.android_registered(world.person(PARTIAL_DOB))
    verification = jpki_signature(world, android)
    assert verification.attributes is not None
    assert verification.attributes.date_of_birth.value is None  # 不詳 day
    with pytest.raises(AgeNotDeterminedError) as raised:
        verify_age(verification, 20, allow_jpki_date_of_birth=True)
    assert raised.value.reason is Reason.AGE_NOT_DISCLOSED
