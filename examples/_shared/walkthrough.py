"""The simulated customer both walk-throughs start from: a card from the mock's municipal counter, put on
an Android phone (the mock's device simulator), with the mock's test clock moved past the waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from mock_platform.device import MunicipalCounter, Smartphone
from mock_platform.device.simulator import Card

# Synthetic credentials of the simulated customers (the mock's test data, not secrets).
CARD_PASSWORD = "AB1234"  # noqa: S105 - 署名用パスワード (6–16 upper-case letters and digits)
CARD_PIN = "1234"  # 利用者証明用 / 券面事項入力補助用 暗証番号 (4 digits)
PHONE_PASSWORD = "PHONE1"  # noqa: S105
PHONE_PIN = "4321"


class SimulatedCustomers:
    """The platform side of a walk-through: the mock's counter, phones and test clock.

    Args:
        platform: a client of the mock platform in test mode (its base URL set).
        say: where the walk-through prints.
    """

    def __init__(self, platform: httpx.Client, say: Callable[[str], None]) -> None:
        self.platform = platform
        self.say = say
        self.counter = MunicipalCounter(platform)

    def platform_now(self) -> datetime:
        """The mock's test clock (``GET /admin/clock``).

        Raises:
            httpx.HTTPStatusError: the mock has no test clock (not in test mode).
        """
        answer = self.platform.get("/admin/clock")
        answer.raise_for_status()
        return datetime.fromisoformat(answer.json()["now"])

    def wait_until(self, instant: str | None) -> None:
        """Move the mock's test clock to ``instant`` (a notice, a usable time) unless already past."""
        if instant is None:
            return
        if datetime.fromisoformat(instant) > self.platform_now():
            self.platform.post("/admin/clock", json={"now": instant}).raise_for_status()

    def issue_card(self, attributes: dict[str, Any]) -> Card:
        """Enrol a synthetic resident (basic four attributes, 基本4情報) and issue her card."""
        resident_id = self.counter.enrol(attributes)
        return self.counter.issue_card(
            resident_id,
            signing_password=CARD_PASSWORD,
            user_authentication_pin=CARD_PIN,
            card_face_pin=CARD_PIN,
        )

    def android(self, card: Card) -> Smartphone:
        """Put ``card`` on an Android phone (signing + user authentication certificates), registered."""
        phone = Smartphone(self.platform, "android")
        applied = phone.android_apply_all(
            card,
            CARD_PASSWORD,
            phone_signing_password=PHONE_PASSWORD,
            phone_user_authentication_pin=PHONE_PIN,
        )
        self.wait_until(applied.get("notice_at"))  # registration opens with the notice
        phone.register()
        return phone
