"""The platform and OIDC adapters of the verification step, and the checks KycService applies to every
mode (fail closed whatever an adapter answers).

The platform operator is played by :class:`OperatorDesk`, an object satisfying
:class:`~myna_rp.kyc.PlatformSignatureVerifier` that really verifies (the SDK's JPKIVerifier over the mock's
OCSP responder, as a certified platform operator would with its J-LIS access) and answers in PLATFORM mode.
The OIDC sign transaction is played the way the Digital Authentication App does it: the RP submits
SHA-256(challenge), the holder's token signs that digest (``sign_digest``), and the result — verified over
the challenge bytes — comes back in OIDC mode.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from kyc_support import complete_with, kyc
from lifecycle_support import HANAKO, World

from mock_platform.ca.token import TokenSimulator
from myna_rp.challenge import Challenge
from myna_rp.errors import (
    CertificateRevokedError,
    MalformedInputError,
    Reason,
    RevocationUnavailableError,
    VerificationError,
)
from myna_rp.identity import IdentityVerification, VerificationMode
from myna_rp.jpki import CertificateKind
from myna_rp.kyc import (
    DirectVerification,
    OIDCVerification,
    PlatformSignatureVerifier,
    PlatformVerification,
    SQLRecordRepository,
)
from myna_rp.revocation import CertStatus, RevocationReason


class OperatorDesk:
    """A platform operator's verify_signature: verifies for real, answers in PLATFORM mode, optionally
    altering its answer (to prove the service does not trust a bad answer)."""

    def __init__(self, world: World, alter: object = None) -> None:
        self._verifier = world.verifier()
        self._alter = alter
        self.calls = 0

    def verify_signature(
        self, *, data: bytes, signature: bytes, certificate: bytes | x509.Certificate
    ) -> IdentityVerification:
        self.calls += 1
        result = self._verifier.verify_signature(data=data, signature=signature, certificate=certificate)
        answer = IdentityVerification.from_jpki(result, mode=VerificationMode.PLATFORM)
        return self._alter(answer) if callable(self._alter) else answer


def sign_transaction(world: World, token: TokenSimulator, challenge: Challenge) -> IdentityVerification:
    """The OIDC sign transaction: the RP sends SHA-256(challenge); the holder signs that digest."""
    digest = hashlib.sha256(challenge.value).digest()
    signature = token.sign_digest(digest)
    verified = world.verifier().verify_signature(
        data=challenge.value, signature=signature, certificate=token.certificate
    )
    return IdentityVerification.from_jpki(verified, mode=VerificationMode.OIDC)


# --------------------------------------------------------------------------------------------- platform


def test_platform_mode_records_the_same_identity_as_direct_mode(
    world: World, repository: SQLRecordRepository
) -> None:
    desk = OperatorDesk(world)
    assert isinstance(desk, PlatformSignatureVerifier)
    platform = kyc(world, repository, PlatformVerification(desk))
    direct = kyc(world, repository, DirectVerification(world.verifier()))
    phone = world.iphone_usable(world.person(HANAKO))
    assert phone.signing is not None
    records = [
        complete_with(service, phone.signing, service.start("s"), "acct-1") for service in (platform, direct)
    ]
    via_platform, via_direct = records
    assert desk.calls == 1
    assert via_platform.mode is VerificationMode.PLATFORM
    assert via_direct.mode is VerificationMode.DIRECT
    assert via_platform.attributes == via_direct.attributes
    assert via_platform.certificate == via_direct.certificate
    assert via_platform.revocation.status is via_direct.revocation.status is CertStatus.GOOD
    assert repository.records() == records


def test_platform_adapter_takes_raw_signatures_only(world: World, repository: SQLRecordRepository) -> None:
    service = kyc(world, repository, PlatformVerification(OperatorDesk(world)))
    phone = world.android_registered(world.person(HANAKO))
    challenge = service.start("s")
    with pytest.raises(MalformedInputError):
        service.complete(
            "s",
            challenge.value,
            customer_reference="c",
            cms=phone.sign_cms(challenge.value, signing_time=world.clock.now()),
        )
    assert repository.records() == []


@pytest.mark.parametrize(
    ("alter", "error", "reason"),
    [
        (
            lambda v: replace(
                v,
                revocation=replace(
                    v.revocation, status=CertStatus.REVOKED, reason=RevocationReason.AFFILIATION_CHANGED
                ),
            ),
            CertificateRevokedError,
            Reason.CERTIFICATE_REVOKED,
        ),
        (
            lambda v: replace(v, revocation=replace(v.revocation, status=CertStatus.ON_HOLD)),
            CertificateRevokedError,
            Reason.CERTIFICATE_ON_HOLD,
        ),
        (
            lambda v: replace(v, revocation=replace(v.revocation, status=CertStatus.UNKNOWN)),
            RevocationUnavailableError,
            Reason.REVOCATION_UNAVAILABLE,
        ),
        (
            lambda v: replace(
                v, revocation=replace(v.revocation, status=CertStatus.NOT_CHECKED, source=None)
            ),
            RevocationUnavailableError,
            Reason.REVOCATION_UNAVAILABLE,
        ),
        (
            lambda v: replace(
                v, revocation=replace(v.revocation, serial_number=v.revocation.serial_number + 1)
            ),
            RevocationUnavailableError,
            Reason.REVOCATION_UNAVAILABLE,
        ),
        (
            lambda v: replace(v, signed_content=b"another document"),
            VerificationError,
            Reason.SIGNATURE_INVALID,
        ),
        (
            lambda v: replace(
                v, certificate=replace(v.certificate, kind=CertificateKind.USER_AUTHENTICATION)
            ),
            VerificationError,
            Reason.WRONG_CERTIFICATE_KIND,
        ),
        (
            lambda v: replace(v, mode=VerificationMode.OIDC),
            VerificationError,
            Reason.MALFORMED_INPUT,
        ),
        (
            lambda v: replace(v, verified_at=v.verified_at - timedelta(hours=1)),  # an old answer
            RevocationUnavailableError,
            Reason.REVOCATION_UNAVAILABLE,
        ),
    ],
    ids=[
        "revoked",
        "on-hold",
        "unknown",
        "not-checked",
        "other-serial",
        "other-content",
        "kind",
        "mode",
        "stale",
    ],
)
def test_service_fails_closed_on_a_bad_platform_answer(
    world: World,
    repository: SQLRecordRepository,
    alter: object,
    error: type[Exception],
    reason: Reason,
) -> None:
    service = kyc(world, repository, PlatformVerification(OperatorDesk(world, alter)))
    token = world.person(HANAKO).card.signing
    challenge = service.start("s")
    with pytest.raises(error) as raised:
        service.complete(
            "s",
            challenge.value,
            customer_reference="c",
            signature=token.sign(challenge.value),
            certificate=token.certificate,
        )
    assert raised.value.reason is reason  # type: ignore[attr-defined]
    assert repository.records() == []


# --------------------------------------------------------------------------------------------- OIDC


def test_oidc_sign_transaction_over_the_challenge_digest_is_recorded(
    world: World, repository: SQLRecordRepository
) -> None:
    service = kyc(world, repository, OIDCVerification(), keep_certificate=True)
    person = world.person(HANAKO)
    token = person.card.signing
    challenge = service.start("s-oidc")
    result = sign_transaction(world, token, challenge)
    assert result.signed_content == challenge.value  # the digest signature verifies over the challenge
    with pytest.raises(MalformedInputError):  # keep_certificate: the provider's certificate is needed
        service.complete("s-oidc", challenge.value, customer_reference="c", verification=result)
    assert repository.records() == []

    again = service.start("s-oidc-2")
    record = service.complete(
        "s-oidc-2",
        again.value,
        customer_reference="c",
        verification=sign_transaction(world, token, again),
        certificate=token.certificate.public_bytes(Encoding.DER),
    )
    assert record.mode is VerificationMode.OIDC
    assert record.attributes.name == HANAKO["name"]
    assert record.certificate_der == token.certificate.public_bytes(Encoding.DER)
    assert record.challenge_id == again.id
    assert repository.records() == [record]


def test_oidc_result_for_another_challenge_or_mode_is_refused(
    world: World, repository: SQLRecordRepository
) -> None:
    service = kyc(world, repository, OIDCVerification(), keep_certificate=True)
    token = world.person(HANAKO).card.signing
    first, second = service.start("s1"), service.start("s2")
    for_first = sign_transaction(world, token, first)
    with pytest.raises(VerificationError) as raised:  # a sign transaction made for another challenge
        service.complete(
            "s2", second.value, customer_reference="c", verification=for_first, certificate=token.certificate
        )
    assert raised.value.reason is Reason.SIGNATURE_INVALID
    third = service.start("s3")
    direct_result = replace(sign_transaction(world, token, third), mode=VerificationMode.DIRECT)
    with pytest.raises(MalformedInputError):
        service.complete("s3", third.value, customer_reference="c", verification=direct_result)
    fourth = service.start("s4")
    wrong_certificate = world.person(HANAKO).card.signing.certificate  # someone else's certificate
    with pytest.raises(MalformedInputError):
        service.complete(
            "s4",
            fourth.value,
            customer_reference="c",
            verification=sign_transaction(world, token, fourth),
            certificate=wrong_certificate,
        )
    assert repository.records() == []


def test_adapters_refuse_evidence_of_another_shape(world: World, repository: SQLRecordRepository) -> None:
    token = world.person(HANAKO).card.signing
    direct = kyc(world, repository, DirectVerification(world.verifier()))
    challenge = direct.start("s")
    with pytest.raises(MalformedInputError):
        direct.complete(
            "s",
            challenge.value,
            customer_reference="c",
            verification=sign_transaction(world, token, challenge),
        )
    oidc = kyc(world, repository, OIDCVerification())
    challenge = oidc.start("s")
    with pytest.raises(MalformedInputError):
        oidc.complete(
            "s",
            challenge.value,
            customer_reference="c",
            signature=token.sign(challenge.value),
            certificate=token.certificate,
        )
    assert repository.records() == []
