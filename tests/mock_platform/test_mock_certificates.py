"""End-entity profile, basic-four-attribute encoding (decoded back with asn1crypto), validity rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier
from mockpki_helpers import CARD_EXPIRY, NOW, TARO, TARO_DOB, TOKYO

from mock_platform.ca.attributes import (
    AttributeEncoding,
    BasicFourAttributes,
    DateOfBirth,
    Era,
    Gender,
    der_tlv,
    era_of,
)
from mock_platform.ca.builder import (
    PROFILE,
    build_end_entity_certificate,
    compute_validity,
    nth_birthday_after,
)
from mock_platform.ca.errors import (
    InvalidAttributesError,
    InvalidPublicKeyError,
    InvalidValidityError,
    UnsupportedKeyTypeError,
)
from mock_platform.ca.keys import load_public_key_pem
from mock_platform.ca.profile import DEFAULT_POLICY_TABLE, CertificateKind, FormFactor, PolicyTable, key_usage
from mock_platform.ca.service import CAConfig, CAService, IssuedCertificate
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import JST, MockClock
from mock_platform.db import Database

Issue = Callable[..., IssuedCertificate]
SIGNING = CertificateKind.SIGNING
AUTH = CertificateKind.USER_AUTHENTICATION


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _other_names(certificate: x509.Certificate) -> list[tuple[str, str, object]]:
    """(type-id, inner ASN.1 type name, value) of every SAN otherName, decoded independently."""
    out = []
    for extension in _asn1(certificate)["tbs_certificate"]["extensions"]:
        if extension["extn_id"].native != "subject_alt_name":
            continue
        for general_name in extension["extn_value"].parsed:
            assert general_name.name == "other_name"
            other = general_name.chosen
            inner = other["value"].parsed  # the [0] EXPLICIT wrapper is unwrapped by asn1crypto
            out.append((other["type_id"].dotted, type(inner).__name__, inner.native))
    return out


# ---------------------------------------------------------------------------------------------- profile


def test_signing_certificate_profile(issue: Issue, service: CAService) -> None:
    issued = issue()
    cert = issued.certificate
    issuer = service.ca_certificate(SIGNING, 2).certificate
    assert issued.issuer_generation == 2  # newest generation valid at NOW
    cert.verify_directly_issued_by(issuer)
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.11"  # sha256WithRSAEncryption
    # subject C=JP (PrintableString), L, L, CN (UTF8String); CN is the opaque id, not the name
    rdns = [
        (rdn[0]["type"].native, type(rdn[0]["value"].chosen).__name__, rdn[0]["value"].native)
        for rdn in _asn1(cert)["tbs_certificate"]["subject"].chosen
    ]
    assert rdns == [
        ("country_name", "PrintableString", "JP"),
        ("locality_name", "UTF8String", "Tokyo-to"),
        ("locality_name", "UTF8String", "Chiyoda-ku"),
        ("common_name", "UTF8String", issued.subject_id),
    ]
    assert TARO.name not in issued.subject_id
    ext = cert.extensions
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value == key_usage(digital_signature=True, content_commitment=True)
    with pytest.raises(x509.ExtensionNotFound):
        ext.get_extension_for_class(x509.ExtendedKeyUsage)
    with pytest.raises(x509.ExtensionNotFound):
        ext.get_extension_for_class(x509.AuthorityInformationAccess)
    with pytest.raises(x509.ExtensionNotFound):
        ext.get_extension_for_class(x509.BasicConstraints)
    policies = ext.get_extension_for_class(x509.CertificatePolicies)
    assert not policies.critical
    assert [p.policy_identifier.dotted_string for p in policies.value] == ["1.2.392.200149.8.5.1.1.20"]
    ian = ext.get_extension_for_class(x509.IssuerAlternativeName).value
    assert ian.get_values_for_type(x509.DirectoryName)[0].rfc4514_string() == "O=公的個人認証サービス,C=JP"
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier
        == issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert ext.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == (
        x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    )
    crldp = ext.get_extension_for_class(x509.CRLDistributionPoints).value
    assert len(crldp) == 1
    assert crldp[0].full_name is not None
    (name,) = crldp[0].full_name
    assert isinstance(name, x509.DirectoryName)
    assert name.value.rfc4514_string() == (
        "CN=Chiyoda-ku CRLDP,OU=Tokyo-to,OU=CRL Distribution Points,OU=JPKI for digital signature,O=JPKI,C=JP"
    )
    assert 0 < cert.serial_number < 2**159
    assert len(cert.serial_number.to_bytes(20, "big")) <= 20


def test_basic_four_attributes_are_explicit_utf8string_other_names(issue: Issue) -> None:
    names = _other_names(issue().certificate)
    assert names == [
        ("1.2.392.200149.8.5.5.1", "UTF8String", "試験\u3000太郎"),
        ("1.2.392.200149.8.5.5.2", "UTF8String", "00000"),
        ("1.2.392.200149.8.5.5.3", "UTF8String", "1"),
        ("1.2.392.200149.8.5.5.4", "UTF8String", "319800412"),
        ("1.2.392.200149.8.5.5.5", "UTF8String", "東京都千代田区試験町一丁目99番99号"),
        ("1.2.392.200149.8.5.5.6", "UTF8String", "0" * len(TARO.address)),
    ]


def test_other_name_der_layout_matches_rfc5280() -> None:
    (other,) = [o for o in TARO.other_names() if o.type_id.dotted_string.endswith(".5.3")]
    san = x509.SubjectAlternativeName([other]).public_bytes()
    # GeneralNames SEQUENCE { [0] IMPLICIT OtherName { OID, [0] EXPLICIT UTF8String "1" } }
    oid = bytes.fromhex("060a2a83088c9b5508050503")
    expected_other = b"\xa0" + bytes([len(oid) + 5]) + oid + b"\xa0\x03\x0c\x01\x31"
    assert san == b"\x30" + bytes([len(expected_other)]) + expected_other


def test_octet_string_encoding_option(issue: Issue) -> None:
    names = _other_names(issue(attribute_encoding=AttributeEncoding.OCTET_STRING).certificate)
    assert {kind for _, kind, _ in names} == {"OctetString"}
    assert names[0][2] == TARO.name.encode("utf-8")


def test_user_authentication_certificate_carries_no_personal_data(issue: Issue, service: CAService) -> None:
    issued = issue(AUTH, FormFactor.IPHONE)
    cert = issued.certificate
    cert.verify_directly_issued_by(service.ca_certificate(AUTH, 2).certificate)
    assert [a.oid for a in cert.subject] == [x509.NameOID.COUNTRY_NAME, x509.NameOID.COMMON_NAME]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value == key_usage(digital_signature=True)
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.392.200149.8.5.1.3.50"]
    (point,) = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert point.full_name is not None
    assert "JPKI for user authentication" in point.full_name[0].value.rfc4514_string()


@pytest.mark.parametrize(("kind", "form", "oid"), [(k, f, o) for k, f, o in DEFAULT_POLICY_TABLE])
def test_policy_oid_per_form_factor(issue: Issue, kind: CertificateKind, form: FormFactor, oid: str) -> None:
    cert = issue(kind, form).certificate
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [oid]


def test_policy_table_is_configurable_and_complete() -> None:
    custom = PolicyTable(
        tuple((k, f, "1.2.3.4" if f is FormFactor.IPHONE else o) for k, f, o in DEFAULT_POLICY_TABLE)
    )
    assert custom.oid_for(SIGNING, FormFactor.IPHONE) == ObjectIdentifier("1.2.3.4")
    with pytest.raises(ValueError, match="exactly one"):
        PolicyTable(DEFAULT_POLICY_TABLE.entries[:-1])


def test_ecdsa_leaf(issue: Issue, ec_token: TokenSimulator) -> None:
    cert = issue(token=ec_token).certificate
    assert cert.public_key() == ec_token.public_key()
    assert (
        cert.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.11"
    )  # still signed by the RSA root


def test_optional_urls(database: Database, clock: MockClock, rsa_token: TokenSimulator) -> None:
    service = CAService.create(
        database,
        clock,
        CAConfig(crl_http_base_url="http://127.0.0.1:8700/", ocsp_url="http://127.0.0.1:8700/ocsp"),
    )
    cert = service.issue_certificate(
        public_key=rsa_token.public_key(), kind=AUTH, date_of_birth=TARO_DOB, card_expiry=CARD_EXPIRY
    ).certificate
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert isinstance(points[0].full_name[0], x509.DirectoryName)
    assert points[1].full_name == [
        x509.UniformResourceIdentifier("http://127.0.0.1:8700/crl/user_authentication/2.crl")
    ]
    (access,) = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert access.access_location.value == "http://127.0.0.1:8700/ocsp"


def test_chain_verifies_with_cryptography_policy_builder(issue: Issue, service: CAService) -> None:
    """The SDK validates paths with cryptography.x509.verification: the mock's chain must pass it."""
    cert = issue().certificate
    roots = [info.certificate for info in service.ca_certificates() if info.purpose is SIGNING]
    ee_policy = verification.ExtensionPolicy.permit_all()
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(roots))
        .time(NOW)
        .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
        .build_client_verifier()
    )
    verified = verifier.verify(cert, [])
    assert verified.chain[-1] == roots[1]  # generation 2, chosen by key although both share the DN


# ---------------------------------------------------------------------------------------------- overrides


def test_builder_overrides_for_negative_scenarios(service: CAService, rsa_token: TokenSimulator) -> None:
    issuer = service.export_ca_generation_for_tests(SIGNING, 2)
    cert = build_end_entity_certificate(
        issuer=issuer,
        public_key=rsa_token.public_key(),
        kind=SIGNING,
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
        attributes=TARO,
        locality=TOKYO,
        key_usage=key_usage(key_encipherment=True),
        policy_oids=["2.999.1"],
        policies_critical=True,
        extended_key_usage=[x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH],
        crl_distribution_point=None,
        issuer_alt_name=False,
        authority_key_identifier=None,
        subject_key_identifier=False,
        subject_alt_name=None,
    )
    ext = {e.oid: e for e in cert.extensions}
    assert set(ext) == {
        ExtensionOID.KEY_USAGE,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.EXTENDED_KEY_USAGE,
    }
    assert ext[ExtensionOID.CERTIFICATE_POLICIES].critical
    assert PROFILE.value == "profile"


def test_builder_enforces_kind_rules(service: CAService, rsa_token: TokenSimulator) -> None:
    issuer = service.export_ca_generation_for_tests(SIGNING, 2)
    common = {"issuer": issuer, "public_key": rsa_token.public_key(), "not_before": NOW, "not_after": NOW}
    with pytest.raises(InvalidAttributesError, match="basic four"):
        build_end_entity_certificate(kind=SIGNING, locality=TOKYO, **common)  # type: ignore[arg-type]
    with pytest.raises(InvalidAttributesError, match="prefecture"):
        build_end_entity_certificate(kind=SIGNING, attributes=TARO, **common)  # type: ignore[arg-type]
    with pytest.raises(InvalidAttributesError, match="no personal data"):
        build_end_entity_certificate(kind=AUTH, attributes=TARO, **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precedes"):
        build_end_entity_certificate(
            kind=AUTH,
            **{**common, "not_after": NOW - timedelta(seconds=1)},  # type: ignore[arg-type]
        )


# ---------------------------------------------------------------------------------------------- attributes


def test_date_of_birth_parsing_and_rules() -> None:
    assert DateOfBirth.parse("319800412") == DateOfBirth(Era.SHOWA, 1980, 4, 12)
    assert DateOfBirth.parse("019750000") == DateOfBirth(Era.UNKNOWN, 1975, None, None)
    assert DateOfBirth.parse("300000000").year is None
    assert DateOfBirth.parse("019750000").encode() == "019750000"
    assert DateOfBirth.from_date(date(2019, 5, 1)).encode() == "520190501"
    assert DateOfBirth.from_date(date(2019, 4, 30)).era is Era.HEISEI
    assert era_of(date(1989, 1, 7)) is Era.SHOWA
    assert era_of(date(1989, 1, 8)) is Era.HEISEI
    for bad in (
        "",
        "31980041",
        "3198004120",
        "619800412",
        "3198a0412",
        "319801312",
        "319800230",
        "419800412",
        "319800012",
        "400000101",
        "０19800412",
    ):
        with pytest.raises(InvalidAttributesError):
            DateOfBirth.parse(bad)


def test_basic_four_attribute_validation_never_echoes_values() -> None:
    with pytest.raises(InvalidAttributesError) as info:
        BasicFourAttributes(
            name="試験　太郎",
            gender=Gender.MALE,
            date_of_birth=TARO_DOB,
            address="住所",
            name_substitute_positions="0101",
        )
    assert "試験" not in str(info.value)
    with pytest.raises(InvalidAttributesError):
        BasicFourAttributes(name="a\nb", gender=Gender.MALE, date_of_birth=TARO_DOB, address="x")
    with pytest.raises(InvalidAttributesError):
        BasicFourAttributes(name="x", gender="4", date_of_birth=TARO_DOB, address="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidAttributesError):
        BasicFourAttributes(name="x", gender=Gender.MALE, date_of_birth=TARO_DOB, address="住" * 201)
    assert "試験" not in repr(TARO)
    assert TARO.as_strings()["date_of_birth"] == "319800412"


def test_der_tlv_long_form() -> None:
    value = der_tlv(0x0C, "あ".encode() * 100)
    assert value[:3] == b"\x0c\x82\x01" and core.UTF8String.load(value).native == "あ" * 100  # noqa: PT018


# ---------------------------------------------------------------------------------------------- validity


def _jst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=JST)


def test_validity_runs_to_23_59_59_jst_of_the_fifth_birthday() -> None:
    issued = _jst(2026, 11, 29, 12, 34, 56)
    not_before, not_after = compute_validity(issued, DateOfBirth.parse("319800412"))
    assert not_before == _jst(2026, 11, 29)
    assert not_after == _jst(2031, 4, 12, 23, 59, 59)
    assert not_before.tzinfo is UTC


def test_birthday_on_the_issuance_day_does_not_count() -> None:
    _, not_after = compute_validity(_jst(2026, 4, 12, 10), DateOfBirth.parse("319800412"))
    assert not_after == _jst(2031, 4, 12, 23, 59, 59)
    _, not_after = compute_validity(_jst(2026, 4, 11, 10), DateOfBirth.parse("319800412"))
    assert not_after == _jst(2030, 4, 12, 23, 59, 59)


def test_jst_day_not_utc_day() -> None:
    # 2026-04-11 20:00 UTC is already 2026-04-12 in Japan: the birthday is the issuance day.
    not_before, not_after = compute_validity(
        datetime(2026, 4, 11, 20, 0, tzinfo=UTC), DateOfBirth.parse("319800412")
    )
    assert not_before == _jst(2026, 4, 12)
    assert not_after == _jst(2031, 4, 12, 23, 59, 59)


def test_leap_day_birthday_and_unknown_parts() -> None:
    leap = DateOfBirth.parse("420000229")
    assert nth_birthday_after(leap, date(2026, 3, 1)) == date(2031, 2, 28)
    assert nth_birthday_after(leap, date(2027, 3, 1)) == date(2032, 2, 29)
    assert nth_birthday_after(DateOfBirth.parse("019750000"), date(2026, 11, 29)) == date(2031, 11, 29)


def test_validity_capped_by_card_expiry_and_cap() -> None:
    issued = _jst(2026, 11, 29, 9)
    dob = DateOfBirth.parse("319800412")
    _, not_after = compute_validity(issued, dob, card_expiry=date(2028, 1, 31))
    assert not_after == _jst(2028, 1, 31, 23, 59, 59)
    cap = _jst(2027, 6, 1, 12)
    _, not_after = compute_validity(issued, dob, card_expiry=date(2028, 1, 31), not_after_cap=cap)
    assert not_after == cap
    with pytest.raises(InvalidValidityError):
        compute_validity(issued, dob, card_expiry=date(2026, 11, 28))


def test_service_caps_validity_at_the_issuing_root(
    service: CAService, clock: MockClock, issue: Issue
) -> None:
    root = service.ca_certificate(SIGNING, 1)
    clock.set(root.not_before + timedelta(days=1))  # only generation 1 exists then
    issued = issue(card_expiry=None)
    assert issued.issuer_generation == 1
    assert issued.certificate.not_valid_after_utc <= root.not_after
    clock.set(root.not_after - timedelta(days=10))  # generation 1 ends soon, generation 2 is newest
    assert issue(card_expiry=None).issuer_generation == 2


def test_service_refuses_expired_card_and_bad_keys(issue: Issue) -> None:
    with pytest.raises(InvalidValidityError):
        issue(card_expiry=date(2026, 11, 28))
    with pytest.raises(InvalidAttributesError):
        issue(date_of_birth=DateOfBirth.parse("419950704"))  # differs from the attributes' date of birth
    for key in (
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        rsa.generate_private_key(public_exponent=3, key_size=2048),
        ec.generate_private_key(ec.SECP384R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ):
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(UnsupportedKeyTypeError):
            load_public_key_pem(pem)
    with pytest.raises(InvalidPublicKeyError):
        load_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(InvalidPublicKeyError):
        load_public_key_pem("not pem")
