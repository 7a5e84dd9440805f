"""JPKI verification benchmark: ratios against the raw signature cost, measured in the same run.

What it measures (issue "JPKI verification core", point 8):

* **warm** ``JPKIVerifier.verify_signature``: revocation answered from a warm cache. The signature checks it
  must do are two RSA-2048 PKCS#1 v1.5 verifications (the signature over the data, the root's signature on
  the leaf); the ratio divides our time by the time of exactly those two raw ``cryptography`` calls.
* **fresh OCSP**: the same with a fresh OCSP response supplied with the call (no cache): one more RSA
  verification (the response's signature), so the raw baseline is three verifications.
* **live OCSP**: a fresh fetch from the mock responder through an in-process transport (request building,
  the mock's signing, parsing and validating), reported in absolute time only.

Target: warm ≤ 2× raw. Run: ``.venv/bin/python benchmarks/bench_jpki.py [--iterations N]``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mock_platform.ca.attributes import BasicFourAttributes, DateOfBirth, Gender
from mock_platform.ca.keys import KeyType
from mock_platform.ca.profile import CertificateKind, FormFactor, Locality
from mock_platform.ca.service import CAService
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import MockClock
from mock_platform.db import Database
from myna_rp.clock import FixedClock
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.revocation import (
    MemoryRevocationCache,
    OCSPClient,
    RevocationChecker,
    RevocationEvidence,
    RevocationPolicy,
    build_ocsp_request,
)

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


def per_call_us(func: Callable[[], object], iterations: int, repeats: int = 5) -> float:
    """Median over ``repeats`` of the mean time per call, in microseconds."""
    func()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iterations):
            func()
        samples.append((time.perf_counter() - start) / iterations * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    clock = MockClock(NOW)
    service = CAService.create(Database("sqlite://"), clock)
    token = TokenSimulator.generate(KeyType.RSA_2048, form_factor=FormFactor.CARD)
    dob = DateOfBirth.parse("419900101")
    issued = service.issue_certificate(
        public_key=token.public_key(),
        kind=CertificateKind.SIGNING,
        date_of_birth=dob,
        attributes=BasicFourAttributes(
            name="試験　一郎", gender=Gender("1"), date_of_birth=dob, address="東京都千代田区試験町1番1号"
        ),
        locality=Locality(prefecture="Tokyo-to", municipality="Chiyoda-ku"),
    )
    leaf = issued.certificate
    roots = [info.certificate for info in service.ca_certificates()]
    root = next(r for r in roots if r.subject == leaf.issuer and _issued_by(leaf, r))
    data = b"bench challenge " * 2
    signature = token.sign(data)

    def ocsp_handler(request: httpx.Request) -> httpx.Response:
        answer = service.ocsp_respond(request.content)
        return httpx.Response(200, content=answer, headers={"content-type": "application/ocsp-response"})

    http = httpx.Client(transport=httpx.MockTransport(ocsp_handler), base_url="http://ocsp.invalid")
    responders = {r.subject: "http://ocsp.invalid/ocsp" for r in roots}
    sdk_clock = FixedClock(NOW + timedelta(minutes=1))
    trust = TrustStore.from_certificates(roots)
    warm = JPKIVerifier(
        trust,
        revocation=RevocationChecker(
            ocsp=OCSPClient(http, responders), cache=MemoryRevocationCache(clock=sdk_clock), clock=sdk_clock
        ),
        policy=RevocationPolicy.PREFER_OCSP_THEN_CRL,
        clock=sdk_clock,
    )
    result = warm.verify_signature(data=data, signature=signature, certificate=leaf)  # warms the cache
    assert result.revocation.status.value == "good"

    leaf_key = leaf.public_key()
    root_key = root.public_key()
    assert isinstance(leaf_key, rsa.RSAPublicKey)
    assert isinstance(root_key, rsa.RSAPublicKey)
    tbs, leaf_sig = leaf.tbs_certificate_bytes, leaf.signature
    fresh_response = service.ocsp_respond(build_ocsp_request(leaf, root, include_nonce=False).der)
    response_obj = x509.ocsp.load_der_ocsp_response(fresh_response)
    response_key = _responder_key(response_obj, roots)

    def raw2() -> None:
        leaf_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        root_key.verify(leaf_sig, tbs, padding.PKCS1v15(), hashes.SHA256())

    def raw3() -> None:
        raw2()
        response_key.verify(
            response_obj.signature, response_obj.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256()
        )

    def warm_verify() -> None:
        warm.verify_signature(data=data, signature=signature, certificate=leaf)

    no_path_cache = JPKIVerifier(
        trust,
        revocation=RevocationChecker(
            ocsp=OCSPClient(http, responders), cache=MemoryRevocationCache(clock=sdk_clock), clock=sdk_clock
        ),
        policy=RevocationPolicy.PREFER_OCSP_THEN_CRL,
        clock=sdk_clock,
        path_cache_size=0,
    )

    def revalidating_verify() -> None:
        no_path_cache.verify_signature(data=data, signature=signature, certificate=leaf)

    def raw1() -> None:
        leaf_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())

    def library_path() -> None:
        # cryptography's own path validation of the same leaf, the same store and policies, nothing else.
        no_path_cache._paths.validate(leaf, at=sdk_clock.now())

    offline = JPKIVerifier(
        trust,
        revocation=RevocationChecker(clock=sdk_clock, cache=_NoCache()),
        policy=RevocationPolicy.PREFER_OCSP_THEN_CRL,
        clock=sdk_clock,
    )
    evidence = RevocationEvidence(ocsp_responses=(fresh_response,))

    def fresh_verify() -> None:
        offline.verify_signature(data=data, signature=signature, certificate=leaf, evidence=evidence)

    live = JPKIVerifier(
        trust,
        revocation=RevocationChecker(ocsp=OCSPClient(http, responders), cache=_NoCache(), clock=sdk_clock),
        policy=RevocationPolicy.PREFER_OCSP_THEN_CRL,
        clock=sdk_clock,
    )

    def live_verify() -> None:
        live.verify_signature(data=data, signature=signature, certificate=leaf)

    n = args.iterations
    raw1_us, raw2_us, raw3_us = per_call_us(raw1, n), per_call_us(raw2, n), per_call_us(raw3, n)
    warm_us, fresh_us = per_call_us(warm_verify, n), per_call_us(fresh_verify, n)
    revalidating_us, library_us = per_call_us(revalidating_verify, n), per_call_us(library_path, n)
    live_us = per_call_us(live_verify, max(n // 10, 20))
    rows = [
        ("raw: 1 RSA-2048 verification (the data signature)", raw1_us, None),
        ("raw: 2 RSA-2048 verifications (data + leaf certificate)", raw2_us, None),
        ("raw: 3 RSA-2048 verifications (+ OCSP response)", raw3_us, None),
        ("verify_signature, warm (revocation and path caches), vs 2 raw", warm_us, warm_us / raw2_us),
        ("verify_signature, path validated each call, vs 2 raw", revalidating_us, revalidating_us / raw2_us),
        ("  of which cryptography's path validation alone, vs 1 raw", library_us, library_us / raw1_us),
        ("verify_signature, fresh OCSP response supplied, vs 3 raw", fresh_us, fresh_us / raw3_us),
        ("verify_signature, live OCSP fetch (in-process responder)", live_us, None),
    ]
    print("| measurement | µs per call | ratio to raw |")
    print("|---|---:|---:|")
    for label, us, ratio in rows:
        print(f"| {label} | {us:,.1f} | {'' if ratio is None else f'{ratio:.2f}×'} |")
    print()
    ratio = warm_us / raw2_us
    print(f"target warm ≤ 2.00× raw: {'met' if ratio <= 2.0 else 'NOT MET'} ({ratio:.2f}×)")


def _issued_by(leaf: x509.Certificate, root: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(root)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - InvalidSignature and friends
        return False
    return True


def _responder_key(response: x509.ocsp.OCSPResponse, roots: list[x509.Certificate]) -> rsa.RSAPublicKey:
    for candidate in [*response.certificates, *roots]:
        key = candidate.public_key()
        try:
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())
        except Exception:  # noqa: BLE001 - try the next candidate
            continue
        return key
    raise SystemExit("no key verifies the OCSP response")


class _NoCache:
    """A :class:`~myna_rp.revocation.RevocationCache` that keeps nothing: every call validates afresh."""

    def get_ocsp(self, key: bytes) -> None:
        return None

    def put_ocsp(self, key: bytes, status: object, *, expires_at: datetime) -> None:
        return None

    def get_crl(self, key: bytes) -> None:
        return None

    def put_crl(self, key: bytes, index: object, *, expires_at: datetime) -> None:
        return None


if __name__ == "__main__":
    main()
