"""Revocation end to end: the mock's admin API changes a certificate's state; the SDK sees it through OCSP
at once, through the CRL only from the next CRL issue (daily schedule or forced), and through its cache
only once the cached answer's nextUpdate has passed.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from integration_support import (
    NEXT_CRL_ISSUE,
    NEXT_CRL_UPDATE,
    NOW,
    OCSP_VALIDITY,
    PERSON,
    REVOCATION_REASONS,
    Enrolled,
    MockPlatform,
    status_of,
)

from mock_platform.ca.attributes import BasicFourAttributes as MockAttributes
from mock_platform.ca.attributes import DateOfBirth as MockDateOfBirth
from mock_platform.ca.attributes import Gender as MockGender
from mock_platform.ca.builder import build_end_entity_certificate
from mock_platform.ca.profile import CertificateKind, Locality
from mock_platform.ca.token import TokenSimulator
from myna_rp.errors import (
    CertificateRevokedError,
    CRLFailure,
    OCSPFailure,
    Reason,
    RevocationUnavailableError,
)
from myna_rp.jpki import JPKIVerification, JPKIVerifier
from myna_rp.revocation import (
    CertStatus,
    MemoryRevocationCache,
    RevocationChecker,
    RevocationEvidence,
    RevocationPolicy,
    RevocationReason,
    RevocationSource,
)

REQUIRE_WITH_NONCE = dataclasses.replace(
    RevocationPolicy.REQUIRE, name="REQUIRE_WITH_NONCE", require_ocsp_nonce=True
)
CHALLENGE = b"transfer 10,000 JPY to account 1234567"


def verify(verifier: JPKIVerifier, enrolled: Enrolled) -> JPKIVerification:
    return verifier.verify_signature(
        data=CHALLENGE, signature=enrolled.token.sign(CHALLENGE), certificate=enrolled.certificate
    )


def revoked(verifier: JPKIVerifier, enrolled: Enrolled) -> CertificateRevokedError:
    with pytest.raises(CertificateRevokedError) as caught:
        verify(verifier, enrolled)
    assert type(caught.value) is CertificateRevokedError
    return caught.value


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- 5. revocation with each reason ---------------------------------------------------------------------


@pytest.mark.parametrize("reason", REVOCATION_REASONS)
def test_revocation_reaches_ocsp_at_once_and_the_crl_only_at_its_next_issue(
    mock: MockPlatform, tokens: dict[str, TokenSimulator], reason: str
) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    before = verify(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled)  # the mock issues CRL #1 now
    assert before.revocation.status is CertStatus.GOOD
    assert before.revocation.source is RevocationSource.CRL
    first_crl_number = before.revocation.crl_number
    assert first_crl_number is not None

    mock.advance(timedelta(minutes=1))
    state = mock.revoke(enrolled.serial_hex, reason)
    assert state["status"] == "revoked"
    assert state["revocation_reason"] == reason
    revoked_at = parse_time(state["revoked_at"])
    assert revoked_at == NOW + timedelta(minutes=1)

    # OCSP knows at once (REQUIRE: OCSP and the still-old CRL both consulted; REVOKED wins).
    error = revoked(mock.verifier(REQUIRE_WITH_NONCE), enrolled)
    assert error.reason is Reason.CERTIFICATE_REVOKED
    assert status_of(error).status is CertStatus.REVOKED
    assert status_of(error).source is RevocationSource.OCSP
    assert status_of(error).reason is RevocationReason(reason)
    assert status_of(error).revocation_time == revoked_at
    assert status_of(error).serial_number == enrolled.serial_number
    assert error.chain[0] == enrolled.certificate

    # The CRL does not list it before the next issue: CRL_ONLY still says GOOD, from the same CRL.
    still = verify(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled)
    assert still.revocation.status is CertStatus.GOOD
    assert still.revocation.crl_number == first_crl_number

    # A forced issue lists it.
    issued = mock.issue_crls()
    assert {(c["purpose"], c["generation"]) for c in issued} == {
        ("signing", 1),
        ("signing", 2),
        ("user_authentication", 1),
        ("user_authentication", 2),
    }
    error = revoked(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled)
    assert error.reason is Reason.CERTIFICATE_REVOKED
    assert status_of(error).source is RevocationSource.CRL
    assert status_of(error).reason is RevocationReason(reason)
    assert status_of(error).revocation_time == revoked_at
    assert status_of(error).crl_number == first_crl_number + 1


def test_crl_lists_a_revocation_after_the_scheduled_daily_issue(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    warm = mock.verifier(RevocationPolicy.CRL_ONLY)  # keeps its own cache across the test
    first = verify(warm, enrolled).revocation
    assert first.status is CertStatus.GOOD
    assert first.this_update == NOW
    assert first.next_update == NEXT_CRL_UPDATE  # next 00:00 JST issue + 1 h grace

    mock.revoke(enrolled.serial_hex, "affiliationChanged")  # 異動等失効: the holder moved
    assert verify(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled).revocation.status is CertStatus.GOOD

    # Just before the daily issue nothing changes (the mock serves the same CRL).
    mock.set_clock(NEXT_CRL_ISSUE - timedelta(seconds=1))
    late = verify(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled).revocation
    assert late.status is CertStatus.GOOD
    assert late.crl_number == first.crl_number

    # Past 00:00 JST the next download gets the scheduled issue, which lists the revocation.
    mock.set_clock(NEXT_CRL_ISSUE + timedelta(minutes=1))
    error = revoked(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled)
    assert status_of(error).source is RevocationSource.CRL
    assert status_of(error).reason is RevocationReason.AFFILIATION_CHANGED
    assert status_of(error).this_update == NEXT_CRL_ISSUE + timedelta(minutes=1)
    assert first.crl_number is not None
    assert status_of(error).crl_number == first.crl_number + 1

    # A verifier with a warm cache keeps the old CRL until that CRL's nextUpdate (issue + grace) ...
    crl_downloads = len(mock.wire.crl())
    assert verify(warm, enrolled).revocation.status is CertStatus.GOOD
    assert len(mock.wire.crl()) == crl_downloads
    # ... and fetches the new one once it has passed.
    mock.set_clock(NEXT_CRL_UPDATE + timedelta(seconds=1))
    error = revoked(warm, enrolled)
    assert status_of(error).source is RevocationSource.CRL
    assert len(mock.wire.crl()) == crl_downloads + 1


# -- 5. cache ----------------------------------------------------------------------------------------


def test_warm_cache_reuses_the_ocsp_answer_until_next_update(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    cache = MemoryRevocationCache(clock=mock.clock)
    # Two checkers sharing one cache (two workers of a relying party).
    worker_a = mock.verifier(RevocationPolicy.REQUIRE, checker=mock.checker(cache=cache))
    worker_b = mock.verifier(RevocationPolicy.REQUIRE, checker=mock.checker(cache=cache))

    first = verify(worker_a, enrolled).revocation
    assert first.status is CertStatus.GOOD
    assert first.source is RevocationSource.OCSP
    assert first.next_update == NOW + OCSP_VALIDITY
    assert (len(mock.wire.ocsp()), len(mock.wire.crl())) == (1, 1)
    assert cache.sizes() == (1, 1)

    for minutes in (0, 5, 14):
        mock.set_clock(NOW + timedelta(minutes=minutes, seconds=59))
        for worker in (worker_a, worker_b):
            status = verify(worker, enrolled).revocation
            assert status == first  # the very same cached answer
    assert (len(mock.wire.ocsp()), len(mock.wire.crl())) == (1, 1)

    # A revocation inside the window is not seen through the cache (bounded staleness: ≤ 15 min) ...
    mock.revoke(enrolled.serial_hex, "keyCompromise")
    assert verify(worker_a, enrolled).revocation.status is CertStatus.GOOD
    assert len(mock.wire.ocsp()) == 1

    # ... and is seen as soon as the SDK clock reaches the cached answer's nextUpdate.
    mock.set_clock(NOW + OCSP_VALIDITY)
    error = revoked(worker_b, enrolled)
    assert status_of(error).reason is RevocationReason.KEY_COMPROMISE
    assert status_of(error).this_update == NOW + OCSP_VALIDITY
    assert len(mock.wire.ocsp()) == 2
    assert len(mock.wire.crl()) == 1  # the CRL is cached until its own nextUpdate (tomorrow)
    # The REVOKED answer is cached in turn: the other worker needs no request.
    assert status_of(revoked(worker_a, enrolled)) == status_of(error)
    assert len(mock.wire.ocsp()) == 2


def test_a_new_checker_without_the_cache_fetches_again(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    verify(mock.verifier(), enrolled)
    verify(mock.verifier(), enrolled)
    assert len(mock.wire.ocsp()) == 2


# -- 6. certificateHold ---------------------------------------------------------------------------------


def test_hold_then_release(mock: MockPlatform, tokens: dict[str, TokenSimulator]) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    verifier = mock.verifier(REQUIRE_WITH_NONCE)
    assert verify(verifier, enrolled).revocation.status is CertStatus.GOOD

    mock.advance(timedelta(minutes=1))
    state = mock.revoke(enrolled.serial_hex, "certificateHold")
    assert state["status"] == "on_hold"
    # The cached GOOD hides the hold until nextUpdate; a new checker sees it at once.
    assert verify(verifier, enrolled).revocation.status is CertStatus.GOOD
    error = revoked(mock.verifier(REQUIRE_WITH_NONCE), enrolled)
    assert error.reason is Reason.CERTIFICATE_ON_HOLD
    assert status_of(error).status is CertStatus.ON_HOLD
    assert status_of(error).reason is RevocationReason.CERTIFICATE_HOLD
    assert status_of(error).source is RevocationSource.OCSP

    held_checker_verifier = mock.verifier(REQUIRE_WITH_NONCE)
    assert revoked(held_checker_verifier, enrolled).reason is Reason.CERTIFICATE_ON_HOLD

    mock.advance(timedelta(minutes=1))
    assert mock.release(enrolled.serial_hex)["status"] == "good"

    # A new checker: GOOD again at once, via OCSP.
    released = verify(mock.verifier(REQUIRE_WITH_NONCE), enrolled).revocation
    assert released.status is CertStatus.GOOD
    assert released.source is RevocationSource.OCSP
    # The checker that cached ON_HOLD keeps it until that answer's nextUpdate, then fetches GOOD.
    assert revoked(held_checker_verifier, enrolled).reason is Reason.CERTIFICATE_ON_HOLD
    mock.advance(OCSP_VALIDITY)
    again = verify(held_checker_verifier, enrolled).revocation
    assert again.status is CertStatus.GOOD
    assert again.this_update == mock.clock.now()


def test_a_hold_listed_in_a_crl_outlives_the_release_until_the_next_crl(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    """REQUIRE consults every source and ON_HOLD beats GOOD: a CRL issued during the hold keeps the
    certificate on hold after the release until the next CRL; OCSP-first policies see the release."""
    enrolled = mock.enroll(tokens["card_signing"])
    mock.revoke(enrolled.serial_hex, "certificateHold")
    mock.advance(timedelta(minutes=1))
    mock.issue_crls(purpose="signing")  # lists the hold
    mock.advance(timedelta(minutes=1))
    mock.release(enrolled.serial_hex)

    error = revoked(mock.verifier(RevocationPolicy.REQUIRE), enrolled)
    assert error.reason is Reason.CERTIFICATE_ON_HOLD
    assert status_of(error).source is RevocationSource.CRL
    prefer_ocsp = verify(mock.verifier(RevocationPolicy.PREFER_OCSP_THEN_CRL), enrolled).revocation
    assert prefer_ocsp.status is CertStatus.GOOD
    assert prefer_ocsp.source is RevocationSource.OCSP

    mock.issue_crls(purpose="signing")  # the released hold is gone from the next CRL
    assert verify(mock.verifier(RevocationPolicy.REQUIRE), enrolled).revocation.status is CertStatus.GOOD
    assert verify(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled).revocation.status is CertStatus.GOOD


def test_revoking_a_held_certificate_makes_it_revoked(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    mock.revoke(enrolled.serial_hex, "certificateHold")
    assert revoked(mock.verifier(), enrolled).reason is Reason.CERTIFICATE_ON_HOLD
    mock.advance(timedelta(minutes=1))
    mock.revoke(enrolled.serial_hex, "cessationOfOperation")
    error = revoked(mock.verifier(), enrolled)
    assert error.reason is Reason.CERTIFICATE_REVOKED
    assert status_of(error).reason is RevocationReason.CESSATION_OF_OPERATION
    # The mock refuses to release a revoked certificate (a problem document, not a 500).
    response = mock.admin.post(f"/admin/certificates/{enrolled.serial_hex}/release")
    assert response.status_code == 409
    assert response.json()["code"] == "NOT_ON_HOLD"


def test_user_authentication_certificate_revocation(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    auth = mock.enroll(tokens["card_auth"], kind="user_authentication")
    mock.revoke(auth.serial_hex, "keyCompromise")  # lost phone/card
    with pytest.raises(CertificateRevokedError) as caught:
        mock.verifier().verify_authentication(
            challenge=b"c", signature=auth.token.sign(b"c"), certificate=auth.certificate
        )
    assert status_of(caught.value).reason is RevocationReason.KEY_COMPROMISE
    assert status_of(caught.value).source is RevocationSource.OCSP


# -- kept evidence: the answers fetched live, replayed offline ------------------------------------------


def test_answers_kept_from_a_live_check_verify_the_same_instant_offline(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    """An RP keeps the OCSP response and CRL it saw (for its 確認記録); later, with no network, it can
    re-verify at the original instant from them, but not at a later one."""
    enrolled = mock.enroll(tokens["card_signing"])
    original = verify(mock.verifier(RevocationPolicy.REQUIRE), enrolled)
    (ocsp_exchange,) = mock.wire.ocsp()
    (crl_exchange,) = mock.wire.crl()
    evidence = RevocationEvidence(
        ocsp_responses=(ocsp_exchange.response_body,), crls=(crl_exchange.response_body,)
    )
    mock.advance(timedelta(days=1))
    offline = mock.verifier(
        RevocationPolicy.REQUIRE, checker=RevocationChecker(ocsp=None, crls=None, clock=mock.clock)
    )

    replayed = offline.verify_signature(
        data=CHALLENGE,
        signature=enrolled.token.sign(CHALLENGE),
        certificate=enrolled.certificate,
        at=original.check.verified_at,
        evidence=evidence,
    )
    assert replayed.revocation.status is CertStatus.GOOD
    assert replayed.revocation.source is RevocationSource.OCSP
    assert replayed.revocation.this_update == original.revocation.this_update
    assert replayed.check.chain == original.check.chain

    with pytest.raises(RevocationUnavailableError) as caught:
        offline.verify_signature(
            data=CHALLENGE,
            signature=enrolled.token.sign(CHALLENGE),
            certificate=enrolled.certificate,
            evidence=evidence,
        )
    assert any(OCSPFailure.STALE.value in attempt for attempt in caught.value.attempts)
    assert any(CRLFailure.STALE.value in attempt for attempt in caught.value.attempts)


def test_replaying_an_earlier_instant_with_kept_crl_on_a_long_lived_verifier(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    verifier = mock.verifier(RevocationPolicy.CRL_ONLY)  # one verifier for the life of the service
    original = verify(verifier, enrolled)
    kept_crl = mock.wire.crl()[-1].response_body  # CRL #1, kept with the confirmation record
    assert original.revocation.crl_number == 1

    mock.set_clock(NEXT_CRL_UPDATE + timedelta(minutes=1))  # a day later the service has seen CRL #2
    assert verify(verifier, enrolled).revocation.crl_number == 2

    def replay(replaying: JPKIVerifier) -> JPKIVerification:
        return replaying.verify_signature(
            data=CHALLENGE,
            signature=enrolled.token.sign(CHALLENGE),
            certificate=enrolled.certificate,
            at=original.check.verified_at,
            evidence=RevocationEvidence(crls=(kept_crl,)),
        )

    # A fresh verifier reaches the original verdict from the kept CRL ...
    assert replay(mock.verifier(RevocationPolicy.CRL_ONLY)).revocation.crl_number == 1
    # ... the long-lived one should too (today it raises RevocationUnavailableError: ROLLBACK).
    assert replay(verifier).revocation.crl_number == 1


def test_a_certificate_the_responder_never_issued(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    """A leaf signed with the CA key but unknown to the mock's database (what a CA-key misuse looks
    like): OCSP answers 'unknown'. REQUIRE consults every source, and a valid 'unknown' forbids
    concluding GOOD from the CRL (which cannot list what was never issued): REVOCATION_UNAVAILABLE.
    PREFER_OCSP_THEN_CRL lets the CRL decide (GOOD); OCSP alone hard-fails; with ``unknown_is_revoked``
    it is REVOKED."""
    issuer = mock.app.state.ca_service.export_ca_generation_for_tests(CertificateKind.SIGNING, 2)
    genuine = mock.enroll(tokens["card_signing"])
    rogue_certificate = build_end_entity_certificate(
        issuer=issuer,
        public_key=tokens["card_signing"].public_key(),
        kind=CertificateKind.SIGNING,
        not_before=genuine.certificate.not_valid_before_utc,
        not_after=genuine.certificate.not_valid_after_utc,
        attributes=MockAttributes(
            name=PERSON["name"],
            gender=MockGender.FEMALE,
            date_of_birth=MockDateOfBirth.parse("319850704"),
            address=PERSON["address"],
        ),
        locality=Locality("Tokyo-to", "Chiyoda-ku"),
    )
    rogue = Enrolled(
        token=tokens["card_signing"].with_certificate(rogue_certificate),
        certificate=rogue_certificate,
        serial_hex=format(rogue_certificate.serial_number, "x"),
        issuer_generation=2,
        response={},
    )

    with pytest.raises(RevocationUnavailableError) as refused:
        verify(mock.verifier(RevocationPolicy.REQUIRE), rogue)
    assert any("unknown" in attempt for attempt in refused.value.attempts)
    status = verify(mock.verifier(RevocationPolicy.PREFER_OCSP_THEN_CRL), rogue).revocation
    assert status.status is CertStatus.GOOD
    assert status.source is RevocationSource.CRL
    ocsp_only = dataclasses.replace(
        RevocationPolicy.REQUIRE, name="OCSP_ONLY", sources=(RevocationSource.OCSP,)
    )
    with pytest.raises(RevocationUnavailableError) as caught:
        verify(mock.verifier(ocsp_only), rogue)
    assert any("unknown" in attempt for attempt in caught.value.attempts)
    strict = dataclasses.replace(RevocationPolicy.REQUIRE, name="UNKNOWN_IS_REVOKED", unknown_is_revoked=True)
    error = revoked(mock.verifier(strict), rogue)
    assert error.reason is Reason.CERTIFICATE_REVOKED
    assert status_of(error).source is RevocationSource.OCSP
    assert status_of(error).reason is None
