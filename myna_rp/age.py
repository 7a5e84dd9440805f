"""verify_age(): is the holder at least N years old — from verified evidence only.

Order of evidence (issue 4, domain-mdoc.md):

1. an mdoc :class:`~myna_rp.mdoc.Presentation` (verified, device-authenticated):
   a. ``age_over_NN`` with NN == ``minimum_age`` (ISO/IEC 18013-5 §7.2.5, ISO/IEC 23220-2);
   b. another ``age_over_NN`` only when it decides the question: ``age_over_21 = true`` implies over 20,
      ``age_over_18 = false`` implies not over 20 (the nearest deciding NN is used);
   c. ``birth_date`` (full-date, or the 23220-2 map ``{"birth_date", ?"approximate_mask"}`` — an
      approximate date is not used), the age computed on the verification day in Japan time;
   d. ``age_in_years`` (as issued);
   else :class:`~myna_rp.errors.AgeNotDeterminedError` (AGE_NOT_DISCLOSED).
2. Android (a :class:`~myna_rp.jpki.JPKIVerification` whose form factor is ANDROID, or the
   :class:`AndroidDevice` marker): :class:`~myna_rp.errors.AttributeProofUnsupported` naming the fallback
   (``jpki_signing_certificate``), because Android carries no attribute proof today.
3. With ``allow_jpki_date_of_birth=True`` only: a verified JPKI **signing** certificate's date of birth
   (基本4情報); an unknown or partial date (zeros in ``EYYYYMMDD``) fails closed.

Ages follow 年齢計算ニ関スル法律 and 民法143条: a person gains a year at the end of the day before the
birthday, so on the birthday itself the new age applies; someone born on 29 February gains it on 1 March
in common years. The calendar day is taken in Japan Standard Time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .clock import require_aware
from .errors import AgeNotDeterminedError, AttributeProofUnsupported, MdocVerificationError, Reason
from .jpki.profile import FormFactor
from .jpki.verifier import JPKIVerification
from .mdoc.verifier import (
    DeviceAuthKind,
    Presentation,
    UnverifiedPresentationError,
    is_verified_presentation,
)

JST = timezone(timedelta(hours=9), "JST")
JPKI_FALLBACK = "jpki_signing_certificate"
_AGE_OVER = re.compile(r"age_over_(\d{2})\Z")


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
) -> AgeVerification:
    """Answer "is the holder at least ``minimum_age``?" from verified evidence.

    Args:
        evidence: a verified mdoc Presentation, a verified JPKI signature, or :class:`AndroidDevice`.
        minimum_age: 0..99 (default 20: alcohol and tobacco in Japan).
        at: the time for date-of-birth arithmetic (aware); default: when the evidence was verified.
        allow_jpki_date_of_birth: opt in to answering from a JPKI signing certificate's date of birth.

    Raises:
        AttributeProofUnsupported: Android evidence (reason ATTRIBUTE_PROOF_UNSUPPORTED, ``fallback``
            ``"jpki_signing_certificate"``).
        AgeNotDeterminedError: nothing verified decides the question (AGE_NOT_DISCLOSED), including JPKI
            evidence without the opt-in and unknown/partial JPKI dates of birth.
        MdocVerificationError: a Presentation without device authentication (DEVICE_AUTH_INVALID).
        UnverifiedPresentationError: a Presentation not built by MdocVerifier (a ``TypeError``).
        TypeError / ValueError: evidence of another type (unverified data), a bad ``minimum_age``.
    """
    if isinstance(minimum_age, bool) or not isinstance(minimum_age, int) or not 0 <= minimum_age <= 99:
        raise ValueError("minimum_age must be an integer between 0 and 99")
    if at is not None:
        require_aware(at)
    if isinstance(evidence, AndroidDevice):
        raise AttributeProofUnsupported(
            "Android devices carry no attribute proof; ask for a JPKI signature and call verify_age with "
            "allow_jpki_date_of_birth=True",
            fallback=JPKI_FALLBACK,
        )
    if isinstance(evidence, Presentation):
        if not is_verified_presentation(evidence):
            raise UnverifiedPresentationError("verify_age needs a Presentation built by MdocVerifier")
        return _from_presentation(evidence, minimum_age, at or evidence.verified_at)
    if isinstance(evidence, JPKIVerification):
        return _from_jpki(evidence, minimum_age, at, allow_jpki_date_of_birth)
    raise TypeError("verify_age needs verified evidence: a Presentation, a JPKIVerification or AndroidDevice")


def _from_presentation(p: Presentation, minimum_age: int, at: datetime) -> AgeVerification:
    if p.device_auth is DeviceAuthKind.NONE:
        raise MdocVerificationError(
            "an IssuerSigned structure without device authentication does not prove a presentation",
            reason=Reason.DEVICE_AUTH_INVALID,
        )

    def answer(over: bool, element: str, namespace: str) -> AgeVerification:
        return AgeVerification(over, minimum_age, AgeEvidence("mdoc", element, namespace, at))

    over_claims: list[tuple[int, bool, str, str]] = []
    for namespace, items in p.elements.items():
        for identifier, value in items.items():
            match = _AGE_OVER.match(identifier)
            if match and isinstance(value, bool):
                over_claims.append((int(match.group(1)), value, identifier, namespace))
    for nn, value, identifier, namespace in over_claims:
        if nn == minimum_age:
            return answer(value, identifier, namespace)
    # age >= NN >= minimum: over. age < NN <= minimum: not over. Nearest deciding NN first.
    deciding = [
        c for c in over_claims if (c[1] and c[0] >= minimum_age) or (not c[1] and c[0] <= minimum_age)
    ]
    if deciding:
        nn, value, identifier, namespace = min(deciding, key=lambda c: abs(c[0] - minimum_age))
        return answer(value, identifier, namespace)
    for namespace, items in p.elements.items():
        birth = _birth_date(items.get("birth_date"))
        if birth is not None:
            return answer(age_on(birth, at.astimezone(JST).date()) >= minimum_age, "birth_date", namespace)
    for namespace, items in p.elements.items():
        years = items.get("age_in_years")
        if isinstance(years, int) and not isinstance(years, bool) and years >= 0:
            return answer(years >= minimum_age, "age_in_years", namespace)
    raise AgeNotDeterminedError(
        "no disclosed element (age_over_NN, birth_date, age_in_years) decides the age"
    )


def _birth_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None  # a tdate is not a full-date
    if isinstance(value, date):
        return value
    if isinstance(value, dict) or hasattr(value, "items"):
        mask = value.get("approximate_mask")
        if mask is not None and (not isinstance(mask, str) or set(mask) - {"0"}):
            return None  # approximate: fail closed
        inner = value.get("birth_date")
        if isinstance(inner, date) and not isinstance(inner, datetime):
            return inner
    return None


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
    over = age_on(birth, when.astimezone(JST).date()) >= minimum_age
    return AgeVerification(over, minimum_age, AgeEvidence("jpki", "date_of_birth", None, when))
