"""The SDK against the mock's other configurations and protocol options: a delegated OCSP responder named
byName, SHA-256 CertIDs, OCSP over GET, AIA/HTTP CRL distribution points added by the mock, CRLs without
nextUpdate, unspecified reasons left out, clock skew between the relying party and the responder,
attribute encodings, and concurrent verifications.
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from integration_support import (
    BASE_URL,
    NOW,
    OCSP_URL,
    OCSP_VALIDITY,
    PERSON,
    Enrolled,
    MockPlatform,
    status_of,
)

from mock_platform.ca.service import CAConfig
from mock_platform.ca.token import TokenSimulator
from myna_rp.clock import FixedClock
from myna_rp.errors import (
    CertificateRevokedError,
    CRLFailure,
    OCSPFailure,
    Reason,
    RevocationUnavailableError,
)
from myna_rp.jpki import Gender, JPKIVerification, JPKIVerifier
from myna_rp.revocation import (
    CertIDHash,
    CertStatus,
    CRLSource,
    OCSPClient,
    RevocationChecker,
    RevocationPolicy,
    RevocationReason,
    RevocationSource,
    verify_ocsp_signer,
)

REQUIRE_WITH_NONCE = dataclasses.replace(
    RevocationPolicy.REQUIRE, name="REQUIRE_WITH_NONCE", require_ocsp_nonce=True
)
OCSP_ONLY = dataclasses.replace(RevocationPolicy.REQUIRE, name="OCSP_ONLY", sources=(RevocationSource.OCSP,))


def verify(verifier: JPKIVerifier, enrolled: Enrolled) -> JPKIVerification:
    return verifier.verify_signature(
        data=b"challenge", signature=enrolled.token.sign(b"challenge"), certificate=enrolled.certificate
    )


@pytest.fixture
def mock(shared_mock: MockPlatform) -> MockPlatform:
    return shared_mock


def test_delegated_responder_named_by_name(
    make_mock: Callable[..., MockPlatform], tokens: dict[str, TokenSimulator]
) -> None:
    mock = make_mock(ocsp_delegated_responder=True, ocsp_responder_id="by_name")
    enrolled = mock.enroll(tokens["card_signing"])
    result = verify(mock.verifier(REQUIRE_WITH_NONCE), enrolled)
    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.source is RevocationSource.OCSP

    (exchange,) = mock.wire.ocsp()
    response = exchange.ocsp_response()
    (responder,) = response.certificates
    assert response.responder_name == responder.subject
    assert response.responder_key_hash is None
    eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.OCSP_SIGNING in eku
    signer = verify_ocsp_signer(
        exchange.response_body, [mock.root("signing", 1), mock.root("signing", 2)], at=NOW
    )
    assert signer.delegated is True
    assert signer.responder == responder
    assert signer.issuer == mock.root("signing", 2)

    mock.revoke(enrolled.serial_hex, "keyCompromise")
    with pytest.raises(CertificateRevokedError) as caught:
        verify(mock.verifier(REQUIRE_WITH_NONCE), enrolled)
    assert status_of(caught.value).reason is RevocationReason.KEY_COMPROMISE


def test_sha256_cert_id(mock: MockPlatform, tokens: dict[str, TokenSimulator]) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    client = mock.ocsp_client(hash_algorithm=CertIDHash.SHA256)
    checker = RevocationChecker(ocsp=client, crls=None, clock=mock.clock)
    result = verify(mock.verifier(OCSP_ONLY, checker=checker), enrolled)
    assert result.revocation.status is CertStatus.GOOD
    (exchange,) = mock.wire.ocsp()
    assert isinstance(exchange.ocsp_request().hash_algorithm, hashes.SHA256)
    assert isinstance(exchange.ocsp_response().hash_algorithm, hashes.SHA256)


@pytest.mark.parametrize("nonce", [False, True], ids=["no-nonce", "nonce"])
def test_ocsp_over_get(mock: MockPlatform, tokens: dict[str, TokenSimulator], nonce: bool) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    client = mock.ocsp_client(use_get=True, include_nonce=nonce)
    policy = dataclasses.replace(OCSP_ONLY, require_ocsp_nonce=nonce)
    checker = RevocationChecker(ocsp=client, crls=None, clock=mock.clock)
    result = verify(mock.verifier(policy, checker=checker), enrolled)
    assert result.revocation.status is CertStatus.GOOD
    (exchange,) = mock.wire.ocsp()
    request = exchange.ocsp_request()
    assert request.serial_number == enrolled.serial_number
    # RFC 5019 §5 / the client's rule: GET exactly when the encoded URL stays within 255 characters.
    encoded = urllib.parse.quote(base64.b64encode(request.public_bytes(Encoding.DER)).decode(), safe="")
    get_fits = len(f"{OCSP_URL}/{encoded}") <= 255
    assert exchange.method == ("GET" if get_fits else "POST")
    if not nonce:
        assert exchange.method == "GET"  # a request without a nonce always fits
    else:
        sent = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        echoed = exchange.ocsp_response().extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        assert sent == echoed


def test_aia_and_http_distribution_point_added_by_the_mock(
    make_mock: Callable[..., MockPlatform], tokens: dict[str, TokenSimulator]
) -> None:
    """The mock may add the URLs J-LIS certificates lack; the SDK then needs no per-issuer configuration."""
    mock = make_mock(ocsp_url=OCSP_URL, crl_http_base_url=BASE_URL)
    enrolled = mock.enroll(tokens["card_signing"])
    aia = enrolled.certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [
        d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP
    ] == [OCSP_URL]
    checker = RevocationChecker(ocsp=OCSPClient(mock.http), crls=CRLSource(http=mock.http), clock=mock.clock)
    result = verify(mock.verifier(REQUIRE_WITH_NONCE, checker=checker), enrolled)
    assert result.revocation.status is CertStatus.GOOD
    assert [e.url for e in mock.wire.ocsp()] == [OCSP_URL]
    assert [e.url for e in mock.wire.crl()] == [mock.crl_url("signing", 2)]

    # Switched off, the same certificates have no source at all.
    bare = RevocationChecker(
        ocsp=OCSPClient(mock.http, use_aia=False),
        crls=CRLSource(http=mock.http, use_distribution_points=False),
        clock=mock.clock,
    )
    with pytest.raises(RevocationUnavailableError):
        verify(mock.verifier(RevocationPolicy.REQUIRE, checker=bare), enrolled)


def test_crl_without_next_update_is_bounded_by_crl_max_age(
    make_mock: Callable[..., MockPlatform], tokens: dict[str, TokenSimulator]
) -> None:
    mock = make_mock()
    enrolled = mock.enroll(tokens["card_signing"])
    issued = mock.issue_crls(purpose="signing", omit_next_update=True)
    assert all(c["next_update"] is None for c in issued)
    status = verify(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled).revocation
    assert status.status is CertStatus.GOOD
    assert status.next_update is None

    mock.advance(timedelta(hours=2))  # still before the daily issue: the mock serves the same CRL
    one_hour = dataclasses.replace(RevocationPolicy.CRL_ONLY, name="CRL_1H", crl_max_age=timedelta(hours=1))
    with pytest.raises(RevocationUnavailableError) as caught:
        verify(mock.verifier(one_hour), enrolled)
    assert any(CRLFailure.STALE.value in attempt for attempt in caught.value.attempts)
    assert verify(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled).revocation.status is CertStatus.GOOD


def test_unspecified_reason_left_out_of_the_wire(
    make_mock: Callable[..., MockPlatform], tokens: dict[str, TokenSimulator]
) -> None:
    """RFC 5280 §5.3.1: 'unspecified' SHOULD be expressed by omitting reasonCode: revoked, reason None."""
    mock = make_mock(config=CAConfig(encode_unspecified_reason=False))
    enrolled = mock.enroll(tokens["card_signing"])
    mock.revoke(enrolled.serial_hex, "unspecified")
    mock.issue_crls(purpose="signing")
    for policy, source in (
        (OCSP_ONLY, RevocationSource.OCSP),
        (RevocationPolicy.CRL_ONLY, RevocationSource.CRL),
    ):
        with pytest.raises(CertificateRevokedError) as caught:
            verify(mock.verifier(policy), enrolled)
        assert caught.value.reason is Reason.CERTIFICATE_REVOKED
        assert status_of(caught.value).status is CertStatus.REVOKED
        assert status_of(caught.value).reason is None
        assert status_of(caught.value).source is source


def test_revocation_with_an_invalidity_date(mock: MockPlatform, tokens: dict[str, TokenSimulator]) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    response = mock.admin.post(
        f"/admin/certificates/{enrolled.serial_hex}/revoke",
        json={"reason": "keyCompromise", "invalidity_date": (NOW - timedelta(days=3)).isoformat()},
    )
    assert response.status_code == 200, response.text
    mock.issue_crls(purpose="signing")
    with pytest.raises(CertificateRevokedError) as caught:
        verify(mock.verifier(RevocationPolicy.CRL_ONLY), enrolled)
    assert status_of(caught.value).reason is RevocationReason.KEY_COMPROMISE
    assert status_of(caught.value).revocation_time == NOW  # revocationDate, not the invalidity date


@pytest.mark.parametrize(
    ("sdk_offset", "good"),
    [
        (timedelta(minutes=-4), True),
        (timedelta(minutes=-6), False),
        (OCSP_VALIDITY + timedelta(minutes=4), True),
    ],
    ids=["behind-within-skew", "behind-beyond-skew", "ahead-past-next-update-within-skew"],
)
def test_clock_skew_between_relying_party_and_responder(
    mock: MockPlatform, tokens: dict[str, TokenSimulator], sdk_offset: timedelta, good: bool
) -> None:
    """The SDK on its own clock (a FixedClock), the responder on the mock's: 5 minutes' tolerance."""
    enrolled = mock.enroll(tokens["card_signing"])
    sdk_clock = FixedClock(NOW + sdk_offset)
    checker = RevocationChecker(ocsp=mock.ocsp_client(), crls=None, clock=sdk_clock)
    verifier = JPKIVerifier(mock.trust, revocation=checker, policy=OCSP_ONLY, clock=sdk_clock)
    if good:
        assert verify(verifier, enrolled).revocation.status is CertStatus.GOOD
    else:
        with pytest.raises(RevocationUnavailableError) as caught:
            verify(verifier, enrolled)
        assert any(OCSPFailure.NOT_YET_VALID.value in attempt for attempt in caught.value.attempts)


@pytest.mark.parametrize(
    ("changes", "expected_dob", "expected_gender"),
    [
        ({"attribute_encoding": "octet_string"}, date(1985, 7, 4), Gender.FEMALE),
        ({"date_of_birth": "319850700"}, None, Gender.FEMALE),  # day unknown: value None (fail closed)
        (
            {
                "attributes": {
                    **PERSON,
                    "gender": "3",
                    "address_substitute_positions": "1" + "0" * (len(PERSON["address"]) - 1),
                }
            },
            date(1985, 7, 4),
            Gender.NOT_STATED,
        ),
    ],
    ids=["octet-string", "unknown-day", "gender-not-stated"],
)
def test_attribute_variants_round_trip(
    mock: MockPlatform,
    tokens: dict[str, TokenSimulator],
    changes: dict[str, object],
    expected_dob: date | None,
    expected_gender: Gender,
) -> None:
    token = tokens["card_signing"]
    payload: dict[str, object] = {
        "kind": "signing",
        "public_key_pem": token.public_key_pem(),
        "date_of_birth": "319850704",
        "card_expiry": "2034-07-04",
        "prefecture": "Tokyo-to",
        "municipality": "Chiyoda-ku",
        "attributes": PERSON,
        **changes,
    }
    response = mock.admin.post("/admin/certificates", json=payload)
    assert response.status_code == 201, response.text
    certificate = x509.load_pem_x509_certificate(response.json()["certificate_pem"].encode())
    result = mock.verifier().verify_signature(data=b"d", signature=token.sign(b"d"), certificate=certificate)
    attributes = result.attributes
    assert attributes is not None
    sent = payload["attributes"]
    assert isinstance(sent, dict)
    assert attributes.name == sent["name"]
    assert attributes.address == sent["address"]
    assert attributes.gender is expected_gender
    assert attributes.date_of_birth.raw == payload["date_of_birth"]
    assert attributes.date_of_birth.value == expected_dob
    assert attributes.address_substitute_positions == sent.get(
        "address_substitute_positions", "0" * len(str(sent["address"]))
    )


def test_concurrent_verifications(
    make_mock: Callable[..., MockPlatform], tokens: dict[str, TokenSimulator]
) -> None:
    """Eight threads verify at once through one checker (shared cache) on a mock that has issued no CRL
    yet: every verification is GOOD and no request fails on the mock's side."""
    mock = make_mock()
    people = [mock.enroll(tokens["card_signing"]) for _ in range(4)]
    verifier = mock.verifier(REQUIRE_WITH_NONCE)

    def run(index: int) -> CertStatus:
        return verify(verifier, people[index % len(people)]).revocation.status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(run, range(16)))
    assert statuses == [CertStatus.GOOD] * 16
    assert {e.status_code for e in mock.wire.exchanges} == {200}
    crl_numbers = {
        x509.load_der_x509_crl(e.response_body)
        .extensions.get_extension_for_class(x509.CRLNumber)
        .value.crl_number
        for e in mock.wire.crl()
    }
    assert crl_numbers == {1}
