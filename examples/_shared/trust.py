"""Trust configuration both example services read from a platform shaped like the mock.

:func:`read_jpki_roots` lists the JPKI roots (``GET /ca``, each with its ``generation`` and ``crl_url``);
:class:`JPKIRevocationSources` turns them into the trust store, the OCSP responder and the CRL URLs per
issuing CA (JPKI certificates carry no AIA, so they are configured, not discovered);
:func:`revocation_checker` builds the checker both verifiers use; :class:`PlatformClock` reads the mock's
test clock. Production code builds the same pieces from ``TrustStore.jlis_production([...])`` and the J-LIS
responder and CRL URLs instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from cryptography import x509

from myna_rp.clock import Clock, require_aware
from myna_rp.errors import ConfigurationError
from myna_rp.jpki import TrustStore
from myna_rp.kyc import FreshOCSPCache
from myna_rp.revocation import CRLSource, OCSPClient, RevocationCache, RevocationChecker

#: The exceptions reading the platform's trust configuration raises (the callers turn them into a
#: :class:`~myna_rp.errors.ConfigurationError`).
READ_ERRORS = (httpx.HTTPError, ValueError, KeyError, TypeError)

#: One JPKI root as the platform lists it: ``(generation, certificate, crl_url)``.
JPKIRoot = tuple[int, x509.Certificate, str]


def read_jpki_roots(http: httpx.Client) -> list[JPKIRoot]:
    """``GET /ca`` of the platform: ``(generation, root certificate, crl_url)`` per JPKI root.

    Raises:
        httpx.HTTPError, ValueError, KeyError, TypeError (:data:`READ_ERRORS`): no answer, or an
            unusable one.
    """
    answer = http.get("/ca")
    answer.raise_for_status()
    return [
        (
            int(ca["generation"]),
            x509.load_pem_x509_certificate(ca["certificate_pem"].encode()),
            ca["crl_url"],
        )
        for ca in answer.json()
    ]


@dataclass(frozen=True, slots=True)
class JPKIRevocationSources:
    """The JPKI trust anchors with, per issuing CA subject, its OCSP responder and CRL URLs (newest
    generation first)."""

    trust: TrustStore
    ocsp_responders: dict[x509.Name, str]
    crl_urls: dict[x509.Name, list[str]]

    @classmethod
    def of(cls, roots: Sequence[JPKIRoot], *, ocsp_path: str) -> JPKIRevocationSources:
        """From :func:`read_jpki_roots`'s list; ``ocsp_path`` is the OCSP responder of every CA.

        Raises:
            ConfigurationError: no root.
        """
        if not roots:
            raise ConfigurationError("the platform lists no JPKI root")
        crl_urls: dict[x509.Name, list[str]] = {}
        for _, root, url in sorted(roots, key=lambda item: -item[0]):
            crl_urls.setdefault(root.subject, []).append(url)
        return cls(
            trust=TrustStore.from_certificates([root for _, root, _ in roots]),
            ocsp_responders={root.subject: ocsp_path for _, root, _ in roots},
            crl_urls=crl_urls,
        )


def revocation_checker(
    *,
    http: httpx.Client,
    clock: Clock,
    ocsp_responders: Mapping[x509.Name, str],
    crl_urls: Mapping[x509.Name, Sequence[str]] | None,
    cache: RevocationCache | None,
) -> RevocationChecker:
    """OCSP (and, when ``crl_urls`` is given, CRLs) through ``http``; the cache defaults to
    :class:`~myna_rp.kyc.FreshOCSPCache` (OCSP asked afresh on every check, CRLs kept until nextUpdate)."""
    return RevocationChecker(
        ocsp=OCSPClient(http, dict(ocsp_responders)),
        crls=CRLSource(urls={k: list(v) for k, v in crl_urls.items()}, http=http) if crl_urls else None,
        cache=cache if cache is not None else FreshOCSPCache(clock),
        clock=clock,
    )


class PlatformClock:
    """The mock platform's test clock, read over HTTP (``GET /admin/clock``) on every call.

    For walk-throughs that move the mock's time (``POST /admin/clock``) while the service runs in another
    process: certificates, credentials, OCSP answers, CRLs and webhook timestamps carry mock time, so the
    service must judge them by it. Never use it against a real platform.

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
        except READ_ERRORS as exc:
            raise ConfigurationError(
                "cannot read the platform's clock (is the mock in test mode? MYNA_MOCK_TEST_MODE=true)"
            ) from exc
