"""CRL validation (RFC 5280 §5, §6.3.3) and the CRL index."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier
from revocation_pki import NOW, PKI, ec_key, make_crl, raw_crl

from myna_rp.errors import CRLFailure, CRLInvalidError
from myna_rp.revocation import (
    CertStatus,
    CRLIndex,
    RevocationPolicy,
    RevocationReason,
    RevocationSource,
    load_crl,
    validate_crl,
)

POLICY = RevocationPolicy.REQUIRE
UNKNOWN_OID = ObjectIdentifier("1.3.6.1.4.1.99999.7")


def _cause(crl: bytes, issuer: x509.Certificate, **kwargs: object) -> CRLFailure:
    options: dict[str, object] = {"at": NOW, "policy": POLICY}
    options.update(kwargs)
    with pytest.raises(CRLInvalidError) as caught:
        validate_crl(crl, issuer, **options)  # type: ignore[arg-type]
    return caught.value.cause


def test_good_and_revoked(pki: PKI) -> None:
    crl = make_crl(
        pki.root, revoked=[(pki.leaf.cert.serial_number, x509.ReasonFlags.key_compromise)], number=9
    )
    index = validate_crl(crl, pki.root.cert, at=NOW, policy=POLICY)
    revoked = index.lookup(pki.leaf.cert.serial_number)
    assert revoked.status is CertStatus.REVOKED
    assert revoked.reason is RevocationReason.KEY_COMPROMISE
    assert revoked.revocation_time == NOW - timedelta(days=2)
    assert revoked.source is RevocationSource.CRL
    assert revoked.crl_number == 9
    good = index.lookup(pki.leaf2.cert.serial_number)
    assert good.status is CertStatus.GOOD
    assert good.next_update == NOW + timedelta(hours=23)
    assert len(index) == 1


@pytest.mark.parametrize(
    ("flag", "reason"),
    [
        (x509.ReasonFlags.unspecified, RevocationReason.UNSPECIFIED),
        (x509.ReasonFlags.key_compromise, RevocationReason.KEY_COMPROMISE),
        (x509.ReasonFlags.ca_compromise, RevocationReason.CA_COMPROMISE),
        (x509.ReasonFlags.affiliation_changed, RevocationReason.AFFILIATION_CHANGED),
        (x509.ReasonFlags.superseded, RevocationReason.SUPERSEDED),
        (x509.ReasonFlags.cessation_of_operation, RevocationReason.CESSATION_OF_OPERATION),
        (x509.ReasonFlags.privilege_withdrawn, RevocationReason.PRIVILEGE_WITHDRAWN),
        (x509.ReasonFlags.aa_compromise, RevocationReason.AA_COMPROMISE),
        (None, None),
    ],
    ids=str,
)
def test_each_reason(pki: PKI, flag: x509.ReasonFlags | None, reason: RevocationReason | None) -> None:
    index = validate_crl(make_crl(pki.root, revoked=[(7, flag)]), pki.root.cert, at=NOW, policy=POLICY)
    status = index.lookup(7)
    assert status.status is CertStatus.REVOKED
    assert status.reason is reason
    assert index.entry(7) == (NOW - timedelta(days=2), reason)


def test_hold_is_on_hold(pki: PKI) -> None:
    index = validate_crl(
        make_crl(pki.root, revoked=[(7, x509.ReasonFlags.certificate_hold)]),
        pki.root.cert,
        at=NOW,
        policy=POLICY,
    )
    status = index.lookup(7)
    assert status.status is CertStatus.ON_HOLD
    assert status.reason is RevocationReason.CERTIFICATE_HOLD


def test_remove_from_crl_in_a_complete_crl_refused(pki: PKI) -> None:
    crl = make_crl(pki.root, revoked=[(7, x509.ReasonFlags.remove_from_crl)])
    assert _cause(crl, pki.root.cert) is CRLFailure.UNSUPPORTED_CRL


def test_negative_serial(pki: PKI) -> None:
    index = validate_crl(
        raw_crl(pki.root, revoked=[(-1, "key_compromise")], next_update=NOW + timedelta(days=1)),
        pki.root.cert,
        at=NOW,
        policy=POLICY,
    )
    assert index.lookup(-1).status is CertStatus.REVOKED
    assert index.lookup(1).status is CertStatus.GOOD
    assert index.lookup(255).status is CertStatus.GOOD


def test_bad_signature(pki: PKI) -> None:
    assert _cause(make_crl(pki.root, signing_key=ec_key()), pki.root.cert) is CRLFailure.SIGNATURE


def test_signed_by_another_ca_with_the_same_name_is_rejected(pki: PKI) -> None:
    crl = make_crl(pki.root, signing_key=pki.other_ca.key, aki_from=pki.other_ca)
    assert _cause(crl, pki.root.cert) in (CRLFailure.SIGNATURE, CRLFailure.AKI_MISMATCH)


def test_issuer_mismatch(pki: PKI) -> None:
    assert _cause(make_crl(pki.other_ca), pki.root.cert) is CRLFailure.ISSUER_MISMATCH


def test_issuer_without_crl_sign(pki: PKI) -> None:
    assert _cause(make_crl(pki.no_crlsign_ca), pki.no_crlsign_ca.cert) is CRLFailure.KEY_USAGE


def test_aki_mismatch(pki: PKI) -> None:
    crl = make_crl(pki.root, aki_from=pki.other_ca)  # signed by root, AKI names another key
    assert _cause(crl, pki.root.cert) is CRLFailure.AKI_MISMATCH


def test_stale(pki: PKI) -> None:
    crl = make_crl(pki.root, this_update=NOW - timedelta(days=2), next_update=NOW - timedelta(minutes=6))
    assert _cause(crl, pki.root.cert) is CRLFailure.STALE


def test_not_yet_valid(pki: PKI) -> None:
    crl = make_crl(pki.root, this_update=NOW + timedelta(minutes=6))
    assert _cause(crl, pki.root.cert) is CRLFailure.NOT_YET_VALID


def test_missing_next_update_within_max_age(pki: PKI) -> None:
    crl = raw_crl(pki.root, revoked=[(5, None)], this_update=NOW - timedelta(hours=23))
    index = validate_crl(crl, pki.root.cert, at=NOW, policy=POLICY)
    assert index.next_update is None
    assert index.lookup(5).status is CertStatus.REVOKED


def test_missing_next_update_past_max_age(pki: PKI) -> None:
    crl = raw_crl(pki.root, this_update=NOW - timedelta(hours=25))
    assert _cause(crl, pki.root.cert) is CRLFailure.STALE
    generous = dataclasses.replace(POLICY, crl_max_age=timedelta(hours=48))
    assert validate_crl(crl, pki.root.cert, at=NOW, policy=generous).next_update is None


def test_rollback(pki: PKI) -> None:
    crl = make_crl(pki.root, number=4)
    assert _cause(crl, pki.root.cert, previous_number=5) is CRLFailure.ROLLBACK
    assert validate_crl(crl, pki.root.cert, at=NOW, policy=POLICY, previous_number=4).crl_number == 4
    without_number = make_crl(pki.root, number=None)
    assert _cause(without_number, pki.root.cert, previous_number=1) is CRLFailure.ROLLBACK


def test_unknown_critical_crl_extension(pki: PKI) -> None:
    extension = x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00")
    crl = make_crl(pki.root, extensions=[(extension, True)])
    assert _cause(crl, pki.root.cert) is CRLFailure.UNKNOWN_CRITICAL_EXTENSION
    assert (
        len(
            validate_crl(
                make_crl(pki.root, extensions=[(extension, False)]), pki.root.cert, at=NOW, policy=POLICY
            )
        )
        == 0
    )


def test_unknown_critical_entry_extension(pki: PKI) -> None:
    extension = x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00")
    crl = make_crl(pki.root, revoked=[(99, None)], entry_extensions=[(extension, True)])
    assert _cause(crl, pki.root.cert) is CRLFailure.UNKNOWN_CRITICAL_ENTRY_EXTENSION
    lenient = make_crl(pki.root, revoked=[(99, None)], entry_extensions=[(extension, False)])
    assert validate_crl(lenient, pki.root.cert, at=NOW, policy=POLICY).lookup(99).status is CertStatus.REVOKED


def test_delta_crl_refused(pki: PKI) -> None:
    crl = make_crl(pki.root, extensions=[(x509.DeltaCRLIndicator(1), True)])
    assert _cause(crl, pki.root.cert) is CRLFailure.UNSUPPORTED_CRL


def test_indirect_crl_refused(pki: PKI) -> None:
    idp = x509.IssuingDistributionPoint(
        full_name=None,
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=True,
        only_contains_attribute_certs=False,
    )
    assert _cause(make_crl(pki.root, extensions=[(idp, True)]), pki.root.cert) is CRLFailure.UNSUPPORTED_CRL


def test_issuing_distribution_point_scope(pki: PKI) -> None:
    only_ca = x509.IssuingDistributionPoint(
        full_name=None,
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=True,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    index = validate_crl(
        make_crl(pki.root, extensions=[(only_ca, True)]), pki.root.cert, at=NOW, policy=POLICY
    )
    index.check_scope(pki.intermediate.cert)
    with pytest.raises(CRLInvalidError) as caught:
        index.check_scope(pki.leaf.cert)
    assert caught.value.cause is CRLFailure.SCOPE_MISMATCH


def test_distribution_point_name_must_match(pki: PKI) -> None:
    dp_name = x509.DirectoryName(
        x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "CRL partition 1")])
    )
    idp = x509.IssuingDistributionPoint(
        full_name=[dp_name],
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    index = validate_crl(make_crl(pki.root, extensions=[(idp, True)]), pki.root.cert, at=NOW, policy=POLICY)
    with pytest.raises(CRLInvalidError) as caught:
        index.check_scope(pki.leaf.cert)  # the leaf has no cRLDistributionPoints
    assert caught.value.cause is CRLFailure.SCOPE_MISMATCH


def test_malformed_bytes() -> None:
    with pytest.raises(CRLInvalidError) as caught:
        load_crl(b"\x30\x03\x02\x01\x01")
    assert caught.value.cause is CRLFailure.MALFORMED


def test_pem_accepted(pki: PKI) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = load_crl(make_crl(pki.root)).public_bytes(serialization.Encoding.PEM)
    assert len(validate_crl(pem, pki.root.cert, at=NOW, policy=POLICY)) == 0


def test_index_build_is_independent_of_the_crl_object(pki: PKI) -> None:
    serials = [(s, x509.ReasonFlags.superseded) for s in range(1, 200)]
    crl = load_crl(make_crl(pki.root, revoked=serials))
    index = CRLIndex.build(crl)
    del crl
    assert len(index) == 199
    assert 150 in index
    assert 200 not in index
    assert index.lookup(150).reason is RevocationReason.SUPERSEDED
