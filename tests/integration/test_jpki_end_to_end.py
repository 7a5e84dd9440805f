"""End to end: the SDK verifies certificates the mock J-LIS issued, asking the mock's OCSP responder and
CRL endpoints live over (in-process) HTTP.

Covers: the card signing certificate under REQUIRE with a required OCSP nonce and the CRL consulted too;
smartphone (Android, iPhone; RSA and ECDSA P-256) certificates; CMS SignedData (attached/detached, both
signer-identifier forms); login with the user authentication certificate (stable, keyed subject_id, no
personal data, signing certificate refused); the same flow over Starlette's TestClient.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import date

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from integration_support import (
    CRL_TYPE,
    DATE_OF_BIRTH,
    NOW,
    OCSP_RESPONSE_TYPE,
    OCSP_URL,
    OCSP_VALIDITY,
    PERSON,
    MockPlatform,
)

from mock_platform.ca.cms import SignerIdentifierType
from mock_platform.ca.token import TokenSimulator
from myna_rp.clock import Clock
from myna_rp.errors import MynaRPError, Reason, VerificationError
from myna_rp.jpki import (
    BasicFourAttributes,
    CertificateKind,
    Era,
    FormFactor,
    Gender,
    JPKIVerifier,
    parse_basic_four_attributes,
)
from myna_rp.revocation import (
    CertStatus,
    RevocationPolicy,
    RevocationSource,
    SourceMode,
)


@pytest.fixture
def mock(shared_mock: MockPlatform) -> MockPlatform:
    """Nothing here moves the clock or depends on CRL numbers: one app for the module."""
    return shared_mock


#: REQUIRE, plus: an online OCSP answer must echo our nonce (RFC 8954).
REQUIRE_WITH_NONCE = dataclasses.replace(
    RevocationPolicy.REQUIRE, name="REQUIRE_WITH_NONCE", require_ocsp_nonce=True
)


def assert_enrolled_attributes(attributes: BasicFourAttributes | None) -> None:
    assert attributes is not None
    assert attributes.name == PERSON["name"]
    assert attributes.name_substitute_positions == PERSON["name_substitute_positions"]
    assert attributes.name_substitute_indexes == (3,)
    assert attributes.gender is Gender.FEMALE
    assert attributes.date_of_birth.raw == DATE_OF_BIRTH
    assert attributes.date_of_birth.era is Era.SHOWA
    assert attributes.date_of_birth.value == date(1985, 7, 4)
    assert attributes.address == PERSON["address"]
    assert attributes.address_substitute_positions == "0" * len(PERSON["address"])


# -- 1. the card signing certificate --------------------------------------------------------------------


def test_policy_variant_is_frozen_data() -> None:
    assert REQUIRE_WITH_NONCE.require_ocsp_nonce is True
    assert REQUIRE_WITH_NONCE.mode is SourceMode.ALL_AVAILABLE
    assert REQUIRE_WITH_NONCE.sources == (RevocationSource.OCSP, RevocationSource.CRL)
    assert REQUIRE_WITH_NONCE.hard_fail is True
    assert RevocationPolicy.REQUIRE.require_ocsp_nonce is False  # the preset itself is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        REQUIRE_WITH_NONCE.hard_fail = False  # type: ignore[misc]


def test_card_signing_certificate_verifies_with_live_ocsp_nonce_and_crl(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    assert isinstance(mock.clock, Clock)  # the SDK reads the mock's own clock
    enrolled = mock.enroll(tokens["card_signing"])
    assert enrolled.issuer_generation == 2  # the newest generation valid now issues
    challenge = secrets.token_bytes(32)
    signature = enrolled.token.sign(challenge)

    result = mock.verifier(REQUIRE_WITH_NONCE).verify_signature(
        data=challenge, signature=signature, certificate=enrolled.response["certificate_pem"].encode()
    )

    assert result.certificate_kind is CertificateKind.SIGNING
    assert result.form_factor is FormFactor.CARD
    assert result.certificate == enrolled.certificate
    assert result.signed_content == challenge
    assert result.hash_algorithm == "sha256"
    assert_enrolled_attributes(result.attributes)
    assert result.check.chain == (enrolled.certificate, mock.root("signing", 2))
    assert result.check.trust_anchor.certificate == mock.root("signing", 2)
    assert result.check.verified_at == NOW

    # Revocation: GOOD, decided by the OCSP answer fetched just now (thisUpdate = the mock's now).
    status = result.revocation
    assert status.status is CertStatus.GOOD
    assert status.source is RevocationSource.OCSP
    assert status.serial_number == enrolled.serial_number
    assert status.this_update == NOW
    assert status.produced_at == NOW
    assert status.next_update == NOW + OCSP_VALIDITY
    assert result.check.chain_revocation == (status,)

    # On the wire: one OCSP POST carrying a nonce, echoed by the responder; one CRL download
    # (REQUIRE = ALL_AVAILABLE: the CRL is consulted even though OCSP already answered).
    (ocsp_exchange,) = mock.wire.ocsp()
    assert ocsp_exchange.method == "POST"
    assert ocsp_exchange.url == OCSP_URL
    assert ocsp_exchange.status_code == 200
    assert ocsp_exchange.content_type == OCSP_RESPONSE_TYPE
    request = ocsp_exchange.ocsp_request()
    assert request.serial_number == enrolled.serial_number
    sent_nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert len(sent_nonce) == 32
    echoed = ocsp_exchange.ocsp_response().extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert echoed == sent_nonce
    (crl_exchange,) = mock.wire.crl()
    assert crl_exchange.url == mock.crl_url("signing", 2)
    assert crl_exchange.status_code == 200
    assert crl_exchange.content_type == CRL_TYPE
    assert (
        x509.load_der_x509_crl(crl_exchange.response_body).get_revoked_certificate_by_serial_number(
            enrolled.serial_number
        )
        is None
    )


def test_each_verification_sends_a_fresh_nonce(mock: MockPlatform, tokens: dict[str, TokenSimulator]) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    challenge = b"login 1"
    signature = enrolled.token.sign(challenge)
    for _ in range(2):  # a new checker each time: no cache between the two
        verifier = mock.verifier(REQUIRE_WITH_NONCE)
        assert (
            verifier.verify_signature(
                data=challenge, signature=signature, certificate=enrolled.certificate
            ).revocation.status
            is CertStatus.GOOD
        )
    nonces = [
        e.ocsp_request().extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        for e in mock.wire.ocsp()
    ]
    assert len(nonces) == 2
    assert nonces[0] != nonces[1]


def test_signature_failure_is_decided_before_any_revocation_traffic(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    signature = enrolled.token.sign(b"what the user saw")
    with pytest.raises(VerificationError) as caught:
        mock.verifier().verify_signature(
            data=b"what the attacker sent", signature=signature, certificate=enrolled.certificate
        )
    assert caught.value.reason is Reason.SIGNATURE_INVALID
    assert mock.wire.exchanges == []


def test_sdk_over_starlette_testclient(mock: MockPlatform, tokens: dict[str, TokenSimulator]) -> None:
    """``TestClient`` is an ``httpx.Client``: handed to the SDK as is, it reaches the app the same way."""
    enrolled = mock.enroll(tokens["card_signing"])
    with TestClient(mock.app) as client:
        assert isinstance(client, httpx.Client)
        verifier = mock.verifier(REQUIRE_WITH_NONCE, checker=mock.checker(http=client))
        result = verifier.verify_signature(
            data=b"challenge", signature=enrolled.token.sign(b"challenge"), certificate=enrolled.certificate
        )
    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.source is RevocationSource.OCSP
    assert result.revocation.this_update == NOW
    assert_enrolled_attributes(result.attributes)
    assert mock.wire.exchanges == []  # the recorded bridge was not used


# -- 2. smartphone certificates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token_name", "form_factor", "key_type"),
    [
        ("android_rsa", FormFactor.ANDROID, rsa.RSAPublicKey),
        ("android_ec", FormFactor.ANDROID, ec.EllipticCurvePublicKey),
        ("iphone_ec", FormFactor.IPHONE, ec.EllipticCurvePublicKey),
    ],
)
def test_smartphone_signing_certificate(
    mock: MockPlatform,
    tokens: dict[str, TokenSimulator],
    token_name: str,
    form_factor: FormFactor,
    key_type: type,
) -> None:
    enrolled = mock.enroll(tokens[token_name], form_factor=form_factor.value)
    assert isinstance(enrolled.certificate.public_key(), key_type)
    challenge = secrets.token_bytes(32)
    verifier = mock.verifier(REQUIRE_WITH_NONCE)

    result = verifier.verify_signature(
        data=challenge, signature=enrolled.token.sign(challenge), certificate=enrolled.certificate
    )

    assert result.form_factor is form_factor
    assert result.certificate_kind is CertificateKind.SIGNING
    assert_enrolled_attributes(result.attributes)
    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.source is RevocationSource.OCSP
    # The same key over other data does not verify (the key really is the one checked).
    with pytest.raises(VerificationError) as caught:
        verifier.verify_signature(
            data=challenge + b"!", signature=enrolled.token.sign(challenge), certificate=enrolled.certificate
        )
    assert caught.value.reason is Reason.SIGNATURE_INVALID


@pytest.mark.parametrize(
    ("token_name", "form_factor"),
    [("android_ec", FormFactor.ANDROID), ("iphone_ec", FormFactor.IPHONE), ("card_auth", FormFactor.CARD)],
)
def test_user_authentication_certificate_per_form_factor(
    mock: MockPlatform, tokens: dict[str, TokenSimulator], token_name: str, form_factor: FormFactor
) -> None:
    enrolled = mock.enroll(tokens[token_name], kind="user_authentication", form_factor=form_factor.value)
    challenge = secrets.token_bytes(32)
    login = mock.verifier(REQUIRE_WITH_NONCE).verify_authentication(
        challenge=challenge, signature=enrolled.token.sign(challenge), certificate=enrolled.certificate
    )
    assert login.form_factor is form_factor
    assert login.check.certificate_kind is CertificateKind.USER_AUTHENTICATION
    assert login.check.trust_anchor.certificate == mock.root("user_authentication", 2)
    assert login.revocation.status is CertStatus.GOOD
    assert login.revocation.source is RevocationSource.OCSP
    (crl_exchange,) = mock.wire.crl()
    assert crl_exchange.url == mock.crl_url("user_authentication", 2)


# -- 3. CMS SignedData -----------------------------------------------------------------------------------


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
@pytest.mark.parametrize("signer_identifier", list(SignerIdentifierType), ids=lambda s: s.value)
def test_cms_signed_data(
    mock: MockPlatform,
    tokens: dict[str, TokenSimulator],
    detached: bool,
    signer_identifier: SignerIdentifierType,
) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    document = "口座開設申込書 / account opening form #42".encode()
    cms = enrolled.token.sign_cms(
        document, signing_time=NOW, detached=detached, signer_identifier=signer_identifier
    )

    result = mock.verifier(REQUIRE_WITH_NONCE).verify_cms(cms, content=document if detached else None)

    assert result.cms_signer_identifier == signer_identifier.value
    assert result.signed_content == document
    assert result.cms_signing_time == NOW
    assert result.hash_algorithm == "sha256"
    assert result.certificate == enrolled.certificate
    assert result.certificate_kind is CertificateKind.SIGNING
    assert result.form_factor is FormFactor.CARD
    assert_enrolled_attributes(result.attributes)
    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.source is RevocationSource.OCSP
    assert len(mock.wire.ocsp()) == 1


def test_cms_detached_with_other_content_fails(mock: MockPlatform, tokens: dict[str, TokenSimulator]) -> None:
    enrolled = mock.enroll(tokens["card_signing"])
    cms = enrolled.token.sign_cms(b"the real document", signing_time=NOW, detached=True)
    with pytest.raises(VerificationError) as caught:
        mock.verifier().verify_cms(cms, content=b"a forged document")
    assert caught.value.reason is Reason.SIGNATURE_INVALID
    assert mock.wire.exchanges == []


def test_cms_without_embedded_certificate_and_ecdsa_signer(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    enrolled = mock.enroll(tokens["iphone_ec"], form_factor="iphone")
    cms = enrolled.token.sign_cms(
        b"doc",
        signing_time=NOW,
        signer_identifier=SignerIdentifierType.SUBJECT_KEY_IDENTIFIER,
        include_certificate=False,
    )
    result = mock.verifier().verify_cms(cms, certificate=enrolled.certificate)
    assert result.form_factor is FormFactor.IPHONE
    assert result.cms_signer_identifier == "subject_key_identifier"
    assert result.revocation.status is CertStatus.GOOD


# -- 4. login with the user authentication certificate --------------------------------------------------


def test_authentication_subject_id_is_stable_keyed_and_free_of_personal_data(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    signing = mock.enroll(tokens["card_signing"])  # the same person's signing certificate, for contrast
    auth = mock.enroll(tokens["card_auth"], kind="user_authentication")
    other = mock.enroll(tokens["card_auth_other"], kind="user_authentication")
    verifier = mock.verifier(REQUIRE_WITH_NONCE, subject_id_key=b"relying-party-A secret")
    other_rp = mock.verifier(REQUIRE_WITH_NONCE, subject_id_key=b"relying-party-B secret")

    def login(verifier_: JPKIVerifier, enrolled_token: TokenSimulator, certificate: x509.Certificate) -> str:
        challenge = secrets.token_bytes(32)
        result = verifier_.verify_authentication(
            challenge=challenge, signature=enrolled_token.sign(challenge), certificate=certificate
        )
        assert result.revocation.status is CertStatus.GOOD
        assert result.check.certificate_kind is CertificateKind.USER_AUTHENTICATION
        assert {f.name for f in dataclasses.fields(result)} == {"subject_id", "check"}
        assert not hasattr(result, "attributes")
        return result.subject_id

    first = login(verifier, auth.token, auth.certificate)
    second = login(verifier, auth.token, auth.certificate)
    assert first == second  # stable across logins
    assert len(first) == 43
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert login(verifier, other.token, other.certificate) != first  # another certificate
    assert login(other_rp, auth.token, auth.certificate) != first  # another relying party's key

    # No personal data anywhere: not in the identifier, nor in any certificate of the checked chain.
    result = verifier.verify_authentication(
        challenge=b"c", signature=auth.token.sign(b"c"), certificate=auth.certificate
    )
    assert parse_basic_four_attributes(result.check.certificate) is None
    chain_der = b"".join(c.tbs_certificate_bytes for c in result.check.chain)
    for value in (PERSON["name"], PERSON["address"], DATE_OF_BIRTH):
        assert value.encode() not in chain_der
        assert value not in repr(result)
        assert value not in result.subject_id
    assert parse_basic_four_attributes(signing.certificate) is not None  # the contrast holds
    assert PERSON["name"].encode() in signing.certificate.tbs_certificate_bytes
    # The subject id is not a plain hash of the certificate or its subject.
    assert first not in {
        hashlib.sha256(auth.certificate.subject.public_bytes()).hexdigest(),
        hashlib.sha256(auth.certificate.tbs_certificate_bytes).hexdigest(),
    }


def test_signing_certificate_is_refused_for_login(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    signing = mock.enroll(tokens["card_signing"])
    with pytest.raises(VerificationError) as caught:
        mock.verifier().verify_authentication(
            challenge=b"nonce", signature=signing.token.sign(b"nonce"), certificate=signing.certificate
        )
    assert caught.value.reason is Reason.WRONG_KEY_USAGE
    assert type(caught.value) is VerificationError
    assert mock.wire.exchanges == []  # refused before any revocation request


def test_authentication_certificate_is_refused_where_a_signing_one_is_expected(
    mock: MockPlatform, tokens: dict[str, TokenSimulator]
) -> None:
    auth = mock.enroll(tokens["card_auth"], kind="user_authentication")
    with pytest.raises(MynaRPError) as caught:
        mock.verifier().verify_signature(
            data=b"contract",
            signature=auth.token.sign(b"contract"),
            certificate=auth.certificate,
            expected_kind=CertificateKind.SIGNING,
        )
    assert caught.value.reason is Reason.WRONG_KEY_USAGE
