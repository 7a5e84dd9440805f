"""Constants shared by the mock-platform tests (imported as a top-level module: pytest puts this
folder on sys.path; it has no __init__.py on purpose, see test_mock_independence.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from mock_platform.ca.attributes import BasicFourAttributes, DateOfBirth, Gender
from mock_platform.ca.profile import Locality

#: 2026-11-29 12:00 JST.
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)
TARO_DOB = DateOfBirth.parse("319800412")
TARO = BasicFourAttributes(
    name="試験　太郎",
    gender=Gender.MALE,
    date_of_birth=TARO_DOB,
    address="東京都千代田区試験町一丁目99番99号",
)
TOKYO = Locality("Tokyo-to", "Chiyoda-ku")
CARD_EXPIRY = date(2034, 4, 12)
