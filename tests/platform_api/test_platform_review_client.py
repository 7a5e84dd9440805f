"""Review fixes of PlatformClient / AsyncPlatformClient (issue 5 review), over ``httpx.MockTransport``:
redirects are never followed (even by an httpx client configured to follow them) and are a typed failure;
non-ASCII digits in ``Retry-After`` / ``Content-Length`` never raise a bare ``ValueError``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from myna_rp.clock import FixedClock
from myna_rp.errors import MynaRPError, PlatformError, Reason
from myna_rp.platform import APIKey, AsyncPlatformClient, PlatformClient, RetryPolicy
from myna_rp.platform._core import parse_retry_after

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
BASE = "https://platform.example/platform/v1"
API_KEY = "review-api-key-0123456789abcdef0123"
USER_ID = "u" * 43
LATEST = {
    "user_id": USER_ID,
    "as_of": "2026-11-29T03:00:00+00:00",
    "attributes": {
        "name": "試験　花子",
        "name_substitute_positions": "",
        "gender": "2",
        "date_of_birth": "319850704",
        "address": "東京都千代田区試験町一丁目99番99号",
        "address_substitute_positions": "",
    },
}

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler recording every request; ``answers`` by host."""

    def __init__(self, answers: dict[str, Handler]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[request.url.host](request)


def _sync(recorder: Recorder, **options: Any) -> MynaRPError:
    http = httpx.Client(transport=httpx.MockTransport(recorder), timeout=5.0, follow_redirects=True)
    client = PlatformClient(
        BASE, http, APIKey(API_KEY), clock=FixedClock(NOW), sleep=lambda _: None, **options
    )
    with pytest.raises(MynaRPError) as caught:
        client.latest_attributes(USER_ID)
    return caught.value


def _async(recorder: Recorder, **options: Any) -> MynaRPError:
    async def sleep(_: float) -> None:
        return None

    async def run() -> MynaRPError:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(recorder), timeout=5.0, follow_redirects=True
        ) as http:
            client = AsyncPlatformClient(
                BASE, http, APIKey(API_KEY), clock=FixedClock(NOW), sleep=sleep, **options
            )
            with pytest.raises(MynaRPError) as caught:
                await client.latest_attributes(USER_ID)
            return caught.value

    return asyncio.run(run())


RUNNERS = {"sync": _sync, "async": _async}


@pytest.mark.parametrize("mode", RUNNERS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(mode: str, status: int) -> None:
    recorder = Recorder(
        {
            "platform.example": lambda _: httpx.Response(
                status, headers={"location": f"https://evil.example/users/{USER_ID}/attributes"}
            ),
            "evil.example": lambda _: httpx.Response(200, json=LATEST),
        }
    )
    error = RUNNERS[mode](recorder)
    assert isinstance(error, PlatformError)
    assert error.reason is Reason.PLATFORM_RESPONSE_INVALID
    assert error.status_code == status
    # One request, to the platform only: the API key never went to the redirect target.
    assert [request.url.host for request in recorder.requests] == ["platform.example"]


@pytest.mark.parametrize("mode", RUNNERS)
@pytest.mark.parametrize("value", [b"\xb2", "١٢".encode(), b"1.5", b"-3", b"soon"])
def test_retry_after_with_odd_digits_is_ignored_not_raised(mode: str, value: bytes) -> None:
    recorder = Recorder({"platform.example": lambda _: httpx.Response(429, headers={"retry-after": value})})
    error = RUNNERS[mode](recorder, retry=RetryPolicy(max_attempts=2, base_delay=0))
    assert isinstance(error, PlatformError)
    assert error.reason is Reason.PLATFORM_UNAVAILABLE
    assert error.retry_after is None
    assert len(recorder.requests) == 2  # retried with backoff, as without a Retry-After


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_content_length_with_odd_digits_is_not_a_crash(mode: str) -> None:
    """``Content-Length: ²`` used to reach ``int()`` (``str.isdigit`` accepts it): now the declared length
    is ignored and the streamed cap applies; the answer is read (or refused) without a bare ValueError."""
    body = json.dumps(LATEST).encode()
    recorder = Recorder(
        {
            "platform.example": lambda _: httpx.Response(
                200, headers={"content-type": "application/json", "content-length": b"\xb2"}, content=body
            )
        }
    )
    outcome: object
    try:
        if mode == "sync":
            http = httpx.Client(transport=httpx.MockTransport(recorder), timeout=5.0)
            outcome = PlatformClient(BASE, http, APIKey(API_KEY), clock=FixedClock(NOW)).latest_attributes(
                USER_ID
            )
        else:

            async def run() -> object:
                async with httpx.AsyncClient(transport=httpx.MockTransport(recorder), timeout=5.0) as http:
                    client = AsyncPlatformClient(BASE, http, APIKey(API_KEY), clock=FixedClock(NOW))
                    return await client.latest_attributes(USER_ID)

            outcome = asyncio.run(run())
    except MynaRPError as exc:
        outcome = exc
    assert not isinstance(outcome, ValueError)
    if isinstance(outcome, MynaRPError):
        assert isinstance(outcome, PlatformError)
    else:
        assert getattr(outcome, "address", None) == LATEST["attributes"]["address"]  # type: ignore[index]


def test_parse_retry_after_accepts_only_ascii_digits_and_dates() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Sun, 29 Nov 2026 03:00:10 GMT", NOW) == 10.0
    assert parse_retry_after("Sun, 29 Nov 2026 02:00:00 GMT", NOW) == 0.0
    for odd in ("²", "١٢", "1.5", "-3", "", "9" * 400):
        value = parse_retry_after(odd, NOW)
        assert value is None or value >= 1e15
