"""HTTP faults for OCSP and CRL fetching (respx): typed errors, retries, never an httpx exception."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID
from revocation_pki import NOW, PKI, ec_key, issue, make_crl, make_ocsp

from myna_rp.clock import FixedClock
from myna_rp.errors import (
    FetchFailure,
    OCSPFailure,
    OCSPResponseInvalidError,
    RevocationFetchError,
    RevocationSourceError,
    RevocationUnavailableError,
)
from myna_rp.revocation import CertStatus, CRLSource, OCSPClient, RevocationChecker, RevocationPolicy

OCSP_URL = "http://ocsp.test/responder"
CRL_URL = "http://crl.test/ca.crl"
OCSP_TYPE = {"content-type": "application/ocsp-response"}


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def echo_good(pki: PKI) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            encoded = request.url.raw_path.decode("ascii").rsplit("/", 1)[1]
            body = base64.b64decode(urllib.parse.unquote(encoded))
        else:
            body = request.content
        nonce = (
            ocsp.load_der_ocsp_request(body).extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        )
        return httpx.Response(
            200, content=make_ocsp(cert=pki.leaf, issuer=pki.root, nonce=nonce), headers=OCSP_TYPE
        )

    return answer


def client(http: httpx.Client, pki: PKI, **kwargs: object) -> OCSPClient:
    options: dict[str, object] = {"sleep": Sleeps()}
    options.update(kwargs)
    return OCSPClient(http, {pki.root.cert.subject: OCSP_URL}, **options)  # type: ignore[arg-type]


def test_post_request_shape_and_timeout(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    route = router.post(OCSP_URL).mock(side_effect=echo_good(pki))
    status = client(http, pki, timeout=3.0).check(
        pki.leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE
    )
    assert status.status is CertStatus.GOOD
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/ocsp-request"
    parsed = ocsp.load_der_ocsp_request(request.content)
    assert parsed.serial_number == pki.leaf.cert.serial_number
    assert request.extensions["timeout"] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}


def test_get_request(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    route = router.get(url__startswith=OCSP_URL + "/").mock(side_effect=echo_good(pki))
    status = client(http, pki, use_get=True).check(
        pki.leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE
    )
    assert status.status is CertStatus.GOOD
    assert route.call_count == 1


def test_nonce_mismatch_from_the_wire(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    router.post(OCSP_URL).mock(
        return_value=httpx.Response(
            200, content=make_ocsp(cert=pki.leaf, issuer=pki.root, nonce=b"\x00" * 32), headers=OCSP_TYPE
        )
    )
    with pytest.raises(OCSPResponseInvalidError) as caught:
        client(http, pki).check(pki.leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE)
    assert caught.value.cause is OCSPFailure.NONCE_MISMATCH
    assert caught.value.source_label == OCSP_URL


FAULTS: dict[str, tuple[httpx.Response | Exception, FetchFailure, int]] = {
    "connect-timeout": (httpx.ConnectTimeout("slow"), FetchFailure.TIMEOUT, 2),
    "read-timeout": (httpx.ReadTimeout("slow"), FetchFailure.TIMEOUT, 2),
    "connect-error": (httpx.ConnectError("refused"), FetchFailure.TRANSPORT, 2),
    "http-503": (httpx.Response(503), FetchFailure.HTTP_STATUS, 1),
    "http-500": (httpx.Response(500, content=b"oops", headers=OCSP_TYPE), FetchFailure.HTTP_STATUS, 1),
    "redirect": (
        httpx.Response(302, headers={"location": "http://elsewhere.test/"}),
        FetchFailure.HTTP_STATUS,
        1,
    ),
    "html": (
        httpx.Response(200, content=b"<html>login</html>", headers={"content-type": "text/html"}),
        FetchFailure.CONTENT_TYPE,
        1,
    ),
    "no-content-type": (httpx.Response(200, content=b"\x30\x03\x0a\x01\x00"), FetchFailure.CONTENT_TYPE, 1),
    "too-large": (httpx.Response(200, content=b"\x00" * 2048, headers=OCSP_TYPE), FetchFailure.TOO_LARGE, 1),
}


def _mock(route: respx.Route, fault: httpx.Response | Exception) -> None:
    if isinstance(fault, httpx.Response):
        route.mock(return_value=fault)
    else:
        route.mock(side_effect=fault)


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_ocsp_transport_faults(router: respx.MockRouter, http: httpx.Client, pki: PKI, fault: str) -> None:
    effect, cause, calls = FAULTS[fault]
    route = router.post(OCSP_URL)
    _mock(route, effect)
    sleeps = Sleeps()
    ocsp_client = client(http, pki, sleep=sleeps, max_response_bytes=1024)
    with pytest.raises(RevocationFetchError) as caught:
        ocsp_client.check(pki.leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE)
    assert caught.value.cause is cause
    assert route.call_count == calls
    assert len(sleeps.calls) == calls - 1  # backoff only between transport retries


def test_retries_are_bounded_with_exponential_backoff(
    router: respx.MockRouter, http: httpx.Client, pki: PKI
) -> None:
    route = router.post(OCSP_URL).mock(side_effect=httpx.ConnectError("refused"))
    sleeps = Sleeps()
    with pytest.raises(RevocationFetchError):
        client(http, pki, retries=3, backoff=0.5, sleep=sleeps).check(
            pki.leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE
        )
    assert route.call_count == 4
    assert sleeps.calls == [0.5, 1.0, 2.0]


def test_retry_then_success(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    good = echo_good(pki)
    outcomes = iter([httpx.ConnectTimeout("slow")])

    def flaky(request: httpx.Request) -> httpx.Response:
        failure = next(outcomes, None)
        if failure is not None:
            raise failure
        return good(request)

    route = router.post(OCSP_URL).mock(side_effect=flaky)
    status = client(http, pki).check(pki.leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE)
    assert status.status is CertStatus.GOOD
    assert route.call_count == 2


@pytest.mark.parametrize("body", [b"", b"garbage", b"\x30\x82\xff\xff", b"\x30\x03\x0a\x01\x00"])
def test_garbage_body(router: respx.MockRouter, http: httpx.Client, pki: PKI, body: bytes) -> None:
    router.post(OCSP_URL).mock(return_value=httpx.Response(200, content=body, headers=OCSP_TYPE))
    with pytest.raises(OCSPResponseInvalidError) as caught:
        client(http, pki).check(pki.leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE)
    assert caught.value.cause in (OCSPFailure.MALFORMED, OCSPFailure.RESPONDER_ERROR)


def test_no_responder(http: httpx.Client, pki: PKI) -> None:
    with pytest.raises(RevocationFetchError) as caught:
        OCSPClient(http).check(pki.leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE)
    assert caught.value.cause is FetchFailure.NO_SOURCE


def test_aia_fallback(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    aia = x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://aia.test/ocsp")
            )
        ]
    )
    leaf = issue(
        "AIA leaf", ec_key(), pki.root, serial=pki.leaf.cert.serial_number, ca=False, extra=[(aia, False)]
    )
    assert OCSPClient(http).responder_urls(leaf.cert, pki.root.cert) == ("http://aia.test/ocsp",)
    assert OCSPClient(http, use_aia=False).responder_urls(leaf.cert, pki.root.cert) == ()
    configured = OCSPClient(http, {pki.root.cert.subject: OCSP_URL})
    assert configured.responder_urls(leaf.cert, pki.root.cert) == (OCSP_URL, "http://aia.test/ocsp")
    router.post("http://aia.test/ocsp").mock(side_effect=echo_good(pki))
    status = OCSPClient(http).check(leaf.cert, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE)
    assert status.status is CertStatus.GOOD


@pytest.mark.parametrize("fault", [*FAULTS, "garbage"], ids=[*FAULTS, "garbage"])
def test_faults_under_require_are_revocation_unavailable(
    router: respx.MockRouter, http: httpx.Client, pki: PKI, fault: str
) -> None:
    ocsp_route, crl_route = router.post(OCSP_URL), router.get(CRL_URL)
    if fault == "garbage":
        ocsp_route.mock(return_value=httpx.Response(200, content=b"garbage", headers=OCSP_TYPE))
        crl_route.mock(
            return_value=httpx.Response(
                200, content=b"garbage", headers={"content-type": "application/pkix-crl"}
            )
        )
    else:
        _mock(ocsp_route, FAULTS[fault][0])
        _mock(crl_route, FAULTS[fault][0])
    checker = RevocationChecker(
        ocsp=client(http, pki, max_response_bytes=1024),
        crls=CRLSource(
            urls={pki.root.cert.subject: [CRL_URL]}, http=http, sleep=lambda _: None, max_crl_bytes=1024
        ),
        clock=FixedClock(NOW),
    )
    with pytest.raises(RevocationUnavailableError) as caught:
        checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.REQUIRE)
    assert len(caught.value.attempts) == 2
    soft = RevocationPolicy(name="soft", hard_fail=False)
    assert checker.check(pki.leaf.cert, pki.root.cert, policy=soft).status is CertStatus.UNKNOWN


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_crl_fetch_faults(router: respx.MockRouter, http: httpx.Client, pki: PKI, fault: str) -> None:
    effect, cause, calls = FAULTS[fault]
    if fault == "too-large":
        effect = httpx.Response(200, content=b"\x00" * 2048, headers={"content-type": "application/pkix-crl"})
    route = router.get(CRL_URL)
    _mock(route, effect)
    source = CRLSource(
        urls={pki.root.cert.subject: [CRL_URL]}, http=http, sleep=lambda _: None, max_crl_bytes=1024
    )
    with pytest.raises(RevocationFetchError) as caught:
        source.fetch(CRL_URL)
    assert caught.value.cause is cause
    assert route.call_count == calls


def test_crl_garbage_body(router: respx.MockRouter, http: httpx.Client) -> None:
    router.get(CRL_URL).mock(
        return_value=httpx.Response(200, content=b"garbage", headers={"content-type": "application/pkix-crl"})
    )
    with pytest.raises(RevocationSourceError) as caught:
        CRLSource(http=http).fetch(CRL_URL)
    assert caught.value.cause.value == "MALFORMED"
    assert caught.value.source_label == CRL_URL


def test_crl_from_distribution_point_uri(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    dp = x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                [x509.UniformResourceIdentifier("http://dp.test/root.crl")], None, None, None
            )
        ]
    )
    leaf = issue("DP leaf", ec_key(), pki.root, serial=0x9001, ca=False, extra=[(dp, False)])
    route = router.get("http://dp.test/root.crl").mock(
        return_value=httpx.Response(
            200,
            content=make_crl(pki.root, revoked=[(0x9001, x509.ReasonFlags.key_compromise)]),
            headers={"content-type": "application/pkix-crl"},
        )
    )
    checker = RevocationChecker(crls=CRLSource(http=http), clock=FixedClock(NOW))
    status = checker.check(leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY)
    assert status.status is CertStatus.REVOKED
    assert route.call_count == 1
    no_dp = RevocationChecker(crls=CRLSource(http=http, use_distribution_points=False), clock=FixedClock(NOW))
    with pytest.raises(RevocationUnavailableError):
        no_dp.check(leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY)


def test_crl_urls_without_client_is_a_configuration_error(pki: PKI) -> None:
    from myna_rp.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        CRLSource(urls={pki.root.cert.subject: [CRL_URL]})
    with pytest.raises(ConfigurationError):
        CRLSource(static=[b"not a crl"])


def test_stale_crl_from_the_wire_is_no_answer(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    stale = make_crl(pki.root, this_update=NOW - timedelta(days=3), next_update=NOW - timedelta(days=2))
    router.get(CRL_URL).mock(
        return_value=httpx.Response(200, content=stale, headers={"content-type": "application/pkix-crl"})
    )
    checker = RevocationChecker(
        crls=CRLSource(urls={pki.root.cert.subject: [CRL_URL]}, http=http), clock=FixedClock(NOW)
    )
    with pytest.raises(RevocationUnavailableError) as caught:
        checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY)
    assert any("STALE" in attempt and CRL_URL in attempt for attempt in caught.value.attempts)
