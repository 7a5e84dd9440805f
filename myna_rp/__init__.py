"""myna_rp: the relying-party SDK for the My Number Card (JPKI 公的個人認証).

The public surface is re-exported here; submodules hold the details (``myna_rp.jpki``,
``myna_rp.revocation``).
"""

from .clock import Clock, FixedClock, SystemClock
from .errors import (
    CertificateRevokedError,
    ConfigurationError,
    MalformedInputError,
    MynaRPError,
    Reason,
    RevocationUnavailableError,
    VerificationError,
)
from .jpki import (
    BasicFourAttributes,
    CertificateKind,
    FormFactor,
    JPKIAuthentication,
    JPKIVerification,
    JPKIVerifier,
    PolicyRules,
    TrustStore,
)
from .revocation import (
    CertStatus,
    CRLSource,
    MemoryRevocationCache,
    OCSPClient,
    RevocationChecker,
    RevocationEvidence,
    RevocationPolicy,
    RevocationReason,
    RevocationStatus,
)

__version__ = "0.1.0"

__all__ = [
    "BasicFourAttributes",
    "CRLSource",
    "CertStatus",
    "CertificateKind",
    "CertificateRevokedError",
    "Clock",
    "ConfigurationError",
    "FixedClock",
    "FormFactor",
    "JPKIAuthentication",
    "JPKIVerification",
    "JPKIVerifier",
    "MalformedInputError",
    "MemoryRevocationCache",
    "MynaRPError",
    "OCSPClient",
    "PolicyRules",
    "Reason",
    "RevocationChecker",
    "RevocationEvidence",
    "RevocationPolicy",
    "RevocationReason",
    "RevocationStatus",
    "RevocationUnavailableError",
    "SystemClock",
    "TrustStore",
    "VerificationError",
    "__version__",
]
