"""The basic four attributes (基本4情報) carried by a JPKI signing certificate.

Source: domain-jpki.md, "The basic four attributes in the signing certificate". Each attribute is a
subjectAltName ``otherName`` (RFC 5280 §4.2.1.6) whose value is an explicitly tagged UTF8String; an
OCTET STRING holding UTF-8 is accepted too. User authentication certificates carry none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import IntEnum, StrEnum

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from ..errors import MalformedInputError

OID_NAME = ObjectIdentifier("1.2.392.200149.8.5.5.1")
OID_NAME_SUBSTITUTE = ObjectIdentifier("1.2.392.200149.8.5.5.2")
OID_GENDER = ObjectIdentifier("1.2.392.200149.8.5.5.3")
OID_DATE_OF_BIRTH = ObjectIdentifier("1.2.392.200149.8.5.5.4")
OID_ADDRESS = ObjectIdentifier("1.2.392.200149.8.5.5.5")
OID_ADDRESS_SUBSTITUTE = ObjectIdentifier("1.2.392.200149.8.5.5.6")

_JPKI_ATTRIBUTE_OIDS = frozenset(
    {OID_NAME, OID_NAME_SUBSTITUTE, OID_GENDER, OID_DATE_OF_BIRTH, OID_ADDRESS, OID_ADDRESS_SUBSTITUTE}
)
_MAX_ATTRIBUTE_CHARS = 1024  # the address is at most 200 characters; anything far longer is not JPKI


class Gender(StrEnum):
    """性別, valued by its code as carried in the certificate: 1 male, 2 female, 3 not stated."""

    MALE = "1"
    FEMALE = "2"
    NOT_STATED = "3"


class Era(IntEnum):
    """The era digit that leads the date of birth (和暦の元号)."""

    UNKNOWN = 0
    MEIJI = 1
    TAISHO = 2
    SHOWA = 3
    HEISEI = 4
    REIWA = 5


@dataclass(frozen=True, slots=True)
class DateOfBirth:
    """生年月日 as ``EYYYYMMDD``: era digit + Gregorian year, month, day.

    Unknown parts are zeros (``0`` month or day, or year ``0000``); ``value`` is then ``None`` and any age
    decision must fail closed.

    Attributes:
        raw: the 9-character string exactly as in the certificate.
        era: the era digit.
        year, month, day: the parts; 0 where unknown.
        value: the complete date, or ``None`` when any part is unknown.
    """

    raw: str
    era: Era
    year: int
    month: int
    day: int
    value: date | None

    def __repr__(self) -> str:
        return "DateOfBirth(<redacted>)"

    @property
    def is_complete(self) -> bool:
        return self.value is not None


@dataclass(frozen=True, slots=True)
class BasicFourAttributes:
    """The basic four attributes (基本4情報) of a signing certificate's holder.

    Attributes:
        name: 氏名, family and given name separated by U+3000 (full-width space).
        name_substitute_positions: 氏名代替文字の使用位置情報 as carried: one ``0``/``1`` per character of
            ``name``, ``1`` where the character is a substitute (代替文字) for one outside JIS levels 1-2;
            empty when the certificate omits it. :attr:`name_substitute_indexes` gives the positions.
        gender: 性別 (its value is the code, ``1``/``2``/``3``).
        date_of_birth: 生年月日.
        address: 住所, from the prefecture, no postal code.
        address_substitute_positions: as for the name.
    """

    name: str
    name_substitute_positions: str
    gender: Gender
    date_of_birth: DateOfBirth
    address: str
    address_substitute_positions: str

    @property
    def name_substitute_indexes(self) -> tuple[int, ...]:
        """0-based indexes of the substitute characters in :attr:`name`."""
        return tuple(i for i, flag in enumerate(self.name_substitute_positions) if flag == "1")

    @property
    def address_substitute_indexes(self) -> tuple[int, ...]:
        """0-based indexes of the substitute characters in :attr:`address`."""
        return tuple(i for i, flag in enumerate(self.address_substitute_positions) if flag == "1")

    def __repr__(self) -> str:
        # Personal data never ends up in logs through a stray repr().
        return "BasicFourAttributes(<redacted>)"


def parse_date_of_birth(raw: str) -> DateOfBirth:
    """Parse ``EYYYYMMDD``. Raises :class:`MalformedInputError` on a wrong shape or impossible date."""
    if len(raw) != 9 or not raw.isascii() or not raw.isdigit():
        raise MalformedInputError("date of birth is not of the form EYYYYMMDD")
    era_digit = int(raw[0])
    if era_digit > Era.REIWA:
        raise MalformedInputError("date of birth has an unknown era digit")
    year, month, day = int(raw[1:5]), int(raw[5:7]), int(raw[7:9])
    if month > 12 or day > 31:
        raise MalformedInputError("date of birth has an impossible month or day")
    value: date | None = None
    if year and month and day:
        try:
            value = date(year, month, day)
        except ValueError as exc:
            raise MalformedInputError("date of birth is not a calendar date") from exc
    return DateOfBirth(raw=raw, era=Era(era_digit), year=year, month=month, day=day, value=value)


def _positions(flags: str, text: str, what: str) -> str:
    if flags.strip("01"):
        raise MalformedInputError(f"{what} substitute-character positions must be a string of 0 and 1")
    if len(flags) > len(text):
        raise MalformedInputError(f"{what} substitute-character positions are longer than the {what}")
    return flags


_UTF8STRING, _OCTET_STRING = 0x0C, 0x04


def _decode_value(der: bytes) -> str:
    """Decode the DER of a primitive UTF8String or OCTET STRING (X.690 §8.1, definite length only).

    This is the inner value of the otherName that ``cryptography`` already extracted; only the
    two primitive string types are legal here, so a strict two-form reader is enough and keeps the hot
    verification path free of a generic ASN.1 decoder.
    """
    if len(der) < 2 or der[0] not in (_UTF8STRING, _OCTET_STRING):
        raise MalformedInputError("basic-four attribute is neither UTF8String nor OCTET STRING")
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 2 or len(der) < 2 + count:
            raise MalformedInputError("basic-four attribute has a bad DER length")
        length = int.from_bytes(der[2 : 2 + count], "big")
        offset = 2 + count
        if length < 0x80 or (count == 2 and length < 0x100):  # DER: minimal length encoding
            raise MalformedInputError("basic-four attribute length is not minimally encoded")
    if offset + length != len(der):
        raise MalformedInputError("basic-four attribute has a bad DER length")
    try:
        text = der[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInputError("basic-four attribute value is not UTF-8") from exc
    if len(text) > _MAX_ATTRIBUTE_CHARS:
        raise MalformedInputError("basic-four attribute value is too long")
    return text


def raw_attribute_values(certificate: x509.Certificate) -> dict[ObjectIdentifier, str]:
    """Return the JPKI otherName values of the subjectAltName, decoded to text, keyed by OID.

    Raises :class:`MalformedInputError` if an attribute is repeated or badly encoded.
    """
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return {}
    except ValueError as exc:  # an undecodable extension
        raise MalformedInputError("subjectAltName cannot be decoded") from exc
    values: dict[ObjectIdentifier, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id not in _JPKI_ATTRIBUTE_OIDS:
            continue
        if other.type_id in values:
            raise MalformedInputError(f"basic-four attribute {other.type_id.dotted_string} appears twice")
        values[other.type_id] = _decode_value(other.value)
    return values


def parse_basic_four_attributes(certificate: x509.Certificate) -> BasicFourAttributes | None:
    """Parse the basic four attributes from a signing certificate's subjectAltName.

    Returns ``None`` when the certificate carries none of them (a user authentication certificate).
    Raises :class:`MalformedInputError` when some but not all are present, or any is malformed.
    """
    values = raw_attribute_values(certificate)
    if not values:
        return None
    required = (OID_NAME, OID_GENDER, OID_DATE_OF_BIRTH, OID_ADDRESS)
    missing = [oid.dotted_string for oid in required if oid not in values]
    if missing:
        raise MalformedInputError(f"basic-four attributes incomplete, missing {', '.join(missing)}")
    name, address = values[OID_NAME], values[OID_ADDRESS]
    try:
        gender = Gender(values[OID_GENDER])
    except ValueError as exc:
        raise MalformedInputError("gender code is not 1, 2 or 3") from exc
    return BasicFourAttributes(
        name=name,
        name_substitute_positions=_positions(values.get(OID_NAME_SUBSTITUTE, ""), name, "name"),
        gender=gender,
        date_of_birth=parse_date_of_birth(values[OID_DATE_OF_BIRTH]),
        address=address,
        address_substitute_positions=_positions(values.get(OID_ADDRESS_SUBSTITUTE, ""), address, "address"),
    )
