"""myna_rp: the relying-party SDK for the My Number Card (JPKI 公的個人認証).

The public surface is re-exported here; submodules hold the details (``myna_rp.jpki``, ``myna_rp.mdoc``,
``myna_rp.revocation``).
"""

from .age import AgeEvidence, AgeVerification, AndroidDevice, verify_age
from .clock import Clock, FixedClock, SystemClock
from .errors import (
    AgeNotDeterminedError,
    AttributeProofUnsupported,
    CertificateRevokedError,
    ConfigurationError,
    IndividualNumberRefusedError,
    MalformedInputError,
    MdocVerificationError,
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
from .mdoc import (
    Channel,
    DeviceAuthKind,
    IACAStore,
    MdocVerifier,
    Presentation,
    SessionTranscript,
    age_request,
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
    "AgeEvidence",
    "AgeNotDeterminedError",
    "AgeVerification",
    "AndroidDevice",
    "AttributeProofUnsupported",
    "BasicFourAttributes",
    "CRLSource",
    "CertStatus",
    "CertificateKind",
    "CertificateRevokedError",
    "Channel",
    "Clock",
    "ConfigurationError",
    "DeviceAuthKind",
    "FixedClock",
    "FormFactor",
    "IACAStore",
    "IndividualNumberRefusedError",
    "JPKIAuthentication",
    "JPKIVerification",
    "JPKIVerifier",
    "MalformedInputError",
    "MdocVerificationError",
    "MdocVerifier",
    "MemoryRevocationCache",
    "MynaRPError",
    "OCSPClient",
    "PolicyRules",
    "Presentation",
    "Reason",
    "RevocationChecker",
    "RevocationEvidence",
    "RevocationPolicy",
    "RevocationReason",
    "RevocationStatus",
    "RevocationUnavailableError",
    "SessionTranscript",
    "SystemClock",
    "TrustStore",
    "VerificationError",
    "__version__",
    "age_request",
    "verify_age",
]
