"""OCSP response validation (RFC 6960 §3.2) against a generated test PKI."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ObjectIdentifier
from revocation_pki import (
    NOW,
    PKI,
    ec_key,
    key_bits,
    make_ocsp,
    name_der,
    raw_ocsp,
    sha1_key_hash,
    single,
)

from myna_rp.errors import MynaRPError, OCSPFailure, OCSPResponseInvalidError
from myna_rp.revocation import (
    CertIDHash,
    CertStatus,
    RevocationPolicy,
    RevocationReason,
    RevocationSource,
    build_ocsp_request,
    validate_ocsp_response,
    verify_ocsp_signer,
)

POLICY = RevocationPolicy.REQUIRE


def _validate(pki: PKI, der: bytes, **kwargs: object) -> object:
    options: dict[str, object] = {"at": NOW, "policy": POLICY}
    options.update(kwargs)
    return validate_ocsp_response(der, pki.leaf.cert, pki.root.cert, **options)  # type: ignore[arg-type]


def _cause(pki: PKI, der: bytes, **kwargs: object) -> OCSPFailure:
    with pytest.raises(OCSPResponseInvalidError) as caught:
        _validate(pki, der, **kwargs)
    return caught.value.cause


# -- statuses -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256()], ids=["sha1", "sha256"])
def test_good_signed_by_the_ca(pki: PKI, algorithm: hashes.HashAlgorithm) -> None:
    status = validate_ocsp_response(
        make_ocsp(cert=pki.leaf, issuer=pki.root, algorithm=algorithm),
        pki.leaf.cert,
        pki.root.cert,
        at=NOW,
        policy=POLICY,
    )
    assert status.status is CertStatus.GOOD
    assert status.source is RevocationSource.OCSP
    assert status.serial_number == pki.leaf.cert.serial_number
    assert status.this_update == NOW - timedelta(minutes=10)
    assert status.next_update == NOW + timedelta(hours=12)


REVOKED_REASONS = [
    (x509.ReasonFlags.unspecified, RevocationReason.UNSPECIFIED),
    (x509.ReasonFlags.key_compromise, RevocationReason.KEY_COMPROMISE),
    (x509.ReasonFlags.ca_compromise, RevocationReason.CA_COMPROMISE),
    (x509.ReasonFlags.affiliation_changed, RevocationReason.AFFILIATION_CHANGED),
    (x509.ReasonFlags.superseded, RevocationReason.SUPERSEDED),
    (x509.ReasonFlags.cessation_of_operation, RevocationReason.CESSATION_OF_OPERATION),
    (x509.ReasonFlags.privilege_withdrawn, RevocationReason.PRIVILEGE_WITHDRAWN),
    (x509.ReasonFlags.aa_compromise, RevocationReason.AA_COMPROMISE),
    (None, None),
]


@pytest.mark.parametrize(("flag", "reason"), REVOKED_REASONS, ids=lambda v: str(v))
def test_revoked_with_each_reason(
    pki: PKI, flag: x509.ReasonFlags | None, reason: RevocationReason | None
) -> None:
    revoked_at = NOW - timedelta(days=3)
    der = make_ocsp(
        cert=pki.leaf,
        issuer=pki.root,
        status=ocsp.OCSPCertStatus.REVOKED,
        reason=flag,
        revocation_time=revoked_at,
    )
    status = validate_ocsp_response(der, pki.leaf.cert, pki.root.cert, at=NOW, policy=POLICY)
    assert status.status is CertStatus.REVOKED
    assert status.reason is reason
    assert status.revocation_time == revoked_at


def test_certificate_hold_is_on_hold(pki: PKI) -> None:
    der = make_ocsp(
        cert=pki.leaf,
        issuer=pki.root,
        status=ocsp.OCSPCertStatus.REVOKED,
        reason=x509.ReasonFlags.certificate_hold,
    )
    status = validate_ocsp_response(der, pki.leaf.cert, pki.root.cert, at=NOW, policy=POLICY)
    assert status.status is CertStatus.ON_HOLD
    assert status.reason is RevocationReason.CERTIFICATE_HOLD


def test_unknown(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, status=ocsp.OCSPCertStatus.UNKNOWN)
    status = validate_ocsp_response(der, pki.leaf.cert, pki.root.cert, at=NOW, policy=POLICY)
    assert status.status is CertStatus.UNKNOWN


def test_responder_error_status(pki: PKI) -> None:
    der = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER).public_bytes(
        serialization.Encoding.DER
    )
    assert _cause(pki, der) is OCSPFailure.RESPONDER_ERROR


# -- responder authorisation --------------------------------------------------------------------------


@pytest.mark.parametrize("by_name", [False, True], ids=["byKey", "byName"])
def test_delegated_responder_accepted(pki: PKI, by_name: bool) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, signer=pki.responder, by_name=by_name)
    status = validate_ocsp_response(der, pki.leaf.cert, pki.root.cert, at=NOW, policy=POLICY)
    assert status.status is CertStatus.GOOD


@pytest.mark.parametrize("by_name", [False, True], ids=["byKey", "byName"])
def test_ca_itself_by_key_and_by_name(pki: PKI, by_name: bool) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, by_name=by_name)
    assert _validate(pki, der).status is CertStatus.GOOD  # type: ignore[attr-defined]


def test_by_key_uses_sha1_of_key_bits_not_the_ski_extension(pki: PKI) -> None:
    responder = pki.responder_custom_ski
    ski = responder.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert ski != sha1_key_hash(responder.cert)
    entries = [single(cert=pki.leaf.cert, issuer=pki.root.cert)]
    good = raw_ocsp(
        singles=entries,
        signing_key=responder.key,
        responder_key_hash=sha1_key_hash(responder.cert),
        certs=[responder.cert],
    )
    assert _validate(pki, good).status is CertStatus.GOOD  # type: ignore[attr-defined]
    from_ski = raw_ocsp(
        singles=entries, signing_key=responder.key, responder_key_hash=ski, certs=[responder.cert]
    )
    assert _cause(pki, from_ski) is OCSPFailure.UNAUTHORISED_SIGNER


@pytest.mark.parametrize(
    "which",
    ["responder_no_eku", "responder_expired", "other_responder", "leaf2"],
    ids=["no-OCSPSigning-EKU", "expired-responder", "responder-of-another-CA", "end-entity-cert"],
)
def test_unauthorised_signers(pki: PKI, which: str) -> None:
    signer = getattr(pki, which)
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, signer=signer)
    assert _cause(pki, der) is OCSPFailure.UNAUTHORISED_SIGNER


def test_self_signed_responder_with_eku_rejected(pki: PKI) -> None:
    key = ec_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(pki.responder.cert.subject)
        .issuer_name(pki.root.cert.subject)  # claims the CA as issuer, but is signed by itself
        .public_key(key.public_key())
        .serial_number(77)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .sign(key, hashes.SHA256())
    )
    from revocation_pki import Party

    der = make_ocsp(cert=pki.leaf, issuer=pki.root, signer=Party(cert, key))
    assert _cause(pki, der) is OCSPFailure.UNAUTHORISED_SIGNER


def test_responder_not_in_response_rejected(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, signer=pki.responder, include_certs=[])
    assert _cause(pki, der) is OCSPFailure.UNAUTHORISED_SIGNER


def test_signature_by_wrong_key(pki: PKI) -> None:
    der = raw_ocsp(  # responderID names the CA, signature by another key
        singles=[single(cert=pki.leaf.cert, issuer=pki.root.cert)],
        signing_key=ec_key(),
        responder_key_hash=sha1_key_hash(pki.root.cert),
    )
    assert _cause(pki, der) is OCSPFailure.SIGNATURE


def test_delegated_signature_by_wrong_key(pki: PKI) -> None:
    der = raw_ocsp(
        singles=[single(cert=pki.leaf.cert, issuer=pki.root.cert)],
        signing_key=pki.responder_no_eku.key,
        responder_key_hash=sha1_key_hash(pki.responder.cert),
        certs=[pki.responder.cert],
    )
    assert _cause(pki, der) is OCSPFailure.SIGNATURE


# -- CertID -------------------------------------------------------------------------------------------


def _certid_variant(pki: PKI, field: str) -> bytes:
    leaf, root = pki.leaf.cert, pki.root.cert
    variants = {
        # CertID claims SHA-256 but carries SHA-1 hashes: recomputing with SHA-256 cannot match.
        "hash_algorithm": single(cert=leaf, issuer=root, hash_name="sha1", hash_label="sha256"),
        "hash_algorithm_md5": single(
            cert=leaf,
            issuer=root,
            hash_label="md5",
            name_hash=hashlib.md5(name_der(root)).digest(),
            key_hash=hashlib.md5(key_bits(root)).digest(),
        ),
        "issuer_name_hash": single(cert=leaf, issuer=root, name_hash=hashlib.sha1(b"other name").digest()),
        "issuer_key_hash": single(cert=leaf, issuer=root, key_hash=hashlib.sha1(b"other key").digest()),
        "serial": single(cert=leaf, issuer=root, serial=leaf.serial_number + 1),
        "other_issuer": single(cert=leaf, issuer=pki.other_ca.cert),
    }
    return raw_ocsp(
        singles=[variants[field]], signing_key=pki.root.key, responder_key_hash=sha1_key_hash(root)
    )


@pytest.mark.parametrize(
    "field",
    ["hash_algorithm", "hash_algorithm_md5", "issuer_name_hash", "issuer_key_hash", "serial", "other_issuer"],
)
def test_certid_mismatch_on_each_field(pki: PKI, field: str) -> None:
    assert _cause(pki, _certid_variant(pki, field)) is OCSPFailure.CERTID_MISMATCH


def test_raw_builder_control_is_accepted(pki: PKI) -> None:
    """The asn1crypto-built response itself is valid: only the field changed above makes it fail."""
    der = raw_ocsp(
        singles=[single(cert=pki.leaf.cert, issuer=pki.root.cert, hash_name="sha256")],
        signing_key=pki.root.key,
        responder_key_hash=sha1_key_hash(pki.root.cert),
    )
    assert _validate(pki, der).status is CertStatus.GOOD  # type: ignore[attr-defined]


# -- several single responses --------------------------------------------------------------------------


def _multi(pki: PKI, *entries: dict[str, object]) -> bytes:
    return raw_ocsp(
        singles=list(entries), signing_key=pki.root.key, responder_key_hash=sha1_key_hash(pki.root.cert)
    )


def test_duplicate_single_responses_rejected(pki: PKI) -> None:
    one = single(cert=pki.leaf.cert, issuer=pki.root.cert)
    assert _cause(pki, _multi(pki, one, dict(one))) is OCSPFailure.DUPLICATE_RESPONSE


def test_duplicate_with_another_hash_algorithm_rejected(pki: PKI) -> None:
    sha1 = single(cert=pki.leaf.cert, issuer=pki.root.cert)
    sha256 = single(cert=pki.leaf.cert, issuer=pki.root.cert, hash_name="sha256")
    assert _cause(pki, _multi(pki, sha1, sha256)) is OCSPFailure.DUPLICATE_RESPONSE


def test_contradictory_single_responses_rejected(pki: PKI) -> None:
    good = single(cert=pki.leaf.cert, issuer=pki.root.cert)
    revoked = single(cert=pki.leaf.cert, issuer=pki.root.cert, status="revoked", reason="key_compromise")
    assert _cause(pki, _multi(pki, good, revoked)) is OCSPFailure.CONTRADICTORY_RESPONSE
    assert _cause(pki, _multi(pki, revoked, good)) is OCSPFailure.CONTRADICTORY_RESPONSE


def test_several_certificates_in_one_response(pki: PKI) -> None:
    mine = single(cert=pki.leaf.cert, issuer=pki.root.cert, status="revoked", reason="superseded")
    other = single(cert=pki.leaf2.cert, issuer=pki.root.cert)
    status = _validate(pki, _multi(pki, other, mine))
    assert status.status is CertStatus.REVOKED  # type: ignore[attr-defined]
    assert status.reason is RevocationReason.SUPERSEDED  # type: ignore[attr-defined]


# -- freshness ----------------------------------------------------------------------------------------


def test_stale_past_next_update(pki: PKI) -> None:
    der = make_ocsp(
        cert=pki.leaf,
        issuer=pki.root,
        this_update=NOW - timedelta(days=2),
        next_update=NOW - timedelta(minutes=6),
    )
    assert _cause(pki, der) is OCSPFailure.STALE


def test_next_update_within_clock_skew_accepted(pki: PKI) -> None:
    der = make_ocsp(
        cert=pki.leaf,
        issuer=pki.root,
        this_update=NOW - timedelta(days=2),
        next_update=NOW - timedelta(minutes=4),
    )
    assert _validate(pki, der).status is CertStatus.GOOD  # type: ignore[attr-defined]


def test_not_yet_valid(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, this_update=NOW + timedelta(minutes=6))
    assert _cause(pki, der) is OCSPFailure.NOT_YET_VALID


def test_this_update_within_clock_skew_accepted(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, this_update=NOW + timedelta(minutes=4))
    assert _validate(pki, der).status is CertStatus.GOOD  # type: ignore[attr-defined]


def test_missing_next_update_within_max_age(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, this_update=NOW - timedelta(hours=23), next_update=None)
    status = _validate(pki, der)
    assert status.status is CertStatus.GOOD  # type: ignore[attr-defined]
    assert status.next_update is None  # type: ignore[attr-defined]


def test_missing_next_update_past_max_age(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, this_update=NOW - timedelta(hours=25), next_update=None)
    assert _cause(pki, der) is OCSPFailure.STALE
    tight = dataclasses.replace(POLICY, ocsp_max_age=timedelta(minutes=15))
    recent = make_ocsp(
        cert=pki.leaf, issuer=pki.root, this_update=NOW - timedelta(minutes=16), next_update=None
    )
    assert _cause(pki, recent, policy=tight) is OCSPFailure.STALE


# -- nonce --------------------------------------------------------------------------------------------


def test_nonce_echoed(pki: PKI) -> None:
    nonce = b"\x01" * 32
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, nonce=nonce)
    assert _validate(pki, der, expected_nonce=nonce).status is CertStatus.GOOD  # type: ignore[attr-defined]


def test_nonce_mismatch(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, nonce=b"\x01" * 32)
    assert _cause(pki, der, expected_nonce=b"\x02" * 32) is OCSPFailure.NONCE_MISMATCH


def test_missing_nonce_depends_on_policy(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root)
    assert _validate(pki, der, expected_nonce=b"\x02" * 32).status is CertStatus.GOOD  # type: ignore[attr-defined]
    strict = dataclasses.replace(POLICY, require_ocsp_nonce=True)
    assert _cause(pki, der, expected_nonce=b"\x02" * 32, policy=strict) is OCSPFailure.NONCE_MISSING


def test_nonce_not_checked_without_expectation(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, nonce=b"\x09" * 32)
    strict = dataclasses.replace(POLICY, require_ocsp_nonce=True)
    assert _validate(pki, der, policy=strict).status is CertStatus.GOOD  # type: ignore[attr-defined]


def test_unknown_critical_response_extension(pki: PKI) -> None:
    extension = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, extensions=[(extension, True)])
    assert _cause(pki, der) is OCSPFailure.UNKNOWN_CRITICAL_EXTENSION
    lenient = make_ocsp(cert=pki.leaf, issuer=pki.root, extensions=[(extension, False)])
    assert _validate(pki, lenient).status is CertStatus.GOOD  # type: ignore[attr-defined]


def test_naive_time_refused(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root)
    with pytest.raises(ValueError, match="naive"):
        _validate(pki, der, at=NOW.replace(tzinfo=None))


# -- request building ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "expected"), [(CertIDHash.SHA1, hashes.SHA1), (CertIDHash.SHA256, hashes.SHA256)]
)
def test_build_request(pki: PKI, choice: CertIDHash, expected: type[hashes.HashAlgorithm]) -> None:
    request = build_ocsp_request(pki.leaf.cert, pki.root.cert, hash_algorithm=choice)
    parsed = ocsp.load_der_ocsp_request(request.der)
    assert isinstance(parsed.hash_algorithm, expected)
    assert parsed.serial_number == pki.leaf.cert.serial_number
    assert request.nonce is not None
    assert len(request.nonce) == 32
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == request.nonce
    assert build_ocsp_request(pki.leaf.cert, pki.root.cert).nonce != request.nonce


def test_build_request_without_nonce(pki: PKI) -> None:
    request = build_ocsp_request(pki.leaf.cert, pki.root.cert, include_nonce=False)
    assert request.nonce is None
    assert len(ocsp.load_der_ocsp_request(request.der).extensions) == 0


def test_default_request_hash_is_sha1(pki: PKI) -> None:
    request = build_ocsp_request(pki.leaf.cert, pki.root.cert)
    assert request.hash_algorithm is CertIDHash.SHA1


# -- signer-only verification (used by the OpenSSL conformance test) ------------------------------------


def test_verify_signer_identifies_the_issuer(pki: PKI) -> None:
    der = make_ocsp(cert=pki.leaf, issuer=pki.root, signer=pki.responder)
    result = verify_ocsp_signer(der, [pki.other_ca.cert, pki.root.cert], at=NOW)
    assert result.issuer == pki.root.cert
    assert result.responder == pki.responder.cert
    assert result.delegated is True
    with pytest.raises(OCSPResponseInvalidError) as caught:
        verify_ocsp_signer(der, [pki.other_ca.cert], at=NOW)
    assert caught.value.cause is OCSPFailure.CERTID_MISMATCH


def test_every_error_is_ours(pki: PKI) -> None:
    for der in (b"", b"\x30\x00", b"garbage", make_ocsp(cert=pki.leaf, issuer=pki.root)[:-3]):
        with pytest.raises(MynaRPError):
            _validate(pki, der)
