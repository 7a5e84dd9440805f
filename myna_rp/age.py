"""verify_age(): is the holder at least N years old — from verified evidence only.

Order of evidence (issue 4, domain-mdoc.md):

1. an mdoc :class:`~myna_rp.mdoc.Presentation` (verified by :class:`~myna_rp.mdoc.MdocVerifier`,
   device-authenticated), **only** of the configured docType and **only** from the configured namespace —
   by default the My Number Card (``org.iso.23220.1.jp.mnc``) and ``org.iso.23220.1``, the ISO/IEC
   23220-2 namespace that defines the age elements (the same element in another namespace, or in another
   document, never counts):
   a. ``age_over_NN`` with NN == ``minimum_age`` (ISO/IEC 18013-5 §7.2.5, ISO/IEC 23220-2);
   b. another ``age_over_NN`` only when it decides the question: ``age_over_21 = true`` implies over 20,
      ``age_over_18 = false`` implies not over 20 (the nearest deciding NN is used);
   c. ``birth_date`` (full-date, or the 23220-2 map ``{"birth_date", ?"approximate_mask"}`` — an
      approximate date is not used), the age computed on the verification day in Japan time;
   d. ``age_in_years`` (as issued);
   else :class:`~myna_rp.errors.AgeNotDeterminedError` (AGE_NOT_DISCLOSED).
   Before answering, every disclosed age element of that namespace must agree with the others (see
   :func:`_check_consistency`); signed claims that contradict each other fail closed with
   :class:`~myna_rp.errors.MdocVerificationError` (AGE_EVIDENCE_INCONSISTENT). The time of the question
   must lie inside the MSO's validity (MSO_NOT_VALID otherwise).
2. Android (a :class:`~myna_rp.jpki.JPKIVerification` whose form factor is ANDROID, or the
   :class:`AndroidDevice` marker): :class:`~myna_rp.errors.AttributeProofUnsupported` naming the fallback
   (``jpki_signing_certificate``), because Android carries no attribute proof today.
3. With ``allow_jpki_date_of_birth=True`` only: a verified JPKI **signing** certificate's date of birth
   (基本4情報); an unknown or partial date (zeros in ``EYYYYMMDD``) fails closed, and so does a time of the
   question outside the signing certificate's validity (CERTIFICATE_EXPIRED / CERTIFICATE_NOT_YET_VALID:
   an expired certificate no longer vouches for its holder's attributes).

Evidence not built by its verifier (a Presentation not minted by ``MdocVerifier``, a JPKIVerification not
built by ``JPKIVerifier``, or either copied with changes) is refused with
:class:`~myna_rp.mdoc.UnverifiedPresentationError`.

Ages follow 年齢計算ニ関スル法律 and 民法143条: a person gains a year at the end of the day before the
birthday, so on the birthday itself the new age applies; someone born on 29 February gains it on 1 March
in common years. The calendar day is taken in Japan Standard Time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from .clock import require_aware
from .errors import (
    AgeNotDeterminedError,
    AttributeProofUnsupported,
    MalformedInputError,
    MdocVerificationError,
    Reason,
    VerificationError,
)
from .jpki.profile import FormFactor
from .jpki.verifier import JPKIVerification, is_verified_jpki
from .mdoc.profile import AGE_OVER_ELEMENT, JP_MNC_DOCTYPE, MDL_DOCTYPE, NS_23220, NS_MDL, is_full_date
from .mdoc.verifier import (
    DeviceAuthKind,
    Presentation,
    UnverifiedPresentationError,
    is_verified_presentation,
)

JST = timezone(timedelta(hours=9), "JST")
JPKI_FALLBACK = "jpki_signing_certificate"
# docType -> the namespace that defines its age elements (ISO/IEC 23220-2; ISO/IEC 18013-5 §7.2.1).
AGE_NAMESPACES: Mapping[str, str] = MappingProxyType({JP_MNC_DOCTYPE: NS_23220, MDL_DOCTYPE: NS_MDL})
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class AndroidDevice:
    """Marker evidence: the holder's device is an Android phone (no mdoc attribute proof exists there)."""


@dataclass(frozen=True, slots=True)
class AgeEvidence:
    """What answered the question.

    Attributes:
        source: ``"mdoc"`` or ``"jpki"``.
        element: ``age_over_NN``, ``birth_date``, ``age_in_years`` or ``date_of_birth`` (JPKI).
        namespace: the mdoc namespace, ``None`` for JPKI.
        verified_at: when the evidence was verified / the day the age was computed for.
    """

    source: str
    element: str
    namespace: str | None
    verified_at: datetime


@dataclass(frozen=True, slots=True)
class AgeVerification:
    """The answer: ``over`` is True when the holder is at least ``minimum_age``."""

    over: bool
    minimum_age: int
    evidence: AgeEvidence


def age_on(birth: date, day: date) -> int:
    """Completed years on ``day`` for someone born on ``birth`` (29 February counts from 1 March)."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def verify_age(
    evidence: Presentation | JPKIVerification | AndroidDevice,
    minimum_age: int = 20,
    *,
    at: datetime | None = None,
    allow_jpki_date_of_birth: bool = False,
    doc_type: str = JP_MNC_DOCTYPE,
    namespace: str | None = None,
) -> AgeVerification:
    """Answer "is the holder at least ``minimum_age``?" from verified evidence.

    Args:
        evidence: a verified mdoc Presentation, a verified JPKI signature, or :class:`AndroidDevice`.
        minimum_age: 0..99 (default 20: alcohol and tobacco in Japan).
        at: the time of the question (aware); default: when the evidence was verified. For an mdoc it
            must lie inside the MSO's validityInfo and not before its ``signed`` time; for JPKI, inside the
            signing certificate's validity (notBefore..notAfter).
        allow_jpki_date_of_birth: opt in to answering from a JPKI signing certificate's date of birth.
        doc_type: the only docType an mdoc answer may come from (default ``org.iso.23220.1.jp.mnc``).
        namespace: the only namespace whose age elements count; default: the one that defines them for
            ``doc_type`` (``org.iso.23220.1`` for the My Number Card, ``org.iso.18013.5.1`` for an mDL),
            required for any other docType.

    Raises:
        AttributeProofUnsupported: Android evidence (reason ATTRIBUTE_PROOF_UNSUPPORTED, ``fallback``
            ``"jpki_signing_certificate"``).
        AgeNotDeterminedError: nothing verified decides the question (AGE_NOT_DISCLOSED): a document of
            another docType, no deciding element in the configured namespace, JPKI evidence without the
            opt-in, unknown/partial JPKI dates of birth.
        MdocVerificationError: a Presentation without device authentication (DEVICE_AUTH_INVALID), ``at``
            outside the MSO validity or before the MSO was signed (MSO_NOT_VALID), contradicting age
            elements (AGE_EVIDENCE_INCONSISTENT).
        VerificationError: JPKI evidence asked about a time after the signing certificate's notAfter
            (CERTIFICATE_EXPIRED) or before its notBefore (CERTIFICATE_NOT_YET_VALID).
        MalformedInputError: an age element of the wrong CBOR type in the configured namespace.
        UnverifiedPresentationError: evidence not built by its verifier (a ``TypeError``).
        TypeError / ValueError: evidence of another type, a bad ``minimum_age``, an unknown ``doc_type``
            without ``namespace``.
    """
    if isinstance(minimum_age, bool) or not isinstance(minimum_age, int) or not 0 <= minimum_age <= 99:
        raise ValueError("minimum_age must be an integer between 0 and 99")
    if at is not None:
        require_aware(at)
    if namespace is None:
        namespace = AGE_NAMESPACES.get(doc_type)
        if namespace is None:
            raise ValueError(f"give the namespace that holds the age elements of docType {doc_type!r}")
    if isinstance(evidence, AndroidDevice):
        raise AttributeProofUnsupported(
            "Android devices carry no attribute proof; ask for a JPKI signature and call verify_age with "
            "allow_jpki_date_of_birth=True",
            fallback=JPKI_FALLBACK,
        )
    if isinstance(evidence, Presentation):
        if not is_verified_presentation(evidence):
            raise UnverifiedPresentationError("verify_age needs a Presentation built by MdocVerifier")
        return _from_presentation(evidence, minimum_age, at or evidence.verified_at, doc_type, namespace)
    if isinstance(evidence, JPKIVerification):
        if not is_verified_jpki(evidence):
            raise UnverifiedPresentationError(
                "verify_age needs a JPKIVerification built by JPKIVerifier (not by hand, not a modified copy)"
            )
        return _from_jpki(evidence, minimum_age, at, allow_jpki_date_of_birth)
    raise TypeError("verify_age needs verified evidence: a Presentation, a JPKIVerification or AndroidDevice")


@dataclass(frozen=True, slots=True)
class _Claims:
    """The age elements disclosed in the configured namespace, type-checked."""

    over: tuple[tuple[int, bool, str], ...]  # (NN, value, identifier)
    birth: date | None  # an exact birth date (an approximate one is left out)
    years: int | None


def _claims(items: Mapping[str, Any], namespace: str) -> _Claims:
    over: list[tuple[int, bool, str]] = []
    for identifier, value in items.items():
        match = AGE_OVER_ELEMENT.match(identifier)
        if match:
            if type(value) is not bool:
                raise MalformedInputError(f"element {namespace}/{identifier} must be a bool")
            over.append((int(match.group(1)), value, identifier))
    years = items.get("age_in_years")
    if years is not None and (type(years) is not int or years < 0):
        raise MalformedInputError(f"element {namespace}/age_in_years must be an unsigned integer")
    return _Claims(tuple(sorted(over)), _birth_date(items.get("birth_date"), namespace), years)


def _birth_date(value: Any, namespace: str) -> date | None:
    if value is None:
        return None
    if is_full_date(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, Mapping) and is_full_date(value.get("birth_date")):
        mask = value.get("approximate_mask")
        if mask is not None and type(mask) is not str:
            raise MalformedInputError(f"element {namespace}/birth_date has a malformed approximate_mask")
        if mask is not None and set(mask) - {"0"}:
            return None  # approximate: never used, neither to answer nor to cross-check
        return value["birth_date"]  # type: ignore[no-any-return]
    raise MalformedInputError(f"element {namespace}/birth_date must be a full-date (tag 1004)")


def _check_consistency(claims: _Claims, *, issued: date, asked: date) -> None:
    """Fail closed when disclosed age elements contradict each other.

    ``age_over_NN`` and ``age_in_years`` state facts as of issuance; a birth date gives the age on any day.
    An age only grows, so with ``low`` = the day before the earlier of issuance and the question (one day
    of slack for the issuer's time zone) and ``high`` = the later of the two: every true ``age_over_NN``
    must have an NN below every false one; ``age_over_NN = true`` needs the birth date to give at least NN
    on ``high``, ``false`` needs less than NN on ``low``; ``age_in_years`` must lie between the ages on
    ``low`` and ``high`` and agree exactly with every ``age_over_NN`` (both are issuance-time facts).
    """

    def inconsistent(what: str) -> MdocVerificationError:
        return MdocVerificationError(
            f"the disclosed age elements contradict each other ({what}); no answer is given",
            reason=Reason.AGE_EVIDENCE_INCONSISTENT,
        )

    trues = [nn for nn, value, _ in claims.over if value]
    falses = [nn for nn, value, _ in claims.over if not value]
    if trues and falses and max(trues) >= min(falses):
        raise inconsistent(f"age_over_{max(trues):02d} is true but age_over_{min(falses):02d} is false")
    if claims.years is not None:
        for nn, value, identifier in claims.over:
            if (claims.years >= nn) != value:
                raise inconsistent(f"{identifier} disagrees with age_in_years")
    if claims.birth is None:
        return
    low = min(issued, asked) - _ONE_DAY
    high = max(issued, asked)
    youngest, oldest = age_on(claims.birth, low), age_on(claims.birth, high)
    for nn, value, identifier in claims.over:
        if (value and oldest < nn) or (not value and youngest >= nn):
            raise inconsistent(f"{identifier} disagrees with birth_date")
    if claims.years is not None and not youngest <= claims.years <= oldest:
        raise inconsistent("age_in_years disagrees with birth_date")


def _from_presentation(
    p: Presentation, minimum_age: int, at: datetime, doc_type: str, namespace: str
) -> AgeVerification:
    if p.device_auth is DeviceAuthKind.NONE:
        raise MdocVerificationError(
            "an IssuerSigned structure without device authentication does not prove a presentation",
            reason=Reason.DEVICE_AUTH_INVALID,
        )
    if p.doc_type != doc_type:
        raise AgeNotDeterminedError(
            "the document is not of the docType configured for age checks; its elements are not used"
        )
    validity = p.validity
    if not validity.valid_from <= at <= validity.valid_until:
        raise MdocVerificationError(
            "the time of the age question is outside the MSO's validityInfo", reason=Reason.MSO_NOT_VALID
        )
    if validity.signed > at:  # the MSO did not exist yet at the time of the question
        raise MdocVerificationError(
            "the time of the age question is before the MSO was signed", reason=Reason.MSO_NOT_VALID
        )
    claims = _claims(p.elements.get(namespace, {}), namespace)
    asked = at.astimezone(JST).date()
    _check_consistency(claims, issued=validity.signed.astimezone(JST).date(), asked=asked)

    def answer(over: bool, element: str) -> AgeVerification:
        return AgeVerification(over, minimum_age, AgeEvidence("mdoc", element, namespace, at))

    for nn, value, identifier in claims.over:
        if nn == minimum_age:
            return answer(value, identifier)
    # age >= NN >= minimum: over. age < NN <= minimum: not over. Nearest deciding NN first.
    deciding = [
        c for c in claims.over if (c[1] and c[0] >= minimum_age) or (not c[1] and c[0] <= minimum_age)
    ]
    if deciding:
        _, value, identifier = min(deciding, key=lambda c: abs(c[0] - minimum_age))
        return answer(value, identifier)
    if claims.birth is not None:
        return answer(age_on(claims.birth, asked) >= minimum_age, "birth_date")
    if claims.years is not None:
        return answer(claims.years >= minimum_age, "age_in_years")
    raise AgeNotDeterminedError(
        "no disclosed element (age_over_NN, birth_date, age_in_years) of the configured namespace decides "
        "the age"
    )


def _from_jpki(v: JPKIVerification, minimum_age: int, at: datetime | None, allowed: bool) -> AgeVerification:
    if not allowed:
        if v.form_factor is FormFactor.ANDROID:
            raise AttributeProofUnsupported(
                "this signature comes from an Android device, which carries no attribute proof; "
                "call verify_age with allow_jpki_date_of_birth=True to answer from the signing certificate",
                fallback=JPKI_FALLBACK,
            )
        raise AgeNotDeterminedError(
            "JPKI evidence answers an age question only with allow_jpki_date_of_birth=True"
        )
    if v.attributes is None:
        raise AgeNotDeterminedError("only a JPKI signing certificate carries a date of birth")
    birth = v.attributes.date_of_birth.value
    if birth is None:
        raise AgeNotDeterminedError("the certificate's date of birth is unknown or partial")
    when = at or v.check.verified_at
    certificate = v.check.certificate
    if when < certificate.not_valid_before_utc:
        raise VerificationError(
            "the time of the age question is before the signing certificate's validity (notBefore)",
            reason=Reason.CERTIFICATE_NOT_YET_VALID,
        )
    if when > certificate.not_valid_after_utc:
        raise VerificationError(
            "the time of the age question is after the signing certificate expired (notAfter)",
            reason=Reason.CERTIFICATE_EXPIRED,
        )
    over = age_on(birth, when.astimezone(JST).date()) >= minimum_age
    return AgeVerification(over, minimum_age, AgeEvidence("jpki", "date_of_birth", None, when))
