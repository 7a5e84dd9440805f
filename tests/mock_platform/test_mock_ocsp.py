"""OCSP responder (service level): statuses, CertID hashes, nonce, delegated responder, error statuses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from mockpki_helpers import NOW

from mock_platform.ca.ocsp import ResponderIdType
from mock_platform.ca.profile import CertificateKind, RevocationReason
from mock_platform.ca.service import CAConfig, CAService, IssuedCertificate
from mock_platform.clock import MockClock
from mock_platform.db import Database

Issue = Callable[..., IssuedCertificate]
SIGNING = CertificateKind.SIGNING


def request_der(
    issued: IssuedCertificate,
    issuer: x509.Certificate,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        issued.certificate, issuer, algorithm or hashes.SHA1()
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def verify_response_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    key = signer.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())


def respond(service: CAService, der: bytes, **kwargs: object) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(service.ocsp_respond(der, **kwargs))  # type: ignore[arg-type]


@pytest.fixture
def signing_root(service: CAService) -> x509.Certificate:
    return service.ca_certificate(SIGNING, 2).certificate


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256()], ids=["sha1", "sha256"])
def test_good_response_shape(
    service: CAService, issue: Issue, signing_root: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> None:
    issued = issue()
    nonce = b"\x01" * 16
    response = respond(service, request_der(issued, signing_root, algorithm, nonce))
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == issued.serial_number
    assert response.hash_algorithm.name == algorithm.name  # CertID echoed with the request's algorithm
    assert response.produced_at_utc == NOW  # from the mock clock, not the system clock
    assert response.this_update_utc == NOW
    assert response.next_update_utc == NOW + timedelta(minutes=15)
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert response.responder_key_hash == (
        x509.SubjectKeyIdentifier.from_public_key(signing_root.public_key()).digest
    )
    assert response.certificates == []  # CA-signed: nothing to include
    verify_response_signature(response, signing_root)


@pytest.mark.parametrize("reason", list(RevocationReason))
def test_revocation_applies_at_once(
    service: CAService,
    clock: MockClock,
    issue: Issue,
    signing_root: x509.Certificate,
    reason: RevocationReason,
) -> None:
    issued = issue()
    clock.advance(timedelta(minutes=1))
    service.revoke(issued.serial_number, reason)
    clock.advance(timedelta(seconds=1))
    response = respond(service, request_der(issued, signing_root))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == NOW + timedelta(minutes=1)
    assert response.revocation_reason is not None
    assert response.revocation_reason.value == reason.value


def test_hold_then_release(service: CAService, issue: Issue, signing_root: x509.Certificate) -> None:
    issued = issue()
    der = request_der(issued, signing_root)
    service.hold(issued.serial_number)
    held = respond(service, der)
    assert held.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert held.revocation_reason is x509.ReasonFlags.certificate_hold
    service.release(issued.serial_number)
    assert respond(service, der).certificate_status is ocsp.OCSPCertStatus.GOOD


def test_unknown_serial_and_other_generation(
    service: CAService, issue: Issue, signing_root: x509.Certificate
) -> None:
    issued = issue()
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            *_hashes(signing_root, hashes.SHA1()), issued.serial_number + 1, hashes.SHA1()
        )
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    assert respond(service, request).certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    # Same serial asked of generation 1 (same DN, other key): that CA never issued it.
    g1 = service.ca_certificate(SIGNING, 1).certificate
    response = respond(service, request_der(issued, g1))
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    verify_response_signature(response, g1)


def _hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    from mock_platform.ca.authority import issuer_key_hash, issuer_name_hash

    return issuer_name_hash(issuer, algorithm), issuer_key_hash(issuer, algorithm)


def test_issuer_hashes_match_cryptography(issue: Issue, signing_root: x509.Certificate) -> None:
    issued = issue()
    for algorithm in (hashes.SHA1(), hashes.SHA256()):
        request = (
            ocsp.OCSPRequestBuilder().add_certificate(issued.certificate, signing_root, algorithm).build()
        )
        assert (request.issuer_name_hash, request.issuer_key_hash) == _hashes(signing_root, algorithm)


def test_error_statuses(service: CAService, issue: Issue, signing_root: x509.Certificate) -> None:
    def status(der: bytes) -> ocsp.OCSPResponseStatus:
        return respond(service, der).response_status

    assert status(b"") is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert status(b"\x30\x03\x02\x01\x00") is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert status(b"garbage" * 10) is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    issued = issue()
    assert (
        status(request_der(issued, signing_root, nonce=b"\x00" * 33))
        is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    # an issuer that is none of the mock's CAs
    foreign = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(b"\x00" * 20, b"\x11" * 20, 1, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    assert status(foreign) is ocsp.OCSPResponseStatus.UNAUTHORIZED
    # an unsupported CertID hash (SHA-512)
    sha512 = request_der(issued, signing_root, hashes.SHA512())
    assert status(sha512) is ocsp.OCSPResponseStatus.UNAUTHORIZED
    # several CertIDs in one request (cryptography parses single requests only)
    cert_id = {
        "hash_algorithm": {"algorithm": "sha1"},
        "issuer_name_hash": b"\x00" * 20,
        "issuer_key_hash": b"\x01" * 20,
        "serial_number": 5,
    }
    requests = [{"req_cert": cert_id}, {"req_cert": {**cert_id, "serial_number": 6}}]
    double = asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": requests}}).dump()
    assert status(double) is ocsp.OCSPResponseStatus.UNAUTHORIZED
    # error responses carry no responseBytes
    assert service.ocsp_respond(b"") == bytes.fromhex("30030a0101")


def test_delegated_responder(
    service: CAService, clock: MockClock, issue: Issue, signing_root: x509.Certificate
) -> None:
    issued = issue()
    response = respond(service, request_der(issued, signing_root), delegated=True)
    (responder,) = response.certificates
    responder.verify_directly_issued_by(signing_root)
    eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    assert responder.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert responder.not_valid_before_utc <= NOW <= responder.not_valid_after_utc
    assert (
        response.responder_key_hash
        == x509.SubjectKeyIdentifier.from_public_key(responder.public_key()).digest
    )
    verify_response_signature(response, responder)
    # reused while valid, renewed after it expires
    again = respond(service, request_der(issued, signing_root), delegated=True)
    assert again.certificates[0] == responder
    clock.set(responder.not_valid_after_utc + timedelta(seconds=1))
    renewed = respond(service, request_der(issued, signing_root), delegated=True)
    assert renewed.certificates[0].serial_number != responder.serial_number
    assert renewed.certificates[0].not_valid_before_utc <= clock.now()


def test_delegated_by_configuration_and_by_name(database: Database, clock: MockClock, issue: Issue) -> None:
    service = CAService(
        database, clock, CAConfig(ocsp_delegated_responder=True, ocsp_responder_id=ResponderIdType.BY_NAME)
    )
    root = service.ca_certificate(CertificateKind.USER_AUTHENTICATION, 2).certificate
    issued = issue(CertificateKind.USER_AUTHENTICATION)
    response = respond(service, request_der(issued, root))
    (responder,) = response.certificates
    assert response.responder_name == responder.subject
    assert response.responder_key_hash is None
    assert "OCSP Responder G2" in responder.subject.rfc4514_string()
    ca_signed = respond(
        service, request_der(issued, root), delegated=False, responder_id=ResponderIdType.BY_KEY
    )
    verify_response_signature(ca_signed, root)
