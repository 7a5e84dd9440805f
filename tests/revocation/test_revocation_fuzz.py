"""Property tests: whatever bytes come in, only our typed errors come out (never cryptography/asn1crypto)."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from revocation_pki import NOW, PKI, make_crl, make_ocsp, raw_ocsp, sha1_key_hash, single

from myna_rp.clock import FixedClock
from myna_rp.errors import CRLInvalidError, OCSPResponseInvalidError, RevocationUnavailableError
from myna_rp.revocation import (
    RevocationChecker,
    RevocationEvidence,
    RevocationPolicy,
    RevocationStatus,
    validate_crl,
    validate_ocsp_response,
    verify_ocsp_signer,
)

EXAMPLES = int(os.environ.get("MYNA_FUZZ_EXAMPLES", "300"))  # raise it for a longer local fuzzing run
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid DER with a few bytes flipped, truncated or extended."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        data[position] = draw(st.integers(min_value=0, max_value=255))
    cut = draw(st.integers(min_value=0, max_value=8))
    if cut:
        data = data[: len(data) - cut] if draw(st.booleans()) else data + draw(st.binary(max_size=cut))
    return bytes(data)


@pytest.fixture(scope="module")
def ocsp_seeds(pki: PKI) -> list[bytes]:
    return [
        make_ocsp(cert=pki.leaf, issuer=pki.root),
        make_ocsp(cert=pki.leaf, issuer=pki.root, signer=pki.responder, nonce=b"\x01" * 32),
        raw_ocsp(
            singles=[
                single(cert=pki.leaf.cert, issuer=pki.root.cert),
                single(cert=pki.leaf2.cert, issuer=pki.root.cert),
            ],
            signing_key=pki.root.key,
            responder_key_hash=sha1_key_hash(pki.root.cert),
        ),
    ]


@pytest.fixture(scope="module")
def crl_seeds(pki: PKI) -> list[bytes]:
    return [make_crl(pki.root, revoked=[(pki.leaf.cert.serial_number, None), (77, None)])]


def _ocsp(pki: PKI, data: bytes) -> None:
    try:
        status = validate_ocsp_response(
            data,
            pki.leaf.cert,
            pki.root.cert,
            at=NOW,
            policy=RevocationPolicy.REQUIRE,
            expected_nonce=b"\x01" * 32,
        )
    except OCSPResponseInvalidError:
        pass
    else:
        assert isinstance(status, RevocationStatus)
    with contextlib.suppress(OCSPResponseInvalidError):
        verify_ocsp_signer(data, [pki.root.cert], at=NOW)


def _crl(pki: PKI, data: bytes) -> None:
    try:
        index = validate_crl(data, pki.root.cert, at=NOW, policy=RevocationPolicy.REQUIRE)
    except CRLInvalidError:
        pass
    else:
        index.lookup(pki.leaf.cert.serial_number)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_ocsp_random_bytes(pki: PKI, data: bytes) -> None:
    _ocsp(pki, data)


@FUZZ
@given(data=st.data())
def test_ocsp_mutated(pki: PKI, ocsp_seeds: list[bytes], data: st.DataObject) -> None:
    _ocsp(pki, data.draw(mutated(ocsp_seeds)))


@FUZZ
@given(data=st.binary(max_size=2048))
def test_crl_random_bytes(pki: PKI, data: bytes) -> None:
    _crl(pki, data)


@FUZZ
@given(data=st.data())
def test_crl_mutated(pki: PKI, crl_seeds: list[bytes], data: st.DataObject) -> None:
    _crl(pki, data.draw(mutated(crl_seeds)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_checker_with_garbage_evidence(
    pki: PKI, ocsp_seeds: list[bytes], crl_seeds: list[bytes], data: st.DataObject
) -> None:
    evidence = RevocationEvidence(
        crls=(data.draw(mutated(crl_seeds)),), ocsp_responses=(data.draw(mutated(ocsp_seeds)),)
    )
    checker = RevocationChecker(clock=FixedClock(NOW))
    try:
        status = checker.check(
            pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.REQUIRE, evidence=evidence
        )
    except RevocationUnavailableError:
        pass
    else:
        assert isinstance(status, RevocationStatus)
