"""The confirmation record (確認記録) of an eKYC made with the signing certificate, and its retention.

Sources:

* 犯罪収益移転防止法 (Act on Prevention of Transfer of Criminal Proceeds) 第6条第1項: a specified business
  operator makes a confirmation record at once after verification at the time of transaction; 同法施行規則
  第20条 lists what it holds — the method used (第1項第1号…), the date and time of the confirmation, the
  name of the person who made it, the customer's identity data, and for the electronic-certificate
  methods the certificate used (its issuer and serial are kept here, with the fingerprint).
* 犯罪収益移転防止法 第6条第2項: the record is kept **7 years** from the day the contract ends (契約が
  終了した日). :attr:`RetentionProfile.BANK`.
* 携帯電話不正利用防止法 第4条 (本人確認記録): kept **3 years** after the service contract ends
  (:attr:`RetentionProfile.TELECOM`; the exact clause numbering is **assumed**, see docs/kyc.md).
* Periods in years are counted as 民法 第140条 (the first day is not counted) and 第143条 (the period ends
  on the day before the corresponding day): a relationship ending on 2026-03-31 keeps its bank records
  through 2033-03-31.

A record never holds a My Number (個人番号): the JPKI certificates carry none and the customer reference
is refused when it contains the shape of one (:func:`contains_individual_number`). Its ``repr`` names no
personal data.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from ..clock import require_aware
from ..errors import MalformedInputError
from ..identity import CertificateSummary, VerificationMode
from ..jpki.attributes import BasicFourAttributes, Gender, parse_date_of_birth
from ..jpki.profile import CertificateKind, FormFactor
from ..revocation.status import CertStatus, RevocationReason, RevocationSource, RevocationStatus

#: Version of the JSON document of a record (:meth:`ConfirmationRecord.to_json`).
RECORD_FORMAT = "myna_rp.kyc.confirmation_record/1"
#: Japan Standard Time: the calendar of relationship ends (契約が終了した日) and of retention deadlines.
JST = timezone(timedelta(hours=9), "JST")
_MAX_REFERENCE_CHARS = 255


class KycMethod(StrEnum):
    """The identity-verification method of a record (本人確認の方法).

    ``JPKI_SIGNING_CERTIFICATE``: the customer sends data signed with the JPKI signing certificate
    (署名用電子証明書) and the certificate; the business confirms the signature and that the certificate
    is not revoked — 犯罪収益移転防止法施行規則 第6条第1項第1号ワ (re-lettered by the amendment in force
    2027-04-01; the legal citation in force is carried by :attr:`RetentionProfile.method_legal_basis`).
    """

    JPKI_SIGNING_CERTIFICATE = "jpki_signing_certificate"


@dataclass(frozen=True, slots=True)
class RetentionProfile:
    """How long confirmation records are kept once the customer relationship ends.

    Attributes:
        name: a stable label (``"bank"``, ``"telecom"``, or your own).
        years_after_relationship_end: the retention period in years, counted from the day after the
            relationship ended (民法 第140条, 第143条).
        legal_basis: the provision that sets the period.
        method_legal_basis: the provision that defines the signing-certificate method for this sector.
    """

    name: str
    years_after_relationship_end: int
    legal_basis: str
    method_legal_basis: str

    BANK: ClassVar[RetentionProfile]
    TELECOM: ClassVar[RetentionProfile]

    def __post_init__(self) -> None:
        if not self.name or self.years_after_relationship_end < 1:
            raise ValueError("a retention profile needs a name and at least one year")

    def retain_until(self, relationship_ended_on: date) -> date:
        """The last day a record must be kept (inclusive), for a relationship that ended on the given day.

        The period starts the next day (民法 第140条) and ends the day before the same calendar day
        ``years_after_relationship_end`` years later (民法 第143条第2項); a period starting on 29 February
        runs to the end of February.
        """
        start = relationship_ended_on + timedelta(days=1)
        year = start.year + self.years_after_relationship_end
        try:
            corresponding = start.replace(year=year)
        except ValueError:  # 29 February → no corresponding day: the period ends on the last day of Feb.
            return date(year, 2, 28)
        return corresponding - timedelta(days=1)


RetentionProfile.BANK = RetentionProfile(
    name="bank",
    years_after_relationship_end=7,
    legal_basis="犯罪収益移転防止法 第6条第2項 (7年間保存, 契約が終了した日から)",
    method_legal_basis="犯罪収益移転防止法施行規則 第6条第1項第1号ワ",
)
RetentionProfile.TELECOM = RetentionProfile(
    name="telecom",
    years_after_relationship_end=3,
    legal_basis=(
        "携帯電話不正利用防止法 第4条 (本人確認記録, 役務提供契約の終了から3年間保存; clause assumed)"
    ),
    method_legal_basis="携帯電話不正利用防止法施行規則 第3条 (署名用電子証明書による方法; clause assumed)",
)


@dataclass(frozen=True, slots=True)
class VerifierIdentity:
    """Who made the confirmation (確認を行った者): the business and the operator or system account.

    Attributes:
        organisation: the relying party (特定事業者) making the record.
        operator_id: the staff member or service account that made the confirmation (an identifier of
            the RP's choosing, not a personal name when avoidable).
    """

    organisation: str
    operator_id: str

    def __post_init__(self) -> None:
        if not self.organisation.strip() or not self.operator_id.strip():
            raise ValueError("the verifier identity needs an organisation and an operator id")


@dataclass(frozen=True, slots=True)
class RelationshipEnd:
    """An appended event: the customer relationship (contract, account) ended on ``ended_on``.

    Events are never changed: a correction is a later event, and the latest event appended at or after a
    record was made decides that record's retention (:func:`retention_for`).

    Attributes:
        event_id: a UUID.
        customer_reference: the RP's customer or account id the records carry.
        ended_on: the day the relationship ended (契約が終了した日).
        recorded_at: when the event was appended (aware UTC).
    """

    event_id: UUID
    customer_reference: str
    ended_on: date
    recorded_at: datetime

    def __post_init__(self) -> None:
        if isinstance(self.ended_on, datetime) or not isinstance(self.ended_on, date):
            raise MalformedInputError("ended_on must be a datetime.date (a calendar day), not a datetime")
        require_aware(self.recorded_at)


@dataclass(frozen=True, slots=True)
class RecordRetention:
    """The retention state of one record, computed from its profile and the relationship-end events.

    Attributes:
        profile: the record's retention profile.
        relationship_ended_on: the end day that applies, or ``None`` while the relationship lasts.
        retain_until: the last day to keep the record (inclusive), or ``None`` while unknown.
    """

    profile: RetentionProfile
    relationship_ended_on: date | None
    retain_until: date | None


def retention_for(record: ConfirmationRecord, events: Sequence[RelationshipEnd]) -> RecordRetention:
    """The retention of ``record`` given the relationship-end events of its customer, in append order.

    An event applies to the records made at or before it was appended (a relationship resumed later
    starts new records with an unknown deadline); of those, the last appended wins (corrections).
    """
    ended_on: date | None = None
    for event in events:
        if event.customer_reference == record.customer_reference and event.recorded_at >= record.recorded_at:
            ended_on = event.ended_on
    if ended_on is None:
        return RecordRetention(record.retention, None, None)
    return RecordRetention(record.retention, ended_on, record.retention.retain_until(ended_on))


def _check_digit_ok(digits: str) -> bool:
    """The My Number check digit (番号法施行令 第8条) of 12 ASCII digits."""
    total = 0
    for n in range(1, 12):
        p = int(digits[11 - n])  # P_n counts from the right of the 11-digit base
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return check == int(digits[11])


#: Kanji numerals written digit by digit (〇一二…九), read as digits.
_KANJI_DIGITS = "〇一二三四五六七八九"
#: Unicode categories that end a digit run: letters, except modifier letters (Lm: the long-vowel mark
#: ``ー`` often stands for a hyphen in Japanese text).
_RUN_BREAKERS = frozenset({"Lu", "Ll", "Lt", "Lo"})


def _digit_runs(value: str) -> list[str]:
    """The runs of decimal digits in ``value`` after NFKC normalisation, as ASCII.

    Any decimal digit counts (full-width ``１``, Arabic-Indic, …: Unicode category Nd; and the kanji
    numerals 〇一二三四五六七八九). A run is broken only by a letter (categories Lu, Ll, Lt, Lo); every
    other character — spaces, hyphens and dashes of every kind (``-``, ``‐``, ``ー``, ``−``), dots,
    slashes, underscores, zero-width and control characters — is skipped, so ``1234-5678-9018`` and
    ``1234\u200b5678 9018`` are the run ``123456789018``.
    """
    runs: list[str] = []
    current: list[str] = []
    for char in unicodedata.normalize("NFKC", value):
        digit = unicodedata.decimal(char, None)
        if digit is None and char in _KANJI_DIGITS:
            digit = _KANJI_DIGITS.index(char)
        if digit is not None:
            current.append(str(digit))
        elif unicodedata.category(char) in _RUN_BREAKERS:
            if current:
                runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def looks_like_individual_number(value: str) -> bool:
    """True when ``value`` *is* a My Number (個人番号, 番号法施行令 第8条): after NFKC normalisation and
    with separators removed (see :func:`contains_individual_number`), exactly 12 digits with a valid
    check digit and nothing else.
    """
    if not isinstance(value, str):
        return False
    runs = _digit_runs(value)
    if len(runs) != 1 or len(runs[0]) != 12:
        return False
    normalised = unicodedata.normalize("NFKC", value)
    if any(unicodedata.category(c) in _RUN_BREAKERS and c not in _KANJI_DIGITS for c in normalised):
        return False
    return _check_digit_ok(runs[0])


def contains_individual_number(value: str) -> bool:
    """True when ``value`` contains something shaped like a My Number (個人番号): any 12 consecutive digits
    with a valid check digit (番号法施行令 第8条) in a digit run of ``value`` (:func:`_digit_runs`: NFKC,
    full-width and other decimal digits, separators and invisible characters skipped, letters break runs).

    Used to refuse a My Number where a customer reference is expected: private businesses must not keep
    it for eKYC (domain-jpki.md, "Legal context"), and a prefix (``MN123456789018``), full-width digits or
    a Unicode hyphen must not smuggle one in.

    The trade-off: one 12-digit window in eleven passes the check digit by chance, so a reference with a
    run of 12 or more digits is refused with probability about 1 − (10/11)^(run − 11) (a 12-digit run:
    9 %; a 16-digit run: 38 %) even when it is not a My Number. Use references that keep digit runs
    shorter than 12 — e.g. letters between digit groups (``C2024-A000123``) or a random token such as
    ``cus_`` + ``secrets.token_urlsafe(16)``. There is deliberately no opt-out: the check also runs when a
    stored record is read back.
    """
    if not isinstance(value, str):
        return False
    for run in _digit_runs(value):
        for start in range(len(run) - 11):
            if _check_digit_ok(run[start : start + 12]):
                return True
    return False


def validate_customer_reference(value: str) -> str:
    """Return ``value`` if usable as a customer reference; raise :class:`MalformedInputError` otherwise.

    Non-empty, at most 255 characters, and containing nothing shaped like a My Number
    (:func:`contains_individual_number`, with its documented false positives).
    """
    if not isinstance(value, str) or not value.strip():
        raise MalformedInputError("customer_reference must be a non-empty string")
    if len(value) > _MAX_REFERENCE_CHARS:
        raise MalformedInputError(f"customer_reference is longer than {_MAX_REFERENCE_CHARS} characters")
    if contains_individual_number(value):
        raise MalformedInputError(
            "customer_reference contains 12 digits shaped like a My Number (個人番号): use your own "
            "customer id, with fewer than 12 digits in a row"
        )
    return value


@dataclass(frozen=True, slots=True)
class ConfirmationRecord:
    """A confirmation record (確認記録, 犯罪収益移転防止法 第6条, 同法施行規則 第20条). Immutable.

    Attributes:
        record_id: a random UUID.
        method: the verification method (signing certificate); the provision defining it for the RP's
            sector is :attr:`method_legal_basis` (from the retention profile).
        verified_at: when the signature and the certificate's revocation were verified (aware UTC).
        recorded_at: when this record was made (aware UTC).
        verified_by: the business and operator who made the confirmation.
        mode: who checked the certificate: the RP (direct), a platform operator, or the OpenID provider.
        customer_reference: the RP's customer or account id.
        challenge_id: base64url of the challenge the customer signed (ties the record to the signing).
        attributes: the basic four attributes (基本4情報) from the certificate: name, date of birth (raw
            ``EYYYYMMDD``; ISO date in :attr:`date_of_birth_iso` when complete), address, gender code,
            substitute-character positions.
        certificate: serial, issuer, SHA-256 fingerprint, validity, kind and form factor.
        revocation: the revocation evidence (status, source, thisUpdate, nextUpdate, producedAt, CRL number).
        retention: the retention profile in force when the record was made.
        certificate_der: the certificate's DER, only when the service is configured to keep it.
        user_id: the holder's stable identifier for this RP when the verifier supplied one — a platform
            operator's 利用者ID or the OpenID provider's pairwise ``sub``; ``None`` in direct mode. Lets
            the RP find the customer when the platform reports a change (webhook).
    """

    record_id: UUID
    method: KycMethod
    verified_at: datetime
    recorded_at: datetime
    verified_by: VerifierIdentity
    mode: VerificationMode
    customer_reference: str
    challenge_id: str
    attributes: BasicFourAttributes
    certificate: CertificateSummary
    revocation: RevocationStatus
    retention: RetentionProfile
    certificate_der: bytes | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.verified_at)
        require_aware(self.recorded_at)
        validate_customer_reference(self.customer_reference)

    def __repr__(self) -> str:
        # No personal data (attributes, customer reference) in logs.
        return (
            f"ConfirmationRecord(record_id={self.record_id}, method={self.method.value}, "
            f"mode={self.mode.value}, serial={self.certificate.serial_number:x}, "
            f"revocation={self.revocation.status.value}, recorded_at={self.recorded_at.isoformat()})"
        )

    @property
    def method_legal_basis(self) -> str:
        """The provision defining the method for the RP's sector (from :attr:`retention`)."""
        return self.retention.method_legal_basis

    @property
    def date_of_birth_iso(self) -> str | None:
        """The date of birth as ``YYYY-MM-DD``, or ``None`` when the certificate's date is partial."""
        value = self.attributes.date_of_birth.value
        return value.isoformat() if value is not None else None

    # -- JSON ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready document (format :data:`RECORD_FORMAT`).

        Datetimes are ISO 8601 in UTC with offset, serial numbers lower-case hex, the certificate DER
        (when kept) standard base64. Serialise with :func:`record_to_json_line` for a stable key order.
        """
        a, c, r = self.attributes, self.certificate, self.revocation
        return {
            "format": RECORD_FORMAT,
            "record_id": str(self.record_id),
            "method": {"code": self.method.value, "legal_basis": self.method_legal_basis},
            "verified_at": _iso(self.verified_at),
            "recorded_at": _iso(self.recorded_at),
            "verified_by": {
                "organisation": self.verified_by.organisation,
                "operator_id": self.verified_by.operator_id,
            },
            "mode": self.mode.value,
            "customer_reference": self.customer_reference,
            "user_id": self.user_id,
            "challenge_id": self.challenge_id,
            "attributes": {
                "name": a.name,
                "name_substitute_positions": a.name_substitute_positions,
                "date_of_birth_raw": a.date_of_birth.raw,
                "date_of_birth": self.date_of_birth_iso,
                "address": a.address,
                "address_substitute_positions": a.address_substitute_positions,
                "gender": a.gender.value,
            },
            "certificate": {
                "serial_number_hex": format(c.serial_number, "x"),
                "issuer": c.issuer,
                "fingerprint_sha256": c.fingerprint_sha256,
                "not_before": _iso(c.not_before),
                "not_after": _iso(c.not_after),
                "kind": c.kind.value,
                "form_factor": c.form_factor.value,
                "der_base64": (
                    base64.b64encode(self.certificate_der).decode("ascii")
                    if self.certificate_der is not None
                    else None
                ),
            },
            "revocation": {
                "status": r.status.value,
                "source": r.source.value if r.source is not None else None,
                "serial_number_hex": format(r.serial_number, "x"),
                "reason": r.reason.value if r.reason is not None else None,
                "revocation_time": _iso_or_none(r.revocation_time),
                "this_update": _iso_or_none(r.this_update),
                "next_update": _iso_or_none(r.next_update),
                "produced_at": _iso_or_none(r.produced_at),
                "crl_number": str(r.crl_number) if r.crl_number is not None else None,
            },
            "retention": {
                "profile": self.retention.name,
                "years_after_relationship_end": self.retention.years_after_relationship_end,
                "legal_basis": self.retention.legal_basis,
            },
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ConfirmationRecord:
        """Rebuild a record from :meth:`to_json` output (extra keys, e.g. an export's ``retention_status``,
        are ignored).

        Raises:
            MalformedInputError: wrong format tag, missing keys, or values of the wrong shape.
        """
        try:
            if document["format"] != RECORD_FORMAT:
                raise MalformedInputError(f"not a {RECORD_FORMAT} document")
            a, c, r, k = (
                document["attributes"],
                document["certificate"],
                document["revocation"],
                document["retention"],
            )
            dob = parse_date_of_birth(a["date_of_birth_raw"])
            attributes = BasicFourAttributes(
                name=a["name"],
                name_substitute_positions=a["name_substitute_positions"],
                gender=Gender(a["gender"]),
                date_of_birth=dob,
                address=a["address"],
                address_substitute_positions=a["address_substitute_positions"],
            )
            der = c.get("der_base64")
            return cls(
                record_id=UUID(document["record_id"]),
                method=KycMethod(document["method"]["code"]),
                verified_at=_parse_iso(document["verified_at"]),
                recorded_at=_parse_iso(document["recorded_at"]),
                verified_by=VerifierIdentity(
                    document["verified_by"]["organisation"], document["verified_by"]["operator_id"]
                ),
                mode=VerificationMode(document["mode"]),
                customer_reference=document["customer_reference"],
                challenge_id=document["challenge_id"],
                attributes=attributes,
                certificate=CertificateSummary(
                    serial_number=int(c["serial_number_hex"], 16),
                    issuer=c["issuer"],
                    fingerprint_sha256=c["fingerprint_sha256"],
                    not_before=_parse_iso(c["not_before"]),
                    not_after=_parse_iso(c["not_after"]),
                    kind=CertificateKind(c["kind"]),
                    form_factor=FormFactor(c["form_factor"]),
                ),
                revocation=RevocationStatus(
                    status=CertStatus(r["status"]),
                    source=RevocationSource(r["source"]) if r["source"] is not None else None,
                    serial_number=int(r["serial_number_hex"], 16),
                    reason=RevocationReason(r["reason"]) if r["reason"] is not None else None,
                    revocation_time=_parse_iso_or_none(r["revocation_time"]),
                    this_update=_parse_iso_or_none(r["this_update"]),
                    next_update=_parse_iso_or_none(r["next_update"]),
                    produced_at=_parse_iso_or_none(r["produced_at"]),
                    crl_number=int(r["crl_number"]) if r["crl_number"] is not None else None,
                ),
                retention=_profile_from_json(k, document["method"]["legal_basis"]),
                certificate_der=base64.b64decode(der, validate=True) if der is not None else None,
                user_id=document["user_id"],
            )
        except MalformedInputError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise MalformedInputError(
                f"not a valid confirmation record document ({type(exc).__name__})"
            ) from exc


def _profile_from_json(document: Mapping[str, Any], method_legal_basis: str) -> RetentionProfile:
    return RetentionProfile(
        name=document["profile"],
        years_after_relationship_end=int(document["years_after_relationship_end"]),
        legal_basis=document["legal_basis"],
        method_legal_basis=method_legal_basis,
    )


def record_to_json_line(record: ConfirmationRecord, *, extra: Mapping[str, Any] | None = None) -> str:
    """One JSON line (no trailing newline): keys sorted at every level, UTF-8 text kept as is."""
    document = record.to_json()
    if extra:
        document.update(extra)
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _iso(value: datetime) -> str:
    return require_aware(value).astimezone(UTC).isoformat()


def _iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else _iso(value)


def _parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive datetime in a record document")
    return parsed.astimezone(UTC)


def _parse_iso_or_none(value: str | None) -> datetime | None:
    return None if value is None else _parse_iso(value)
