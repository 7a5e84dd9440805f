"""Revocation checking: OCSP (RFC 6960) and CRLs (RFC 5280) under a frozen :class:`RevocationPolicy`."""

from .policy import RevocationPolicy, SourceMode
from .status import CertStatus, RevocationReason, RevocationSource, RevocationStatus

__all__ = [
    "CertStatus",
    "RevocationPolicy",
    "RevocationReason",
    "RevocationSource",
    "RevocationStatus",
    "SourceMode",
]
