"""One error tree for the SDK.

Every error carries a machine-readable :class:`Reason`; callers branch on ``error.reason``, never on
the message text. Messages never contain personal attributes or a My Number (個人番号).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a verification failed. Values are stable strings (used in JSON output and HTTP problems)."""

    MALFORMED_INPUT = "MALFORMED_INPUT"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    CERTIFICATE_NOT_YET_VALID = "CERTIFICATE_NOT_YET_VALID"
    UNTRUSTED_ISSUER = "UNTRUSTED_ISSUER"
    WRONG_KEY_USAGE = "WRONG_KEY_USAGE"
    WRONG_CERTIFICATE_KIND = "WRONG_CERTIFICATE_KIND"
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"
    CERTIFICATE_ON_HOLD = "CERTIFICATE_ON_HOLD"
    REVOCATION_UNAVAILABLE = "REVOCATION_UNAVAILABLE"
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR"


class MynaRPError(Exception):
    """Base of every error raised by :mod:`myna_rp`.

    Attributes:
        reason: the machine-readable :class:`Reason`.
        message: a human sentence, free of personal data.
    """

    default_reason: Reason = Reason.MALFORMED_INPUT

    def __init__(self, message: str, *, reason: Reason | None = None) -> None:
        super().__init__(message)
        self.reason: Reason = reason if reason is not None else self.default_reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.message}"


class MalformedInputError(MynaRPError):
    """Input bytes could not be parsed (bad DER/PEM/CMS, wrong structure, size limits)."""

    default_reason = Reason.MALFORMED_INPUT


class ConfigurationError(MynaRPError):
    """The SDK was built with an unusable configuration (no trust anchors, bad pin, …)."""

    default_reason = Reason.CONFIGURATION_ERROR


class VerificationError(MynaRPError):
    """A well-formed input failed a security check. ``reason`` says which."""

    default_reason = Reason.SIGNATURE_INVALID


class CertificateRevokedError(VerificationError):
    """The certificate is revoked (RFC 5280 §5.3.1) or on hold (certificateHold).

    Attributes:
        status: the :class:`myna_rp.revocation.RevocationStatus` that decided it.
    """

    default_reason = Reason.CERTIFICATE_REVOKED

    def __init__(self, message: str, *, status: object, reason: Reason | None = None) -> None:
        super().__init__(message, reason=reason)
        self.status = status


class RevocationUnavailableError(VerificationError):
    """No valid revocation answer could be obtained under a hard-fail policy."""

    default_reason = Reason.REVOCATION_UNAVAILABLE

    def __init__(self, message: str, *, attempts: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = attempts
