"""Pure rules of the guide: notice time, usable time, PIN formats, use as health-insurance card.

Times are aware datetimes; JST wall-clock rules are evaluated in :data:`mock_platform.clock.JST`.

* **Notice (FAQ 1, 2-E; "※プッシュ通知は、申請がおおむね8:00～19:30…の場合は数分後、それ以外の時間帯の
  申請の場合は、おおむね翌8:00以降に届きます")**: an application completed in [08:00, 19:30) JST gets its
  notice :attr:`LifecycleRules.notice_delay` later (5 minutes by default); otherwise at the *next* 08:00
  JST (for 00:00–07:59 that is the same calendar day's 08:00). Every day of the week alike.
* **iPhone usable (3-D ⑦)**: the notice follows the same rule; "通知が届いてから、実際にカードを利用できる
  まで5分ほどかかる": usable at notice + :attr:`LifecycleRules.usable_lag`.
* **Formats (2-D, 3-A/3-D)**: signing password 6–16 characters of A–Z and 0–9 containing at least one
  letter and one digit ("半角の英大文字と数字を含む6文字から16文字", no lower case); PINs are 4 digits.
* **Health insurance (FAQ 5)**: from 2025-09-01 ("2025年9月以降"); driver's licence (FAQ 6): never.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ..clock import JST, require_aware

SIGNING_PASSWORD_PATTERN = re.compile(r"(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*[0-9])[A-Z0-9]{6,16}")
FOUR_DIGIT_PIN_PATTERN = re.compile(r"[0-9]{4}")

#: FAQ 5: health-insurance use on the phone from September 2025.
HEALTH_INSURANCE_FROM = date(2025, 9, 1)


@dataclass(frozen=True, slots=True)
class LifecycleRules:
    """Timing rules (overridable for tests or what-if demos).

    Attributes:
        business_start, business_end: the JST window [start, end) in which notices come quickly.
        notice_delay: "数分後" inside the window.
        usable_lag: iPhone: from the notice to actual use ("5分ほど").
        challenge_ttl: lifetime of a card-read challenge.
    """

    business_start: time = time(8, 0)
    business_end: time = time(19, 30)
    notice_delay: timedelta = timedelta(minutes=5)
    usable_lag: timedelta = timedelta(minutes=5)
    challenge_ttl: timedelta = timedelta(minutes=10)

    def notice_time(self, applied_at: datetime) -> datetime:
        """When the push notice for an application completed at ``applied_at`` arrives (aware UTC)."""
        local = require_aware(applied_at).astimezone(JST)
        if self.business_start <= local.time() < self.business_end:
            return (local + self.notice_delay).astimezone(applied_at.tzinfo)
        day = local.date() if local.time() < self.business_start else local.date() + timedelta(days=1)
        return datetime.combine(day, self.business_start, tzinfo=JST).astimezone(applied_at.tzinfo)

    def usable_time(self, added_at: datetime) -> datetime:
        """iPhone: when an addition completed at ``added_at`` becomes usable (notice + lag)."""
        return self.notice_time(added_at) + self.usable_lag


def is_valid_signing_password(value: str) -> bool:
    """6–16 of A–Z/0–9 with at least one letter and one digit (no lower case, no symbols)."""
    return SIGNING_PASSWORD_PATTERN.fullmatch(value) is not None


def is_valid_four_digit_pin(value: str) -> bool:
    """Exactly four ASCII digits."""
    return FOUR_DIGIT_PIN_PATTERN.fullmatch(value) is not None


def health_insurance_available(on: date, *, platform: str) -> bool:
    """FAQ 5: the card itself always; a smartphone from 2025-09-01."""
    return platform == "card" or on >= HEALTH_INSURANCE_FROM


def drivers_licence_available(*, platform: str) -> bool:
    """FAQ 6: マイナ免許証 lives on the physical card only, never on a smartphone."""
    return platform == "card"
