"""The basic four attributes (基本4情報) and their subjectAltName encoding.

Signing certificates carry the holder's name, gender, date of birth and address, plus the
substitute-character position strings for name and address, as six ``otherName`` entries of the
subjectAltName (domain-jpki.md; RFC 5280 §4.2.1.6)::

    OtherName ::= SEQUENCE {
        type-id    OBJECT IDENTIFIER,                 -- 1.2.392.200149.8.5.5.1 … .6
        value      [0] EXPLICIT ANY DEFINED BY type-id }  -- a UTF8String on real certificates

:class:`cryptography.x509.OtherName` takes the DER of the inner value and adds the ``[0] EXPLICIT``
wrapper itself, so this module only encodes the inner UTF8String (or, as an option some issuers'
parsers must survive, an OCTET STRING holding the UTF-8 bytes).

Only synthetic people belong here. Nothing in this module logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum

from cryptography import x509

from .errors import InvalidAttributesError
from .profile import (
    OID_ADDRESS,
    OID_ADDRESS_SUBSTITUTE_POSITIONS,
    OID_DATE_OF_BIRTH,
    OID_GENDER,
    OID_NAME,
    OID_NAME_SUBSTITUTE_POSITIONS,
)

#: Longest address J-LIS puts in the certificate (domain-jpki.md: "up to 200 characters").
MAX_ADDRESS_LENGTH = 200
#: Longest name the mock accepts (**assumed**; the J-LIS limit is not public in our sources).
MAX_NAME_LENGTH = 100

_DOB_PATTERN = re.compile(r"[0-5][0-9]{8}")


class Gender(StrEnum):
    """性別 as encoded in the certificate (domain-jpki.md)."""

    MALE = "1"
    FEMALE = "2"
    NOT_STATED = "3"


class Era(IntEnum):
    """The era digit ``E`` of ``EYYYYMMDD`` (domain-jpki.md)."""

    UNKNOWN = 0
    MEIJI = 1
    TAISHO = 2
    SHOWA = 3
    HEISEI = 4
    REIWA = 5


# First Gregorian day of each era (Meiji counted from 1868-01-25, the start of its first year).
_ERA_STARTS: tuple[tuple[Era, date], ...] = (
    (Era.MEIJI, date(1868, 1, 25)),
    (Era.TAISHO, date(1912, 7, 30)),
    (Era.SHOWA, date(1926, 12, 25)),
    (Era.HEISEI, date(1989, 1, 8)),
    (Era.REIWA, date(2019, 5, 1)),
)


def era_of(day: date) -> Era:
    """The era in which ``day`` falls; raises :class:`ValueError` before Meiji."""
    found: Era | None = None
    for era, start in _ERA_STARTS:
        if day >= start:
            found = era
    if found is None:
        raise ValueError("dates before the Meiji era are not representable")
    return found


def _era_years(era: Era) -> tuple[int, int]:
    starts = dict(_ERA_STARTS)
    first = starts[era].year
    following = [start for e, start in _ERA_STARTS if e == era + 1]
    last = following[0].year if following else 9999
    return first, last


class AttributeEncoding(StrEnum):
    """How an otherName value is encoded inside its ``[0] EXPLICIT`` wrapper."""

    UTF8_STRING = "utf8_string"  # as on real certificates
    OCTET_STRING = "octet_string"  # UTF-8 bytes in an OCTET STRING; parsers must accept it too


@dataclass(frozen=True, slots=True)
class DateOfBirth:
    """生年月日 in the certificate's ``EYYYYMMDD`` form: era digit + Gregorian date, zeros for unknown parts.

    Attributes:
        era: the era digit (``Era.UNKNOWN`` = 0).
        year, month, day: Gregorian parts, ``None`` when unknown (encoded as zeros).

    Rules enforced (raising :class:`InvalidAttributesError`): an unknown year implies unknown month and
    day, an unknown month implies an unknown day; a complete date must exist in the calendar; a known
    era must contain the date (or, for a partial date, the year).
    """

    era: Era
    year: int | None
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.year is None and (self.month is not None or self.day is not None):
            raise InvalidAttributesError("date of birth: unknown year with a known month or day")
        if self.month is None and self.day is not None:
            raise InvalidAttributesError("date of birth: unknown month with a known day")
        if self.year is not None and not 1868 <= self.year <= 9999:
            raise InvalidAttributesError("date of birth: year out of range")
        if self.month is not None and not 1 <= self.month <= 12:
            raise InvalidAttributesError("date of birth: month out of range")
        complete = self.as_date()  # validates the calendar date when complete
        if self.era is Era.UNKNOWN or self.year is None:
            return
        if complete is not None:
            if era_of(complete) is not self.era:
                raise InvalidAttributesError("date of birth: the era digit does not match the date")
            return
        first, last = _era_years(self.era)
        if not first <= self.year <= last:
            raise InvalidAttributesError("date of birth: the era digit does not match the year")

    @classmethod
    def parse(cls, text: str) -> DateOfBirth:
        """Parse ``EYYYYMMDD`` (9 ASCII digits, era 0–5). Raises :class:`InvalidAttributesError`."""
        if not isinstance(text, str) or not _DOB_PATTERN.fullmatch(text):
            raise InvalidAttributesError("date of birth must be 9 digits EYYYYMMDD with era 0–5")
        year, month, day = int(text[1:5]), int(text[5:7]), int(text[7:9])
        return cls(Era(int(text[0])), year or None, month or None, day or None)

    @classmethod
    def from_date(cls, day: date) -> DateOfBirth:
        """A complete date of birth with the era computed from ``day``."""
        return cls(era_of(day), day.year, day.month, day.day)

    def as_date(self) -> date | None:
        """The Gregorian date when all parts are known, else ``None``."""
        if self.year is None or self.month is None or self.day is None:
            return None
        try:
            return date(self.year, self.month, self.day)
        except ValueError as exc:
            raise InvalidAttributesError("date of birth: no such calendar date") from exc

    def encode(self) -> str:
        """The ``EYYYYMMDD`` string."""
        return f"{int(self.era)}{self.year or 0:04d}{self.month or 0:02d}{self.day or 0:02d}"

    def __str__(self) -> str:
        return self.encode()


def _check_text(label: str, value: str, max_length: int) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidAttributesError(f"{label} must be a non-empty string")
    if len(value) > max_length:
        raise InvalidAttributesError(f"{label} is longer than {max_length} characters")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in value):
        raise InvalidAttributesError(f"{label} contains control or surrogate characters")


def _check_positions(label: str, positions: str, text: str) -> None:
    if len(positions) != len(text) or set(positions) - {"0", "1"}:
        raise InvalidAttributesError(
            f"{label} substitute positions must be one '0'/'1' per character of the {label}"
        )


@dataclass(frozen=True, slots=True)
class BasicFourAttributes:
    """基本4情報 as written into a signing certificate (domain-jpki.md, table of OIDs .1–.6).

    Attributes:
        name: 氏名, family name + U+3000 (full-width space) + given name, ≤ 100 characters (assumed limit).
        gender: :class:`Gender` (``"1"``/``"2"``/``"3"``).
        date_of_birth: :class:`DateOfBirth` (accepts an ``EYYYYMMDD`` string and parses it).
        address: 住所 from the prefecture, no postal code, ≤ 200 characters.
        name_substitute_positions: one ``0``/``1`` per character of ``name`` (``1`` = the character is a
            substitute for a glyph outside JIS X 0208 levels 1–2); defaults to all ``0``.
        address_substitute_positions: the same for ``address``.

    Raises:
        InvalidAttributesError: any rule above is broken. The message never echoes the values.
    """

    name: str
    gender: Gender
    date_of_birth: DateOfBirth
    address: str
    name_substitute_positions: str = field(default="")
    address_substitute_positions: str = field(default="")

    def __post_init__(self) -> None:
        _check_text("name", self.name, MAX_NAME_LENGTH)
        _check_text("address", self.address, MAX_ADDRESS_LENGTH)
        try:
            object.__setattr__(self, "gender", Gender(self.gender))
        except ValueError as exc:
            raise InvalidAttributesError("gender must be '1', '2' or '3'") from exc
        if isinstance(self.date_of_birth, str):
            object.__setattr__(self, "date_of_birth", DateOfBirth.parse(self.date_of_birth))
        elif not isinstance(self.date_of_birth, DateOfBirth):
            raise InvalidAttributesError("date_of_birth must be a DateOfBirth or an EYYYYMMDD string")
        if not self.name_substitute_positions:
            object.__setattr__(self, "name_substitute_positions", "0" * len(self.name))
        if not self.address_substitute_positions:
            object.__setattr__(self, "address_substitute_positions", "0" * len(self.address))
        _check_positions("name", self.name_substitute_positions, self.name)
        _check_positions("address", self.address_substitute_positions, self.address)

    def __repr__(self) -> str:  # never print personal attributes by accident
        return "BasicFourAttributes(<redacted>)"

    def as_strings(self) -> dict[str, str]:
        """The six values exactly as encoded, keyed by attribute name (for manifests and tests)."""
        return {
            "name": self.name,
            "name_substitute_positions": self.name_substitute_positions,
            "gender": self.gender.value,
            "date_of_birth": self.date_of_birth.encode(),
            "address": self.address,
            "address_substitute_positions": self.address_substitute_positions,
        }

    def other_names(
        self, encoding: AttributeEncoding = AttributeEncoding.UTF8_STRING
    ) -> list[x509.OtherName]:
        """The six ``otherName`` entries in OID order (.1 … .6)."""
        values = (
            (OID_NAME, self.name),
            (OID_NAME_SUBSTITUTE_POSITIONS, self.name_substitute_positions),
            (OID_GENDER, self.gender.value),
            (OID_DATE_OF_BIRTH, self.date_of_birth.encode()),
            (OID_ADDRESS, self.address),
            (OID_ADDRESS_SUBSTITUTE_POSITIONS, self.address_substitute_positions),
        )
        return [x509.OtherName(oid, encode_other_name_value(text, encoding)) for oid, text in values]

    def subject_alt_name(
        self, encoding: AttributeEncoding = AttributeEncoding.UTF8_STRING
    ) -> x509.SubjectAlternativeName:
        """The subjectAltName extension value (non-critical: the subject DN is not empty)."""
        return x509.SubjectAlternativeName(self.other_names(encoding))


_UTF8_STRING_TAG = 0x0C
_OCTET_STRING_TAG = 0x04


def encode_other_name_value(text: str, encoding: AttributeEncoding) -> bytes:
    """DER of the otherName inner value: a UTF8String (tag 12) or OCTET STRING (tag 4) of UTF-8 ``text``.

    The ``[0] EXPLICIT`` wrapper is *not* included (cryptography adds it).
    """
    tag = _UTF8_STRING_TAG if encoding is AttributeEncoding.UTF8_STRING else _OCTET_STRING_TAG
    return der_tlv(tag, text.encode("utf-8"))


def der_tlv(tag: int, content: bytes) -> bytes:
    """One DER TLV with a single-byte ``tag`` and definite length (X.690 §8.1.3, short/long form)."""
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(encoded))) + encoded + content
