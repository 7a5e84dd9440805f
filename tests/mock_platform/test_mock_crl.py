"""CRL issue: content, every reason code, daily schedule, forced issue, monotonic numbers, hold/release."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

import pytest
from cryptography import x509
from mockpki_helpers import NOW

from mock_platform.ca.crl import CRLSchedule, RevokedEntry, build_crl
from mock_platform.ca.errors import (
    AlreadyOnHoldError,
    AlreadyRevokedError,
    InvalidRevocationRequestError,
    NotOnHoldError,
    UnknownCAError,
    UnknownCertificateError,
)
from mock_platform.ca.profile import CertificateKind, RevocationReason
from mock_platform.ca.service import CAConfig, CAService, CertificateStatus, IssuedCertificate
from mock_platform.clock import JST, MockClock
from mock_platform.db import Database

Issue = Callable[..., IssuedCertificate]
SIGNING = CertificateKind.SIGNING


def _load(der: bytes) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(der)


def _entry(crl: x509.CertificateRevocationList, serial: int) -> x509.RevokedCertificate | None:
    return crl.get_revoked_certificate_by_serial_number(serial)


def test_build_crl_contents(service: CAService) -> None:
    issuer = service.export_ca_generation_for_tests(SIGNING, 2)
    entries = [
        RevokedEntry(100 + i, NOW - timedelta(hours=i), reason) for i, reason in enumerate(RevocationReason)
    ] + [
        RevokedEntry(200, NOW, None, invalidity_date=NOW - timedelta(days=3)),
    ]
    crl = build_crl(
        issuer=issuer, crl_number=7, this_update=NOW, next_update=NOW + timedelta(days=1), entries=entries
    )
    assert crl.is_signature_valid(issuer.private_key.public_key())
    assert crl.issuer == issuer.subject
    assert crl.last_update_utc == NOW
    assert crl.next_update_utc == NOW + timedelta(days=1)
    assert crl.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.11"
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert aki.value.key_identifier == issuer.subject_key_identifier
    assert not aki.critical
    for i, reason in enumerate(RevocationReason):
        revoked = _entry(crl, 100 + i)
        assert revoked is not None
        assert revoked.revocation_date_utc == NOW - timedelta(hours=i)
        assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason.value == reason.value
    plain = _entry(crl, 200)
    assert plain is not None
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.CRLReason)
    assert plain.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc == (
        NOW - timedelta(days=3)
    )
    with pytest.raises(ValueError, match="precedes"):
        build_crl(
            issuer=issuer, crl_number=1, this_update=NOW, next_update=NOW - timedelta(seconds=1), entries=[]
        )
    with pytest.raises(ValueError, match="20 octets"):
        build_crl(issuer=issuer, crl_number=2**160, this_update=NOW, next_update=None, entries=[])


def test_crl_without_next_update_is_valid_der_and_signature(service: CAService) -> None:
    issuer = service.export_ca_generation_for_tests(SIGNING, 1)
    crl = build_crl(
        issuer=issuer, crl_number=3, this_update=NOW, next_update=None, entries=[RevokedEntry(5, NOW, None)]
    )
    assert crl.next_update_utc is None
    assert crl.is_signature_valid(issuer.private_key.public_key())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3
    assert _entry(crl, 5) is not None


def test_schedule_is_daily_at_midnight_jst() -> None:
    schedule = CRLSchedule()
    at_noon_jst = datetime(2026, 11, 29, 12, 0, tzinfo=JST)
    assert schedule.next_issue_after(at_noon_jst) == datetime(2026, 11, 30, 0, 0, tzinfo=JST)
    assert schedule.next_issue_after(datetime(2026, 11, 30, 0, 0, tzinfo=JST)) == datetime(
        2026, 12, 1, tzinfo=JST
    )
    assert schedule.next_update_for(at_noon_jst) == datetime(2026, 11, 30, 1, 0, tzinfo=JST)
    assert not schedule.is_due(at_noon_jst, datetime(2026, 11, 29, 23, 59, 59, tzinfo=JST))
    assert schedule.is_due(at_noon_jst, datetime(2026, 11, 30, 0, 0, tzinfo=JST))
    assert schedule.is_due(None, at_noon_jst)
    custom = CRLSchedule(issue_time=time(6, 30), next_update_grace=timedelta(0))
    assert custom.next_update_for(at_noon_jst) == datetime(2026, 11, 30, 6, 30, tzinfo=JST)
    with pytest.raises(ValueError, match="without tzinfo"):
        CRLSchedule(issue_time=time(0, 0, tzinfo=UTC))


def test_current_crl_follows_the_schedule(service: CAService, clock: MockClock) -> None:
    first = service.current_crl(SIGNING, 2)  # none yet: issued on first request
    assert first.crl_number == 1
    assert not first.forced
    assert first.this_update == NOW
    assert first.next_update == datetime(2026, 11, 30, 1, 0, tzinfo=JST)  # next 00:00 JST + 1 h grace
    clock.advance(timedelta(hours=11, minutes=59))  # 23:59 JST: not due
    assert service.current_crl(SIGNING, 2).crl_number == 1
    clock.advance(timedelta(minutes=1))  # 00:00 JST: due
    second = service.current_crl(SIGNING, 2)
    assert second.crl_number == 2
    assert second.this_update == datetime(2026, 11, 30, 0, 0, tzinfo=JST)
    assert service.current_crl(SIGNING, 2).crl_number == 2
    assert service.current_crl(SIGNING, 1).crl_number == 1  # numbering is per generation
    with pytest.raises(UnknownCAError):
        service.current_crl(SIGNING, 9)


def test_forced_issue_numbers_are_monotonic(service: CAService) -> None:
    issued = service.issue_crls()
    assert [(c.purpose, c.generation, c.crl_number) for c in issued] == [
        (SIGNING, 1, 1),
        (SIGNING, 2, 1),
        (CertificateKind.USER_AUTHENTICATION, 1, 1),
        (CertificateKind.USER_AUTHENTICATION, 2, 1),
    ]
    assert all(c.forced for c in issued)
    numbers = [service.issue_crls(SIGNING, generation=2)[0].crl_number for _ in range(3)]
    assert numbers == [2, 3, 4]
    assert [c.crl_number for c in service.issue_crls(CertificateKind.USER_AUTHENTICATION)] == [2, 2]
    latest = service.current_crl(SIGNING, 2)
    assert latest.crl_number == 4
    assert _load(latest.der).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 4
    omitted = service.issue_crls(SIGNING, generation=2, omit_next_update=True)[0]
    assert omitted.next_update is None
    assert _load(omitted.der).next_update_utc is None
    with pytest.raises(ValueError, match="needs a purpose"):
        service.issue_crls(generation=2)


@pytest.mark.parametrize("reason", list(RevocationReason))
def test_revocation_appears_only_at_the_next_issue(
    service: CAService, clock: MockClock, issue: Issue, reason: RevocationReason
) -> None:
    serial = issue().serial_number
    before = service.current_crl(SIGNING, 2)
    clock.advance(timedelta(hours=1))
    state = service.revoke(serial, reason)
    expected_status = CertificateStatus.ON_HOLD if reason is RevocationReason.CERTIFICATE_HOLD else "revoked"
    assert state.status == expected_status
    assert state.revocation_reason is reason
    assert state.revoked_at == NOW + timedelta(hours=1)
    assert service.current_crl(SIGNING, 2).crl_number == before.crl_number  # not due yet
    assert _entry(_load(service.current_crl(SIGNING, 2).der), serial) is None
    clock.set(datetime(2026, 11, 30, 0, 0, 1, tzinfo=JST))
    crl = _load(service.current_crl(SIGNING, 2).der)
    entry = _entry(crl, serial)
    assert entry is not None
    assert entry.revocation_date_utc == NOW + timedelta(hours=1)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value == reason.value


def test_invalidity_date_and_rfc_style_unspecified(
    database: Database, clock: MockClock, issue: Issue
) -> None:
    serial = issue().serial_number
    rfc = CAService(database, clock, CAConfig(encode_unspecified_reason=False))
    rfc.revoke(serial, RevocationReason.UNSPECIFIED, invalidity_date=NOW - timedelta(days=1))
    entry = _entry(_load(rfc.issue_crls(SIGNING, generation=2)[0].der), serial)
    assert entry is not None
    with pytest.raises(x509.ExtensionNotFound):
        entry.extensions.get_extension_for_class(x509.CRLReason)
    assert entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc == (
        NOW - timedelta(days=1)
    )


def test_hold_release_and_transitions(service: CAService, clock: MockClock, issue: Issue) -> None:
    serial = issue().serial_number
    service.hold(serial)
    with pytest.raises(AlreadyOnHoldError):
        service.revoke(serial, RevocationReason.CERTIFICATE_HOLD)
    held_crl = _load(service.issue_crls(SIGNING, generation=2)[0].der)
    assert _entry(held_crl, serial) is not None
    clock.advance(timedelta(hours=2))
    state = service.release(serial)
    assert state.status == CertificateStatus.GOOD
    assert state.revoked_at is None
    assert state.revocation_reason is None
    with pytest.raises(NotOnHoldError):
        service.release(serial)
    released_crl = _load(service.issue_crls(SIGNING, generation=2)[0].der)
    assert _entry(released_crl, serial) is None  # dropped, no removeFromCRL entry
    # hold → permanent revocation
    service.hold(serial)
    clock.advance(timedelta(minutes=5))
    state = service.revoke(serial, RevocationReason.KEY_COMPROMISE)
    assert state.status == CertificateStatus.REVOKED
    assert state.revocation_reason is RevocationReason.KEY_COMPROMISE
    with pytest.raises(NotOnHoldError):
        service.release(serial)
    with pytest.raises(AlreadyRevokedError):
        service.hold(serial)
    with pytest.raises(AlreadyRevokedError):
        service.revoke(serial, RevocationReason.SUPERSEDED)


def test_revocation_request_errors(service: CAService, issue: Issue) -> None:
    serial = issue().serial_number
    with pytest.raises(UnknownCertificateError):
        service.revoke(serial + 1, RevocationReason.SUPERSEDED)
    with pytest.raises(InvalidRevocationRequestError):
        service.revoke(serial, RevocationReason.KEY_COMPROMISE, invalidity_date=NOW + timedelta(days=1))
    with pytest.raises(InvalidRevocationRequestError):
        service.revoke(serial, RevocationReason.CERTIFICATE_HOLD, invalidity_date=NOW)
    assert service.certificate_state(serial).status == CertificateStatus.GOOD
