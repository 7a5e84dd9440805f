"""Revocation checking: OCSP (RFC 6960) and CRLs (RFC 5280) under a frozen :class:`RevocationPolicy`.

Entry point: :class:`RevocationChecker` (``check`` / ``check_chain``). Building blocks are public too:
:func:`validate_ocsp_response`, :func:`verify_ocsp_signer`, :func:`build_ocsp_request`, :class:`OCSPClient`,
:func:`validate_crl`, :class:`CRLIndex`, :class:`CRLSource`, and the :class:`RevocationCache` protocol.
"""

from .cache import MemoryRevocationCache, RevocationCache, crl_cache_key, ocsp_cache_key
from .checker import RevocationChecker, RevocationEvidence
from .crl import CRLIndex, CRLSource, load_crl, validate_crl
from .ocsp import (
    CertIDHash,
    OCSPClient,
    OCSPFetchResult,
    OCSPRequestData,
    OCSPResponderAuthorisation,
    build_ocsp_request,
    validate_ocsp_response,
    verify_ocsp_signer,
)
from .policy import RevocationPolicy, SourceMode
from .status import CertStatus, RevocationReason, RevocationSource, RevocationStatus

__all__ = [
    "CRLIndex",
    "CRLSource",
    "CertIDHash",
    "CertStatus",
    "MemoryRevocationCache",
    "OCSPClient",
    "OCSPFetchResult",
    "OCSPRequestData",
    "OCSPResponderAuthorisation",
    "RevocationCache",
    "RevocationChecker",
    "RevocationEvidence",
    "RevocationPolicy",
    "RevocationReason",
    "RevocationSource",
    "RevocationStatus",
    "SourceMode",
    "build_ocsp_request",
    "crl_cache_key",
    "load_crl",
    "ocsp_cache_key",
    "validate_crl",
    "validate_ocsp_response",
    "verify_ocsp_signer",
]
