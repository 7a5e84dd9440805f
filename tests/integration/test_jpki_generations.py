"""CA generation rollover: the mock runs two generations per purpose with the same subject DN. Trust anchors
come from ``GET /ca``; a certificate from each generation verifies against the right one; OCSP CertIDs
and CRLs resolve to the right generation (by key, never by name).
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from integration_support import NOW, OCSP_URL, Enrolled, MockPlatform, status_of

from mock_platform.ca.token import TokenSimulator
from myna_rp.errors import CertificateRevokedError, Reason, VerificationError
from myna_rp.jpki import AnchorPurpose, JPKIVerifier, TrustStore
from myna_rp.revocation import (
    CertStatus,
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
YEAR = timedelta(days=365)


def enroll_in_both_generations(
    mock: MockPlatform, token: TokenSimulator, kind: str = "signing"
) -> tuple[Enrolled, Enrolled]:
    """Enroll once three years ago (only generation 1 was valid then) and once now (generation 2)."""
    mock.set_clock(NOW - 3 * YEAR)
    old = mock.enroll(token, kind=kind)
    mock.set_clock(NOW)
    new = mock.enroll(token, kind=kind)
    assert (old.issuer_generation, new.issuer_generation) == (1, 2)
    return old, new


def expected_cert_id(certificate: x509.Certificate, issuer: x509.Certificate) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) by cryptography's own OCSP request builder (neither SDK nor mock)."""
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1()).build()
    return request.issuer_name_hash, request.issuer_key_hash


def test_trust_anchors_from_the_ca_listing(mock: MockPlatform) -> None:
    listing = mock.ca_listing
    assert sorted((item["purpose"], item["generation"]) for item in listing) == [
        ("signing", 1),
        ("signing", 2),
        ("user_authentication", 1),
        ("user_authentication", 2),
    ]
    for item in listing:
        root = mock.root(item["purpose"], item["generation"])
        assert item["sha256_fingerprint"] == hashlib.sha256(root.public_bytes(Encoding.DER)).hexdigest()
        assert root.not_valid_before_utc <= NOW <= root.not_valid_after_utc  # both generations valid now
        downloaded = mock.admin.get(item["certificate_url"])
        assert downloaded.headers["content-type"] == "application/pkix-cert"
        assert x509.load_der_x509_certificate(downloaded.content) == root
    for purpose in ("signing", "user_authentication"):
        first, second = mock.root(purpose, 1), mock.root(purpose, 2)
        assert first.subject == second.subject  # one DN per purpose ...
        assert first.public_key() != second.public_key()  # ... two keys
    purposes = sorted(anchor.purpose.value for anchor in mock.trust.anchors)
    assert purposes == sorted(
        [AnchorPurpose.SIGNING.value] * 2 + [AnchorPurpose.USER_AUTHENTICATION.value] * 2
    )


@pytest.mark.parametrize("kind", ["signing", "user_authentication"])
def test_a_certificate_from_each_generation_verifies_and_resolves_to_its_own_ca(
    mock: MockPlatform, tokens: dict[str, TokenSimulator], kind: str
) -> None:
    token = tokens["card_signing" if kind == "signing" else "card_auth"]
    old, new = enroll_in_both_generations(mock, token, kind)
    verifier = mock.verifier(REQUIRE_WITH_NONCE)

    for enrolled in (old, new):
        generation_root = mock.root(kind, enrolled.issuer_generation)
        mock.wire.clear()
        challenge = f"challenge for generation {enrolled.issuer_generation}".encode()
        signature = enrolled.token.sign(challenge)
        if kind == "signing":
            check = verifier.verify_signature(
                data=challenge, signature=signature, certificate=enrolled.certificate
            ).check
        else:
            check = verifier.verify_authentication(
                challenge=challenge, signature=signature, certificate=enrolled.certificate
            ).check
        assert check.chain == (enrolled.certificate, generation_root)
        assert check.trust_anchor.certificate == generation_root
        assert check.revocation.status is CertStatus.GOOD
        assert check.revocation.source is RevocationSource.OCSP

        # The OCSP request names this generation's key; the answer is signed by this generation.
        (exchange,) = mock.wire.ocsp()
        request = exchange.ocsp_request()
        assert (request.issuer_name_hash, request.issuer_key_hash) == expected_cert_id(
            enrolled.certificate, generation_root
        )
        response = exchange.ocsp_response()
        assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
        signer = verify_ocsp_signer(exchange.response_body, [mock.root(kind, 1), mock.root(kind, 2)], at=NOW)
        assert signer.issuer == generation_root
        assert signer.responder == generation_root
        assert signer.delegated is False

        # CRLs: both URLs are configured for the shared DN (newest first); only this generation's validates.
        crl_urls = [e.url for e in mock.wire.crl()]
        expected = (
            [mock.crl_url(kind, 2)]
            if enrolled.issuer_generation == 2
            else [
                mock.crl_url(kind, 2),
                mock.crl_url(kind, 1),
            ]
        )
        assert crl_urls == expected


def test_the_other_generations_root_cannot_stand_in(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    """Same DN, other key: a store holding only generation 2 does not validate a generation-1 leaf."""
    old, new = enroll_in_both_generations(mock, tokens["card_signing"])
    only_new = JPKIVerifier(
        TrustStore.from_certificates([mock.root("signing", 2)]),
        revocation=mock.checker(),
        policy=RevocationPolicy.REQUIRE,
        clock=mock.clock,
    )
    assert (
        only_new.verify_signature(
            data=b"x", signature=new.token.sign(b"x"), certificate=new.certificate
        ).check.revocation.status
        is CertStatus.GOOD
    )
    with pytest.raises(VerificationError) as caught:
        only_new.verify_signature(data=b"x", signature=old.token.sign(b"x"), certificate=old.certificate)
    assert caught.value.reason is Reason.UNTRUSTED_ISSUER


def test_ocsp_cert_id_under_the_wrong_generation_is_unknown(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    """The responder keys its answer on issuerKeyHash: a serial asked about under the other generation
    (same issuerNameHash) is 'unknown' — a signed, valid answer that is not definitive."""
    old, new = enroll_in_both_generations(mock, tokens["card_signing"])
    client = mock.ocsp_client()
    for enrolled, wrong in ((old, 2), (new, 1)):
        status = client.check(
            enrolled.certificate, mock.root("signing", wrong), at=NOW, policy=RevocationPolicy.REQUIRE
        )
        assert status.status is CertStatus.UNKNOWN
        assert status.serial_number == enrolled.serial_number
        right = client.check(
            enrolled.certificate,
            mock.root("signing", enrolled.issuer_generation),
            at=NOW,
            policy=RevocationPolicy.REQUIRE,
        )
        assert right.status is CertStatus.GOOD


def test_revoking_the_old_generations_certificate_leaves_the_new_one_good(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    old, new = enroll_in_both_generations(mock, tokens["card_signing"])
    mock.revoke(old.serial_hex, "superseded")  # renewed: the new certificate replaces the old
    verifier = mock.verifier(REQUIRE_WITH_NONCE)

    with pytest.raises(CertificateRevokedError) as caught:
        verifier.verify_signature(data=b"d", signature=old.token.sign(b"d"), certificate=old.certificate)
    assert status_of(caught.value).reason is RevocationReason.SUPERSEDED
    assert status_of(caught.value).source is RevocationSource.OCSP
    good = verifier.verify_signature(data=b"d", signature=new.token.sign(b"d"), certificate=new.certificate)
    assert good.revocation.status is CertStatus.GOOD

    # The CRLs, after a forced issue: generation 1's lists the old serial, generation 2's does not.
    issued = {(c["purpose"], c["generation"]): c for c in mock.issue_crls(purpose="signing")}
    assert set(issued) == {("signing", 1), ("signing", 2)}
    crl_only = mock.verifier(RevocationPolicy.CRL_ONLY)
    with pytest.raises(CertificateRevokedError) as caught:
        crl_only.verify_signature(data=b"d", signature=old.token.sign(b"d"), certificate=old.certificate)
    assert status_of(caught.value).source is RevocationSource.CRL
    assert status_of(caught.value).crl_number == issued[("signing", 1)]["crl_number"]
    good = crl_only.verify_signature(data=b"d", signature=new.token.sign(b"d"), certificate=new.certificate)
    assert good.revocation.status is CertStatus.GOOD
    assert good.revocation.crl_number == issued[("signing", 2)]["crl_number"]
    generation_1_crl = x509.load_der_x509_crl(mock.admin.get("/crl/signing/1.crl").content)
    assert generation_1_crl.get_revoked_certificate_by_serial_number(old.serial_number) is not None
    assert generation_1_crl.is_signature_valid(mock.root("signing", 1).public_key())  # type: ignore[arg-type]
    assert not generation_1_crl.is_signature_valid(mock.root("signing", 2).public_key())  # type: ignore[arg-type]


def test_sources_configured_from_the_listed_subject_strings(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    """An RP that configures its sources from ``GET /ca``'s RFC 4514 subject strings reaches both
    generations through one responder entry per purpose."""
    subjects = {item["purpose"]: x509.Name.from_rfc4514_string(item["subject"]) for item in mock.ca_listing}
    client = OCSPClient(mock.http, {subjects["signing"]: OCSP_URL}, use_aia=False)
    checker = RevocationChecker(ocsp=client, crls=None, clock=mock.clock)
    verifier = mock.verifier(
        dataclasses.replace(RevocationPolicy.REQUIRE, name="OCSP_ONLY", sources=(RevocationSource.OCSP,)),
        checker=checker,
    )
    for enrolled in enroll_in_both_generations(mock, tokens["card_signing"]):
        result = verifier.verify_signature(
            data=b"d", signature=enrolled.token.sign(b"d"), certificate=enrolled.certificate
        )
        assert result.revocation.status is CertStatus.GOOD
    assert len(mock.wire.ocsp()) == 2
