"""Transport faults between the SDK and the mock platform, injected with a ``respx`` router mounted on the
SDK's ``httpx.Client`` (``httpx.MockTransport(router.handler)``). Routes that are not under test forward
to the real in-process mock, so a fallback source gives a real, signed answer.

Every fault must end as one of the SDK's typed errors — ``RevocationUnavailableError`` under a hard-fail
policy with no other source — or, under ``PREFER_OCSP_THEN_CRL``, as the CRL's answer; never as an httpx
or cryptography exception.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from integration_support import (
    BASE_URL,
    OCSP_RESPONSE_TYPE,
    OCSP_URL,
    Enrolled,
    MockPlatform,
    status_of,
)

from mock_platform.ca.token import TokenSimulator
from myna_rp.errors import (
    CertificateRevokedError,
    CRLFailure,
    FetchFailure,
    MynaRPError,
    OCSPFailure,
    Reason,
    RevocationSourceError,
    RevocationUnavailableError,
)
from myna_rp.jpki import JPKIVerification, JPKIVerifier
from myna_rp.revocation import (
    CertStatus,
    OCSPClient,
    RevocationChecker,
    RevocationPolicy,
    RevocationSource,
    build_ocsp_request,
)

REQUIRE_WITH_NONCE = dataclasses.replace(
    RevocationPolicy.REQUIRE, name="REQUIRE_WITH_NONCE", require_ocsp_nonce=True
)
CRL_PREFIX = BASE_URL + "/crl/"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def mock(shared_mock: MockPlatform) -> MockPlatform:
    return shared_mock


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def http(router: respx.Router) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(router.handler), timeout=5.0)


@pytest.fixture
def enrolled(mock: MockPlatform, tokens: dict[str, TokenSimulator]) -> Enrolled:
    return mock.enroll(tokens["card_signing"])


def forward(mock: MockPlatform) -> Handler:
    """A respx side effect that passes the request on to the in-process mock (recorded on mock.wire)."""
    return mock.wire.handle_request


def ocsp_error(status: ocsp.OCSPResponseStatus) -> httpx.Response:
    der = ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(Encoding.DER)
    return httpx.Response(200, content=der, headers={"content-type": OCSP_RESPONSE_TYPE})


def verify(verifier: JPKIVerifier, enrolled: Enrolled) -> JPKIVerification:
    return verifier.verify_signature(
        data=b"challenge", signature=enrolled.token.sign(b"challenge"), certificate=enrolled.certificate
    )


def unavailable(verifier: JPKIVerifier, enrolled: Enrolled) -> RevocationUnavailableError:
    with pytest.raises(MynaRPError) as caught:  # anything else (httpx, cryptography) fails the test
        verify(verifier, enrolled)
    error = caught.value
    assert type(error) is RevocationUnavailableError
    assert error.reason is Reason.REVOCATION_UNAVAILABLE
    assert error.chain[0] == enrolled.certificate
    return error


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# (fault, the OCSPClient's error cause, requests made: transport errors are retried once)
OCSP_FAULTS: dict[str, tuple[httpx.Response | Exception, FetchFailure | OCSPFailure, int]] = {
    "read-timeout": (httpx.ReadTimeout("responder too slow"), FetchFailure.TIMEOUT, 2),
    "connect-timeout": (httpx.ConnectTimeout("no route"), FetchFailure.TIMEOUT, 2),
    "connect-error": (httpx.ConnectError("connection refused"), FetchFailure.TRANSPORT, 2),
    "protocol-error": (httpx.RemoteProtocolError("peer closed"), FetchFailure.TRANSPORT, 2),
    "http-500": (
        httpx.Response(500, json={"code": "INTERNAL_ERROR"}, headers={"content-type": "application/json"}),
        FetchFailure.HTTP_STATUS,
        1,
    ),
    "http-503": (httpx.Response(503, headers={"retry-after": "30"}), FetchFailure.HTTP_STATUS, 1),
    "garbage-body": (
        httpx.Response(200, content=b"\x30\x82\xff\xffgarbage", headers={"content-type": OCSP_RESPONSE_TYPE}),
        OCSPFailure.MALFORMED,
        1,
    ),
    "empty-body": (
        httpx.Response(200, content=b"", headers={"content-type": OCSP_RESPONSE_TYPE}),
        OCSPFailure.MALFORMED,
        1,
    ),
    "bad-gzip": (
        httpx.Response(
            200,
            stream=httpx.ByteStream(b"not gzip at all"),
            headers={"content-type": OCSP_RESPONSE_TYPE, "content-encoding": "gzip"},
        ),
        FetchFailure.TRANSPORT,
        1,
    ),
    "wrong-content-type": (
        httpx.Response(200, content=b"<html>captive portal</html>", headers={"content-type": "text/html"}),
        FetchFailure.CONTENT_TYPE,
        1,
    ),
    "too-large": (
        httpx.Response(200, content=b"\x00" * ((1 << 20) + 1), headers={"content-type": OCSP_RESPONSE_TYPE}),
        FetchFailure.TOO_LARGE,
        1,
    ),
    "tryLater": (ocsp_error(ocsp.OCSPResponseStatus.TRY_LATER), OCSPFailure.RESPONDER_ERROR, 1),
    "internalError": (ocsp_error(ocsp.OCSPResponseStatus.INTERNAL_ERROR), OCSPFailure.RESPONDER_ERROR, 1),
    "unauthorized": (ocsp_error(ocsp.OCSPResponseStatus.UNAUTHORIZED), OCSPFailure.RESPONDER_ERROR, 1),
    "sigRequired": (ocsp_error(ocsp.OCSPResponseStatus.SIG_REQUIRED), OCSPFailure.RESPONDER_ERROR, 1),
}


def mount(route: respx.Route, fault: httpx.Response | Exception) -> None:
    if isinstance(fault, httpx.Response):
        route.mock(return_value=fault)
    else:
        route.mock(side_effect=fault)


@pytest.mark.parametrize("fault", list(OCSP_FAULTS))
def test_ocsp_fault_is_typed_and_hard_fails_without_another_source(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled, fault: str
) -> None:
    effect, cause, calls = OCSP_FAULTS[fault]
    route = router.post(OCSP_URL)
    mount(route, effect)
    sleeps = Sleeps()

    # The client itself: one of our source errors, with the specific cause.
    client = mock.ocsp_client(http, sleep=sleeps)
    with pytest.raises(MynaRPError) as caught:
        client.check(
            enrolled.certificate,
            mock.root("signing", 2),
            at=mock.clock.now(),
            policy=RevocationPolicy.REQUIRE,
        )
    assert isinstance(caught.value, RevocationSourceError)
    assert caught.value.cause is cause
    assert caught.value.source_label == OCSP_URL
    assert route.call_count == calls
    assert len(sleeps.calls) == calls - 1  # backoff only between transport retries

    # The verifier under REQUIRE with OCSP as the only source: REVOCATION_UNAVAILABLE, the cause recorded.
    checker = RevocationChecker(ocsp=client, crls=None, clock=mock.clock)
    error = unavailable(mock.verifier(RevocationPolicy.REQUIRE, checker=checker), enrolled)
    assert any(cause.value in attempt and OCSP_URL in attempt for attempt in error.attempts), error.attempts
    assert any(attempt.startswith("crl:") for attempt in error.attempts), error.attempts
    assert route.call_count == 2 * calls


@pytest.mark.parametrize("fault", list(OCSP_FAULTS))
def test_ocsp_fault_falls_back_to_the_crl(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled, fault: str
) -> None:
    mount(router.post(OCSP_URL), OCSP_FAULTS[fault][0])
    router.get(url__startswith=CRL_PREFIX).mock(side_effect=forward(mock))

    result = verify(
        mock.verifier(RevocationPolicy.PREFER_OCSP_THEN_CRL, checker=mock.checker(http=http)), enrolled
    )

    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.source is RevocationSource.CRL
    assert [e.url for e in mock.wire.crl()] == [mock.crl_url("signing", 2)]
    assert mock.wire.ocsp() == []  # nothing reached the real responder


def test_crl_fallback_reports_a_revocation(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled
) -> None:
    mock.revoke(enrolled.serial_hex, "keyCompromise")
    mock.issue_crls(purpose="signing")
    router.post(OCSP_URL).mock(return_value=ocsp_error(ocsp.OCSPResponseStatus.TRY_LATER))
    router.get(url__startswith=CRL_PREFIX).mock(side_effect=forward(mock))

    with pytest.raises(CertificateRevokedError) as caught:
        verify(
            mock.verifier(RevocationPolicy.PREFER_OCSP_THEN_CRL, checker=mock.checker(http=http)), enrolled
        )
    assert caught.value.reason is Reason.CERTIFICATE_REVOKED
    assert status_of(caught.value).source is RevocationSource.CRL


def test_503_is_not_retried_and_the_next_verification_succeeds(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled
) -> None:
    """HTTP answers are never retried within a call (documented); the caller's next attempt succeeds."""
    answers: list[Handler] = [lambda _request: httpx.Response(503), forward(mock)]
    route = router.post(OCSP_URL).mock(side_effect=lambda request: answers.pop(0)(request))
    verifier = mock.verifier(REQUIRE_WITH_NONCE, checker=mock.checker(http=http, crl=False))

    error = unavailable(verifier, enrolled)
    assert any(FetchFailure.HTTP_STATUS.value in attempt for attempt in error.attempts)
    assert route.call_count == 1

    result = verify(verifier, enrolled)  # nothing was cached from the failure
    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.source is RevocationSource.OCSP
    assert route.call_count == 2


def test_a_timeout_is_retried_within_one_verification(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled
) -> None:
    failures: list[Exception] = [httpx.ReadTimeout("slow")]
    passthrough = forward(mock)

    def flaky(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop()
        return passthrough(request)

    route = router.post(OCSP_URL).mock(side_effect=flaky)
    sleeps = Sleeps()
    checker = RevocationChecker(
        ocsp=mock.ocsp_client(http, sleep=sleeps, backoff=0.25), crls=None, clock=mock.clock
    )
    result = verify(mock.verifier(REQUIRE_WITH_NONCE, checker=checker), enrolled)
    assert result.revocation.status is CertStatus.GOOD
    assert route.call_count == 2
    assert sleeps.calls == [0.25]
    # The retry re-sent the same request (same nonce) and the answer echoed it.
    (exchange,) = mock.wire.ocsp()
    assert exchange.request_body == route.calls[0].request.content


def test_timeout_configured_on_the_client_is_sent_with_each_request(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled
) -> None:
    route = router.post(OCSP_URL).mock(side_effect=forward(mock))
    checker = RevocationChecker(ocsp=mock.ocsp_client(http, timeout=2.5), crls=None, clock=mock.clock)
    verify(mock.verifier(checker=checker), enrolled)
    request = route.calls.last.request
    assert request.extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert request.headers["content-type"] == "application/ocsp-request"


# -- the nonce (RFC 8954) ------------------------------------------------------------------------------


def test_a_responder_that_drops_the_nonce(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled
) -> None:
    """The request is forwarded without its nonce: a genuine, signed, fresh answer with no echo."""
    issuer = mock.root("signing", 2)
    passthrough = forward(mock)

    def strip_nonce(request: httpx.Request) -> httpx.Response:
        stripped = build_ocsp_request(enrolled.certificate, issuer, include_nonce=False).der
        return passthrough(httpx.Request("POST", request.url, headers=request.headers, content=stripped))

    router.post(OCSP_URL).mock(side_effect=strip_nonce)
    checker = mock.checker(http=http, crl=False)

    error = unavailable(mock.verifier(REQUIRE_WITH_NONCE, checker=checker), enrolled)
    assert any(OCSPFailure.NONCE_MISSING.value in attempt for attempt in error.attempts), error.attempts
    # Without the requirement the same answer is accepted.
    fresh = mock.checker(http=http, crl=False)
    assert verify(mock.verifier(RevocationPolicy.REQUIRE, checker=fresh), enrolled).revocation.status is (
        CertStatus.GOOD
    )


def test_a_replayed_response_is_refused_and_the_crl_decides(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled
) -> None:
    """A GOOD answer captured before the revocation, replayed later: the nonce gives it away."""
    passthrough = forward(mock)
    captured: list[httpx.Response] = []

    def capture_then_replay(request: httpx.Request) -> httpx.Response:
        if not captured:
            captured.append(passthrough(request))
        return httpx.Response(200, content=captured[0].content, headers={"content-type": OCSP_RESPONSE_TYPE})

    router.post(OCSP_URL).mock(side_effect=capture_then_replay)
    router.get(url__startswith=CRL_PREFIX).mock(side_effect=forward(mock))
    assert verify(mock.verifier(checker=mock.checker(http=http, crl=False)), enrolled).revocation.status is (
        CertStatus.GOOD
    )

    mock.revoke(enrolled.serial_hex, "keyCompromise")
    mock.issue_crls(purpose="signing")
    error = unavailable(mock.verifier(checker=mock.checker(http=http, crl=False)), enrolled)
    assert any(OCSPFailure.NONCE_MISMATCH.value in attempt for attempt in error.attempts), error.attempts
    with pytest.raises(CertificateRevokedError) as caught:
        verify(
            mock.verifier(RevocationPolicy.PREFER_OCSP_THEN_CRL, checker=mock.checker(http=http)), enrolled
        )
    assert status_of(caught.value).source is RevocationSource.CRL
    assert status_of(caught.value).status is CertStatus.REVOKED


# -- CRL faults ----------------------------------------------------------------------------------------


def _other_purpose_crl(mock: MockPlatform) -> httpx.Response:
    return mock.admin.get("/crl/user_authentication/2.crl")


CRL_FAULTS: dict[
    str, tuple[Callable[[MockPlatform], httpx.Response | Exception], FetchFailure | CRLFailure]
] = {
    "read-timeout": (lambda _m: httpx.ReadTimeout("slow"), FetchFailure.TIMEOUT),
    "connect-error": (lambda _m: httpx.ConnectError("refused"), FetchFailure.TRANSPORT),
    "http-404": (lambda _m: httpx.Response(404), FetchFailure.HTTP_STATUS),
    "http-500": (lambda _m: httpx.Response(500), FetchFailure.HTTP_STATUS),
    "html": (
        lambda _m: httpx.Response(200, content=b"<html/>", headers={"content-type": "text/html"}),
        FetchFailure.CONTENT_TYPE,
    ),
    "garbage": (
        lambda _m: httpx.Response(
            200, content=b"not a crl", headers={"content-type": "application/pkix-crl"}
        ),
        CRLFailure.MALFORMED,
    ),
    "other-purposes-crl": (
        lambda m: httpx.Response(
            200, content=_other_purpose_crl(m).content, headers={"content-type": "application/pkix-crl"}
        ),
        CRLFailure.ISSUER_MISMATCH,
    ),
}


@pytest.mark.parametrize("fault", list(CRL_FAULTS))
def test_crl_fault(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled, fault: str
) -> None:
    make, cause = CRL_FAULTS[fault]
    effect = make(mock)
    crl_route = router.get(url__startswith=CRL_PREFIX)
    mount(crl_route, effect)
    router.post(OCSP_URL).mock(side_effect=forward(mock))

    # CRL_ONLY: no answer → REVOCATION_UNAVAILABLE, each configured URL tried, the cause recorded.
    error = unavailable(mock.verifier(RevocationPolicy.CRL_ONLY, checker=mock.checker(http=http)), enrolled)
    assert any(cause.value in attempt for attempt in error.attempts), error.attempts
    assert {str(call.request.url) for call in crl_route.calls} == {
        mock.crl_url("signing", 2),
        mock.crl_url("signing", 1),
    }

    # REQUIRE consults both; OCSP alone still gives a definitive answer.
    result = verify(mock.verifier(RevocationPolicy.REQUIRE, checker=mock.checker(http=http)), enrolled)
    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.source is RevocationSource.OCSP

    # PREFER_OCSP_THEN_CRL never needs the CRL when OCSP answers.
    calls = crl_route.call_count
    verify(mock.verifier(RevocationPolicy.PREFER_OCSP_THEN_CRL, checker=mock.checker(http=http)), enrolled)
    assert crl_route.call_count == calls


def test_everything_down_under_require(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled
) -> None:
    router.post(OCSP_URL).mock(side_effect=httpx.ConnectError("down"))
    router.get(url__startswith=CRL_PREFIX).mock(side_effect=httpx.ConnectError("down"))
    for policy in (RevocationPolicy.REQUIRE, RevocationPolicy.PREFER_OCSP_THEN_CRL, REQUIRE_WITH_NONCE):
        error = unavailable(mock.verifier(policy, checker=mock.checker(http=http)), enrolled)
        sources = {attempt.split(":", 1)[0] for attempt in error.attempts}
        assert OCSP_URL.split(":", 1)[0] in sources  # labelled by URL: "http://…"
        assert len(error.attempts) == 3  # the OCSP URL and both CRL URLs


def test_soft_fail_policy_reports_unknown_instead_of_raising(
    mock: MockPlatform, router: respx.Router, http: httpx.Client, enrolled: Enrolled
) -> None:
    router.post(OCSP_URL).mock(side_effect=httpx.ConnectError("down"))
    router.get(url__startswith=CRL_PREFIX).mock(side_effect=httpx.ConnectError("down"))
    soft = dataclasses.replace(RevocationPolicy.REQUIRE, name="SOFT", hard_fail=False)
    result = verify(mock.verifier(soft, checker=mock.checker(http=http)), enrolled)
    assert result.revocation.status is CertStatus.UNKNOWN
    assert result.revocation.source is None


def test_no_responder_configured_for_the_issuer(mock: MockPlatform, enrolled: Enrolled) -> None:
    """JPKI leaves carry no AIA: without a configured URL there is no OCSP source at all."""
    client = OCSPClient(mock.http, {mock.subject("user_authentication"): OCSP_URL})  # signing missing
    checker = RevocationChecker(ocsp=client, crls=None, clock=mock.clock)
    error = unavailable(mock.verifier(checker=checker), enrolled)
    assert any(FetchFailure.NO_SOURCE.value in attempt for attempt in error.attempts)
    assert mock.wire.exchanges == []
