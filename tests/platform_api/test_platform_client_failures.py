"""PlatformClient / AsyncPlatformClient against respx: every failure path, retry rules, error mapping.

Each test runs twice, through the sync and the async client (``api`` fixture), on the same respx routes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from myna_rp.clock import FixedClock
from myna_rp.errors import (
    CertificateRevokedError,
    ChallengeError,
    ConfigurationError,
    MalformedInputError,
    MynaRPError,
    PlatformError,
    Reason,
    VerificationError,
)
from myna_rp.identity import VerificationMode
from myna_rp.platform import (
    APIKey,
    AsyncPlatformClient,
    PlatformChallenge,
    PlatformClient,
    PrivateKeyJWT,
    RetryPolicy,
)
from myna_rp.revocation import CertStatus, RevocationReason

BASE = "https://platform.example/platform/v1"
NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
CLOCK = FixedClock(NOW)
JSON = {"content-type": "application/json"}
PROBLEM = {"content-type": "application/problem+json"}
SERIAL = 0x1F2E3D


def _certificate(serial: int = SERIAL) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "respx test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.DER)


CERT = _certificate()
DATA = b"relying-party challenge"


def _cert_wire(der: bytes = CERT, *, kind: str = "signing", serial: int = SERIAL) -> dict[str, Any]:
    return {
        "serial": format(serial, "x"),
        "issuer": "CN=respx test",
        "sha256_fingerprint": hashlib.sha256(der).hexdigest(),
        "not_before": "2026-11-28T03:00:00Z",
        "not_after": "2027-11-29T03:00:00Z",
        "kind": kind,
        "form_factor": "android",
    }


def _revocation_wire(status: str = "good", reason: str | None = None) -> dict[str, Any]:
    return {
        "status": status,
        "reason": reason,
        "revoked_at": "2026-11-29T02:00:00Z" if status != "good" else None,
        "source": "ocsp",
        "this_update": "2026-11-29T03:00:00Z",
        "next_update": "2026-11-29T03:15:00Z",
        "produced_at": "2026-11-29T03:00:00Z",
        "ocsp_response": "MAA=",
    }


ATTRIBUTES = {
    "name": "試験　花子",
    "name_substitute_positions": "00000",
    "gender": "2",
    "date_of_birth": "319850704",
    "address": "東京都千代田区試験町一丁目99番99号",
    "address_substitute_positions": "",
}


def status_body(serial: int = SERIAL) -> dict[str, Any]:
    return {
        "certificate": _cert_wire(serial=serial),
        "revocation": _revocation_wire(),
        "checked_at": "2026-11-29T03:00:00Z",
    }


def signature_body(der: bytes = CERT, data: bytes = DATA) -> dict[str, Any]:
    return {
        "result": "valid",
        "user_id": "u" * 43,
        "attributes": ATTRIBUTES,
        "certificate": _cert_wire(der),
        "revocation": _revocation_wire(),
        "verified_at": "2026-11-29T03:00:00Z",
        "signed_content_sha256": hashlib.sha256(data).hexdigest(),
    }


def challenge_body() -> dict[str, Any]:
    return {
        "challenge_id": "chl_1",
        "nonce": base64.b64encode(b"n" * 32).decode(),
        "expires_at": "2026-11-29T03:05:00Z",
    }


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, headers=JSON, content=json.dumps(body).encode())


def problem(status: int, code: str, **extra: Any) -> httpx.Response:
    body = {
        "type": f"https://x/{code}",
        "title": code,
        "status": status,
        "detail": code.lower(),
        "code": code,
    }
    return httpx.Response(status, headers=PROBLEM, content=json.dumps({**body, **extra}).encode())


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A chunked body without Content-Length; counts how much of it was pulled."""

    def __init__(self, count: int, size: int = 4096) -> None:
        self.count, self.size, self.pulled = count, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.pulled += 1
            yield b" " * self.size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.pulled += 1
            yield b" " * self.size


# --------------------------------------------------------------------------------------------- harness


class Api:
    """One client (sync or async) with a recorded sleep; ``call`` runs a method to completion."""

    def __init__(self, mode: str, credentials: Any = None, **options: Any) -> None:
        self.mode = mode
        self.sleeps: list[float] = []
        credentials = credentials if credentials is not None else APIKey("k" * 40)
        options.setdefault(
            "retry", RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=4.0, max_retry_after=30)
        )
        if mode == "sync":
            self.http: Any = httpx.Client(timeout=5.0)
            self.client: Any = PlatformClient(
                BASE, self.http, credentials, clock=CLOCK, sleep=self.sleeps.append, **options
            )
        else:
            self.http = httpx.AsyncClient(timeout=5.0)

            async def sleep(delay: float) -> None:
                self.sleeps.append(delay)

            self.client = AsyncPlatformClient(
                BASE, self.http, credentials, clock=CLOCK, sleep=sleep, **options
            )

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, name)(*args, **kwargs)
        if self.mode == "async":
            return asyncio.run(result)
        return result

    def fails(self, name: str, *args: Any, **kwargs: Any) -> MynaRPError:
        with pytest.raises(MynaRPError) as caught:
            self.call(name, *args, **kwargs)
        return caught.value


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api(mode: str) -> Api:
    return Api(mode)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mocked:
        yield mocked


STATUS_PATH = f"/certificates/{SERIAL:x}/status"


def _status(api: Api) -> Any:
    return api.call("certificate_status", SERIAL)


# --------------------------------------------------------------------------------------------- transport


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectTimeout("slow"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("x"),
    ],
    ids=["connect-timeout", "read-timeout", "connection-refused", "protocol-error"],
)
def test_transport_failures_are_retried_then_unavailable(
    api: Api, router: respx.MockRouter, failure: Exception
) -> None:
    route = router.get(STATUS_PATH).mock(side_effect=failure)
    error = api.fails("certificate_status", SERIAL)
    assert type(error) is PlatformError
    assert error.reason is Reason.PLATFORM_UNAVAILABLE
    assert route.call_count == 3
    assert len(api.sleeps) == 2
    assert all(0 <= s <= 4.0 for s in api.sleeps)
    assert isinstance(error.__cause__, httpx.HTTPError)


def test_transient_failure_then_success(api: Api, router: respx.MockRouter) -> None:
    router.get(STATUS_PATH).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(502), ok(status_body())]
    )
    result = _status(api)
    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.serial_number == SERIAL
    assert len(api.sleeps) == 2
    assert api.sleeps[0] <= 0.5
    assert api.sleeps[1] <= 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retried_then_unavailable(api: Api, router: respx.MockRouter, status: int) -> None:
    route = router.get(STATUS_PATH).mock(return_value=httpx.Response(status, text="<html>down</html>"))
    error = api.fails("certificate_status", SERIAL)
    assert isinstance(error, PlatformError)
    assert error.reason is Reason.PLATFORM_UNAVAILABLE
    assert error.status_code == status
    assert route.call_count == 3


def test_501_is_not_retried(api: Api, router: respx.MockRouter) -> None:
    route = router.get(STATUS_PATH).mock(return_value=httpx.Response(501))
    error = api.fails("certificate_status", SERIAL)
    assert error.reason is Reason.PLATFORM_UNAVAILABLE
    assert route.call_count == 1


def test_429_retry_after_seconds_is_honoured(api: Api, router: respx.MockRouter) -> None:
    router.get(STATUS_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), ok(status_body())]
    )
    assert _status(api).certificate.serial_number == SERIAL
    assert api.sleeps == [7.0]


def test_503_retry_after_http_date(api: Api, router: respx.MockRouter) -> None:
    when = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    router.get(STATUS_PATH).mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": when}), ok(status_body())]
    )
    _status(api)
    assert api.sleeps == [12.0]


def test_retry_after_above_the_cap_fails_at_once(api: Api, router: respx.MockRouter) -> None:
    route = router.get(STATUS_PATH).mock(return_value=httpx.Response(429, headers={"Retry-After": "120"}))
    error = api.fails("certificate_status", SERIAL)
    assert isinstance(error, PlatformError)
    assert error.reason is Reason.PLATFORM_UNAVAILABLE
    assert error.retry_after == 120.0
    assert error.status_code == 429
    assert route.call_count == 1
    assert api.sleeps == []


def test_429_exhausted(api: Api, router: respx.MockRouter) -> None:
    route = router.get(STATUS_PATH).mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    error = api.fails("certificate_status", SERIAL)
    assert error.reason is Reason.PLATFORM_UNAVAILABLE
    assert route.call_count == 3
    assert api.sleeps == [1.0, 1.0]


# --------------------------------------------------------------------------------------------- bad answers


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, headers=JSON, content=b"{not json"),
        httpx.Response(200, headers=JSON, content=b"\xff\xfe"),
        httpx.Response(200, headers={"content-type": "text/html"}, content=b"<html>captive portal</html>"),
        httpx.Response(200, content=json.dumps(status_body()).encode()),  # no content type at all
        httpx.Response(200, headers=JSON, content=b"[]"),
        ok({**status_body(), "revocation": {"status": "maybe"}}),
        ok({**status_body(), "checked_at": "2026-11-29T03:00:00"}),  # naive time
        ok(status_body(serial=SERIAL + 1)),  # an answer about another certificate
    ],
    ids=[
        "malformed-json",
        "not-utf8",
        "html",
        "no-content-type",
        "array",
        "bad-enum",
        "naive-time",
        "other-serial",
    ],
)
def test_invalid_answers(api: Api, router: respx.MockRouter, response: httpx.Response) -> None:
    route = router.get(STATUS_PATH).mock(return_value=response)
    error = api.fails("certificate_status", SERIAL)
    assert type(error) is PlatformError
    assert error.reason is Reason.PLATFORM_RESPONSE_INVALID
    assert route.call_count == 1  # not retried: the platform answered


def test_oversized_declared_body(mode: str, router: respx.MockRouter) -> None:
    api = Api(mode, max_response_bytes=2048)
    router.get(STATUS_PATH).mock(return_value=ok({**status_body(), "padding": "x" * 5000}))
    error = api.fails("certificate_status", SERIAL)
    assert error.reason is Reason.PLATFORM_RESPONSE_INVALID
    assert "2048" in error.message


def test_oversized_streamed_body_is_abandoned(mode: str, router: respx.MockRouter) -> None:
    api = Api(mode, max_response_bytes=16 * 1024)
    stream = Chunks(count=1000)
    router.get(STATUS_PATH).mock(return_value=httpx.Response(200, headers=JSON, stream=stream))
    error = api.fails("certificate_status", SERIAL)
    assert error.reason is Reason.PLATFORM_RESPONSE_INVALID
    assert stream.pulled <= 5  # stopped right after crossing 16 KiB, not after 4 MB


def test_answer_about_another_certificate(api: Api, router: respx.MockRouter) -> None:
    router.post("/signatures/verify").mock(return_value=ok(signature_body(der=_certificate(SERIAL))))
    error = api.fails("verify_signature", data=DATA, signature=b"s", certificate=CERT)
    assert error.reason is Reason.PLATFORM_RESPONSE_INVALID


def test_valid_answer_must_say_good(api: Api, router: respx.MockRouter) -> None:
    body = signature_body()
    body["revocation"] = _revocation_wire("revoked", "keyCompromise")
    router.post("/signatures/verify").mock(return_value=ok(body))
    assert api.fails("verify_signature", data=DATA, signature=b"s", certificate=CERT).reason is (
        Reason.PLATFORM_RESPONSE_INVALID
    )


# --------------------------------------------------------------------------------------------- idempotency


def test_signature_verification_is_retried(api: Api, router: respx.MockRouter) -> None:
    route = router.post("/signatures/verify").mock(side_effect=[httpx.Response(503), ok(signature_body())])
    result = api.call("verify_signature", data=DATA, signature=b"s", certificate=CERT)
    assert route.call_count == 2
    assert result.mode is VerificationMode.PLATFORM
    assert result.user_id == "u" * 43
    assert result.signed_content == DATA
    assert result.certificate.fingerprint_sha256 == hashlib.sha256(CERT).hexdigest()
    sent = json.loads(route.calls[0].request.content)
    assert base64.b64decode(sent["data"]) == DATA
    assert base64.b64decode(sent["certificate"]) == CERT


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(429, headers={"Retry-After": "1"})],
)
def test_challenge_and_login_are_not_retried(api: Api, router: respx.MockRouter, failure: Any) -> None:
    challenges = router.post("/authentication/challenges").mock(side_effect=[failure])
    assert api.fails("authentication_challenge").reason is Reason.PLATFORM_UNAVAILABLE
    logins = router.post("/authentication/verify").mock(side_effect=[failure])
    challenge = PlatformChallenge("chl_1", b"n" * 32, NOW + timedelta(minutes=5))
    assert (
        api.fails("verify_authentication", challenge=challenge, signature=b"s", certificate=CERT).reason
        is Reason.PLATFORM_UNAVAILABLE
    )
    assert challenges.call_count == 1
    assert logins.call_count == 1
    assert api.sleeps == []


# --------------------------------------------------------------------------------------------- error mapping


def test_client_errors_map_to_typed_reasons(api: Api, router: respx.MockRouter) -> None:
    verify = router.post("/signatures/verify")
    cases: list[tuple[httpx.Response, type[MynaRPError], Reason]] = [
        (problem(422, "SIGNATURE_INVALID"), VerificationError, Reason.SIGNATURE_INVALID),
        (problem(422, "UNTRUSTED_ISSUER"), VerificationError, Reason.UNTRUSTED_ISSUER),
        (problem(422, "CERTIFICATE_EXPIRED"), VerificationError, Reason.CERTIFICATE_EXPIRED),
        (problem(422, "WRONG_KEY_USAGE"), VerificationError, Reason.WRONG_KEY_USAGE),
        (problem(422, "MALFORMED_INPUT"), MalformedInputError, Reason.MALFORMED_INPUT),
        (problem(422, "VALIDATION_ERROR"), PlatformError, Reason.PLATFORM_REJECTED),
        (problem(404, "NOT_FOUND"), PlatformError, Reason.PLATFORM_REJECTED),
        (httpx.Response(400, text="<html>bad</html>"), PlatformError, Reason.PLATFORM_REJECTED),
        (problem(401, "INVALID_CLIENT"), PlatformError, Reason.CLIENT_AUTHENTICATION_FAILED),
        (problem(403, "FORBIDDEN"), PlatformError, Reason.PLATFORM_REJECTED),
    ]
    for response, kind, reason in cases:
        verify.mock(return_value=response)
        error = api.fails("verify_signature", data=DATA, signature=b"s", certificate=CERT)
        assert type(error) is kind, (response.status_code, error)
        assert error.reason is reason


def test_revoked_problem_carries_the_status(api: Api, router: respx.MockRouter) -> None:
    router.post("/signatures/verify").mock(
        return_value=problem(
            422, "CERTIFICATE_REVOKED", revocation=_revocation_wire("revoked", "affiliationChanged")
        )
    )
    error = api.fails("verify_signature", data=DATA, signature=b"s", certificate=CERT)
    assert isinstance(error, CertificateRevokedError)
    assert error.reason is Reason.CERTIFICATE_REVOKED
    status: Any = error.status
    assert status.status is CertStatus.REVOKED
    assert status.reason is RevocationReason.AFFILIATION_CHANGED
    assert status.serial_number == SERIAL


def test_on_hold_problem(api: Api, router: respx.MockRouter) -> None:
    router.post("/signatures/verify").mock(return_value=problem(422, "CERTIFICATE_ON_HOLD"))
    error = api.fails("verify_signature", data=DATA, signature=b"s", certificate=CERT)
    assert isinstance(error, CertificateRevokedError)
    assert error.reason is Reason.CERTIFICATE_ON_HOLD


def test_consent_and_challenge_problems(api: Api, router: respx.MockRouter) -> None:
    router.get(f"/users/{'u' * 43}/attributes").mock(return_value=problem(403, "CONSENT_REQUIRED"))
    error = api.fails("latest_attributes", "u" * 43)
    assert type(error) is PlatformError
    assert error.reason is Reason.CONSENT_REQUIRED
    assert error.status_code == 403
    router.post("/authentication/verify").mock(return_value=problem(409, "CHALLENGE_REPLAYED"))
    challenge = PlatformChallenge("chl_1", b"n" * 32, NOW)
    replay = api.fails("verify_authentication", challenge=challenge, signature=b"s", certificate=CERT)
    assert isinstance(replay, ChallengeError)
    assert replay.reason is Reason.CHALLENGE_REPLAYED


def test_latest_attributes(api: Api, router: respx.MockRouter) -> None:
    user = "u" * 43
    router.get(f"/users/{user}/attributes").mock(
        return_value=ok({"user_id": user, "attributes": ATTRIBUTES, "as_of": "2026-11-29T03:00:00Z"})
    )
    attributes = api.call("latest_attributes", user)
    assert attributes.name == ATTRIBUTES["name"]
    assert attributes.date_of_birth.raw == "319850704"
    router.get(f"/users/{'v' * 43}/attributes").mock(
        return_value=ok({"user_id": user, "attributes": ATTRIBUTES, "as_of": "2026-11-29T03:00:00Z"})
    )
    assert api.fails("latest_attributes", "v" * 43).reason is Reason.PLATFORM_RESPONSE_INVALID


# ------------------------------------------------------------------------------------------ private_key_jwt


def _jwt_api(mode: str) -> tuple[Api, ECKey]:
    key = ECKey.generate_key("P-256", parameters={"kid": "bank-1"}, private=True)
    return Api(mode, PrivateKeyJWT("bank", key)), key


def _token_answer(value: str, expires_in: int = 300) -> httpx.Response:
    return ok({"access_token": value, "token_type": "Bearer", "expires_in": expires_in})


def test_token_fetched_once_and_sent(mode: str, router: respx.MockRouter) -> None:
    api, key = _jwt_api(mode)
    token = router.post("/token").mock(return_value=_token_answer("tok-1"))
    status = router.get(STATUS_PATH).mock(return_value=ok(status_body()))
    _status(api)
    _status(api)
    assert token.call_count == 1
    assert status.call_count == 2
    assert status.calls[1].request.headers["authorization"] == "Bearer tok-1"
    form = dict(httpx.QueryParams(token.calls[0].request.content.decode()))
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    decoded = jwt.decode(form["client_assertion"], key, algorithms=["ES256"])
    claims = decoded.claims
    assert decoded.header["kid"] == "bank-1"
    assert claims["iss"] == claims["sub"] == "bank"
    assert claims["aud"] == BASE + "/token"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["jti"]


def test_expired_token_is_refreshed_once(mode: str, router: respx.MockRouter) -> None:
    api, _ = _jwt_api(mode)
    token = router.post("/token").mock(side_effect=[_token_answer("old"), _token_answer("new")])
    status = router.get(STATUS_PATH).mock(side_effect=[problem(401, "INVALID_TOKEN"), ok(status_body())])
    _status(api)
    assert token.call_count == 2
    assert [call.request.headers["authorization"] for call in status.calls] == ["Bearer old", "Bearer new"]


def test_token_refused_twice_fails(mode: str, router: respx.MockRouter) -> None:
    api, _ = _jwt_api(mode)
    router.post("/token").mock(side_effect=[_token_answer("a"), _token_answer("b")])
    router.get(STATUS_PATH).mock(return_value=problem(401, "INVALID_TOKEN"))
    error = api.fails("certificate_status", SERIAL)
    assert error.reason is Reason.CLIENT_AUTHENTICATION_FAILED


def test_client_assertion_refused(mode: str, router: respx.MockRouter) -> None:
    api, _ = _jwt_api(mode)
    token = router.post("/token").mock(return_value=problem(401, "INVALID_CLIENT", error="invalid_client"))
    status = router.get(STATUS_PATH).mock(return_value=ok(status_body()))
    assert api.fails("certificate_status", SERIAL).reason is Reason.CLIENT_AUTHENTICATION_FAILED
    assert token.call_count == 1
    assert status.call_count == 0


def test_token_request_retried_with_a_fresh_assertion(mode: str, router: respx.MockRouter) -> None:
    api, _ = _jwt_api(mode)
    token = router.post("/token").mock(side_effect=[httpx.ConnectError("down"), _token_answer("t")])
    router.get(STATUS_PATH).mock(return_value=ok(status_body()))
    _status(api)
    first, second = (dict(httpx.QueryParams(c.request.content.decode())) for c in token.calls)
    assert first["client_assertion"] != second["client_assertion"]


def test_malformed_token_answer(mode: str, router: respx.MockRouter) -> None:
    api, _ = _jwt_api(mode)
    router.post("/token").mock(return_value=ok({"access_token": "x", "token_type": "mac", "expires_in": 60}))
    assert api.fails("certificate_status", SERIAL).reason is Reason.PLATFORM_RESPONSE_INVALID


# --------------------------------------------------------------------------------------------- configuration


def test_client_without_timeout_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        PlatformClient(BASE, httpx.Client(timeout=None), APIKey("k" * 40), clock=CLOCK)
    with pytest.raises(ConfigurationError):
        AsyncPlatformClient(BASE, httpx.AsyncClient(timeout=None), APIKey("k" * 40), clock=CLOCK)
    with pytest.raises(ConfigurationError):
        PlatformClient(
            BASE, httpx.Client(timeout=None), APIKey("k" * 40), timeout=httpx.Timeout(None, connect=1)
        )


def test_per_request_timeout_is_set(mode: str, router: respx.MockRouter) -> None:
    if mode == "sync":
        client: Any = PlatformClient(
            BASE, httpx.Client(timeout=None), APIKey("k" * 40), clock=CLOCK, timeout=2.5
        )
    else:
        client = AsyncPlatformClient(
            BASE, httpx.AsyncClient(timeout=None), APIKey("k" * 40), clock=CLOCK, timeout=2.5
        )
    route = router.get(STATUS_PATH).mock(return_value=ok(status_body()))
    result = client.certificate_status(SERIAL)
    if mode == "async":
        asyncio.run(result)
    sent = route.calls[0].request
    assert sent.extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert sent.headers["x-api-key"] == "k" * 40


@pytest.mark.parametrize(
    "make",
    [
        lambda: PlatformClient("/relative", httpx.Client(timeout=1), APIKey("k" * 40)),
        lambda: PlatformClient("ftp://x.example/", httpx.Client(timeout=1), APIKey("k" * 40)),
        lambda: PlatformClient(BASE, httpx.AsyncClient(timeout=1), APIKey("k" * 40)),  # type: ignore[arg-type]
        lambda: PlatformClient(BASE, httpx.Client(timeout=1), "secret"),  # type: ignore[arg-type]
        lambda: PlatformClient(BASE, httpx.Client(timeout=1), APIKey("k" * 40), max_response_bytes=10),
        lambda: PrivateKeyJWT("bank", ECKey.generate_key("P-256", private=True), algorithm="HS256"),
        lambda: PrivateKeyJWT("bank", ECKey.generate_key("P-256", private=True), algorithm="RS256"),
        lambda: PrivateKeyJWT("bank", ECKey.generate_key("P-256", private=False)),
        lambda: PrivateKeyJWT("", ECKey.generate_key("P-256", private=True)),
        lambda: RetryPolicy(max_attempts=0),
        lambda: APIKey(""),
    ],
)
def test_bad_configuration(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigurationError):
        make()


def test_rsa_private_key_jwt_ps256(router: respx.MockRouter) -> None:
    key = RSAKey.generate_key(2048, private=True)
    api = Api("sync", PrivateKeyJWT("bank", key, algorithm="PS256"))
    token = router.post("/token").mock(return_value=_token_answer("t"))
    router.get(STATUS_PATH).mock(return_value=ok(status_body()))
    _status(api)
    assertion = dict(httpx.QueryParams(token.calls[0].request.content.decode()))["client_assertion"]
    assert jwt.decode(assertion, key, algorithms=["PS256"]).header["alg"] == "PS256"
    assert "kid" not in jwt.decode(assertion, key, algorithms=["PS256"]).header


def test_bad_arguments_are_typed(api: Api) -> None:
    assert api.fails("verify_signature", data="text", signature=b"s", certificate=CERT).reason is (
        Reason.MALFORMED_INPUT
    )
    assert api.fails(
        "verify_signature", data=DATA, signature=b"s", certificate=b"not a certificate"
    ).reason is (Reason.MALFORMED_INPUT)
    assert api.fails("certificate_status", 0).reason is Reason.MALFORMED_INPUT
    assert api.fails("latest_attributes", "").reason is Reason.MALFORMED_INPUT
