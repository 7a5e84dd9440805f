"""The harness of the SDK ↔ mock-platform integration tests (imported as a top-level module: pytest puts
this folder on ``sys.path``; the folder has no ``__init__.py``, like ``tests/mock_platform``).

What runs where:

* the mock J-LIS is the real FastAPI app of :func:`mock_platform.app.create_app`, in-process, on a
  :class:`~mock_platform.clock.MockClock` and a SQLite file copied from a session template (so the four
  CA keys are generated once per session);
* the SDK's :class:`~myna_rp.revocation.OCSPClient` and :class:`~myna_rp.revocation.CRLSource` get a plain
  **synchronous** :class:`httpx.Client` whose transport is :class:`ASGIBridgeTransport`: every request
  goes through ``httpx.ASGITransport`` (async) on an anyio blocking portal, i.e. through the app's real
  ASGI stack (routing, middleware, problem handlers) without sockets. Sync httpx cannot mount
  ``httpx.ASGITransport`` directly; this bridge (or Starlette's ``TestClient``) is the way;
* :class:`RecordingTransport` wraps that bridge and records every exchange, so tests count OCSP and CRL
  requests and look inside them (nonce, CertID);
* the SDK reads the very same ``MockClock`` (it satisfies :class:`myna_rp.clock.Clock`), so "advance the
  mock clock" moves the responder's thisUpdate and the SDK's freshness/caching decisions together.

Keys never leave the mock's :class:`~mock_platform.ca.token.TokenSimulator`: a token is generated, its
public key is POSTed to ``/admin/certificates``, and the returned certificate is attached to the token.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal
from cryptography import x509
from cryptography.x509 import ocsp
from fastapi import FastAPI

from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import MockClock
from myna_rp.errors import CertificateRevokedError
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.revocation import (
    CRLSource,
    MemoryRevocationCache,
    OCSPClient,
    RevocationCache,
    RevocationChecker,
    RevocationPolicy,
    RevocationStatus,
)

#: 2026-11-29 12:00 JST: the instant the template's CAs are bootstrapped at and every test starts at.
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)
#: The first scheduled CRL issue after NOW (00:00 JST next day) and the CRL nextUpdate (issue + 1 h grace).
NEXT_CRL_ISSUE = datetime(2026, 11, 29, 15, 0, 0, tzinfo=UTC)
NEXT_CRL_UPDATE = NEXT_CRL_ISSUE + timedelta(hours=1)
OCSP_VALIDITY = timedelta(minutes=15)

BASE_URL = "http://jlis-mock.test"
OCSP_URL = BASE_URL + "/ocsp"

OCSP_RESPONSE_TYPE = "application/ocsp-response"
CRL_TYPE = "application/pkix-crl"

#: The synthetic holder enrolled for every signing certificate (all data invented).
PERSON: dict[str, str] = {
    "name": "試験　花子",
    "name_substitute_positions": "00010",
    "gender": "2",
    "address": "東京都千代田区試験町一丁目99番99号",
}
DATE_OF_BIRTH = "319850704"  # Showa, 1985-07-04: certificates run to the 5th birthday after issuance
CARD_EXPIRY = "2034-07-04"
PREFECTURE = "Tokyo-to"
MUNICIPALITY = "Chiyoda-ku"

#: The reasons a platform exposes (domain-jpki.md), certificateHold apart.
REVOCATION_REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
)


def status_of(error: CertificateRevokedError) -> RevocationStatus:
    """The evidence a ``CertificateRevokedError`` carries, type-checked (the error types it ``object``)."""
    status = error.status
    assert isinstance(status, RevocationStatus)
    return status


def no_sleep(_seconds: float) -> None:
    """Retries back off through this: tests never wait."""


class ASGIBridgeTransport(httpx.BaseTransport):
    """A synchronous httpx transport that runs each request through ``httpx.ASGITransport(app)``.

    The coroutine runs on ``portal``'s event loop (another thread), so a plain ``httpx.Client`` can talk
    to an ASGI app in-process. Response bodies are read completely before they are handed back.
    """

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def exchange() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            body = await response.aread()
            await response.aclose()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return self._portal.call(exchange)


@dataclass(frozen=True)
class Exchange:
    """One request/response pair seen on the SDK's client."""

    method: str
    url: str
    path: str
    request_body: bytes
    status_code: int
    content_type: str
    response_body: bytes

    def ocsp_request(self) -> ocsp.OCSPRequest:
        if self.method == "GET":
            encoded = httpx.URL(self.url).raw_path.decode("ascii").split("/ocsp/", 1)[1]
            return ocsp.load_der_ocsp_request(base64.b64decode(urllib.parse.unquote(encoded)))
        return ocsp.load_der_ocsp_request(self.request_body)

    def ocsp_response(self) -> ocsp.OCSPResponse:
        return ocsp.load_der_ocsp_response(self.response_body)


class RecordingTransport(httpx.BaseTransport):
    """Wraps a transport and records every exchange (the SDK's HTTP traffic, for counting)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        body = response.read()
        self.exchanges.append(
            Exchange(
                method=request.method,
                url=str(request.url),
                path=request.url.path,
                request_body=request.content,
                status_code=response.status_code,
                content_type=response.headers.get("content-type", ""),
                response_body=body,
            )
        )
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    def ocsp(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path == "/ocsp" or e.path.startswith("/ocsp/")]

    def crl(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path.startswith("/crl/")]

    def clear(self) -> None:
        self.exchanges.clear()


@dataclass
class Enrolled:
    """A certificate issued by the mock to a token's public key, and the token holding the key."""

    token: TokenSimulator
    certificate: x509.Certificate
    serial_hex: str
    issuer_generation: int
    response: dict[str, Any] = field(repr=False)

    @property
    def serial_number(self) -> int:
        return int(self.serial_hex, 16)


class MockPlatform:
    """One in-process mock J-LIS app plus the SDK-side plumbing pointed at it.

    Attributes:
        app, clock: the mock app and its (shared) clock.
        wire: the recording transport under :attr:`http` (what the SDK talks through).
        http: the synchronous ``httpx.Client`` handed to the SDK.
        admin: an unrecorded client for the admin/CA endpoints (the test's own calls).
        roots: ``{(purpose, generation): root certificate}`` from ``GET /ca``.
    """

    def __init__(self, app: FastAPI, clock: MockClock, portal: BlockingPortal) -> None:
        self.app = app
        self.clock = clock
        self.portal = portal
        self.wire = RecordingTransport(ASGIBridgeTransport(app, portal))
        self.http = httpx.Client(transport=self.wire, timeout=5.0)
        self.admin = httpx.Client(transport=ASGIBridgeTransport(app, portal), base_url=BASE_URL)
        listing = self.admin.get("/ca")
        assert listing.status_code == 200, listing.text
        self.ca_listing: list[dict[str, Any]] = listing.json()
        self.roots: dict[tuple[str, int], x509.Certificate] = {
            (item["purpose"], item["generation"]): x509.load_pem_x509_certificate(
                item["certificate_pem"].encode("ascii")
            )
            for item in self.ca_listing
        }
        self.trust = TrustStore.from_certificates(self.roots.values())

    def close(self) -> None:
        self.http.close()
        self.admin.close()

    # -- the mock's admin API ------------------------------------------------------------------------

    def root(self, purpose: str, generation: int) -> x509.Certificate:
        return self.roots[(purpose, generation)]

    def subject(self, purpose: str) -> x509.Name:
        return self.root(purpose, 2).subject

    def crl_url(self, purpose: str, generation: int) -> str:
        return f"{BASE_URL}/crl/{purpose}/{generation}.crl"

    def enroll(
        self,
        token: TokenSimulator,
        *,
        kind: str = "signing",
        form_factor: str = "card",
        person: dict[str, str] | None = None,
    ) -> Enrolled:
        """POST the token's public key to ``/admin/certificates`` and attach the issued certificate."""
        payload: dict[str, Any] = {
            "kind": kind,
            "form_factor": form_factor,
            "public_key_pem": token.public_key_pem(),
            "date_of_birth": DATE_OF_BIRTH,
            "card_expiry": CARD_EXPIRY,
        }
        if kind == "signing":
            payload.update(
                prefecture=PREFECTURE, municipality=MUNICIPALITY, attributes=dict(person or PERSON)
            )
        response = self.admin.post("/admin/certificates", json=payload)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        certificate = x509.load_pem_x509_certificate(body["certificate_pem"].encode("ascii"))
        assert body["kind"] == kind
        assert body["form_factor"] == form_factor
        return Enrolled(
            token=token.with_certificate(certificate),
            certificate=certificate,
            serial_hex=body["serial"],
            issuer_generation=body["issuer"]["generation"],
            response=body,
        )

    def revoke(self, serial_hex: str, reason: str) -> dict[str, Any]:
        response = self.admin.post(f"/admin/certificates/{serial_hex}/revoke", json={"reason": reason})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def release(self, serial_hex: str) -> dict[str, Any]:
        response = self.admin.post(f"/admin/certificates/{serial_hex}/release")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def state(self, serial_hex: str) -> dict[str, Any]:
        response = self.admin.get(f"/admin/certificates/{serial_hex}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def issue_crls(self, **body: Any) -> list[dict[str, Any]]:
        """Force a CRL issue (``POST /admin/crl/issue``)."""
        response = self.admin.post("/admin/crl/issue", json=body)
        assert response.status_code == 200, response.text
        issued: list[dict[str, Any]] = response.json()
        return issued

    def set_clock(self, instant: datetime) -> datetime:
        response = self.admin.post("/admin/clock", json={"now": instant.isoformat()})
        assert response.status_code == 200, response.text
        return datetime.fromisoformat(response.json()["now"])

    def advance(self, delta: timedelta) -> datetime:
        response = self.admin.post("/admin/clock", json={"advance_seconds": delta.total_seconds()})
        assert response.status_code == 200, response.text
        return datetime.fromisoformat(response.json()["now"])

    # -- the SDK side ---------------------------------------------------------------------------------

    def ocsp_client(self, http: httpx.Client | None = None, **options: Any) -> OCSPClient:
        """The SDK's OCSP client: the responder URL configured per issuer name (no AIA on JPKI leaves)."""
        responders = {self.subject("signing"): OCSP_URL, self.subject("user_authentication"): OCSP_URL}
        options.setdefault("sleep", no_sleep)
        return OCSPClient(http if http is not None else self.http, responders, **options)

    def crl_source(self, http: httpx.Client | None = None, **options: Any) -> CRLSource:
        """The SDK's CRL source: both generations' URLs per issuer name (they share the DN), newest first."""
        urls = {
            self.subject(purpose): [self.crl_url(purpose, 2), self.crl_url(purpose, 1)]
            for purpose in ("signing", "user_authentication")
        }
        options.setdefault("sleep", no_sleep)
        return CRLSource(urls=urls, http=http if http is not None else self.http, **options)

    def checker(
        self,
        *,
        ocsp: bool = True,
        crl: bool = True,
        http: httpx.Client | None = None,
        cache: RevocationCache | None = None,
    ) -> RevocationChecker:
        return RevocationChecker(
            ocsp=self.ocsp_client(http) if ocsp else None,
            crls=self.crl_source(http) if crl else None,
            cache=cache if cache is not None else MemoryRevocationCache(clock=self.clock),
            clock=self.clock,
        )

    def verifier(
        self,
        policy: RevocationPolicy = RevocationPolicy.REQUIRE,
        *,
        checker: RevocationChecker | None = None,
        subject_id_key: bytes = b"relying-party-A secret",
    ) -> JPKIVerifier:
        return JPKIVerifier(
            self.trust,
            revocation=checker if checker is not None else self.checker(),
            policy=policy,
            clock=self.clock,
            subject_id_key=subject_id_key,
        )
