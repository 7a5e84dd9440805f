"""The data elements of the ``org.iso.23220.1.jp.mnc`` document, computed from a synthetic resident.

Element set and CBOR types: ``../shared/docs/domain-mdoc.md``. Computation rules of the mock:

* **Age** (``age_in_years``, ``age_over_18``, ``age_over_20``) is computed at the issuance instant on the
  Japan calendar date (JST): a person attains an age at the start of the birthday (年齢計算ニ関スル法律
  with 民法143条: at the end of the day before the anniversary; 29 February births in a common year at the
  start of 1 March). The issuer never lets a credential outlive the next age change
  (:func:`next_age_change`), so a signed ``age_over_NN`` is true during its whole validity.
* **Date of birth**: ``birth_date`` as ``1004("YYYY-MM-DD")``; ``birth_date_unicode`` as ``1995年7月7日``
  (format **assumed**). A partial date of birth (unknown month/day on the card) gives no ``birth_date`` and
  no age elements, and a ``birth_date_unicode`` with the known parts (``1995年``, ``1995年7月``).
* **Sex**: ISO/IEC 5218 (1 male, 2 female, 0 not known for 性別 3) and ``sex_unicode`` 男/女 (omitted for 3).
* **local_gov_code_unicode**: a *synthetic* 5-digit code derived from the locality (two-digit prefecture
  01–47, municipality 900–999: a range no real municipality code uses for the pair chosen).
* **individual_number_unicode**: a *synthetic* 12-digit number derived from the resident's opaque id with
  the check digit of the My Number rules (総務省令 第5条). It is never derived from real data; like any
  12-digit string with a valid check digit it cannot be proven unassigned, so it must only ever appear in
  tests and demos.
* **portrait**: :func:`~mock_platform.mdoc.portrait.portrait_jpeg` seeded by the resident id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from ..clock import JST, jst_date
from .cbor import full_date
from .portrait import portrait_jpeg

DOC_TYPE = "org.iso.23220.1.jp.mnc"
NS_COMMON = "org.iso.23220.1"
NS_JP = "org.iso.23220.1.jp"

#: ``age_over_NN`` thresholds the mock issues (**assumed**: 18 and 20).
AGE_THRESHOLDS = (18, 20)

#: Every element the mock may issue, by namespace (the order of issuance).
ELEMENTS: dict[str, tuple[str, ...]] = {
    NS_COMMON: ("age_over_18", "age_over_20", "age_in_years", "birth_date", "sex"),
    NS_JP: (
        "full_name_unicode",
        "resident_address_unicode",
        "local_gov_code_unicode",
        "birth_date_unicode",
        "sex_unicode",
        "portrait",
        "individual_number_unicode",
    ),
}

#: The element a device never discloses unless the request names it explicitly.
INDIVIDUAL_NUMBER = (NS_JP, "individual_number_unicode")


@dataclass(frozen=True, slots=True)
class HolderData:
    """What the issuer knows of the holder (from the resident record; personal: never logged).

    ``birth_year/month/day`` are ``None`` where the card says 不詳 (unknown). ``gender`` is the JPKI
    digit (1 male, 2 female, 3 not stated).
    """

    subject_id: str
    name: str
    address: str
    gender: str
    birth_year: int | None
    birth_month: int | None
    birth_day: int | None
    prefecture: str
    municipality: str

    @property
    def birth_date(self) -> date | None:
        if self.birth_year is None or self.birth_month is None or self.birth_day is None:
            return None
        return date(self.birth_year, self.birth_month, self.birth_day)


def _anniversary(birth: date, year: int) -> date:
    """The day on which an age is attained in ``year`` (29 Feb → 1 Mar in a common year)."""
    try:
        return birth.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def age_on(birth: date, day: date) -> int:
    """Age in whole years on the calendar date ``day``."""
    years = day.year - birth.year
    return years if day >= _anniversary(birth, day.year) else years - 1


def age_at(birth: date, instant: datetime) -> int:
    """Age at ``instant`` (aware), on the Japan calendar date."""
    return age_on(birth, jst_date(instant))


def next_age_change(birth: date, instant: datetime) -> datetime:
    """The next instant (UTC) at which the age changes: 00:00 JST of the next anniversary."""
    today = jst_date(instant)
    anniversary = _anniversary(birth, today.year)
    if anniversary <= today:
        anniversary = _anniversary(birth, today.year + 1)
    return datetime.combine(anniversary, time(0, 0), tzinfo=JST).astimezone(UTC)


def birth_date_unicode(holder: HolderData) -> str | None:
    if holder.birth_year is None:
        return None
    text = f"{holder.birth_year}年"
    if holder.birth_month is not None:
        text += f"{holder.birth_month}月"
        if holder.birth_day is not None:
            text += f"{holder.birth_day}日"
    return text


def my_number_check_digit(first_eleven: str) -> int:
    """The check digit of an individual number (P_n the n-th digit from the right of the 11, weights
    Q_n = n + 1 for n ≤ 6, n − 5 for n ≥ 7; 11 − (Σ mod 11), or 0 when the remainder is ≤ 1)."""
    if len(first_eleven) != 11 or not first_eleven.isdigit():
        raise ValueError("eleven digits expected")
    total = 0
    for n in range(1, 12):
        digit = int(first_eleven[11 - n])
        weight = n + 1 if n <= 6 else n - 5
        total += digit * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def synthetic_individual_number(subject_id: str) -> str:
    """A 12-digit number with a valid check digit derived from an opaque id (synthetic; see module doc)."""
    digest = hashlib.sha256(b"myna-mock/individual-number/v1\x00" + subject_id.encode()).digest()
    first = str(int.from_bytes(digest[:8], "big") % 10**11).zfill(11)
    return first + str(my_number_check_digit(first))


def synthetic_local_gov_code(prefecture: str, municipality: str) -> str:
    """A synthetic 5-digit municipality code (prefecture 01–47, municipality 900–999)."""
    digest = hashlib.sha256(f"{prefecture}\x00{municipality}".encode()).digest()
    return f"{digest[0] % 47 + 1:02d}{900 + digest[1] % 100:03d}"


def holder_elements(holder: HolderData, at: datetime) -> dict[str, dict[str, Any]]:
    """``{namespace: {identifier: value}}`` of every element issued for ``holder`` at ``at``."""
    common: dict[str, Any] = {}
    birth = holder.birth_date
    if birth is not None:
        age = age_at(birth, at)
        for threshold in AGE_THRESHOLDS:
            common[f"age_over_{threshold}"] = age >= threshold
        common["age_in_years"] = age
        common["birth_date"] = full_date(birth)
    common["sex"] = {"1": 1, "2": 2}.get(holder.gender, 0)
    jp: dict[str, Any] = {
        "full_name_unicode": holder.name,
        "resident_address_unicode": holder.address,
        "local_gov_code_unicode": synthetic_local_gov_code(holder.prefecture, holder.municipality),
    }
    text = birth_date_unicode(holder)
    if text is not None:
        jp["birth_date_unicode"] = text
    sex_text = {"1": "男", "2": "女"}.get(holder.gender)
    if sex_text is not None:
        jp["sex_unicode"] = sex_text
    jp["portrait"] = portrait_jpeg(holder.subject_id.encode())
    jp["individual_number_unicode"] = synthetic_individual_number(holder.subject_id)
    return {NS_COMMON: common, NS_JP: jp}


__all__ = [
    "AGE_THRESHOLDS",
    "DOC_TYPE",
    "ELEMENTS",
    "INDIVIDUAL_NUMBER",
    "NS_COMMON",
    "NS_JP",
    "HolderData",
    "age_at",
    "age_on",
    "birth_date_unicode",
    "holder_elements",
    "my_number_check_digit",
    "next_age_change",
    "synthetic_individual_number",
    "synthetic_local_gov_code",
]
