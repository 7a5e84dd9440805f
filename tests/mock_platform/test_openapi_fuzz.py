"""Schemathesis against the mock platform's own OpenAPI: every operation, bounded, deterministic.

The schema is read from the in-process app (``GET /openapi.json`` through ASGI) when this module is
collected, so every operation present at that moment — including routes added later — is fuzzed; nothing
is listed by hand (:func:`test_every_operation_is_fuzzed` checks that schemathesis could load them all).

Checks, all on every generated request (valid and invalid data: schemathesis' positive and negative modes,
plus the schema's own examples), in ``test_api``:

* no 5xx (``not_a_server_error``);
* every response body matches the documented schema (``response_schema_conformance``);
* the response Content-Type is one the schema documents for that status (``content_type_conformance``);
* every 4xx is RFC 9457 problem+json with ``status`` equal to the HTTP status and a stable upper-case
  ``code`` (:func:`problem_details_on_errors`; issue 3: "bad input on every endpoint → 4xx problem+json
  with a stable code, never a 500").

POST /ocsp bodies come from :func:`_ocsp_requests`: well-formed OCSPRequests about the app's real CAs,
truncated ones, and random bytes.

Bounds: ``MYNA_FUZZ_MAX_EXAMPLES`` examples per operation (default 25), derandomized (the same inputs on
every run, so CI is reproducible) unless ``MYNA_FUZZ_RANDOM=1``. The app runs in test mode on a temporary
SQLite file (an in-memory database would be dropped by every lifespan shutdown), with the cheap PIN
hasher of the tests; stored state accumulates across operations like on a long-running server, while the
mock clock is reset before each case so that a failure reproduces from its own request.

A finding is fixed in ``mock_platform``, never hidden here. If a defect must wait, pin it in a plain test
below marked ``xfail(strict=True, reason="BUG: …")`` and exclude exactly its inputs from ``test_api`` —
never put an xfail mark on a schemathesis-generated test: schemathesis' pytest plugin (4.x) crashes the
session (INTERNALERROR) when a strict xfail on its items passes.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from mock_platform.app import create_app
from mock_platform.clock import MockClock
from mock_platform.settings import Settings

#: 2026-11-29 12:00 JST, as in the other mock-platform tests.
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)
MAX_EXAMPLES = int(os.environ.get("MYNA_FUZZ_MAX_EXAMPLES", "25"))
DERANDOMIZE = os.environ.get("MYNA_FUZZ_RANDOM") != "1"
PROBLEM_MEDIA_TYPE = "application/problem+json"
STABLE_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _build_app() -> FastAPI:
    folder = Path(tempfile.mkdtemp(prefix="myna-fuzz-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    settings_ = Settings(database_url=f"sqlite:///{folder / 'fuzz.sqlite3'}", test_mode=True)
    lifecycle_config: Any = None
    try:  # the cheap argon2 parameters of the tests, when the lifecycle offers them
        from mock_platform.issuance.pins import PinHasher
        from mock_platform.issuance.service import LifecycleConfig

        lifecycle_config = LifecycleConfig(pin_hasher=PinHasher.fast_for_tests())
    except (ImportError, AttributeError, TypeError):
        lifecycle_config = None
    if lifecycle_config is not None:
        return create_app(settings_, clock=MockClock(NOW), lifecycle_config=lifecycle_config)
    return create_app(settings_, clock=MockClock(NOW))


APP = _build_app()


# --------------------------------------------------------------------------- OCSP request bodies


def _ocsp_requests() -> st.SearchStrategy[bytes]:
    """Well-formed OCSPRequests about random serials of the app's real CAs (SHA-1 or SHA-256 CertIDs)."""
    roots = [info.certificate for info in APP.state.ca_service.ca_certificates()]

    def build(root: x509.Certificate, serial: int, sha256: bool, nonce: bytes | None) -> bytes:
        algorithm: hashes.HashAlgorithm = hashes.SHA256() if sha256 else hashes.SHA1()
        name_hash = hashes.Hash(algorithm)
        name_hash.update(root.subject.public_bytes())
        spki = root.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key_hash = hashes.Hash(algorithm)
        key_hash.update(_subject_public_key_bits(spki))
        builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
            name_hash.finalize(), key_hash.finalize(), serial, algorithm
        )
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.build().public_bytes(serialization.Encoding.DER)

    return st.builds(
        build,
        st.sampled_from(roots),
        st.integers(min_value=1, max_value=2**159 - 1),
        st.booleans(),
        st.none() | st.binary(min_size=1, max_size=40),
    )


def _subject_public_key_bits(spki_der: bytes) -> bytes:
    """The BIT STRING contents (minus the unused-bits octet) of a DER SubjectPublicKeyInfo."""
    from asn1crypto.keys import PublicKeyInfo

    bits: bytes = PublicKeyInfo.load(spki_der)["public_key"].contents[1:]
    return bits


# Valid requests, garbage, and truncated valid requests.
schemathesis.openapi.media_type(
    "application/ocsp-request",
    _ocsp_requests()
    | st.binary(max_size=1024)
    | _ocsp_requests().flatmap(lambda der: st.integers(0, len(der) - 1).map(lambda n: der[:n])),
)

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


# --------------------------------------------------------------------------- checks


@schemathesis.check
def problem_details_on_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is RFC 9457 problem+json with the HTTP status and a stable upper-case ``code``."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == PROBLEM_MEDIA_TYPE, (
        f"{response.status_code} answered with Content-Type {content_type!r}, not {PROBLEM_MEDIA_TYPE}"
    )
    body = response.json()
    assert isinstance(body, dict), f"problem body is not a JSON object: {body!r}"
    assert body.get("status") == response.status_code, f"problem status {body.get('status')!r} ≠ HTTP status"
    code = body.get("code")
    assert isinstance(code, str), f"problem without a string 'code': {body!r}"
    assert STABLE_CODE.fullmatch(code), f"problem code {code!r} is not a stable UPPER_SNAKE code"
    assert {"type", "title"} <= body.keys(), f"problem lacks type/title: {body!r}"
    assert "Traceback" not in response.text
    return None


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    problem_details_on_errors,
]


_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


# --------------------------------------------------------------------------- tests


@schema.parametrize()
@_SETTINGS
def test_api(case: Any) -> None:
    # Every case starts at the same mock time, so a failure reproduces from its own request alone.
    APP.state.clock.set(NOW)
    case.call_and_validate(checks=CHECKS)


def test_every_operation_is_fuzzed() -> None:
    """Schemathesis loaded every operation of the live OpenAPI (none dropped as unparseable)."""
    spec = APP.openapi()
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    expected = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in methods
    }
    loaded, failed = set(), []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            loaded.add(result.ok().label)
        else:
            failed.append(str(result.err()))
    assert not failed, failed
    assert loaded == expected
    assert {"POST /ocsp", "POST /admin/certificates", "POST /admin/crl/issue"} <= loaded


# --------------------------------------------------------------------------- regressions
#
# Defects the fuzz found (2026-11-29), each reproduced by one deterministic request, fixed in mock_platform
# (clock range → 422 CLOCK_OUT_OF_RANGE; 422 documented as problem+json), and kept here so they stay fixed
# whatever examples the fuzz happens to draw.


@pytest.fixture
def client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(test_mode=True), raise_server_exceptions=False) as test_client:
        yield test_client


def _assert_client_error(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)


def _undocumented_validation_errors() -> list[str]:
    spec = APP.openapi()
    return sorted(
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        and (documented := set(operation.get("responses", {}).get("422", {}).get("content", {})))
        and PROBLEM_MEDIA_TYPE not in documented
    )


def test_validation_errors_are_documented_as_problem_json() -> None:
    assert _undocumented_validation_errors() == []


@pytest.mark.parametrize("now", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_clock_refuses_instants_beyond_the_datetime_range(client: TestClient, now: str) -> None:
    _assert_client_error(client.post("/admin/clock", json={"now": now}))


@pytest.mark.parametrize(("edge", "step"), [("9999-12-31T23:59:59Z", 1), ("0001-01-01T00:00:00Z", -1)])
def test_clock_advance_beyond_the_datetime_range_is_refused(client: TestClient, edge: str, step: int) -> None:
    accepted = client.post("/admin/clock", json={"now": edge})
    if accepted.status_code < 400:
        _assert_client_error(client.post("/admin/clock", json={"advance_seconds": step}))
    else:
        _assert_client_error(accepted)


def test_no_500_at_the_latest_accepted_mock_time(client: TestClient) -> None:
    accepted = client.post("/admin/clock", json={"now": "9999-12-31T23:59:59Z"})
    if accepted.status_code >= 400:
        _assert_client_error(accepted)
        return
    for path in ("/ca", "/ca/signing/2.cer", "/crl/signing/2.crl", "/crl/user_authentication/1.crl"):
        response = client.get(path)
        assert response.status_code < 500, f"GET {path}: {response.status_code} {response.text[:200]}"
    garbage = client.post("/ocsp", content=b"\x30\x00", headers={"content-type": "application/ocsp-request"})
    assert garbage.status_code < 500
