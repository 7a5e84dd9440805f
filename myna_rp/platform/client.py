"""PlatformClient (sync) and AsyncPlatformClient (async): thin I/O loops over :mod:`._core`.

Both take an injected httpx client (``httpx.Client`` / ``httpx.AsyncClient``) and never make one
themselves. A client without timeouts is refused unless ``timeout=`` is given, which is then set on every
request. Redirects are never followed, whatever the injected client's ``follow_redirects`` (every send
passes ``follow_redirects=False``; a 3xx is ``PLATFORM_RESPONSE_INVALID``): the API key or bearer token
must not travel to another origin, nor its answer pass for the platform's. Response bodies are read as a
stream and abandoned as soon as they exceed ``max_response_bytes`` (``PLATFORM_RESPONSE_INVALID``).

Switching an RP from direct verification to a platform operator is one line::

    v = IdentityVerification.from_jpki(verifier.verify_signature(data=d, signature=s, certificate=c))
    v = platform.verify_signature(data=d, signature=s, certificate=c)        # mode=PLATFORM
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..clock import Clock, SystemClock
from ..encoding import load_certificate
from ..errors import ConfigurationError, MalformedInputError, PlatformError, Reason
from ..identity import AuthenticationVerification, IdentityVerification
from ..jpki.attributes import BasicFourAttributes
from ._core import (
    DEFAULT_MAX_RESPONSE_BYTES,
    Call,
    CertificateStatusResult,
    Credentials,
    Done,
    PlatformChallenge,
    PlatformCore,
    RawResponse,
    Reauthenticate,
    RequestSpec,
    Retry,
    RetryPolicy,
    too_large,
    transport_error,
)

T = TypeVar("T")

_TRANSPORT_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError)


def _timeout(
    http: httpx.Client | httpx.AsyncClient, timeout: httpx.Timeout | float | None
) -> httpx.Timeout | None:
    if timeout is not None:
        value = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        if None in (value.connect, value.read, value.write, value.pool):
            raise ConfigurationError("timeout must bound connect, read, write and pool")
        return value
    current = http.timeout
    if None in (current.connect, current.read, current.write, current.pool):
        raise ConfigurationError(
            "the httpx client has no (or a partial) timeout: give it one, or pass timeout= to the client"
        )
    return None


def _bytes(**values: object) -> None:
    for name, value in values.items():
        if not isinstance(value, bytes | bytearray):
            raise MalformedInputError(f"{name} must be bytes, got {type(value).__name__}")


def _der(certificate: bytes | x509.Certificate) -> bytes:
    return load_certificate(certificate).public_bytes(Encoding.DER)


def _serial(certificate: int | x509.Certificate) -> int:
    return certificate.serial_number if isinstance(certificate, x509.Certificate) else certificate


def _raw(response: httpx.Response, body: bytes) -> RawResponse:
    return RawResponse(response.status_code, {k.lower(): v for k, v in response.headers.items()}, body)


def _declared_too_large(response: httpx.Response, limit: int) -> bool:
    declared = response.headers.get("content-length")
    # ASCII digits only: str.isdigit() also accepts "²" and other digits int() cannot parse.
    return declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit


class _Base:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        clock: Clock | None,
        retry: RetryPolicy | None,
        max_response_bytes: int,
        token_url: str | None,
        rng: random.Random | None,
    ) -> None:
        self._core = PlatformCore(
            base_url=base_url,
            credentials=credentials,
            clock=clock if clock is not None else SystemClock(),
            retry=retry if retry is not None else RetryPolicy(),
            max_response_bytes=max_response_bytes,
            token_url=token_url,
            rng=rng,
        )


class PlatformClient(_Base):
    """Synchronous client of a platform operator API (プラットフォーム事業者).

    Args:
        base_url: the API root, e.g. ``https://platform.example/platform/v1``.
        http: the injected :class:`httpx.Client` (connection pool, TLS, proxies are yours).
        credentials: :class:`~myna_rp.platform.PrivateKeyJWT` (production) or
            :class:`~myna_rp.platform.APIKey` (local use).
        clock: "now" for assertions, token expiry and ``Retry-After`` dates; default :class:`SystemClock`.
        timeout: set on every request; required when ``http`` has no timeout of its own.
        retry: :class:`~myna_rp.platform.RetryPolicy` for idempotent calls.
        max_response_bytes: largest accepted body (default 1 MiB).
        token_url: the token endpoint; default ``{base_url}/token``.
        sleep: how to wait between attempts (tests inject a recorder).
        rng: randomness of the backoff jitter.

    Raises:
        ConfigurationError: no timeout anywhere, bad URLs, bad credentials or limits.

    Every method raises only :class:`~myna_rp.errors.MynaRPError` subclasses: ``PlatformError``
    (``PLATFORM_UNAVAILABLE``, ``PLATFORM_RESPONSE_INVALID``, ``PLATFORM_REJECTED``,
    ``CLIENT_AUTHENTICATION_FAILED``, ``CONSENT_REQUIRED``), ``VerificationError`` /
    ``CertificateRevokedError`` / ``ChallengeError`` with the reasons of direct verification, and
    ``MalformedInputError`` for bad arguments. Thread-safe (the token cache is locked).
    """

    def __init__(
        self,
        base_url: str,
        http: httpx.Client,
        credentials: Credentials,
        *,
        clock: Clock | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        token_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(http, httpx.Client):
            raise ConfigurationError(
                "PlatformClient needs an httpx.Client (use AsyncPlatformClient for async)"
            )
        super().__init__(
            base_url,
            credentials,
            clock=clock,
            retry=retry,
            max_response_bytes=max_response_bytes,
            token_url=token_url,
            rng=rng,
        )
        self._http = http
        self._timeout = _timeout(http, timeout)
        self._sleep = sleep
        self._token_lock = threading.Lock()

    # -- public API -----------------------------------------------------------------------------------------

    def verify_signature(
        self, *, data: bytes, signature: bytes, certificate: bytes | x509.Certificate
    ) -> IdentityVerification:
        """Have the platform verify a raw signature (PKCS#1 v1.5 / ECDSA, SHA-256) by a signing certificate.

        Returns an :class:`IdentityVerification` with ``mode=PLATFORM``, the certificate's basic four
        attributes, its revocation status (OCSP, good) and the platform's ``user_id``. Retried on
        transient failures (idempotent).
        """
        _bytes(data=data, signature=signature)
        return self._execute(
            self._core.verify_signature_call(
                data=bytes(data), signature=bytes(signature), certificate=_der(certificate)
            )
        )

    def verify_cms(
        self,
        signed_data: bytes,
        *,
        content: bytes | None = None,
        certificate: bytes | x509.Certificate | None = None,
    ) -> IdentityVerification:
        """Have the platform verify a CMS SignedData (RFC 5652; detached when ``content`` is given)."""
        _bytes(signed_data=signed_data)
        if content is not None:
            _bytes(content=content)
        return self._execute(
            self._core.verify_cms_call(
                signed_data=bytes(signed_data),
                content=bytes(content) if content is not None else None,
                certificate=_der(certificate) if certificate is not None else None,
            )
        )

    def authentication_challenge(self) -> PlatformChallenge:
        """A platform-issued login nonce (single use, about 5 minutes). Not retried."""
        return self._execute(self._core.challenge_call())

    def verify_authentication(
        self, *, challenge: PlatformChallenge, signature: bytes, certificate: bytes | x509.Certificate
    ) -> AuthenticationVerification:
        """Verify a login: the user-authentication certificate's signature over ``challenge.nonce``.

        Not retried (the platform consumes the challenge). A reused challenge raises
        :class:`~myna_rp.errors.ChallengeError` (``CHALLENGE_REPLAYED``).
        """
        _bytes(signature=signature)
        return self._execute(
            self._core.verify_authentication_call(
                challenge=challenge, signature=bytes(signature), certificate=_der(certificate)
            )
        )

    def certificate_status(self, certificate: int | x509.Certificate) -> CertificateStatusResult:
        """現況確認: the status now of a certificate (its serial, or the certificate) of a linked holder."""
        return self._execute(self._core.status_call(_serial(certificate)))

    def latest_attributes(self, user_id: str) -> BasicFourAttributes:
        """The holder's current basic four attributes; ``CONSENT_REQUIRED`` without their consent."""
        return self._execute(self._core.attributes_call(user_id))

    # -- the loop -------------------------------------------------------------------------------------------

    def _bearer(self) -> str:
        with self._token_lock:
            token = self._core.cached_token()
            if token is None:
                token = self._execute(self._core.token_call())
            return token

    def _execute(self, call: Call[T]) -> T:
        attempt = 0
        reauthenticated = False
        while True:
            attempt += 1
            token = self._bearer() if call.authenticated and self._core.uses_bearer else None
            try:
                raw = self._send(self._core.request(call, token))
            except PlatformError as exc:
                if exc.reason is not Reason.PLATFORM_UNAVAILABLE:
                    raise
                outcome: Any = self._core.on_transport_error(call, exc, attempt)
            else:
                outcome = self._core.on_response(call, raw, attempt, reauthenticated=reauthenticated)
            if isinstance(outcome, Done):
                value: T = outcome.value
                return value
            if isinstance(outcome, Retry):
                self._sleep(outcome.delay)
                continue
            if isinstance(outcome, Reauthenticate):
                self._core.forget_token()
                reauthenticated = True
                attempt -= 1
                continue
            raise outcome.error

    def _send(self, spec: RequestSpec) -> RawResponse:
        limit = self._core.max_response_bytes
        try:
            request = self._http.build_request(
                spec.method,
                spec.url,
                headers=dict(spec.headers),
                json=spec.json,
                data=dict(spec.form) if spec.form is not None else None,
                timeout=self._timeout if self._timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
            response = self._http.send(request, stream=True, follow_redirects=False)
            try:
                if _declared_too_large(response, limit):
                    raise too_large(limit, response.status_code)
                chunks: list[bytes] = []
                received = 0
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > limit:
                        raise too_large(limit, response.status_code)
                    chunks.append(chunk)
            finally:
                response.close()
        except PlatformError:
            raise
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from exc
        return _raw(response, b"".join(chunks))


class AsyncPlatformClient(_Base):
    """The asyncio twin of :class:`PlatformClient` over an injected :class:`httpx.AsyncClient`.

    Same arguments (``sleep`` is an async callable, default :func:`asyncio.sleep`), same results, same
    errors. Safe for concurrent tasks (the token cache is guarded by an :class:`asyncio.Lock`).
    """

    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        credentials: Credentials,
        *,
        clock: Clock | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        token_url: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(http, httpx.AsyncClient):
            raise ConfigurationError("AsyncPlatformClient needs an httpx.AsyncClient")
        super().__init__(
            base_url,
            credentials,
            clock=clock,
            retry=retry,
            max_response_bytes=max_response_bytes,
            token_url=token_url,
            rng=rng,
        )
        self._http = http
        self._timeout = _timeout(http, timeout)
        self._sleep = sleep
        self._token_lock: asyncio.Lock | None = None

    async def verify_signature(
        self, *, data: bytes, signature: bytes, certificate: bytes | x509.Certificate
    ) -> IdentityVerification:
        """As :meth:`PlatformClient.verify_signature`."""
        _bytes(data=data, signature=signature)
        return await self._execute(
            self._core.verify_signature_call(
                data=bytes(data), signature=bytes(signature), certificate=_der(certificate)
            )
        )

    async def verify_cms(
        self,
        signed_data: bytes,
        *,
        content: bytes | None = None,
        certificate: bytes | x509.Certificate | None = None,
    ) -> IdentityVerification:
        """As :meth:`PlatformClient.verify_cms`."""
        _bytes(signed_data=signed_data)
        if content is not None:
            _bytes(content=content)
        return await self._execute(
            self._core.verify_cms_call(
                signed_data=bytes(signed_data),
                content=bytes(content) if content is not None else None,
                certificate=_der(certificate) if certificate is not None else None,
            )
        )

    async def authentication_challenge(self) -> PlatformChallenge:
        """As :meth:`PlatformClient.authentication_challenge`."""
        return await self._execute(self._core.challenge_call())

    async def verify_authentication(
        self, *, challenge: PlatformChallenge, signature: bytes, certificate: bytes | x509.Certificate
    ) -> AuthenticationVerification:
        """As :meth:`PlatformClient.verify_authentication`."""
        _bytes(signature=signature)
        return await self._execute(
            self._core.verify_authentication_call(
                challenge=challenge, signature=bytes(signature), certificate=_der(certificate)
            )
        )

    async def certificate_status(self, certificate: int | x509.Certificate) -> CertificateStatusResult:
        """As :meth:`PlatformClient.certificate_status`."""
        return await self._execute(self._core.status_call(_serial(certificate)))

    async def latest_attributes(self, user_id: str) -> BasicFourAttributes:
        """As :meth:`PlatformClient.latest_attributes`."""
        return await self._execute(self._core.attributes_call(user_id))

    async def _bearer(self) -> str:
        if self._token_lock is None:  # created lazily: bound to the running loop
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            token = self._core.cached_token()
            if token is None:
                token = await self._execute(self._core.token_call())
            return token

    async def _execute(self, call: Call[T]) -> T:
        attempt = 0
        reauthenticated = False
        while True:
            attempt += 1
            token = await self._bearer() if call.authenticated and self._core.uses_bearer else None
            try:
                raw = await self._send(self._core.request(call, token))
            except PlatformError as exc:
                if exc.reason is not Reason.PLATFORM_UNAVAILABLE:
                    raise
                outcome: Any = self._core.on_transport_error(call, exc, attempt)
            else:
                outcome = self._core.on_response(call, raw, attempt, reauthenticated=reauthenticated)
            if isinstance(outcome, Done):
                value: T = outcome.value
                return value
            if isinstance(outcome, Retry):
                await self._sleep(outcome.delay)
                continue
            if isinstance(outcome, Reauthenticate):
                self._core.forget_token()
                reauthenticated = True
                attempt -= 1
                continue
            raise outcome.error

    async def _send(self, spec: RequestSpec) -> RawResponse:
        limit = self._core.max_response_bytes
        try:
            request = self._http.build_request(
                spec.method,
                spec.url,
                headers=dict(spec.headers),
                json=spec.json,
                data=dict(spec.form) if spec.form is not None else None,
                timeout=self._timeout if self._timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                if _declared_too_large(response, limit):
                    raise too_large(limit, response.status_code)
                chunks: list[bytes] = []
                received = 0
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > limit:
                        raise too_large(limit, response.status_code)
                    chunks.append(chunk)
            finally:
                await response.aclose()
        except PlatformError:
            raise
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from exc
        return _raw(response, b"".join(chunks))
