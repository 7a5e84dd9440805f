"""Settings of the example bank (pydantic-settings; environment prefix ``BANK_KYC_``).

Only what ``uvicorn --factory examples.bank_kyc.app:create_app`` needs to build the bank by itself; tests
inject their dependencies (clock, verifier, stores, platform client) and use the defaults here for the rest.

Examples::

    BANK_KYC_PLATFORM_URL=http://127.0.0.1:8700       # the mock platform (trust, OCSP, CRL, platform API)
    BANK_KYC_CLOCK=platform                           # follow the mock's test clock (GET /admin/clock)
    BANK_KYC_DATABASE_URL=sqlite:///var/bank-kyc.sqlite3   # customers + confirmation records
    BANK_KYC_CHALLENGE_STORE=memory                   # or sqlite:///PATH, redis://127.0.0.1:6379/0
    BANK_KYC_CHALLENGE_KEY_PREFIX=bank_kyc:challenge: # Redis key namespace (distinct from the shop's)
    BANK_KYC_MODE=direct                              # or platform (the platform verifies eKYC signatures)
    BANK_KYC_PLATFORM_API_KEY=...                     # the bank's API key at the platform (X-API-Key)
    BANK_KYC_PLATFORM_CLIENT_ID=...                   # the bank's client_id there (public)
    BANK_KYC_WEBHOOK_SECRET=whsec_...                 # the platform's webhook signing secret
    BANK_KYC_SUBJECT_ID_KEY=<64 hex digits>           # login subject-id key (else one kept in the database)
    BANK_KYC_ADMIN_TOKEN=...                          # enables GET /admin/confirmation-records.jsonl
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .._shared.settings import ChallengeStoreURL, HttpURL, hex_secret


class BankSettings(BaseSettings):
    """Configuration of one bank instance.

    Attributes:
        organisation, operator_id: who makes the confirmation (確認を行った者) in every confirmation record.
        mode: who verifies the eKYC signature and its revocation: ``direct`` (the bank, a certified
            verifier 署名検証者, with its own ``JPKIVerifier`` under ``RevocationPolicy.REQUIRE``) or
            ``platform`` (a platform operator, プラットフォーム事業者, through ``PlatformClient``).
        platform_url: base URL of the platform: trust anchors (``GET /ca``), OCSP (``/ocsp``), CRLs, the
            platform API (``/platform/v1``) and, with ``clock=platform``, the mock's test clock.
        database_url: SQLAlchemy URL of the customer store *and* the confirmation-record repository
            (SQLite by default; ``postgresql+psycopg://…`` works).
        challenge_store: ``memory`` (one worker), ``sqlite:///PATH`` (workers on one host) or
            ``redis://HOST:PORT/DB`` (a fleet).
        challenge_key_prefix: the namespace of the Redis keys (``RedisChallengeStore(key_prefix=…)``);
            distinct from the shop's default, so both examples can share one Redis server.
        challenge_ttl_seconds: lifetime of every challenge (account opening, login).
        session_ttl_seconds: lifetime of a login's bearer token.
        clock: ``system`` or ``platform`` (read the mock's clock over HTTP on every call: only for
            walk-throughs that move the mock's time; never in production).
        subject_id_key: hex secret (≥ 32 bytes) keying the opaque subject id of login certificates
            (``JPKIVerifier(subject_id_key=…)``); when unset, one is generated once and kept in the database
            so every worker and every restart derives the same ids.
        platform_api_key: the bank's API key at the platform (``X-API-Key``); needed for platform mode and
            for fetching the latest attributes.
        platform_client_id: the bank's ``client_id`` at the platform (public; shown by ``GET /healthz`` so a
            customer's app knows whom to consent to).
        webhook_secret: the platform's webhook secret (``whsec_…``); without it the webhook route refuses
            every delivery (fail closed).
        webhook_tolerance_seconds: accepted distance between a webhook's timestamp and now (replay window).
        keep_certificate: keep the signing certificate's DER in the confirmation record (off: the record
            keeps serial, issuer and fingerprint).
        admin_token: when set, ``GET /admin/confirmation-records.jsonl`` is served to holders of this token.
        http_timeout_seconds: timeout of every call to the platform (and of Redis connections and replies).
    """

    model_config = SettingsConfigDict(env_prefix="BANK_KYC_", frozen=True, extra="forbid")

    organisation: str = Field(default="Example Bank K.K. (synthetic)", min_length=1, max_length=200)
    operator_id: str = Field(default="bank-kyc-service", min_length=1, max_length=100)
    mode: Literal["direct", "platform"] = "direct"
    platform_url: HttpURL = "http://127.0.0.1:8700"
    database_url: str = "sqlite:///var/bank-kyc.sqlite3"
    challenge_store: ChallengeStoreURL = "memory"
    challenge_key_prefix: str = Field(default="bank_kyc:challenge:", min_length=1, max_length=100)
    challenge_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    session_ttl_seconds: int = Field(default=1800, ge=60, le=86_400)
    clock: Literal["system", "platform"] = "system"
    subject_id_key: str | None = Field(default=None, repr=False)
    platform_api_key: str | None = Field(default=None, repr=False)
    platform_client_id: str | None = Field(default=None, max_length=64)
    webhook_secret: str | None = Field(default=None, repr=False)
    webhook_tolerance_seconds: int = Field(default=300, ge=10, le=3600)
    keep_certificate: bool = False
    admin_token: str | None = Field(default=None, repr=False, min_length=16)
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("subject_id_key")
    @classmethod
    def _subject_key(cls, value: str | None) -> str | None:
        return hex_secret(value, "subject_id_key")

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("whsec_"):
            raise ValueError("webhook_secret starts with whsec_ (Standard Webhooks)")
        return value
