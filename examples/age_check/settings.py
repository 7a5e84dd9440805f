"""Settings of the age-check shop (pydantic-settings; environment prefix ``AGE_SHOP_``).

Only what ``uvicorn --factory examples.age_check.app:create_app`` needs to build the shop by itself; tests
inject their dependencies (clock, trust, stores) directly and use the defaults here for the rest.

Examples::

    AGE_SHOP_PLATFORM_URL=http://127.0.0.1:8700      # where the trust configuration comes from (the mock)
    AGE_SHOP_CLOCK=platform                          # follow the mock's test clock (GET /admin/clock)
    AGE_SHOP_ORIGIN=http://127.0.0.1:8701            # the web origin the browser reports (DC API)
    AGE_SHOP_CHALLENGE_STORE=sqlite:///./var/shop-challenges.sqlite3   # or memory, redis://127.0.0.1:6379/0
    AGE_SHOP_CHALLENGE_KEY_PREFIX=age_check:challenge:  # Redis key namespace (distinct from the bank's)
    AGE_SHOP_ORDER_STORE=sqlite:///./var/shop-orders.sqlite3           # or memory
    AGE_SHOP_READER_KEY_SECRET=<64 hex digits>       # same on every worker of a fleet
    AGE_SHOP_APPLE_ENCRYPTION_KEY_PATH=merchant-encryption-key.pem
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .._shared.settings import ChallengeStoreURL, HttpURL, hex_secret


class ShopSettings(BaseSettings):
    """Configuration of one shop instance.

    Attributes:
        origin: the shop's web origin (scheme://host[:port]) as the browser asserts it to the wallet; it
            goes into the DC API SessionTranscript (ISO/IEC 18013-7 Annex C) and is never taken from a
            request.
        merchant_id, team_id: the Apple merchant identifier and developer team id of the iOS app (they go
            into the ``AppleIdentityPresentment_1.0`` transcript).
        minimum_age: the age the checkout requires (20: alcohol and tobacco in Japan, 20歳未満ノ者ノ飲酒ノ
            禁止ニ関スル法律).
        challenge_ttl_seconds: lifetime of an issued challenge (mdoc nonce / JPKI data to sign).
        challenge_store: ``memory``, ``sqlite:///PATH`` (several processes on one host) or
            ``redis://HOST:PORT/DB`` (a fleet).
        challenge_key_prefix: the namespace of the Redis keys (``RedisChallengeStore(key_prefix=…)``);
            distinct from the bank's default, so both examples can share one Redis server.
        order_store: ``memory`` or ``sqlite:///PATH``.
        platform_url: base URL of the platform the trust configuration is read from when serving
            (``GET /mdoc/iaca.cer``, ``GET /ca``; OCSP at ``/ocsp``, CRLs at each CA's ``crl_url``).
        clock: ``system`` or ``platform`` (read the mock's test clock, ``GET /admin/clock``, on every call:
            for walk-throughs that move the mock's time; never in production).
        reader_key_secret: hex secret (≥ 32 bytes) the DC API reader keys are derived from; random per
            process when unset (then a fleet's workers could not open each other's responses).
        apple_encryption_key_path: PEM EC P-256 private key of the merchant's encryption certificate
            (Apple flow); a fresh key per process when unset.
        http_timeout_seconds: timeout of every call to the platform (trust download, OCSP, CRL) and of
            Redis connections and replies.
    """

    model_config = SettingsConfigDict(env_prefix="AGE_SHOP_", frozen=True, extra="forbid")

    origin: HttpURL = "http://127.0.0.1:8701"
    merchant_id: str = "merchant.example.shop"
    team_id: str = "TEAM123456"
    minimum_age: int = Field(default=20, ge=0, le=99)
    challenge_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    challenge_store: ChallengeStoreURL = "memory"
    challenge_key_prefix: str = Field(default="age_check:challenge:", min_length=1, max_length=100)
    order_store: str = "memory"
    platform_url: HttpURL = "http://127.0.0.1:8700"
    clock: Literal["system", "platform"] = "system"
    reader_key_secret: str | None = Field(default=None, repr=False)
    apple_encryption_key_path: str | None = None
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("order_store")
    @classmethod
    def _order_store(cls, value: str) -> str:
        if value != "memory" and not value.startswith("sqlite:///"):
            raise ValueError("order_store is memory or sqlite:///PATH")
        return value

    @field_validator("reader_key_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return hex_secret(value, "reader_key_secret")
