"""The bank's JPKI trust configuration: whom it believes, injected — never hard-wired.

One :class:`~myna_rp.jpki.JPKIVerifier` serves both flows: account opening in direct mode (the signing
certificate, 署名用電子証明書) and login (the user authentication certificate, 利用者証明用電子証明書). It is
built with a **hard-fail** revocation policy — ``RevocationPolicy.REQUIRE`` by default: OCSP *and* the CRL
are consulted, any REVOKED wins, no valid answer → ``REVOCATION_UNAVAILABLE`` — because 犯罪収益移転防止法
施行規則 第6条第1項第1号ワ requires confirming the certificate is not revoked (``DirectVerification``
refuses anything weaker), and a login with a suspended phone must fail too.

:func:`build_verifier` takes the pieces (production: ``TrustStore.jlis_production([...])``, the J-LIS OCSP
responder reached over the certified verifier's private channel, the CRL URLs per issuing CA);
:func:`verifier_from_platform` reads them from a platform that publishes them the way the mock does
(``GET /ca`` with each CA's ``crl_url``, OCSP at ``/ocsp``) — what the tests and the walk-through use.

``FreshOCSPCache`` lives in the SDK (:class:`myna_rp.kyc.FreshOCSPCache`) and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx
from cryptography import x509

from myna_rp.clock import Clock, require_aware
from myna_rp.errors import ConfigurationError
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.kyc import FreshOCSPCache, require_ekyc_policy
from myna_rp.revocation import CRLSource, OCSPClient, RevocationCache, RevocationChecker, RevocationPolicy


def build_verifier(
    *,
    trust: TrustStore,
    http: httpx.Client,
    clock: Clock,
    ocsp_responders: Mapping[x509.Name, str],
    crl_urls: Mapping[x509.Name, Sequence[str]] | None = None,
    policy: RevocationPolicy = RevocationPolicy.REQUIRE,
    subject_id_key: bytes,
    cache: RevocationCache | None = None,
) -> JPKIVerifier:
    """The bank's verifier.

    Args:
        trust: the JPKI trust anchors (J-LIS roots; the mock's roots in tests).
        http: the client every OCSP/CRL request goes through (its base URL resolves relative URLs).
        clock: "now".
        ocsp_responders: OCSP responder URL per issuing CA subject (JPKI certificates carry no AIA).
        crl_urls: CRL URLs per issuing CA subject, newest generation first.
        policy: must fail hard (:func:`myna_rp.kyc.require_ekyc_policy`); ``REQUIRE`` by default.
        subject_id_key: the key of the login certificates' opaque subject ids (≥ 32 bytes).
        cache: a revocation cache; default :class:`myna_rp.kyc.FreshOCSPCache` (OCSP asked afresh on
            every verification, CRLs kept until their nextUpdate). A cache that reuses OCSP answers makes
            ``KycService`` refuse a second eKYC of one certificate within an answer's lifetime
            (``REVOCATION_UNAVAILABLE``: the evidence would be older than the challenge), and lets a login
            with a certificate revoked minutes ago through.

    Raises:
        ConfigurationError: a policy that does not fail hard, or a short subject-id key.
    """
    require_ekyc_policy(policy)
    if len(subject_id_key) < 32:
        raise ConfigurationError("the subject-id key must be at least 32 bytes")
    checker = RevocationChecker(
        ocsp=OCSPClient(http, dict(ocsp_responders)),
        crls=CRLSource(urls={k: list(v) for k, v in crl_urls.items()}, http=http) if crl_urls else None,
        cache=cache if cache is not None else FreshOCSPCache(clock),
        clock=clock,
    )
    return JPKIVerifier(trust, revocation=checker, policy=policy, clock=clock, subject_id_key=subject_id_key)


def verifier_from_platform(
    http: httpx.Client,
    *,
    clock: Clock,
    subject_id_key: bytes,
    policy: RevocationPolicy = RevocationPolicy.REQUIRE,
    ocsp_path: str = "/ocsp",
    cache: RevocationCache | None = None,
) -> JPKIVerifier:
    """Read the trust configuration from a platform shaped like the mock (``http`` has its base URL):
    ``GET /ca`` lists the JPKI roots with their ``crl_url``; the OCSP responder is ``ocsp_path``.

    Raises:
        ConfigurationError: the platform did not answer, or answered something unusable.
    """
    try:
        answer = http.get("/ca")
        answer.raise_for_status()
        roots: list[tuple[int, x509.Certificate, str]] = [
            (
                int(ca["generation"]),
                x509.load_pem_x509_certificate(ca["certificate_pem"].encode()),
                ca["crl_url"],
            )
            for ca in answer.json()
        ]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot read the trust configuration from the platform ({type(exc).__name__})"
        ) from exc
    if not roots:
        raise ConfigurationError("the platform lists no JPKI root")
    crl_urls: dict[x509.Name, list[str]] = {}
    for _, root, url in sorted(roots, key=lambda item: -item[0]):
        crl_urls.setdefault(root.subject, []).append(url)
    return build_verifier(
        trust=TrustStore.from_certificates([root for _, root, _ in roots]),
        http=http,
        clock=clock,
        ocsp_responders={root.subject: ocsp_path for _, root, _ in roots},
        crl_urls=crl_urls,
        policy=policy,
        subject_id_key=subject_id_key,
        cache=cache,
    )


class PlatformClock:
    """The mock platform's test clock, read over HTTP (``GET /admin/clock``) on every call.

    For walk-throughs that move the mock's time (``POST /admin/clock``) while the bank runs in another
    process: certificates, OCSP answers and webhook timestamps carry mock time, so the bank must judge them
    by it. Never use it against a real platform.

    Raises (from :meth:`now`):
        ConfigurationError: the platform has no test clock (not in test mode) or did not answer.
    """

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def now(self) -> datetime:
        try:
            answer = self._http.get("/admin/clock")
            answer.raise_for_status()
            return require_aware(datetime.fromisoformat(answer.json()["now"]))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                "cannot read the platform's clock (is the mock in test mode? MYNA_MOCK_TEST_MODE=true)"
            ) from exc
