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
from typing import TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..clock import Clock, SystemClock
from ..encoding import load_certificate
from ..errors import ConfigurationError, MalformedInputError, PlatformError
from ..identity import AuthenticationVerification, IdentityVerification
from ..jpki.attributes import BasicFourAttributes
from ._core import (
    DEFAULT_MAX_RESPONSE_BYTES,
    Call,
    CappedBody,
    CertificateStatusResult,
    Credentials,
    Done,
    NeedToken,
    PlatformChallenge,
    PlatformCore,
    RawResponse,
    Reply,
    RequestSpec,
    Retry,
    RetryPolicy,
    Step,
    Steps,
    advance,
    capped_body,
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


def _raw(response: httpx.Response, body: CappedBody) -> RawResponse:
    headers = {k.lower(): v for k, v in response.headers.items()}
    return RawResponse(response.status_code, headers, body.content())


class _Base:
    """What both wrappers hold: the core, the injected client, its timeout, the sleep function; and the
    argument checks and call descriptions of the public methods (the I/O is the subclasses')."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        clock: Clock | None,
        retry: RetryPolicy | None,
        max_response_bytes: int,
        token_url: str | None,
        rng: random.Random | None,
        http: httpx.Client | httpx.AsyncClient,
        timeout: httpx.Timeout | float | None,
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
        self._timeout = _timeout(http, timeout)

    def _build(self, http: httpx.Client | httpx.AsyncClient, spec: RequestSpec) -> httpx.Request:
        return http.build_request(
            spec.method,
            spec.url,
            headers=dict(spec.headers),
            json=spec.json,
            data=dict(spec.form) if spec.form is not None else None,
            timeout=self._timeout if self._timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )

    def _verify_signature_call(
        self, data: bytes, signature: bytes, certificate: bytes | x509.Certificate
    ) -> Call[IdentityVerification]:
        _bytes(data=data, signature=signature)
        return self._core.verify_signature_call(
            data=bytes(data), signature=bytes(signature), certificate=_der(certificate)
        )

    def _verify_cms_call(
        self, signed_data: bytes, content: bytes | None, certificate: bytes | x509.Certificate | None
    ) -> Call[IdentityVerification]:
        _bytes(signed_data=signed_data)
        if content is not None:
            _bytes(content=content)
        return self._core.verify_cms_call(
            signed_data=bytes(signed_data),
            content=bytes(content) if content is not None else None,
            certificate=_der(certificate) if certificate is not None else None,
        )

    def _verify_authentication_call(
        self, challenge: PlatformChallenge, signature: bytes, certificate: bytes | x509.Certificate
    ) -> Call[AuthenticationVerification]:
        _bytes(signature=signature)
        return self._core.verify_authentication_call(
            challenge=challenge, signature=bytes(signature), certificate=_der(certificate)
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
            base_url, credentials, clock, retry, max_response_bytes, token_url, rng, http, timeout
        )
        self._http = http
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
        return self._execute(self._verify_signature_call(data, signature, certificate))

    def verify_cms(
        self,
        signed_data: bytes,
        *,
        content: bytes | None = None,
        certificate: bytes | x509.Certificate | None = None,
    ) -> IdentityVerification:
        """Have the platform verify a CMS SignedData (RFC 5652; detached when ``content`` is given)."""
        return self._execute(self._verify_cms_call(signed_data, content, certificate))

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
        return self._execute(self._verify_authentication_call(challenge, signature, certificate))

    def certificate_status(self, certificate: int | x509.Certificate) -> CertificateStatusResult:
        """現況確認: the status now of a certificate (its serial, or the certificate) of a linked holder."""
        return self._execute(self._core.status_call(_serial(certificate)))

    def latest_attributes(self, user_id: str) -> BasicFourAttributes:
        """The holder's current basic four attributes; ``CONSENT_REQUIRED`` without their consent."""
        return self._execute(self._core.attributes_call(user_id))

    # -- the driver of the core's steps ---------------------------------------------------------------------

    def _execute(self, call: Call[T]) -> T:
        return self._run(self._core.steps(call))

    def _run(self, steps: Steps[T]) -> T:
        step = advance(steps)
        while not isinstance(step, Done):
            step = advance(steps, self._perform(step))
        return step.value

    def _perform(self, step: Step) -> Reply:
        if isinstance(step, Retry):
            self._sleep(step.delay)
            return None
        if isinstance(step, NeedToken):
            with self._token_lock:
                return self._run(self._core.bearer_steps())
        try:
            return self._send(step.request)
        except PlatformError as exc:
            return exc

    def _send(self, spec: RequestSpec) -> RawResponse:
        try:
            response = self._http.send(self._build(self._http, spec), stream=True, follow_redirects=False)
            try:
                body = capped_body(self._core.max_response_bytes, response.status_code, response.headers)
                for chunk in response.iter_bytes():
                    body.add(chunk)
            finally:
                response.close()
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from exc
        return _raw(response, body)


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
            base_url, credentials, clock, retry, max_response_bytes, token_url, rng, http, timeout
        )
        self._http = http
        self._sleep = sleep
        self._token_lock: asyncio.Lock | None = None

    async def verify_signature(
        self, *, data: bytes, signature: bytes, certificate: bytes | x509.Certificate
    ) -> IdentityVerification:
        """As :meth:`PlatformClient.verify_signature`."""
        return await self._execute(self._verify_signature_call(data, signature, certificate))

    async def verify_cms(
        self,
        signed_data: bytes,
        *,
        content: bytes | None = None,
        certificate: bytes | x509.Certificate | None = None,
    ) -> IdentityVerification:
        """As :meth:`PlatformClient.verify_cms`."""
        return await self._execute(self._verify_cms_call(signed_data, content, certificate))

    async def authentication_challenge(self) -> PlatformChallenge:
        """As :meth:`PlatformClient.authentication_challenge`."""
        return await self._execute(self._core.challenge_call())

    async def verify_authentication(
        self, *, challenge: PlatformChallenge, signature: bytes, certificate: bytes | x509.Certificate
    ) -> AuthenticationVerification:
        """As :meth:`PlatformClient.verify_authentication`."""
        return await self._execute(self._verify_authentication_call(challenge, signature, certificate))

    async def certificate_status(self, certificate: int | x509.Certificate) -> CertificateStatusResult:
        """As :meth:`PlatformClient.certificate_status`."""
        return await self._execute(self._core.status_call(_serial(certificate)))

    async def latest_attributes(self, user_id: str) -> BasicFourAttributes:
        """As :meth:`PlatformClient.latest_attributes`."""
        return await self._execute(self._core.attributes_call(user_id))

    async def _execute(self, call: Call[T]) -> T:
        return await self._run(self._core.steps(call))

    async def _run(self, steps: Steps[T]) -> T:
        step = advance(steps)
        while not isinstance(step, Done):
            step = advance(steps, await self._perform(step))
        return step.value

    async def _perform(self, step: Step) -> Reply:
        if isinstance(step, Retry):
            await self._sleep(step.delay)
            return None
        if isinstance(step, NeedToken):
            if self._token_lock is None:  # created lazily: bound to the running loop
                self._token_lock = asyncio.Lock()
            async with self._token_lock:
                return await self._run(self._core.bearer_steps())
        try:
            return await self._send(step.request)
        except PlatformError as exc:
            return exc

    async def _send(self, spec: RequestSpec) -> RawResponse:
        try:
            request = self._build(self._http, spec)
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                body = capped_body(self._core.max_response_bytes, response.status_code, response.headers)
                async for chunk in response.aiter_bytes():
                    body.add(chunk)
            finally:
                await response.aclose()
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from exc
        return _raw(response, body)
