"""Settings of the mock platform (pydantic-settings; environment prefix ``MYNA_MOCK_``).

Examples::

    MYNA_MOCK_DATABASE_URL=sqlite:///./var/mock_platform.sqlite3
    MYNA_MOCK_TEST_MODE=true                 # enables GET/POST /admin/clock (a settable MockClock)
    MYNA_MOCK_OCSP_DELEGATED_RESPONDER=true  # sign OCSP with a delegated responder certificate
    MYNA_MOCK_CRL_HTTP_BASE_URL=http://127.0.0.1:8700

Reading settings has no side effects; the database folder is created when the
:class:`~mock_platform.db.Database` is opened.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AwareDatetime, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of one mock-platform application instance.

    Attributes:
        database_url: SQLAlchemy URL; SQLite file by default (WAL mode), ``sqlite://`` for in-memory,
            PostgreSQL by URL (driver installed separately).
        test_mode: use a settable :class:`~mock_platform.clock.MockClock` (unless a clock is injected) and
            expose ``/admin/clock``; otherwise those routes answer 404.
        initial_clock: where the MockClock starts in test mode (aware ISO 8601); default: system time.
        ocsp_delegated_responder: sign OCSP responses with a delegated responder certificate.
        ocsp_responder_id: ``by_key`` (default) or ``by_name`` (RFC 6960 §4.2.1 ResponderID).
        ocsp_validity_minutes: nextUpdate − thisUpdate of OCSP responses (J-LIS: ≤ 15 minutes).
        crl_http_base_url: if set, certificates get an extra HTTP CRL distribution point under this base.
        ocsp_url: if set, certificates get an AIA OCSP URL (J-LIS certificates carry none).
        crl_issue_time: JST wall-clock time of the daily CRL issue.
        crl_next_update_grace_minutes: nextUpdate = next daily issue + this grace.
        max_request_bytes: largest accepted request body (413 problem above it).
        public_base_url: the origin clients reach this server at (scheme, host, port; no trailing ``/``),
            e.g. ``https://platform.example`` behind a reverse proxy. The platform API's token endpoint
            expects client assertions with ``aud`` = ``{public_base_url}/platform/v1/token`` (never a URL
            derived from the request's ``Host`` header), and the default :attr:`oidc_issuer` is
            ``{public_base_url}/oidc``. ``myna-mock serve`` sets it from ``--host``/``--port`` when the
            environment does not (``MYNA_MOCK_PUBLIC_BASE_URL``).
        oidc_issuer: the mock OpenID provider's issuer identifier; its routes are mounted under its path
            (``/oidc``). Default: ``{public_base_url}/oidc``. Set it to the URL clients reach the provider
            at (ID tokens carry it as ``iss``).
    """

    model_config = SettingsConfigDict(env_prefix="MYNA_MOCK_", frozen=True, extra="forbid")

    database_url: str = "sqlite:///./var/mock_platform.sqlite3"
    test_mode: bool = False
    initial_clock: AwareDatetime | None = None
    ocsp_delegated_responder: bool = False
    ocsp_responder_id: Literal["by_key", "by_name"] = "by_key"
    ocsp_validity_minutes: int = Field(default=15, ge=1, le=24 * 60)
    crl_http_base_url: str | None = None
    ocsp_url: str | None = None
    crl_issue_time: time = time(0, 0)
    crl_next_update_grace_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    max_request_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    public_base_url: str = "http://127.0.0.1:8700"
    oidc_issuer: str = ""  # "" → {public_base_url}/oidc (filled in by the validator below)

    @model_validator(mode="before")
    @classmethod
    def _derived_issuer(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("oidc_issuer"):
            base = str(data.get("public_base_url") or "http://127.0.0.1:8700").rstrip("/")
            data = {**data, "oidc_issuer": f"{base}/oidc"}
        return data

    @field_validator("crl_http_base_url", "ocsp_url", "oidc_issuer", "public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        parts = urlsplit(value)
        if not parts.hostname or parts.query or parts.fragment or parts.path.strip("/"):
            raise ValueError("public_base_url is an origin: scheme://host[:port], without path or query")
        return value.rstrip("/")

    @property
    def platform_token_url(self) -> str:
        """The platform API's token endpoint as clients address it (the expected assertion ``aud``)."""
        return f"{self.public_base_url}/platform/v1/token"

    @field_validator("crl_issue_time")
    @classmethod
    def _naive_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("crl_issue_time is a JST wall-clock time; give it without an offset")
        return value

    @property
    def ocsp_validity(self) -> timedelta:
        return timedelta(minutes=self.ocsp_validity_minutes)

    @property
    def crl_next_update_grace(self) -> timedelta:
        return timedelta(minutes=self.crl_next_update_grace_minutes)

    def clock_start(self, system_now: datetime) -> datetime:
        """Where a test-mode MockClock starts: :attr:`initial_clock` or ``system_now``."""
        return self.initial_clock if self.initial_clock is not None else system_now
