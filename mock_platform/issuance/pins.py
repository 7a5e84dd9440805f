"""PIN and password kinds, their formats and lockouts, and the argon2id hasher.

Hashes are argon2id PHC strings from ``argon2-cffi`` (salted per hash). The default parameters are
OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1); :meth:`PinHasher.fast_for_tests` gives cheap
parameters that still exercise the same code path (tests only: never a deployment).

Lockouts (domain-jpki.md "PINs on the token"): signing password 5 wrong tries, user-authentication PIN 3,
card-face input PIN 3; the phone's own passwords keep their own counters with the same limits. A correct
entry resets the counter; a locked PIN is reset only at the municipal counter.
"""

from __future__ import annotations

from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .rules import is_valid_four_digit_pin, is_valid_signing_password


class PinKind(StrEnum):
    """Every secret the lifecycle checks (also the database values)."""

    CARD_SIGNING = "card_signing"  # 署名用電子証明書パスワード
    CARD_USER_AUTHENTICATION = "card_user_authentication"  # 利用者証明用電子証明書暗証番号
    CARD_FACE = "card_face"  # 券面事項入力補助用暗証番号
    PHONE_SIGNING = "phone_signing"  # スマホ用署名用電子証明書パスワード
    PHONE_USER_AUTHENTICATION = "phone_user_authentication"  # スマホ用利用者証明用暗証番号

    @property
    def max_failures(self) -> int:
        return 5 if self in (PinKind.CARD_SIGNING, PinKind.PHONE_SIGNING) else 3

    @property
    def is_signing_password(self) -> bool:
        return self in (PinKind.CARD_SIGNING, PinKind.PHONE_SIGNING)

    def is_valid_format(self, value: str) -> bool:
        if self.is_signing_password:
            return is_valid_signing_password(value)
        return is_valid_four_digit_pin(value)

    @property
    def format_description(self) -> str:
        if self.is_signing_password:
            return "6–16 characters of A–Z and 0–9, with at least one letter and one digit"
        return "4 digits"


class PinHasher:
    """argon2id hashing and verification (constant-time compare inside the library)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = (
            hasher
            if hasher is not None
            else PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
        )

    @classmethod
    def fast_for_tests(cls) -> PinHasher:
        """Cheap argon2id parameters (m = 1 MiB, t = 1). **Tests only.**"""
        return cls(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, stored: str, secret: str) -> bool:
        """Whether ``secret`` matches ``stored``; a corrupt hash counts as a mismatch."""
        try:
            return self._hasher.verify(stored, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
