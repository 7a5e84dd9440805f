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

import httpx
from cryptography import x509

from myna_rp.clock import Clock
from myna_rp.errors import ConfigurationError
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.kyc import FreshOCSPCache as FreshOCSPCache  # re-exported (see the module docstring)
from myna_rp.kyc import require_ekyc_policy
from myna_rp.revocation import RevocationCache, RevocationPolicy

from .._shared.trust import READ_ERRORS, JPKIRevocationSources, read_jpki_roots, revocation_checker
from .._shared.trust import PlatformClock as PlatformClock  # re-exported


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
    checker = revocation_checker(
        http=http, clock=clock, ocsp_responders=ocsp_responders, crl_urls=crl_urls, cache=cache
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
        roots = read_jpki_roots(http)
    except READ_ERRORS as exc:
        raise ConfigurationError(
            f"cannot read the trust configuration from the platform ({type(exc).__name__})"
        ) from exc
    sources = JPKIRevocationSources.of(roots, ocsp_path=ocsp_path)
    return build_verifier(
        trust=sources.trust,
        http=http,
        clock=clock,
        ocsp_responders=sources.ocsp_responders,
        crl_urls=sources.crl_urls,
        policy=policy,
        subject_id_key=subject_id_key,
        cache=cache,
    )
