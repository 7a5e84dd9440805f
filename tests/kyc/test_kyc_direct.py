"""eKYC with the signing certificate, direct mode, end to end against the mock platform in-process.

The customer's card, Android phone or iPhone (the mock's device simulator) signs the challenge the
KycService issued; the SDK verifies path and OCSP (hard-fail) and appends a confirmation record to a SQLite
repository. Every refusal leaves the repository empty.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from kyc_support import RP, complete_with, der, verifier_with
from lifecycle_support import HANAKO, MOVED, TARO, World

from myna_rp import CertificateKind, CertStatus, FormFactor, JPKIVerifier, Reason, RevocationPolicy
from myna_rp.challenge import MemoryChallengeStore
from myna_rp.errors import (
    CertificateRevokedError,
    ChallengeError,
    ConfigurationError,
    MalformedInputError,
    VerificationError,
)
from myna_rp.identity import VerificationMode
from myna_rp.kyc import (
    KYC_PURPOSE,
    DirectVerification,
    KycMethod,
    KycService,
    RecordRetention,
    RetentionProfile,
    SQLRecordRepository,
)
from myna_rp.revocation import RevocationSource

SUBSTITUTED: dict[str, Any] = {
    **TARO,
    "name": "髙橋　一郎",  # 髙 stands for a character outside JIS levels 1-2 (synthetic)
    "name_substitute_positions": "10000",
    "address": "東京都千代田区見本町𠮷野一丁目1番1号",
    "address_substitute_positions": "0000000000100000000",
}


def test_card_signature_makes_a_complete_confirmation_record(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    person = world.person(SUBSTITUTED)
    token = person.card.signing
    challenge = service.start("session-card")
    assert challenge.purpose == KYC_PURPOSE == "kyc.sign"
    world.advance(seconds=30)

    record = complete_with(service, token, challenge)

    cert = token.certificate
    assert record.method is KycMethod.JPKI_SIGNING_CERTIFICATE
    assert record.method_legal_basis == "犯罪収益移転防止法施行規則 第6条第1項第1号ワ"
    assert record.mode is VerificationMode.DIRECT
    assert record.verified_at == world.clock.now() == record.recorded_at
    assert record.verified_by == RP
    assert record.customer_reference == "cust-0001"
    assert record.challenge_id == challenge.id
    # The basic four attributes as enrolled at the municipal counter.
    assert record.attributes.name == "髙橋　一郎"
    assert record.attributes.name_substitute_indexes == (0,)
    assert record.attributes.address == SUBSTITUTED["address"]
    assert record.attributes.address_substitute_positions == "0000000000100000000"
    assert record.attributes.gender.value == "1"
    assert record.attributes.date_of_birth.raw == "419900120"
    assert record.date_of_birth_iso == "1990-01-20"
    # The certificate used, identified without keeping it.
    assert record.certificate.serial_number == cert.serial_number
    assert record.certificate.issuer == cert.issuer.rfc4514_string()
    assert "JPKI for digital signature" in record.certificate.issuer
    assert record.certificate.fingerprint_sha256 == hashlib.sha256(der(token)).hexdigest()
    assert record.certificate.not_before == cert.not_valid_before_utc
    assert record.certificate.not_after == cert.not_valid_after_utc
    assert record.certificate.kind is CertificateKind.SIGNING
    assert record.certificate.form_factor is FormFactor.CARD
    assert record.certificate_der is None
    assert record.user_id is None  # direct mode: no platform user id
    # The revocation evidence: a fresh OCSP answer from the mock's responder.
    assert record.revocation.status is CertStatus.GOOD
    assert record.revocation.source is RevocationSource.OCSP
    assert record.revocation.serial_number == cert.serial_number
    assert record.revocation.produced_at is not None
    assert record.revocation.this_update is not None
    assert record.revocation.this_update <= record.verified_at
    assert record.revocation.next_update is not None
    assert record.revocation.next_update > record.verified_at
    # Stored, and its retention is open until the relationship ends.
    assert repository.records() == [record]
    assert repository.get(record.record_id) == record
    assert repository.retention(record) == RecordRetention(RetentionProfile.BANK, None, None)
    # A second record is a new id.
    again = complete_with(service, token, service.start("session-card-2"))
    assert again.record_id != record.record_id
    assert repository.records(customer_reference="cust-0001") == [record, again]


@pytest.mark.parametrize(
    ("platform", "form_factor"), [("android", FormFactor.ANDROID), ("iphone", FormFactor.IPHONE)]
)
def test_phone_signature_records_the_phone_certificate(
    world: World,
    service: KycService,
    repository: SQLRecordRepository,
    platform: str,
    form_factor: FormFactor,
) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person) if platform == "android" else world.iphone_usable(person)
    challenge = service.start(f"session-{platform}")
    record = service.complete(
        challenge.session_id,
        challenge.value,
        customer_reference=f"cust-{platform}",
        signature=phone.sign(challenge.value),
        certificate=phone.signing_certificate.public_bytes(Encoding.PEM),  # PEM works too
    )
    phone_cert = phone.signing_certificate
    assert record.certificate.form_factor is form_factor
    assert record.certificate.serial_number == phone_cert.serial_number
    assert record.certificate.serial_number != person.card.signing.certificate.serial_number
    assert (
        record.certificate.fingerprint_sha256
        == hashlib.sha256(phone_cert.public_bytes(Encoding.DER)).hexdigest()
    )
    assert record.attributes.name == HANAKO["name"]
    assert record.attributes.address == HANAKO["address"]
    assert record.attributes.gender.value == HANAKO["gender"]
    assert record.date_of_birth_iso == "1985-07-04"
    assert record.revocation.status is CertStatus.GOOD
    assert record.revocation.serial_number == phone_cert.serial_number
    assert repository.records() == [record]


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_cms_signature_and_kept_certificate(
    world: World, challenges: MemoryChallengeStore, repository: SQLRecordRepository, detached: bool
) -> None:
    service = KycService(
        challenges=challenges,
        verifier=DirectVerification(world.verifier()),
        records=repository,
        verifier_identity=RP,
        profile=RetentionProfile.BANK,
        clock=world.clock,
        keep_certificate=True,
    )
    phone = world.android_registered(world.person(HANAKO))
    challenge = service.start("session-cms")
    cms = phone.sign_cms(challenge.value, signing_time=world.clock.now(), detached=detached)
    record = service.complete(challenge.session_id, challenge.value, customer_reference="c-cms", cms=cms)
    assert record.certificate_der == phone.signing_certificate.public_bytes(Encoding.DER)
    assert record.certificate.form_factor is FormFactor.ANDROID
    assert repository.get(record.record_id) == record  # the DER survives storage
    assert repository.get(record.record_id).certificate_der == record.certificate_der  # type: ignore[union-attr]


def test_replayed_challenge_is_refused_and_nothing_more_is_recorded(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    token = world.person(HANAKO).card.signing
    challenge = service.start("session-replay")
    first = complete_with(service, token, challenge)
    with pytest.raises(ChallengeError) as raised:
        complete_with(service, token, challenge)
    assert raised.value.reason is Reason.CHALLENGE_REPLAYED
    assert repository.records() == [first]


def test_failed_attempt_burns_the_challenge(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    token = world.person(HANAKO).card.signing
    challenge = service.start("session-burn")
    with pytest.raises(VerificationError) as raised:
        service.complete(
            challenge.session_id,
            challenge.value,
            customer_reference="c",
            signature=token.sign(b"not the challenge"),
            certificate=der(token),
        )
    assert raised.value.reason is Reason.SIGNATURE_INVALID
    with pytest.raises(ChallengeError) as replay:
        complete_with(service, token, challenge)  # the good signature comes too late
    assert replay.value.reason is Reason.CHALLENGE_REPLAYED
    assert repository.records() == []


def test_expired_unknown_and_foreign_challenges(
    world: World, service: KycService, challenges: MemoryChallengeStore, repository: SQLRecordRepository
) -> None:
    token = world.person(HANAKO).card.signing
    expired = service.start("session-expired")
    world.advance(minutes=6)  # the memory store's default TTL is 5 minutes
    with pytest.raises(ChallengeError) as raised:
        complete_with(service, token, expired)
    assert raised.value.reason is Reason.CHALLENGE_EXPIRED

    other_session = service.start("session-a")
    with pytest.raises(ChallengeError) as raised:
        complete_with(service, token, replace(other_session, session_id="session-b"))
    assert raised.value.reason is Reason.CHALLENGE_MISMATCH

    login = challenges.issue(session_id="session-login", purpose="login.auth")
    with pytest.raises(ChallengeError) as raised:
        complete_with(service, token, login)  # a challenge for another purpose
    assert raised.value.reason is Reason.CHALLENGE_MISMATCH

    never = replace(service.start("session-x"), value=bytes(32))
    with pytest.raises(ChallengeError) as raised:
        complete_with(service, token, never)
    assert raised.value.reason is Reason.CHALLENGE_UNKNOWN
    assert repository.records() == []


def test_revoked_certificate_is_refused_and_not_recorded(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    person = world.person(HANAKO)
    old_signing = person.card.signing
    world.counter.change_attributes(person.card, MOVED)  # 異動等失効: the old signing certificate is revoked
    challenge = service.start("session-revoked")
    with pytest.raises(CertificateRevokedError) as raised:
        complete_with(service, old_signing, challenge)
    assert raised.value.reason is Reason.CERTIFICATE_REVOKED
    assert repository.records() == []
    # The new certificate (the customer who moved) is accepted, with the new address.
    record = complete_with(service, person.card.signing, service.start("session-moved"))
    assert record.attributes.address == MOVED["address"]
    assert repository.records() == [record]


def test_signature_over_other_content_is_refused(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    phone = world.android_registered(world.person(HANAKO))
    challenge = service.start("session-other")
    cms = phone.sign_cms(b"a different document", signing_time=world.clock.now())
    with pytest.raises(VerificationError) as raised:
        service.complete(challenge.session_id, challenge.value, customer_reference="c", cms=cms)
    assert raised.value.reason is Reason.SIGNATURE_INVALID
    other = service.start("session-other-2")
    with pytest.raises(VerificationError) as raised:
        service.complete(
            other.session_id,
            other.value,
            customer_reference="c",
            signature=phone.sign(challenge.value),  # the signature over the *previous* challenge
            certificate=phone.signing_certificate.public_bytes(Encoding.DER),
        )
    assert raised.value.reason is Reason.SIGNATURE_INVALID
    assert repository.records() == []


@pytest.mark.parametrize("holder", ["card", "android"])
def test_user_authentication_certificate_is_the_wrong_kind(
    world: World, service: KycService, repository: SQLRecordRepository, holder: str
) -> None:
    person = world.person(HANAKO)
    if holder == "card":
        token = person.card.user_authentication
    else:
        phone_token = world.android_registered(person).user_authentication
        assert phone_token is not None
        token = phone_token
    challenge = service.start("session-kind")
    with pytest.raises(VerificationError) as raised:
        complete_with(service, token, challenge)
    assert raised.value.reason is Reason.WRONG_CERTIFICATE_KIND
    assert repository.records() == []


def test_weaker_revocation_policy_is_refused(world: World) -> None:
    with pytest.raises(ConfigurationError):
        DirectVerification(JPKIVerifier(world.trust, revocation=None, policy=RevocationPolicy.UNSAFE_SKIP))
    with pytest.raises(ConfigurationError):
        DirectVerification(
            verifier_with(world, replace(RevocationPolicy.REQUIRE, name="SOFT", hard_fail=False))
        )
    with pytest.raises(ConfigurationError):
        DirectVerification(verifier_with(world, replace(RevocationPolicy.REQUIRE, name="NONE", sources=())))
    for policy in (
        RevocationPolicy.REQUIRE,
        RevocationPolicy.PREFER_OCSP_THEN_CRL,
        RevocationPolicy.CRL_ONLY,
    ):
        assert DirectVerification(verifier_with(world, policy)).mode is VerificationMode.DIRECT


def test_bad_evidence_and_my_number_are_refused_before_the_challenge_is_used(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    token = world.person(HANAKO).card.signing
    challenge = service.start("session-input")
    signature = token.sign(challenge.value)
    with pytest.raises(MalformedInputError):  # a My Number (valid check digit) as customer reference
        service.complete(
            challenge.session_id,
            challenge.value,
            customer_reference="123456789018",
            signature=signature,
            certificate=der(token),
        )
    with pytest.raises(MalformedInputError):  # no certificate
        service.complete(challenge.session_id, challenge.value, customer_reference="c", signature=signature)
    with pytest.raises(MalformedInputError):  # two kinds of evidence
        service.complete(
            challenge.session_id,
            challenge.value,
            customer_reference="c",
            signature=signature,
            certificate=der(token),
            cms=b"0",
        )
    assert repository.records() == []
    # None of these consumed the challenge.
    record = complete_with(service, token, challenge, customer="123456789017")  # not a valid My Number
    assert repository.records() == [record]


def test_repr_of_a_record_names_no_personal_data(world: World, service: KycService) -> None:
    token = world.person(HANAKO).card.signing
    record = complete_with(service, token, service.start("session-repr"), customer="acct-42")
    text = repr(record) + str(record)
    for personal in (HANAKO["name"], HANAKO["address"], "319850704", "1985", "acct-42", "試験"):
        assert personal not in text
    assert str(record.record_id) in text


def test_concurrent_completions_of_one_challenge_make_one_record(
    world: World, service: KycService, repository: SQLRecordRepository
) -> None:
    token = world.person(HANAKO).card.signing
    challenge = service.start("session-race")
    signature, certificate = token.sign(challenge.value), der(token)
    barrier = threading.Barrier(8)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            service.complete(
                challenge.session_id,
                challenge.value,
                customer_reference="acct-race",
                signature=signature,
                certificate=certificate,
            )
        except ChallengeError as error:
            return error.reason.value
        return "recorded"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert sorted(outcomes) == ["CHALLENGE_REPLAYED"] * 7 + ["recorded"]
    assert len(repository.records()) == 1
