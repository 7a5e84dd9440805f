"""HTTP plumbing for OCSP and CRL fetching through an injected :class:`httpx.Client` (not public API).

Every request carries an explicit timeout, bodies are size-limited while streaming, and every httpx
exception becomes a :class:`~myna_rp.errors.RevocationFetchError`. Retries happen only after transport
errors (connection failures and timeouts), never after an HTTP answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ..errors import FetchFailure, RevocationFetchError


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """How one kind of fetch behaves.

    Attributes:
        timeout: per-request timeout (seconds, or an :class:`httpx.Timeout`); always passed explicitly.
        retries: extra attempts after a transport error (0 = try once).
        backoff: seconds before the first retry; doubled for each further retry.
        max_bytes: the largest body accepted.
        sleep: how to wait between retries (injectable for tests).
    """

    timeout: float | httpx.Timeout
    retries: int
    backoff: float
    max_bytes: int
    sleep: Callable[[float], None]

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_bytes <= 0:
            raise ValueError("retries and backoff must be >= 0 and max_bytes > 0")


def _content_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


def _read_limited(response: httpx.Response, *, max_bytes: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise RevocationFetchError(
            f"response body declares {declared} bytes, above the {max_bytes}-byte limit",
            cause=FetchFailure.TOO_LARGE,
            source_label=url,
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise RevocationFetchError(
                f"response body exceeds the {max_bytes}-byte limit",
                cause=FetchFailure.TOO_LARGE,
                source_label=url,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _once(
    client: httpx.Client,
    *,
    method: str,
    url: str,
    content: bytes | None,
    headers: dict[str, str],
    accept: frozenset[str],
    settings: TransportSettings,
) -> bytes:
    with client.stream(method, url, content=content, headers=headers, timeout=settings.timeout) as response:
        if response.status_code != 200:
            raise RevocationFetchError(
                f"HTTP {response.status_code} from the server",
                cause=FetchFailure.HTTP_STATUS,
                source_label=url,
                status_code=response.status_code,
            )
        content_type = _content_type(response)
        if content_type not in accept:
            raise RevocationFetchError(
                f"unexpected content type {content_type or '(none)'!r}",
                cause=FetchFailure.CONTENT_TYPE,
                source_label=url,
            )
        return _read_limited(response, max_bytes=settings.max_bytes, url=url)


def fetch(
    client: httpx.Client,
    *,
    method: str,
    url: str,
    accept: frozenset[str],
    settings: TransportSettings,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """Fetch ``url`` and return the body of a 200 answer whose content type is in ``accept``.

    Raises:
        RevocationFetchError: TIMEOUT or TRANSPORT (after ``settings.retries`` retries with exponential
            backoff), HTTP_STATUS, CONTENT_TYPE, TOO_LARGE.
    """
    attempt = 0
    while True:
        try:
            return _once(
                client,
                method=method,
                url=url,
                content=content,
                headers=headers or {},
                accept=accept,
                settings=settings,
            )
        except httpx.TransportError as exc:  # includes every httpx.TimeoutException
            timeout = isinstance(exc, httpx.TimeoutException)
            if attempt >= settings.retries:
                raise RevocationFetchError(
                    f"{'timeout' if timeout else 'transport error'} ({type(exc).__name__}) "
                    f"after {attempt + 1} attempt(s)",
                    cause=FetchFailure.TIMEOUT if timeout else FetchFailure.TRANSPORT,
                    source_label=url,
                ) from exc
            settings.sleep(settings.backoff * (2**attempt))
            attempt += 1
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ValueError) as exc:
            raise RevocationFetchError(
                f"HTTP client error ({type(exc).__name__})",
                cause=FetchFailure.TRANSPORT,
                source_label=url,
            ) from exc
