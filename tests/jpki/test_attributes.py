"""Basic-four-attribute parsing (domain-jpki.md, "The basic four attributes in the signing certificate")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import given
from hypothesis import strategies as st

from myna_rp.errors import MalformedInputError
from myna_rp.jpki.attributes import Era, Gender, parse_basic_four_attributes, parse_date_of_birth

BASE = "1.2.392.200149.8.5.5."


def _cert(values: dict[str, bytes]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=1))
    )
    if values:
        san = [x509.OtherName(ObjectIdentifier(BASE + k), v) for k, v in values.items()]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(key, hashes.SHA256())


def utf8(text: str) -> bytes:
    return bytes(core.UTF8String(text).dump())


def octets(text: str) -> bytes:
    return bytes(core.OctetString(text.encode()).dump())


FULL = {
    "1": utf8("試験　花子"),
    "2": utf8("01000"),
    "3": utf8("2"),
    "4": utf8("419900101"),
    "5": utf8("東京都千代田区試験町１－２－３"),
    "6": utf8("000000000000001"),
}


def test_full_set_utf8() -> None:
    attributes = parse_basic_four_attributes(_cert(FULL))
    assert attributes is not None
    assert attributes.name == "試験　花子"
    assert "\u3000" in attributes.name
    assert attributes.name_substitute_positions == "01000"
    assert attributes.name_substitute_indexes == (1,)
    assert attributes.gender is Gender.FEMALE
    assert attributes.date_of_birth.value == date(1990, 1, 1)
    assert attributes.date_of_birth.era is Era.HEISEI
    assert attributes.address.startswith("東京都")
    assert attributes.address_substitute_indexes == (14,)
    assert "花子" not in repr(attributes)


def test_octet_string_values_accepted() -> None:
    values = {k: octets(core.load(v).native) for k, v in FULL.items()}
    attributes = parse_basic_four_attributes(_cert(values))
    assert attributes is not None
    assert attributes.name == "試験　花子"


def test_user_authentication_certificate_has_none() -> None:
    assert parse_basic_four_attributes(_cert({})) is None


@pytest.mark.parametrize("missing", ["1", "3", "4", "5"])
def test_incomplete_set_rejected(missing: str) -> None:
    values = {k: v for k, v in FULL.items() if k != missing}
    with pytest.raises(MalformedInputError):
        parse_basic_four_attributes(_cert(values))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("3", utf8("4")),  # no such gender code
        ("4", utf8("61990010")),  # short
        ("4", utf8("919900101")),  # no era 9
        ("4", utf8("419901301")),  # month 13
        ("4", utf8("419900230")),  # 30 February
        ("2", utf8("0x000")),  # not a 0/1 string
        ("2", utf8("0000000")),  # longer than the name
        ("1", bytes(core.Integer(5).dump())),  # wrong ASN.1 type
        ("1", b"\x0c\x02\xff\xfe"),  # UTF8String that is not UTF-8
    ],
)
def test_malformed_values_rejected(key: str, value: bytes) -> None:
    with pytest.raises(MalformedInputError):
        parse_basic_four_attributes(_cert(FULL | {key: value}))


def test_duplicate_attribute_rejected() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")])
    san = x509.SubjectAlternativeName(
        [
            x509.OtherName(ObjectIdentifier(BASE + "1"), utf8("a")),
            x509.OtherName(ObjectIdentifier(BASE + "1"), utf8("b")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2025, 1, 2, tzinfo=UTC))
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(MalformedInputError, match="twice"):
        parse_basic_four_attributes(cert)


@pytest.mark.parametrize(
    ("raw", "complete"),
    [("019750000", False), ("319750100", False), ("000000000", False), ("519750315", True)],
)
def test_partial_dates_are_incomplete(raw: str, complete: bool) -> None:
    dob = parse_date_of_birth(raw)
    assert dob.is_complete is complete
    assert dob.raw == raw


@given(st.text(max_size=12))
def test_date_parser_only_raises_typed_errors(raw: str) -> None:
    try:
        dob = parse_date_of_birth(raw)
    except MalformedInputError:
        return
    assert len(dob.raw) == 9
    if dob.value is not None:
        assert (dob.value.year, dob.value.month, dob.value.day) == (dob.year, dob.month, dob.day)


@given(st.dates(min_value=date(1868, 1, 1), max_value=date(2099, 12, 31)), st.integers(0, 5))
def test_every_calendar_date_round_trips(day: date, era: int) -> None:
    dob = parse_date_of_birth(f"{era}{day:%Y%m%d}")
    assert dob.value == day
    assert dob.era == era
