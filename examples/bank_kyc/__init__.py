"""An example bank built on ``myna_rp``: account opening (eKYC) with the JPKI signing certificate and its
confirmation record (確認記録), login with the user authentication certificate, and the platform's
attribute-change webhooks followed by the latest attributes fetched with the holder's consent.

Serve: ``uvicorn --factory examples.bank_kyc.app:create_app`` (see README.md in this folder and
docs/tutorial_bank_kyc.md).
"""

from myna_rp.kyc import FreshOCSPCache  # re-exported: the bank's default revocation cache

from .app import BankDependencies, build_bank, create_app
from .customers import (
    ATTRIBUTE_UPDATE_FORMAT,
    AccountAttributes,
    AttributeUpdate,
    Customer,
    CustomerStore,
    LoginCredential,
    WebhookEventRecord,
    engine_for,
)
from .errors import (
    AccountClosedError,
    AccountExistsError,
    AdminUnauthenticatedError,
    BankError,
    LoginNotRecognisedError,
    MalformedRequestError,
    NoPlatformUserIdError,
    PlatformNotConfiguredError,
    UnauthenticatedError,
)
from .problems import PROBLEM_TYPE_BASE, problem_type, reason_status
from .service import (
    BIND_PURPOSE,
    LOGIN_PURPOSE,
    BankService,
    LatestAttributesSource,
    LoginEvidence,
    LoginResult,
    OpeningResult,
    OpeningStart,
    PlatformLoginBinding,
    SigningEvidence,
    WebhookOutcome,
)
from .settings import BankSettings
from .trust import PlatformClock, build_verifier, verifier_from_platform

__all__ = [
    "ATTRIBUTE_UPDATE_FORMAT",
    "BIND_PURPOSE",
    "LOGIN_PURPOSE",
    "PROBLEM_TYPE_BASE",
    "AccountAttributes",
    "AccountClosedError",
    "AccountExistsError",
    "AdminUnauthenticatedError",
    "AttributeUpdate",
    "BankDependencies",
    "BankError",
    "BankService",
    "BankSettings",
    "Customer",
    "CustomerStore",
    "FreshOCSPCache",
    "LatestAttributesSource",
    "LoginCredential",
    "LoginEvidence",
    "LoginNotRecognisedError",
    "LoginResult",
    "MalformedRequestError",
    "NoPlatformUserIdError",
    "OpeningResult",
    "OpeningStart",
    "PlatformClock",
    "PlatformLoginBinding",
    "PlatformNotConfiguredError",
    "SigningEvidence",
    "UnauthenticatedError",
    "WebhookEventRecord",
    "WebhookOutcome",
    "build_bank",
    "build_verifier",
    "create_app",
    "engine_for",
    "problem_type",
    "reason_status",
    "verifier_from_platform",
]
