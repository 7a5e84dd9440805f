"""Sans-I/O core of the platform operator client: requests, responses, errors and retry decisions.

:class:`PlatformClient` and :class:`AsyncPlatformClient` (:mod:`myna_rp.platform.client`) are thin loops
around this core: they ask it for a request, send it with their httpx client, and hand back what came
(bytes, status, headers — or a transport failure); the core answers "done: here is the typed value",
"retry after so many seconds", "fetch a new token and repeat" or "raise this error". The whole loop
(retries, backoff, the one re-authentication, the token fetch) is the generator :meth:`PlatformCore.steps`:
it yields :data:`Step` values (send this, wait this long, give me a bearer token) and the wrappers only
perform them (:func:`advance` drives it). No I/O here, so both wrappers share every protocol decision (the
structure of httpx's own auth flows).

Protocol decisions (see also docs/platform_operator.md):

* **Client authentication**: ``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9): a JWT signed with the
  RP's key, ``iss`` = ``sub`` = client_id, ``aud`` = the token URL, ``jti`` random, ``exp`` = now + 60 s,
  exchanged for a short-lived bearer token (client credentials grant, RFC 6749 §4.4) cached until 30 s
  before it expires; or an API key (``X-API-Key``) for local use.
* **Retries** only for idempotent calls: ``GET`` status and attributes, ``POST`` signature verification
  (a pure function of its input: repeating it changes nothing) and the token request (each attempt with a
  fresh assertion). Not retried: login challenges and login verification (they consume a nonce).
  Retried outcomes: timeouts, connection errors, 500/502/503/504 and 429. Delay: ``Retry-After`` (seconds
  or HTTP-date, RFC 9110 §10.2.3) when given — if it exceeds :attr:`RetryPolicy.max_retry_after` the
  call fails at once with ``retry_after`` set — else exponential backoff with full jitter.
* **Errors**: every failure is a :class:`~myna_rp.errors.MynaRPError`: transport and 5xx →
  ``PLATFORM_UNAVAILABLE``; a 2xx that is not ``application/json``, not valid JSON, not the documented
  shape, larger than the limit, or about another certificate than the one sent →
  ``PLATFORM_RESPONSE_INVALID``; 401 → ``CLIENT_AUTHENTICATION_FAILED`` (after one token refresh for an
  expired token); 403 ``CONSENT_REQUIRED`` → ``CONSENT_REQUIRED``; verification failures (422 problems
  with the SDK's reason codes) → :class:`~myna_rp.errors.VerificationError` /
  :class:`~myna_rp.errors.CertificateRevokedError` / :class:`~myna_rp.errors.ChallengeError` with the
  same ``Reason`` as direct verification; any other 4xx → ``PLATFORM_REJECTED``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import quote, urlsplit

from cryptography import x509
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ..clock import Clock, require_aware
from ..errors import (
    CertificateRevokedError,
    ChallengeError,
    ConfigurationError,
    MalformedInputError,
    MynaRPError,
    PlatformError,
    Reason,
    VerificationError,
)
from ..identity import AuthenticationVerification, CertificateSummary, IdentityVerification, VerificationMode
from ..jpki.attributes import BasicFourAttributes, Gender, parse_date_of_birth
from ..jpki.profile import CertificateKind, FormFactor
from ..jpki.verifier import is_consent_structure
from ..revocation.status import CertStatus, RevocationReason, RevocationSource, RevocationStatus

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")

#: Accepted client-assertion algorithms (asymmetric only).
ASSERTION_ALGORITHMS = frozenset({"ES256", "PS256", "RS256"})
#: RFC 7523 §2.2.
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024

_VERIFICATION_REASONS = frozenset(
    {
        Reason.SIGNATURE_INVALID,
        Reason.CERTIFICATE_EXPIRED,
        Reason.CERTIFICATE_NOT_YET_VALID,
        Reason.UNTRUSTED_ISSUER,
        Reason.WRONG_KEY_USAGE,
        Reason.WRONG_CERTIFICATE_KIND,
        Reason.UNSUPPORTED_ALGORITHM,
        Reason.REVOCATION_UNAVAILABLE,
    }
)
_CHALLENGE_REASONS = frozenset(
    {Reason.CHALLENGE_UNKNOWN, Reason.CHALLENGE_REPLAYED, Reason.CHALLENGE_EXPIRED, Reason.CHALLENGE_MISMATCH}
)
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_JSON_TYPES = ("application/json",)
_PROBLEM_TYPES = ("application/problem+json", "application/json")


# --------------------------------------------------------------------------------------------------------
# Configuration values
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrivateKeyJWT:
    """``private_key_jwt`` client credentials (RFC 7523 §2.2; OIDC Core §9).

    Attributes:
        client_id: the RP's registered ``client_id``.
        key: the RP's **private** joserfc key (:class:`~joserfc.jwk.ECKey` P-256 or
            :class:`~joserfc.jwk.RSAKey` ≥ 2048 bits); its public half is registered with the platform.
        algorithm: ``ES256`` (EC), ``PS256`` or ``RS256`` (RSA).
        assertion_lifetime: ``exp`` − ``iat`` of each assertion (default 60 s).

    Raises:
        ConfigurationError: an algorithm outside the allow-list, a public key, or a key of the wrong type.
    """

    client_id: str
    key: ECKey | RSAKey = field(repr=False)
    algorithm: str = "ES256"
    assertion_lifetime: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigurationError("client_id is required")
        if self.algorithm not in ASSERTION_ALGORITHMS:
            raise ConfigurationError("client assertions are signed with ES256, PS256 or RS256")
        expected = ECKey if self.algorithm == "ES256" else RSAKey
        if not isinstance(self.key, expected):
            raise ConfigurationError(f"{self.algorithm} needs a {expected.__name__}")
        if not self.key.is_private:
            raise ConfigurationError("the client assertion key must be a private key")
        if not timedelta(seconds=5) <= self.assertion_lifetime <= timedelta(minutes=10):
            raise ConfigurationError("assertion_lifetime must be between 5 seconds and 10 minutes")

    def assertion(self, audience: str, now: datetime) -> str:
        """A fresh signed client assertion for ``audience`` (the token URL) at ``now``."""
        issued = int(require_aware(now).timestamp())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": issued,
            "exp": issued + int(self.assertion_lifetime.total_seconds()),
            "jti": secrets.token_urlsafe(24),
        }
        header: dict[str, Any] = {"alg": self.algorithm}
        if self.key.kid:
            header["kid"] = self.key.kid
        return jwt.encode(header, claims, self.key, algorithms=[self.algorithm])


@dataclass(frozen=True, slots=True)
class APIKey:
    """An API key sent as ``X-API-Key`` (local use; prefer :class:`PrivateKeyJWT` in production)."""

    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.value or not self.value.isascii() or not self.value.isprintable():
            raise ConfigurationError("the API key must be printable ASCII")


Credentials = PrivateKeyJWT | APIKey


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to retry idempotent calls.

    Attributes:
        max_attempts: total attempts per call, first included (1 disables retries).
        base_delay: first backoff in seconds; attempt ``n`` waits up to ``base_delay · 2^(n-1)`` (full
            jitter: a uniform random fraction of it).
        max_delay: cap of one backoff in seconds.
        max_retry_after: the longest ``Retry-After`` honoured; a longer one fails the call at once.
    """

    max_attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ConfigurationError("retry settings must be non-negative (max_attempts ≥ 1)")


# --------------------------------------------------------------------------------------------------------
# Requests, responses, outcomes
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One HTTP request to make (absolute URL)."""

    method: Literal["GET", "POST"]
    url: str
    headers: Mapping[str, str]
    json: Any = None
    form: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What came back: status, headers (lower-case names), the whole body (already size-limited)."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """A logical call: its request (minus credentials), idempotency, and the parser of a 2xx body."""

    name: str
    method: Literal["GET", "POST"]
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    idempotent: bool = False
    authenticated: bool = True
    serial_number: int = 0  # the certificate the call is about, when known (for revoked problems)


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    value: T


@dataclass(frozen=True, slots=True)
class Retry:
    """Wait :attr:`delay` seconds, then try again. Also a step of :meth:`PlatformCore.steps` (answer
    ``None`` once waited)."""

    delay: float


@dataclass(frozen=True, slots=True)
class Reauthenticate:
    """The bearer token was refused: drop it, fetch another, repeat the call once."""


@dataclass(frozen=True, slots=True)
class Fail:
    error: MynaRPError


Outcome = Done[T] | Retry | Reauthenticate | Fail


@dataclass(frozen=True, slots=True)
class Send:
    """Step: send :attr:`request`; answer with its :class:`RawResponse`, or the :class:`PlatformError` the
    wrapper raised for it (transport failure ``PLATFORM_UNAVAILABLE``, oversized body)."""

    request: RequestSpec


@dataclass(frozen=True, slots=True)
class NeedToken:
    """Step: answer with a bearer token, by driving :meth:`PlatformCore.bearer_steps` under the wrapper's
    token lock (one token fetch at a time)."""


Step = Send | Retry | NeedToken
Reply = RawResponse | PlatformError | str | None
#: A protocol run: yields :data:`Step` values, is answered with :data:`Reply` values, returns the result.
Steps = Generator[Step, Reply, T]


def advance(steps: Generator[S, R, T], *reply: R) -> S | Done[T]:
    """Run ``steps`` to its next step, or to its end (``Done`` with the returned value).

    ``reply`` (one value) answers the previous step; without it the run starts. Exceptions of the run
    propagate. The one piece of generator mechanics the sync and async drivers of both cores share.
    """
    try:
        return steps.send(*reply) if reply else next(steps)
    except StopIteration as stop:
        return Done(stop.value)


def declared_length(headers: Mapping[str, str]) -> int | None:
    """``Content-Length`` as an int, or ``None`` when absent or not plain ASCII digits.

    ASCII digits only: ``int()`` also reads "١٢" and ``str.isdigit()`` accepts "²"; anything else is
    ignored and the streamed size cap (:class:`CappedBody`) applies.
    """
    value = headers.get("content-length")
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return int(value)


class CappedBody:
    """A response body collected chunk by chunk and refused as soon as it exceeds ``limit`` bytes.

    Args:
        limit: the largest accepted body in bytes.
        headers: the response headers (a declared ``Content-Length`` over the limit is refused at once).
        too_large: the error to raise (built only when the limit is exceeded).

    Raises:
        Whatever ``too_large`` returns, from the constructor or :meth:`add`.
    """

    __slots__ = ("_chunks", "_limit", "_received", "_too_large")

    def __init__(self, limit: int, headers: Mapping[str, str], too_large: Callable[[], Exception]) -> None:
        declared = declared_length(headers)
        if declared is not None and declared > limit:
            raise too_large()
        self._limit = limit
        self._too_large = too_large
        self._chunks: list[bytes] = []
        self._received = 0

    def add(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self._limit:
            raise self._too_large()
        self._chunks.append(chunk)

    def content(self) -> bytes:
        return b"".join(self._chunks)


@dataclass(frozen=True, slots=True)
class PlatformChallenge:
    """A platform-issued login nonce (single use). Have the holder sign :attr:`nonce` exactly.

    Attributes:
        challenge_id: the handle to send back with the signature.
        nonce: 32 random bytes chosen by the platform.
        expires_at: when the platform stops accepting it (aware UTC).
    """

    challenge_id: str
    nonce: bytes
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CertificateStatusResult:
    """現況確認: a certificate's status now, as the platform sees it.

    Attributes:
        certificate: the certificate summary.
        revocation: the status (``GOOD``, ``REVOKED`` with reason and time, ``ON_HOLD``), source OCSP.
        checked_at: when the platform checked (aware UTC).
        ocsp_response: the DER OCSPResponse (RFC 6960 §4.2.1) the platform based the status on, when it
            sent one (evidence to keep), else ``None``.
    """

    certificate: CertificateSummary
    revocation: RevocationStatus
    checked_at: datetime
    ocsp_response: bytes | None = field(default=None, repr=False)


# --------------------------------------------------------------------------------------------------------
# Wire models (what the platform answers; documented in its OpenAPI)
# --------------------------------------------------------------------------------------------------------

_HEX = r"^[0-9a-f]{1,40}$"
_B64 = r"^[A-Za-z0-9+/]*={0,2}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _AttributesWire(_Model):
    name: str = Field(min_length=1, max_length=200)
    name_substitute_positions: str = Field(pattern=r"^[01]*$", max_length=200)
    gender: Literal["1", "2", "3"]
    date_of_birth: str = Field(pattern=r"^[0-5][0-9]{8}$")
    address: str = Field(min_length=1, max_length=400)
    address_substitute_positions: str = Field(pattern=r"^[01]*$", max_length=400)


class _CertificateWire(_Model):
    serial: str = Field(pattern=_HEX)
    issuer: str = Field(max_length=1000)
    sha256_fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    not_before: AwareDatetime
    not_after: AwareDatetime
    kind: Literal["signing", "user_authentication"]
    form_factor: Literal["card", "android", "iphone"]


class _RevocationWire(_Model):
    status: Literal["good", "revoked", "on_hold"]
    reason: str | None = None
    revoked_at: AwareDatetime | None = None
    source: Literal["ocsp"]
    this_update: AwareDatetime
    next_update: AwareDatetime | None = None
    produced_at: AwareDatetime
    ocsp_response: str | None = Field(default=None, max_length=64 * 1024, pattern=_B64)


class _SignatureWire(_Model):
    result: Literal["valid"]
    user_id: str | None = Field(default=None, max_length=128)
    attributes: _AttributesWire
    certificate: _CertificateWire
    revocation: _RevocationWire
    verified_at: AwareDatetime
    signed_content: str | None = Field(default=None, pattern=_B64)
    signed_content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class _AuthenticationWire(_Model):
    result: Literal["valid"]
    user_id: str = Field(min_length=1, max_length=128)
    certificate: _CertificateWire
    revocation: _RevocationWire
    verified_at: AwareDatetime


class _ChallengeWire(_Model):
    challenge_id: str = Field(min_length=1, max_length=64)
    nonce: str = Field(min_length=1, max_length=200, pattern=_B64)
    expires_at: AwareDatetime


class _StatusWire(_Model):
    certificate: _CertificateWire
    revocation: _RevocationWire
    checked_at: AwareDatetime


class _LatestAttributesWire(_Model):
    user_id: str
    attributes: _AttributesWire
    as_of: AwareDatetime


class _TokenWire(_Model):
    access_token: str = Field(min_length=1, max_length=4096)
    token_type: str
    expires_in: int = Field(ge=1, le=86400)


class _ProblemWire(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str | None = None
    code: str | None = None
    detail: str | None = None
    revocation: _RevocationWire | None = None


# --------------------------------------------------------------------------------------------------------
# Conversions to the SDK's models
# --------------------------------------------------------------------------------------------------------


def _attributes(wire: _AttributesWire) -> BasicFourAttributes:
    if len(wire.name_substitute_positions) > len(wire.name) or len(wire.address_substitute_positions) > len(
        wire.address
    ):
        raise ValueError("substitute-character positions longer than the text")
    return BasicFourAttributes(
        name=wire.name,
        name_substitute_positions=wire.name_substitute_positions,
        gender=Gender(wire.gender),
        date_of_birth=parse_date_of_birth(wire.date_of_birth),
        address=wire.address,
        address_substitute_positions=wire.address_substitute_positions,
    )


def _summary(wire: _CertificateWire) -> CertificateSummary:
    return CertificateSummary(
        serial_number=int(wire.serial, 16),
        issuer=wire.issuer,
        fingerprint_sha256=wire.sha256_fingerprint,
        not_before=_utc(wire.not_before),
        not_after=_utc(wire.not_after),
        kind=CertificateKind(wire.kind),
        form_factor=FormFactor(wire.form_factor),
    )


def _revocation(wire: _RevocationWire, serial_number: int) -> RevocationStatus:
    return RevocationStatus(
        status=CertStatus(wire.status),
        source=RevocationSource.OCSP,
        serial_number=serial_number,
        reason=RevocationReason(wire.reason) if wire.reason is not None else None,
        revocation_time=_utc(wire.revoked_at),
        this_update=_utc(wire.this_update),
        next_update=_utc(wire.next_update),
        produced_at=_utc(wire.produced_at),
    )


def _ocsp_bytes(wire: _RevocationWire) -> bytes | None:
    return _b64decode(wire.ocsp_response) if wire.ocsp_response else None


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: None) -> None: ...
def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _invalid(message: str, *, status_code: int | None = None) -> PlatformError:
    return PlatformError(message, reason=Reason.PLATFORM_RESPONSE_INVALID, status_code=status_code)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def media_type(headers: Mapping[str, str]) -> str:
    """The media type of ``Content-Type`` without parameters, lower-case ('' when absent)."""
    return headers.get("content-type", "").split(";")[0].strip().lower()


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or HTTP-date, RFC 9110 §10.2.3), or ``None``.

    The one parser of the package (the platform client and the OpenID client share it). Delta-seconds are
    ASCII digits only; an HTTP-date in the past gives ``0.0``; anything else (a negative or fractional
    number, a date without zone, garbage) gives ``None``. Never raises.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit alone accepts "²", "١" … (not delta-seconds)
        return float(int(text)) if len(text) <= 15 else 1e15  # no OverflowError on absurd values
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


# --------------------------------------------------------------------------------------------------------
# The core
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Token:
    value: str
    refresh_at: datetime


class PlatformCore:
    """Everything of the client except sending bytes. One instance per client (holds the token cache).

    Args:
        base_url: the API root, e.g. ``https://platform.example/platform/v1`` (absolute http(s)).
        credentials: :class:`PrivateKeyJWT` or :class:`APIKey`.
        clock: "now" for assertions, token expiry and ``Retry-After`` dates.
        retry: the :class:`RetryPolicy`.
        max_response_bytes: largest accepted response body.
        token_url: the token endpoint; default ``{base_url}/token``.
        rng: randomness of the backoff jitter.

    Raises:
        ConfigurationError: a relative or non-http(s) URL, or a non-positive size limit.
    """

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        clock: Clock,
        retry: RetryPolicy,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        token_url: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        for url in (base_url, token_url or base_url):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                raise ConfigurationError("platform URLs must be absolute http(s) URLs without query")
        if max_response_bytes < 1024:
            raise ConfigurationError("max_response_bytes must be at least 1024")
        if not isinstance(credentials, PrivateKeyJWT | APIKey):
            raise ConfigurationError("credentials must be PrivateKeyJWT or APIKey")
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url if token_url is not None else self.base_url + "/token"
        self.credentials = credentials
        self.clock = clock
        self.retry = retry
        self.max_response_bytes = max_response_bytes
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not security
        self._token: _Token | None = None

    # -- credentials ----------------------------------------------------------------------------------------

    @property
    def uses_bearer(self) -> bool:
        return isinstance(self.credentials, PrivateKeyJWT)

    def cached_token(self) -> str | None:
        """The cached bearer token if it is still fresh (30 s margin), else ``None``."""
        if self._token is None or self.clock.now() >= self._token.refresh_at:
            return None
        return self._token.value

    def forget_token(self) -> None:
        self._token = None

    def bearer_steps(self) -> Steps[str]:
        """The cached bearer token, or a new one from the token endpoint (drive under the token lock)."""
        token = self.cached_token()
        if token is None:
            token = yield from self.steps(self.token_call())
        return token

    def steps(self, call: Call[T]) -> Steps[T]:
        """One logical call with its retries and its one re-authentication, as :data:`Steps`.

        Raises:
            MynaRPError: the failure :meth:`on_response` / :meth:`on_transport_error` decided on, or a
                non-transport :class:`PlatformError` answered to :class:`Send` (e.g. an oversized body).
        """
        attempt = 0
        reauthenticated = False
        while True:
            attempt += 1
            token = (yield NeedToken()) if call.authenticated and self.uses_bearer else None
            reply = yield Send(self.request(call, token if isinstance(token, str) else None))
            outcome: Outcome[T]
            if isinstance(reply, PlatformError):
                if reply.reason is not Reason.PLATFORM_UNAVAILABLE:
                    raise reply
                outcome = self.on_transport_error(call, reply, attempt)
            else:
                assert isinstance(reply, RawResponse)
                outcome = self.on_response(call, reply, attempt, reauthenticated=reauthenticated)
            if isinstance(outcome, Done):
                return outcome.value
            if isinstance(outcome, Retry):
                yield outcome
            elif isinstance(outcome, Reauthenticate):
                self.forget_token()
                reauthenticated = True
                attempt -= 1
            else:
                raise outcome.error

    def token_call(self) -> Call[str]:
        """The client-credentials token request (idempotent: each attempt signs a fresh assertion)."""
        return Call("token", "POST", "", self._parse_token, idempotent=True, authenticated=False)

    def _parse_token(self, body: Any) -> str:
        wire = _TokenWire.model_validate(body)
        _require(wire.token_type.lower() == "bearer", "token_type is not Bearer")
        lifetime = max(wire.expires_in - 30, wire.expires_in // 2)
        self._token = _Token(wire.access_token, self.clock.now() + timedelta(seconds=lifetime))
        return wire.access_token

    def request(self, call: Call[Any], token: str | None) -> RequestSpec:
        """The HTTP request for ``call`` (the token request gets a freshly signed assertion)."""
        headers = {"accept": "application/json"}
        if call.name == "token":
            assert isinstance(self.credentials, PrivateKeyJWT)
            assertion = self.credentials.assertion(self.token_url, self.clock.now())
            form = {
                "grant_type": "client_credentials",
                "client_id": self.credentials.client_id,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
            }
            return RequestSpec("POST", self.token_url, headers, form=form)
        if call.authenticated:
            if isinstance(self.credentials, APIKey):
                headers["x-api-key"] = self.credentials.value
            elif token is not None:
                headers["authorization"] = f"Bearer {token}"
        return RequestSpec(call.method, self.base_url + call.path, headers, json=call.json)

    # -- outcomes -------------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * (2 ** (attempt - 1)))
        return self._rng.uniform(0.0, ceiling)

    def on_transport_error(self, call: Call[Any], error: PlatformError, attempt: int) -> Outcome[Any]:
        """A timeout or connection failure (already mapped to ``PLATFORM_UNAVAILABLE``)."""
        if call.idempotent and attempt < self.retry.max_attempts:
            return Retry(self._backoff(attempt))
        return Fail(error)

    def on_response(
        self, call: Call[T], response: RawResponse, attempt: int, *, reauthenticated: bool
    ) -> Outcome[T]:
        """Decide what a complete response means for ``call`` at ``attempt`` (1-based)."""
        status = response.status_code
        if 200 <= status < 300:
            return self._success(call, response)
        if 300 <= status < 400:
            # Redirects are never followed (the API key or bearer token would go to the new origin, and
            # its answer would be taken for the platform's): a typed failure, no retry.
            return Fail(
                _invalid(f"the platform answered with a redirect (HTTP {status})", status_code=status)
            )
        if status in _RETRYABLE_STATUS:
            return self._unavailable(call, response, attempt)
        if status >= 500:
            return Fail(PlatformError(f"platform answered HTTP {status}", status_code=status))
        problem = self._problem(response)
        if status == 401:
            if call.authenticated and self.uses_bearer and not reauthenticated:
                return Reauthenticate()
            return Fail(
                PlatformError(
                    "the platform refused our client credentials",
                    reason=Reason.CLIENT_AUTHENTICATION_FAILED,
                    status_code=status,
                    problem_type=problem.type,
                )
            )
        return Fail(self._client_error(status, problem, call.serial_number))

    def _success(self, call: Call[T], response: RawResponse) -> Outcome[T]:
        if media_type(response.headers) not in _JSON_TYPES:
            return Fail(_invalid("the platform answered without application/json", status_code=200))
        try:
            body = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            return Fail(_invalid("the platform answered malformed JSON", status_code=response.status_code))
        try:
            return Done(call.parse(body))
        except PlatformError as exc:
            return Fail(exc)
        except (ValidationError, ValueError, TypeError, KeyError, MalformedInputError) as exc:
            return Fail(
                _invalid(
                    f"the {call.name} answer is not of the documented shape ({type(exc).__name__})",
                    status_code=response.status_code,
                )
            )

    def _unavailable(self, call: Call[T], response: RawResponse, attempt: int) -> Outcome[T]:
        status = response.status_code
        retry_after = (
            parse_retry_after(response.headers.get("retry-after"), self.clock.now())
            if status in (429, 503)
            else None
        )
        error = PlatformError(
            f"the platform is unavailable (HTTP {status})", status_code=status, retry_after=retry_after
        )
        if not call.idempotent or attempt >= self.retry.max_attempts:
            return Fail(error)
        if retry_after is not None:
            if retry_after > self.retry.max_retry_after:
                return Fail(error)
            return Retry(retry_after)
        return Retry(self._backoff(attempt))

    def _problem(self, response: RawResponse) -> _ProblemWire:
        if media_type(response.headers) in _PROBLEM_TYPES and len(response.body) <= self.max_response_bytes:
            try:
                return _ProblemWire.model_validate_json(response.body)
            except ValidationError:
                pass
        return _ProblemWire()

    def _client_error(self, status: int, problem: _ProblemWire, serial_number: int) -> MynaRPError:
        code = problem.code or ""
        detail = (problem.detail or "")[:200]
        try:
            reason = Reason(code)
        except ValueError:
            reason = None
        if reason is Reason.CONSENT_REQUIRED:
            return PlatformError(
                "the holder has not consented to share attributes with this relying party",
                reason=Reason.CONSENT_REQUIRED,
                status_code=status,
                problem_type=problem.type,
            )
        if reason in (Reason.CERTIFICATE_REVOKED, Reason.CERTIFICATE_ON_HOLD):
            return CertificateRevokedError(
                f"platform: {detail or reason.value}",
                status=_revoked_status(problem, serial_number),
                reason=reason,
            )
        if reason in _CHALLENGE_REASONS:
            return ChallengeError(f"platform: {detail or code}", reason=reason)
        if reason is Reason.MALFORMED_INPUT:
            return MalformedInputError(f"platform: {detail or code}")
        if reason in _VERIFICATION_REASONS:
            return VerificationError(f"platform: {detail or code}", reason=reason)
        return PlatformError(
            f"the platform rejected the request (HTTP {status}{', ' + code if code else ''})",
            reason=Reason.PLATFORM_REJECTED,
            status_code=status,
            problem_type=problem.type,
        )

    # -- calls ----------------------------------------------------------------------------------------------

    def verify_signature_call(
        self, *, data: bytes, signature: bytes, certificate: bytes
    ) -> Call[IdentityVerification]:
        certificate_sha256 = hashlib.sha256(certificate).hexdigest()

        def parse(body: Any) -> IdentityVerification:
            wire = _SignatureWire.model_validate(body)
            _require(wire.signed_content_sha256 == hashlib.sha256(data).hexdigest(), "another content")
            return self._identity(wire, data, certificate_sha256)

        payload = {"data": _b64(data), "signature": _b64(signature), "certificate": _b64(certificate)}
        return Call(
            "verify_signature",
            "POST",
            "/signatures/verify",
            parse,
            json=payload,
            idempotent=True,
            serial_number=_serial_of(certificate),
        )

    def verify_cms_call(
        self, *, signed_data: bytes, content: bytes | None, certificate: bytes | None
    ) -> Call[IdentityVerification]:
        certificate_sha256 = hashlib.sha256(certificate).hexdigest() if certificate is not None else None

        def parse(body: Any) -> IdentityVerification:
            wire = _SignatureWire.model_validate(body)
            _require(wire.signed_content is not None, "no signed_content in a CMS answer")
            assert wire.signed_content is not None
            signed = _b64decode(wire.signed_content)
            _require(hashlib.sha256(signed).hexdigest() == wire.signed_content_sha256, "content digest")
            _require(content is None or signed == content, "another content than the detached one")
            return self._identity(wire, signed, certificate_sha256)

        payload: dict[str, Any] = {"signed_data": _b64(signed_data)}
        if content is not None:
            payload["content"] = _b64(content)
        if certificate is not None:
            payload["certificate"] = _b64(certificate)
        return Call(
            "verify_cms",
            "POST",
            "/signatures/verify-cms",
            parse,
            json=payload,
            idempotent=True,
            serial_number=_serial_of(certificate) if certificate is not None else 0,
        )

    def _identity(
        self, wire: _SignatureWire, signed: bytes, certificate_sha256: str | None
    ) -> IdentityVerification:
        summary = _summary(wire.certificate)
        _require(summary.kind is CertificateKind.SIGNING, "not a signing certificate")
        _require(
            certificate_sha256 is None or summary.fingerprint_sha256 == certificate_sha256,
            "an answer about another certificate",
        )
        revocation = _revocation(wire.revocation, summary.serial_number)
        _require(revocation.status is CertStatus.GOOD, "a 'valid' answer without a good status")
        return IdentityVerification(
            mode=VerificationMode.PLATFORM,
            attributes=_attributes(wire.attributes),
            certificate=summary,
            revocation=revocation,
            verified_at=_utc(wire.verified_at),
            signed_content=signed,
            user_id=wire.user_id,
            ocsp_response=_ocsp_bytes(wire.revocation),
        )

    def challenge_call(self) -> Call[PlatformChallenge]:
        def parse(body: Any) -> PlatformChallenge:
            wire = _ChallengeWire.model_validate(body)
            nonce = _b64decode(wire.nonce)
            _require(16 <= len(nonce) <= 64, "nonce length")
            # Domain separation: a login never signs a consent structure (docs/platform_operator.md).
            _require(not is_consent_structure(nonce), "a consent structure offered as a login nonce")
            return PlatformChallenge(wire.challenge_id, nonce, _utc(wire.expires_at))

        return Call("challenge", "POST", "/authentication/challenges", parse)

    def verify_authentication_call(
        self, *, challenge: PlatformChallenge, signature: bytes, certificate: bytes
    ) -> Call[AuthenticationVerification]:
        if is_consent_structure(challenge.nonce):
            raise ChallengeError(
                "a platform consent structure is not a login challenge", reason=Reason.CHALLENGE_MISMATCH
            )
        certificate_sha256 = hashlib.sha256(certificate).hexdigest()

        def parse(body: Any) -> AuthenticationVerification:
            wire = _AuthenticationWire.model_validate(body)
            summary = _summary(wire.certificate)
            _require(
                summary.kind is CertificateKind.USER_AUTHENTICATION, "not a user-authentication certificate"
            )
            _require(summary.fingerprint_sha256 == certificate_sha256, "an answer about another certificate")
            revocation = _revocation(wire.revocation, summary.serial_number)
            _require(revocation.status is CertStatus.GOOD, "a 'valid' answer without a good status")
            return AuthenticationVerification(
                mode=VerificationMode.PLATFORM,
                user_id=wire.user_id,
                certificate=summary,
                revocation=revocation,
                verified_at=_utc(wire.verified_at),
                challenge=challenge.nonce,
                ocsp_response=_ocsp_bytes(wire.revocation),
            )

        payload = {
            "challenge_id": challenge.challenge_id,
            "signature": _b64(signature),
            "certificate": _b64(certificate),
        }
        # Not idempotent: the platform consumes the challenge on the first attempt.
        return Call(
            "verify_authentication",
            "POST",
            "/authentication/verify",
            parse,
            json=payload,
            serial_number=_serial_of(certificate),
        )

    def status_call(self, serial_number: int) -> Call[CertificateStatusResult]:
        if serial_number <= 0:
            raise MalformedInputError("serial numbers are positive")

        def parse(body: Any) -> CertificateStatusResult:
            wire = _StatusWire.model_validate(body)
            summary = _summary(wire.certificate)
            _require(summary.serial_number == serial_number, "an answer about another certificate")
            return CertificateStatusResult(
                summary,
                _revocation(wire.revocation, summary.serial_number),
                _utc(wire.checked_at),
                ocsp_response=_ocsp_bytes(wire.revocation),
            )

        path = f"/certificates/{serial_number:x}/status"
        return Call("certificate_status", "GET", path, parse, idempotent=True)

    def attributes_call(self, user_id: str) -> Call[BasicFourAttributes]:
        if not user_id or len(user_id) > 128:
            raise MalformedInputError("user_id must be 1–128 characters")

        def parse(body: Any) -> BasicFourAttributes:
            wire = _LatestAttributesWire.model_validate(body)
            _require(wire.user_id == user_id, "an answer about another user")
            return _attributes(wire.attributes)

        path = f"/users/{quote(user_id, safe='')}/attributes"
        return Call("latest_attributes", "GET", path, parse, idempotent=True)


def _serial_of(certificate: bytes) -> int:
    try:
        return x509.load_der_x509_certificate(certificate).serial_number
    except ValueError:
        return 0  # the platform will say MALFORMED_INPUT


def transport_error(error: Exception) -> PlatformError:
    """Map an httpx exception (or any transport failure) to ``PLATFORM_UNAVAILABLE``."""
    name = type(error).__name__
    timeout = "Timeout" in name
    return PlatformError(
        f"platform {'timed out' if timeout else 'unreachable'} ({name})", reason=Reason.PLATFORM_UNAVAILABLE
    )


def too_large(limit: int, status_code: int) -> PlatformError:
    """The body exceeded ``limit`` bytes."""
    return _invalid(f"the platform's answer exceeds {limit} bytes", status_code=status_code)


def capped_body(limit: int, status_code: int, headers: Mapping[str, str]) -> CappedBody:
    """A :class:`CappedBody` of a platform answer (:func:`too_large` past ``limit``)."""
    return CappedBody(limit, headers, lambda: too_large(limit, status_code))


def _revoked_status(problem: _ProblemWire, serial_number: int) -> RevocationStatus:
    """The revocation status a revoked/on-hold problem carries, about ``serial_number``."""
    wire = problem.revocation
    if wire is None:
        status = (
            CertStatus.ON_HOLD if problem.code == Reason.CERTIFICATE_ON_HOLD.value else CertStatus.REVOKED
        )
        return RevocationStatus(status=status, source=RevocationSource.OCSP, serial_number=serial_number)
    try:
        reason = RevocationReason(wire.reason) if wire.reason is not None else None
    except ValueError:
        reason = None
    return RevocationStatus(
        status=CertStatus(wire.status),
        source=RevocationSource.OCSP,
        serial_number=serial_number,
        reason=reason,
        revocation_time=wire.revoked_at,
        this_update=wire.this_update,
        next_update=wire.next_update,
        produced_at=wire.produced_at,
    )


__all__ = [
    "ASSERTION_ALGORITHMS",
    "CLIENT_ASSERTION_TYPE",
    "APIKey",
    "Call",
    "CappedBody",
    "CertificateStatusResult",
    "Credentials",
    "Done",
    "Fail",
    "NeedToken",
    "Outcome",
    "PlatformChallenge",
    "PlatformCore",
    "PrivateKeyJWT",
    "RawResponse",
    "Reauthenticate",
    "Reply",
    "RequestSpec",
    "Retry",
    "RetryPolicy",
    "Send",
    "Step",
    "Steps",
    "advance",
    "capped_body",
    "declared_length",
    "media_type",
    "parse_retry_after",
    "too_large",
    "transport_error",
]
