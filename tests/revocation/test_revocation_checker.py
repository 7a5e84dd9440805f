"""RevocationChecker: policy modes and presets, evidence, cache expiry, rollback, separate CRL signers."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.x509 import ocsp
from revocation_pki import NOW, PKI, Party, make_crl, make_ocsp

from myna_rp.clock import FixedClock
from myna_rp.errors import RevocationUnavailableError
from myna_rp.revocation import (
    CertStatus,
    CRLSource,
    MemoryRevocationCache,
    OCSPClient,
    RevocationChecker,
    RevocationEvidence,
    RevocationPolicy,
    RevocationReason,
    RevocationSource,
    SourceMode,
)

OCSP_URL = "http://ocsp.test/"
CRL_URL = "http://crl.test/root.crl"
REVOKED = ocsp.OCSPCertStatus.REVOKED


class MutableClock:
    """A clock tests can move forward."""

    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> None:
        self.instant += delta


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def ocsp_route(
    router: respx.MockRouter,
    pki: PKI,
    clock: MutableClock | FixedClock,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    reason: x509.ReasonFlags | None = None,
) -> respx.Route:
    """A responder that answers for pki.leaf with the request's nonce, fresh relative to ``clock``."""

    def answer(request: httpx.Request) -> httpx.Response:
        parsed = ocsp.load_der_ocsp_request(request.content)
        nonce = parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        now = clock.now()
        der = make_ocsp(
            cert=pki.leaf,
            issuer=pki.root,
            status=status,
            reason=reason,
            nonce=nonce,
            this_update=now - timedelta(minutes=1),
            next_update=now + timedelta(hours=1),
        )
        return httpx.Response(200, content=der, headers={"content-type": "application/ocsp-response"})

    return router.post(OCSP_URL).mock(side_effect=answer)


def ocsp_client(http: httpx.Client, pki: PKI) -> OCSPClient:
    return OCSPClient(http, {pki.root.cert.subject: OCSP_URL}, sleep=lambda _: None)


def crl_source(pki: PKI, *revoked: tuple[int, x509.ReasonFlags | None]) -> CRLSource:
    return CRLSource(static=[make_crl(pki.root, revoked=list(revoked))])


def test_require_all_available_revoked_wins(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    ocsp_route(router, pki, FixedClock(NOW))
    checker = RevocationChecker(
        ocsp=ocsp_client(http, pki),
        crls=crl_source(pki, (pki.leaf.cert.serial_number, x509.ReasonFlags.affiliation_changed)),
        clock=FixedClock(NOW),
    )
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.REQUIRE)
    assert status.status is CertStatus.REVOKED
    assert status.source is RevocationSource.CRL
    assert status.reason is RevocationReason.AFFILIATION_CHANGED


@pytest.mark.parametrize(
    ("ocsp_reason", "crl_reason", "expected", "source"),
    [
        (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.key_compromise, CertStatus.REVOKED, "crl"),
        (x509.ReasonFlags.superseded, x509.ReasonFlags.certificate_hold, CertStatus.REVOKED, "ocsp"),
        (x509.ReasonFlags.certificate_hold, None, CertStatus.ON_HOLD, "ocsp"),
    ],
    ids=["ocsp-hold+crl-revoked", "ocsp-revoked+crl-hold", "ocsp-hold+crl-good"],
)
def test_all_available_precedence(
    router: respx.MockRouter,
    http: httpx.Client,
    pki: PKI,
    ocsp_reason: x509.ReasonFlags,
    crl_reason: x509.ReasonFlags | None,
    expected: CertStatus,
    source: str,
) -> None:
    ocsp_route(router, pki, FixedClock(NOW), status=REVOKED, reason=ocsp_reason)
    revoked = [(pki.leaf.cert.serial_number, crl_reason)] if crl_reason else []
    checker = RevocationChecker(
        ocsp=ocsp_client(http, pki), crls=crl_source(pki, *revoked), clock=FixedClock(NOW)
    )
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.REQUIRE)
    assert status.status is expected
    assert status.source is RevocationSource(source)


def test_first_definitive_stops_at_ocsp(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    ocsp_route(router, pki, FixedClock(NOW))
    crl_route = router.get(CRL_URL).mock(
        return_value=httpx.Response(
            200, content=make_crl(pki.root), headers={"content-type": "application/pkix-crl"}
        )
    )
    checker = RevocationChecker(
        ocsp=ocsp_client(http, pki),
        crls=CRLSource(urls={pki.root.cert.subject: [CRL_URL]}, http=http),
        clock=FixedClock(NOW),
    )
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.PREFER_OCSP_THEN_CRL)
    assert status.status is CertStatus.GOOD
    assert status.source is RevocationSource.OCSP
    assert crl_route.call_count == 0
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.REQUIRE)
    assert crl_route.call_count == 1


def test_first_definitive_falls_back_to_crl(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    router.post(OCSP_URL).mock(return_value=httpx.Response(503))
    checker = RevocationChecker(
        ocsp=ocsp_client(http, pki),
        crls=crl_source(pki, (pki.leaf.cert.serial_number, x509.ReasonFlags.cessation_of_operation)),
        clock=FixedClock(NOW),
    )
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.PREFER_OCSP_THEN_CRL)
    assert status.status is CertStatus.REVOKED
    assert status.source is RevocationSource.CRL


def test_crl_only_ignores_ocsp(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    route = ocsp_route(router, pki, FixedClock(NOW))
    checker = RevocationChecker(ocsp=ocsp_client(http, pki), crls=crl_source(pki), clock=FixedClock(NOW))
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY)
    assert status.source is RevocationSource.CRL
    assert route.call_count == 0


def test_unknown_is_not_definitive(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    ocsp_route(router, pki, FixedClock(NOW), status=ocsp.OCSPCertStatus.UNKNOWN)
    checker = RevocationChecker(ocsp=ocsp_client(http, pki), clock=FixedClock(NOW))
    ocsp_only = dataclasses.replace(RevocationPolicy.REQUIRE, sources=(RevocationSource.OCSP,))
    with pytest.raises(RevocationUnavailableError) as caught:
        checker.check(pki.leaf.cert, pki.root.cert, policy=ocsp_only)
    assert any("unknown" in attempt for attempt in caught.value.attempts)
    soft = dataclasses.replace(ocsp_only, hard_fail=False)
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=soft)
    assert status.status is CertStatus.UNKNOWN
    assert status.source is RevocationSource.OCSP
    strict = dataclasses.replace(ocsp_only, unknown_is_revoked=True)
    assert checker.check(pki.leaf.cert, pki.root.cert, policy=strict).status is CertStatus.REVOKED


def test_unknown_then_crl_decides_only_when_preferring_ocsp(
    router: respx.MockRouter, http: httpx.Client, pki: PKI
) -> None:
    ocsp_route(router, pki, FixedClock(NOW), status=ocsp.OCSPCertStatus.UNKNOWN)
    checker = RevocationChecker(ocsp=ocsp_client(http, pki), crls=crl_source(pki), clock=FixedClock(NOW))
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.PREFER_OCSP_THEN_CRL)
    assert status.status is CertStatus.GOOD
    assert status.source is RevocationSource.CRL
    # REQUIRE consults every source: a responder that validly does not know the certificate forbids GOOD.
    with pytest.raises(RevocationUnavailableError) as caught:
        checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.REQUIRE)
    assert any("unknown" in attempt for attempt in caught.value.attempts)


def test_nothing_valid_hard_fail_lists_attempts(pki: PKI) -> None:
    stale = make_crl(pki.root, this_update=NOW - timedelta(days=3), next_update=NOW - timedelta(days=2))
    checker = RevocationChecker(crls=CRLSource(static=[stale]), clock=FixedClock(NOW))
    with pytest.raises(RevocationUnavailableError) as caught:
        checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.REQUIRE)
    attempts = " | ".join(caught.value.attempts)
    assert "ocsp" in attempts
    assert "STALE" in attempts
    assert caught.value.reason.value == "REVOCATION_UNAVAILABLE"


def test_nothing_valid_soft_fail_returns_unknown(pki: PKI) -> None:
    checker = RevocationChecker(clock=FixedClock(NOW))
    soft = dataclasses.replace(RevocationPolicy.REQUIRE, hard_fail=False)
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=soft)
    assert status.status is CertStatus.UNKNOWN
    assert status.source is None


def test_unsafe_skip_warns_every_time(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    checker = RevocationChecker(clock=FixedClock(NOW))
    with caplog.at_level(logging.WARNING, logger="myna_rp.revocation"):
        for _ in range(2):
            status = checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.UNSAFE_SKIP)
            assert status.status is CertStatus.NOT_CHECKED
        statuses = checker.check_chain([pki.leaf.cert, pki.root.cert], policy=RevocationPolicy.UNSAFE_SKIP)
    assert [s.status for s in statuses] == [CertStatus.NOT_CHECKED]
    warnings = [r for r in caplog.records if r.name == "myna_rp.revocation" and r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert "UNSAFE_SKIP" in warnings[0].getMessage()


def test_offline_ocsp_evidence_is_not_nonce_checked(pki: PKI) -> None:
    checker = RevocationChecker(clock=FixedClock(NOW))
    policy = dataclasses.replace(
        RevocationPolicy.REQUIRE, sources=(RevocationSource.OCSP,), require_ocsp_nonce=True
    )
    evidence = RevocationEvidence(
        ocsp_responses=(
            make_ocsp(cert=pki.leaf2, issuer=pki.root),  # about another certificate: skipped
            make_ocsp(cert=pki.leaf, issuer=pki.root, status=REVOKED, reason=x509.ReasonFlags.key_compromise),
        )
    )
    status = checker.check(pki.leaf.cert, pki.root.cert, policy=policy, evidence=evidence)
    assert status.status is CertStatus.REVOKED
    assert status.source is RevocationSource.OCSP


def test_evidence_crl_and_at(pki: PKI) -> None:
    checker = RevocationChecker(clock=FixedClock(NOW + timedelta(days=30)))
    evidence = RevocationEvidence(crls=(make_crl(pki.root, revoked=[(pki.leaf.cert.serial_number, None)]),))
    with pytest.raises(RevocationUnavailableError):  # the CRL is stale at the clock's "now"
        checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY, evidence=evidence)
    status = checker.check(
        pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY, evidence=evidence, at=NOW
    )
    assert status.status is CertStatus.REVOKED


def test_naive_time_refused(pki: PKI) -> None:
    checker = RevocationChecker(clock=FixedClock(NOW))
    with pytest.raises(ValueError, match="naive"):
        checker.check(
            pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.REQUIRE, at=NOW.replace(tzinfo=None)
        )


# -- cache ---------------------------------------------------------------------------------------------


def test_ocsp_cache_expires_at_next_update(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    clock = MutableClock(NOW)
    route = ocsp_route(router, pki, clock)  # answers valid for one hour from "now"
    checker = RevocationChecker(
        ocsp=ocsp_client(http, pki), cache=MemoryRevocationCache(clock=clock), clock=clock
    )
    ocsp_only = dataclasses.replace(RevocationPolicy.REQUIRE, sources=(RevocationSource.OCSP,))
    first = checker.check(pki.leaf.cert, pki.root.cert, policy=ocsp_only)
    clock.advance(timedelta(minutes=30))
    second = checker.check(pki.leaf.cert, pki.root.cert, policy=ocsp_only)
    assert route.call_count == 1
    assert second == first
    clock.advance(timedelta(minutes=31))  # past nextUpdate (NOW - 1 min + 1 h)
    third = checker.check(pki.leaf.cert, pki.root.cert, policy=ocsp_only)
    assert route.call_count == 2
    assert third.this_update == clock.now() - timedelta(minutes=1)


def test_crl_cache_expires_at_next_update(router: respx.MockRouter, http: httpx.Client, pki: PKI) -> None:
    clock = MutableClock(NOW)

    def serve(request: httpx.Request) -> httpx.Response:
        now = clock.now()
        der = make_crl(pki.root, this_update=now - timedelta(hours=1), next_update=now + timedelta(hours=2))
        return httpx.Response(200, content=der, headers={"content-type": "application/pkix-crl"})

    route = router.get(CRL_URL).mock(side_effect=serve)
    checker = RevocationChecker(
        crls=CRLSource(urls={pki.root.cert.subject: [CRL_URL]}, http=http),
        cache=MemoryRevocationCache(clock=clock),
        clock=clock,
    )
    for _ in range(3):
        assert (
            checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY).status
            is CertStatus.GOOD
        )
    assert route.call_count == 1
    clock.advance(timedelta(hours=2, seconds=1))
    checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY)
    assert route.call_count == 2


def test_memory_cache_is_bounded(pki: PKI) -> None:
    from myna_rp.revocation import CRLIndex, load_crl

    cache = MemoryRevocationCache(clock=FixedClock(NOW), max_crl_entries=2)
    index = CRLIndex.build(load_crl(make_crl(pki.root)))
    for key in (b"a", b"b", b"c"):
        cache.put_crl(key, index, expires_at=NOW + timedelta(hours=1))
    assert cache.get_crl(b"a") is None
    assert cache.get_crl(b"c") is index
    cache.put_crl(b"d", index, expires_at=NOW)  # already expired: not stored
    assert cache.get_crl(b"d") is None


# -- rollback ------------------------------------------------------------------------------------------


def test_crl_number_rollback_rejected(pki: PKI) -> None:
    checker = RevocationChecker(clock=FixedClock(NOW))
    newer = RevocationEvidence(crls=(make_crl(pki.root, number=5),))
    older = RevocationEvidence(
        crls=(make_crl(pki.root, number=4, revoked=[(pki.leaf.cert.serial_number, None)]),)
    )
    assert (
        checker.check(
            pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY, evidence=newer
        ).crl_number
        == 5
    )
    with pytest.raises(RevocationUnavailableError) as caught:
        checker.check(pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY, evidence=older)
    assert any("ROLLBACK" in attempt for attempt in caught.value.attempts)
    # Several candidates in one call: the newest is used, the older one is not even needed.
    both = RevocationEvidence(crls=(*older.crls, make_crl(pki.root, number=6)))
    assert (
        checker.check(
            pki.leaf.cert, pki.root.cert, policy=RevocationPolicy.CRL_ONLY, evidence=both
        ).crl_number
        == 6
    )


# -- chains and separate CRL signers --------------------------------------------------------------------


def _root_crl(pki: PKI, *revoked: Party) -> bytes:
    return make_crl(
        pki.root, revoked=[(p.cert.serial_number, x509.ReasonFlags.key_compromise) for p in revoked]
    )


def test_check_chain(pki: PKI) -> None:
    chain = [pki.inter_leaf.cert, pki.intermediate.cert, pki.root.cert]
    evidence = RevocationEvidence(
        crls=(make_crl(pki.intermediate, revoked=[(pki.inter_leaf.cert.serial_number, None)]), _root_crl(pki))
    )
    checker = RevocationChecker(clock=FixedClock(NOW))
    statuses = checker.check_chain(chain, policy=RevocationPolicy.CRL_ONLY, evidence=evidence)
    assert [s.status for s in statuses] == [CertStatus.REVOKED, CertStatus.GOOD]
    assert [s.serial_number for s in statuses] == [
        pki.inter_leaf.cert.serial_number,
        pki.intermediate.cert.serial_number,
    ]
    assert checker.check_chain([pki.root.cert], policy=RevocationPolicy.CRL_ONLY) == []


def _signed_by_separate_key(pki: PKI, signer: Party, *revoked: Party) -> bytes:
    return make_crl(
        pki.intermediate,
        signing_key=signer.key,
        aki_from=signer,
        revoked=[(p.cert.serial_number, x509.ReasonFlags.superseded) for p in revoked],
    )


def test_separate_crl_signer(pki: PKI) -> None:
    chain = [pki.inter_leaf.cert, pki.intermediate.cert, pki.root.cert]
    evidence = RevocationEvidence(
        crls=(_signed_by_separate_key(pki, pki.crl_signer, pki.inter_leaf), _root_crl(pki)),
        certificates=(pki.crl_signer.cert,),
    )
    statuses = RevocationChecker(clock=FixedClock(NOW)).check_chain(
        chain, policy=RevocationPolicy.CRL_ONLY, evidence=evidence
    )
    assert statuses[0].status is CertStatus.REVOKED
    assert statuses[0].reason is RevocationReason.SUPERSEDED


def test_separate_crl_signer_also_from_the_crl_source(pki: PKI) -> None:
    source = CRLSource(
        static=[_signed_by_separate_key(pki, pki.crl_signer), _root_crl(pki)],
        signer_certificates=[pki.crl_signer.cert],
    )
    statuses = RevocationChecker(crls=source, clock=FixedClock(NOW)).check_chain(
        [pki.inter_leaf.cert, pki.intermediate.cert, pki.root.cert], policy=RevocationPolicy.CRL_ONLY
    )
    assert [s.status for s in statuses] == [CertStatus.GOOD, CertStatus.GOOD]


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("signer-revoked", "SIGNER_REVOKED"),
        ("signer-not-under-anchor", "SIGNER_UNTRUSTED"),
        ("signer-not-supplied", "AKI_MISMATCH"),  # the CRL's AKI names the absent signer
        ("no-anchor", "SIGNER_UNTRUSTED"),
    ],
)
def test_separate_crl_signer_failures(pki: PKI, case: str, cause: str) -> None:
    signer = pki.rogue_crl_signer if case == "signer-not-under-anchor" else pki.crl_signer
    root_crl = _root_crl(pki, pki.crl_signer) if case == "signer-revoked" else _root_crl(pki)
    certificates = () if case == "signer-not-supplied" else (signer.cert,)
    evidence = RevocationEvidence(
        crls=(_signed_by_separate_key(pki, signer), root_crl), certificates=certificates
    )
    checker = RevocationChecker(clock=FixedClock(NOW))

    def run() -> object:
        if case == "no-anchor":  # check() without trust_anchor and a non-self-issued issuer
            return checker.check(
                pki.inter_leaf.cert,
                pki.intermediate.cert,
                policy=RevocationPolicy.CRL_ONLY,
                evidence=evidence,
            )
        return checker.check_chain(
            [pki.inter_leaf.cert, pki.intermediate.cert, pki.root.cert],
            policy=RevocationPolicy.CRL_ONLY,
            evidence=evidence,
        )

    with pytest.raises(RevocationUnavailableError) as caught:
        run()
    assert any(cause in attempt for attempt in caught.value.attempts), caught.value.attempts


def test_check_with_explicit_trust_anchor(pki: PKI) -> None:
    evidence = RevocationEvidence(
        crls=(_signed_by_separate_key(pki, pki.crl_signer), _root_crl(pki)),
        certificates=(pki.crl_signer.cert,),
    )
    status = RevocationChecker(clock=FixedClock(NOW)).check(
        pki.inter_leaf.cert,
        pki.intermediate.cert,
        policy=RevocationPolicy.CRL_ONLY,
        evidence=evidence,
        trust_anchor=pki.root.cert,
    )
    assert status.status is CertStatus.GOOD


def test_policy_presets_are_frozen() -> None:
    assert RevocationPolicy.REQUIRE.hard_fail is True
    assert RevocationPolicy.REQUIRE.mode is SourceMode.ALL_AVAILABLE
    assert RevocationPolicy.PREFER_OCSP_THEN_CRL.mode is SourceMode.FIRST_DEFINITIVE
    assert RevocationPolicy.CRL_ONLY.sources == (RevocationSource.CRL,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        RevocationPolicy.REQUIRE.hard_fail = False  # type: ignore[misc]
