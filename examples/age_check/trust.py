"""The shop's trust configuration: whom it believes, injected — never hard-wired.

* mdoc (iPhone attribute proof): an :class:`~myna_rp.mdoc.MdocVerifier` anchored on the IACA root(s) of
  the My Number Card credential issuer (ISO/IEC 18013-5 Annex B.1.2).
* JPKI fallback (Android): a direct :class:`~myna_rp.jpki.JPKIVerifier` on the J-LIS roots (or the mock's
  test roots) with a **hard-fail** revocation policy (``RevocationPolicy.REQUIRE`` by default: OCSP and
  CRL, any REVOKED wins, no answer → REVOCATION_UNAVAILABLE). A soft-fail or skipping policy is refused.
  Its revocation cache is :class:`myna_rp.kyc.FreshOCSPCache` by default: OCSP is asked afresh for every
  check (a cached "good" would let a certificate revoked since an earlier check through), CRLs are kept.
  It keeps **no validated paths** (``path_cache_size=0``): a cached path would hold the customer's
  signing certificate — name, address, date of birth, gender — in memory after the decision.

:func:`build_trust` takes the pieces (production: ``TrustStore.jlis_production([...])``, the J-LIS OCSP
responder and CRL URLs per issuing CA); :func:`trust_from_platform` reads them from a platform that
publishes them the way the mock does (``GET /mdoc/iaca.cer``, ``GET /ca`` with each CA's ``crl_url``, OCSP
at ``/ocsp``) — what tests and the walk-through use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx
from cryptography import x509

from myna_rp.clock import Clock
from myna_rp.errors import ConfigurationError
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.mdoc import IACAStore, MdocVerifier
from myna_rp.revocation import RevocationCache, RevocationPolicy

from .._shared.trust import READ_ERRORS, JPKIRevocationSources, read_jpki_roots, revocation_checker
from .._shared.trust import PlatformClock as PlatformClock  # re-exported


@dataclass(frozen=True, slots=True)
class ShopTrust:
    """The two verifiers the shop needs (both immutable and thread-safe, built once).

    Raises:
        ConfigurationError: the JPKI verifier's revocation policy does not check revocation hard-fail.
    """

    mdoc: MdocVerifier
    jpki: JPKIVerifier

    def __post_init__(self) -> None:
        policy = self.jpki.policy
        if not policy.check or not policy.hard_fail:
            raise ConfigurationError(
                f"the JPKI fallback needs a hard-fail revocation policy (REQUIRE); got {policy.name}"
            )


def build_trust(
    *,
    iaca_certificates: Iterable[x509.Certificate],
    jpki_trust: TrustStore,
    http: httpx.Client,
    clock: Clock,
    ocsp_responders: Mapping[x509.Name, str],
    crl_urls: Mapping[x509.Name, Sequence[str]] | None = None,
    policy: RevocationPolicy = RevocationPolicy.REQUIRE,
    cache: RevocationCache | None = None,
) -> ShopTrust:
    """Build the shop's verifiers.

    Args:
        iaca_certificates: the IACA root(s) trusted for the My Number Card mdoc.
        jpki_trust: the JPKI trust anchors (J-LIS roots; the mock's roots in tests).
        http: the client every OCSP/CRL request goes through (its base URL resolves relative URLs).
        clock: "now" for both verifiers.
        ocsp_responders: OCSP responder URL per issuing CA subject (JPKI certificates carry no AIA).
        crl_urls: CRL URLs per issuing CA subject, newest generation first.
        policy: the revocation policy; must be hard-fail (default REQUIRE).
        cache: the revocation cache; default :class:`~myna_rp.kyc.FreshOCSPCache` (never reuses an OCSP
            answer; the shop also refuses an answer older than the challenge, see
            :meth:`~examples.age_check.service.AgeCheckShop.complete_jpki`).

    Raises:
        ConfigurationError: no IACA certificate, or a policy that is not hard-fail.
    """
    iaca = list(iaca_certificates)
    if not iaca:
        raise ConfigurationError("at least one IACA certificate is needed for the mdoc verifier")
    checker = revocation_checker(
        http=http, clock=clock, ocsp_responders=ocsp_responders, crl_urls=crl_urls, cache=cache
    )
    return ShopTrust(
        mdoc=MdocVerifier(IACAStore.from_certificates(iaca), clock=clock),
        # path_cache_size=0: the path memo would keep the leaf (with the basic four attributes) alive.
        jpki=JPKIVerifier(jpki_trust, revocation=checker, policy=policy, clock=clock, path_cache_size=0),
    )


def trust_from_platform(
    http: httpx.Client,
    *,
    clock: Clock,
    policy: RevocationPolicy = RevocationPolicy.REQUIRE,
    ocsp_path: str = "/ocsp",
    cache: RevocationCache | None = None,
) -> ShopTrust:
    """Read the trust configuration from a platform shaped like the mock (``http`` has its base URL).

    ``GET /mdoc/iaca.cer`` (the IACA root, DER), ``GET /ca`` (JPKI roots with their ``crl_url``); the OCSP
    responder is ``ocsp_path`` for every CA.

    Raises:
        ConfigurationError: the platform did not answer, or answered something unusable.
    """
    try:
        iaca_answer = http.get("/mdoc/iaca.cer")
        iaca_answer.raise_for_status()
        iaca = x509.load_der_x509_certificate(iaca_answer.content)
        roots = read_jpki_roots(http)
    except READ_ERRORS as exc:
        raise ConfigurationError(f"cannot read the trust configuration from the platform: {exc}") from exc
    sources = JPKIRevocationSources.of(roots, ocsp_path=ocsp_path)
    return build_trust(
        iaca_certificates=[iaca],
        jpki_trust=sources.trust,
        http=http,
        clock=clock,
        ocsp_responders=sources.ocsp_responders,
        crl_urls=sources.crl_urls,
        policy=policy,
        cache=cache,
    )
