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
from datetime import datetime

import httpx
from cryptography import x509

from myna_rp.clock import Clock, require_aware
from myna_rp.errors import ConfigurationError
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.kyc import FreshOCSPCache
from myna_rp.mdoc import IACAStore, MdocVerifier
from myna_rp.revocation import CRLSource, OCSPClient, RevocationCache, RevocationChecker, RevocationPolicy


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
    checker = RevocationChecker(
        ocsp=OCSPClient(http, dict(ocsp_responders)),
        crls=CRLSource(urls={k: list(v) for k, v in crl_urls.items()}, http=http) if crl_urls else None,
        cache=cache if cache is not None else FreshOCSPCache(clock),
        clock=clock,
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
        listing_answer = http.get("/ca")
        listing_answer.raise_for_status()
        listing = listing_answer.json()
        roots: list[tuple[int, x509.Certificate, str]] = [
            (
                int(ca["generation"]),
                x509.load_pem_x509_certificate(ca["certificate_pem"].encode()),
                ca["crl_url"],
            )
            for ca in listing
        ]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the trust configuration from the platform: {exc}") from exc
    if not roots:
        raise ConfigurationError("the platform lists no JPKI root")
    crl_urls: dict[x509.Name, list[str]] = {}
    for _, root, url in sorted(roots, key=lambda item: -item[0]):
        crl_urls.setdefault(root.subject, []).append(url)
    return build_trust(
        iaca_certificates=[iaca],
        jpki_trust=TrustStore.from_certificates([root for _, root, _ in roots]),
        http=http,
        clock=clock,
        ocsp_responders={root.subject: ocsp_path for _, root, _ in roots},
        crl_urls=crl_urls,
        policy=policy,
        cache=cache,
    )


class PlatformClock:
    """The mock platform's test clock, read over HTTP (``GET /admin/clock``) on every call.

    For walk-throughs that move the mock's time (``POST /admin/clock``) while the shop runs in another
    process: credentials, OCSP answers and CRLs carry mock time, so the shop must judge them by it.
    Never use it against a real platform.

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
