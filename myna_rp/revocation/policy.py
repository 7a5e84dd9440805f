"""Revocation policy as frozen data with named presets.

The model follows pyhanko-certvalidator's separation of *revoked*, *stale* and *indeterminate*: only a
valid, fresh answer decides; anything else is "no answer", and a hard-fail policy turns "no answer" into
:attr:`~myna_rp.errors.Reason.REVOCATION_UNAVAILABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import ClassVar

from .status import RevocationSource


class SourceMode(StrEnum):
    """How configured sources are combined."""

    # try sources in order; the first valid GOOD/REVOKED/ON_HOLD decides
    FIRST_DEFINITIVE = "first_definitive"
    ALL_AVAILABLE = "all_available"  # consult every source that answers; any REVOKED/ON_HOLD wins


@dataclass(frozen=True, slots=True)
class RevocationPolicy:
    """How revocation is checked. Immutable; build variants with :func:`dataclasses.replace`.

    Attributes:
        name: a label for logs and results.
        sources: the sources to use, in order.
        mode: how answers from several sources combine.
        hard_fail: when no source gives a valid answer, fail with REVOCATION_UNAVAILABLE (``True``) or
            report ``unknown`` and let the certificate pass (``False``).
        check: ``False`` only for :attr:`UNSAFE_SKIP`.
        clock_skew: tolerance applied to thisUpdate/nextUpdate comparisons (RFC 6960 §4.2.2.1 leaves it to
            local policy; 5 minutes by default).
        ocsp_max_age: the oldest acceptable OCSP thisUpdate when the response has no nextUpdate.
        crl_max_age: the oldest acceptable CRL thisUpdate when the CRL has no nextUpdate (J-LIS issues
            CRLs daily, so 24 hours by default).
        require_ocsp_nonce: reject an online OCSP response that does not echo the request nonce
            (RFC 8954). Responses supplied offline (files) are never nonce-checked.
        unknown_is_revoked: treat an OCSP ``unknown`` as revoked rather than as "no answer".
    """

    name: str
    sources: tuple[RevocationSource, ...] = (RevocationSource.OCSP, RevocationSource.CRL)
    mode: SourceMode = SourceMode.ALL_AVAILABLE
    hard_fail: bool = True
    check: bool = True
    clock_skew: timedelta = timedelta(minutes=5)
    ocsp_max_age: timedelta = timedelta(hours=24)
    crl_max_age: timedelta = timedelta(hours=24)
    require_ocsp_nonce: bool = False
    unknown_is_revoked: bool = False

    REQUIRE: ClassVar[RevocationPolicy]
    PREFER_OCSP_THEN_CRL: ClassVar[RevocationPolicy]
    CRL_ONLY: ClassVar[RevocationPolicy]
    UNSAFE_SKIP: ClassVar[RevocationPolicy]


# Hard-fail, every configured source consulted, any REVOKED wins. The default.
RevocationPolicy.REQUIRE = RevocationPolicy(name="REQUIRE")
# Hard-fail; OCSP first, the CRL only when OCSP gives no valid answer (one round trip in the common case).
RevocationPolicy.PREFER_OCSP_THEN_CRL = RevocationPolicy(
    name="PREFER_OCSP_THEN_CRL", mode=SourceMode.FIRST_DEFINITIVE
)
# Hard-fail on the CRL alone (offline verifiers that sync the daily CRL).
RevocationPolicy.CRL_ONLY = RevocationPolicy(name="CRL_ONLY", sources=(RevocationSource.CRL,))
# No revocation check at all. Logged as a warning on every use: never for eKYC (犯収法 requires the check).
RevocationPolicy.UNSAFE_SKIP = RevocationPolicy(name="UNSAFE_SKIP", sources=(), check=False, hard_fail=False)
