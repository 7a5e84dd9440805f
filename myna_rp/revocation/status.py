"""Revocation outcomes (RFC 5280 §5.3.1 CRLReason, RFC 6960 §2.2 CertStatus)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CertStatus(StrEnum):
    """What a revocation source says of one certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    ON_HOLD = "on_hold"  # revoked with reason certificateHold: temporary, may be released
    UNKNOWN = "unknown"  # the source answered but does not know the certificate (OCSP "unknown")
    NOT_CHECKED = "not_checked"  # only under RevocationPolicy.UNSAFE_SKIP


class RevocationReason(StrEnum):
    """RFC 5280 §5.3.1 CRLReason, as J-LIS and platform operators expose them (domain-jpki.md)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"  # 異動等失効: a basic-four attribute changed
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    CERTIFICATE_HOLD = "certificateHold"
    REMOVE_FROM_CRL = "removeFromCRL"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"
    AA_COMPROMISE = "aACompromise"


class RevocationSource(StrEnum):
    """Where an answer came from."""

    OCSP = "ocsp"
    CRL = "crl"


@dataclass(frozen=True, slots=True)
class RevocationStatus:
    """The revocation evidence for one certificate.

    Attributes:
        status: the outcome.
        source: OCSP or CRL; ``None`` only when ``status`` is NOT_CHECKED.
        reason: the CRLReason when REVOKED/ON_HOLD and the source gave one.
        revocation_time: when the certificate was revoked (aware UTC), for REVOKED/ON_HOLD.
        this_update: the source's thisUpdate (aware UTC).
        next_update: the source's nextUpdate, ``None`` when the source gave none.
        produced_at: OCSP producedAt (``None`` for CRLs).
        crl_number: the CRL number when ``source`` is CRL and the CRL had one.
        serial_number: the serial of the certificate the answer is about.
    """

    status: CertStatus
    source: RevocationSource | None
    serial_number: int
    reason: RevocationReason | None = None
    revocation_time: datetime | None = None
    this_update: datetime | None = None
    next_update: datetime | None = None
    produced_at: datetime | None = None
    crl_number: int | None = None
