"""Errors of the smartphone-card lifecycle, each with a stable ``code`` and HTTP status.

The HTTP layer turns every :class:`LifecycleError` into an RFC 9457 problem document with the same
``code`` (plus ``extra`` members such as ``remaining_tries``). Messages never contain personal
attributes, PINs or passwords.
"""

from __future__ import annotations

from typing import Any


class LifecycleError(Exception):
    """Base of every lifecycle error.

    Attributes:
        code: stable upper-case identifier (the problem document's ``code``).
        status: HTTP status of the problem document.
        title: short human title.
        message: a sentence free of personal data.
        extra: additional problem members (JSON-serialisable).
    """

    code = "LIFECYCLE_ERROR"
    status = 409
    title = "Lifecycle error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra: dict[str, Any] = extra


class UnknownResidentError(LifecycleError):
    code, status, title = "UNKNOWN_RESIDENT", 404, "Unknown resident"


class UnknownCardError(LifecycleError):
    code, status, title = "UNKNOWN_CARD", 404, "Unknown card"


class UnknownRegistrationError(LifecycleError):
    code, status, title = "UNKNOWN_REGISTRATION", 404, "Unknown application or registration"


class UnknownDeviceError(LifecycleError):
    code, status, title = "UNKNOWN_DEVICE", 404, "Unknown device"


class UnknownChallengeError(LifecycleError):
    code, status, title = "UNKNOWN_CHALLENGE", 404, "Unknown card challenge"


class PinIncorrectError(LifecycleError):
    """A wrong PIN/password; ``remaining_tries`` says how many are left before the lock."""

    code, status, title = "PIN_INCORRECT", 403, "Incorrect PIN or password"


class PinLockedError(LifecycleError):
    code, status, title = "PIN_LOCKED", 423, "PIN or password locked"


class InvalidPasswordFormatError(LifecycleError):
    code, status, title = "INVALID_PASSWORD_FORMAT", 422, "Invalid password format"


class PasswordMismatchError(LifecycleError):
    code, status, title = "PASSWORD_MISMATCH", 422, "Passwords do not match"


class DeviceAlreadyRegisteredError(LifecycleError):
    """FAQ 2: the person already has a handset, or the handset already carries someone."""

    code, status, title = "DEVICE_ALREADY_REGISTERED", 409, "Device already registered"


class NotReadyError(LifecycleError):
    """Registration before the notice, or an iPhone credential before it is usable."""

    code, status, title = "NOT_READY", 409, "Not ready yet"


class StepOutOfOrderError(LifecycleError):
    code, status, title = "STEP_OUT_OF_ORDER", 409, "Step out of order"


class CardReadFailedError(LifecycleError):
    """The card's signature over the challenge does not verify (wrong card, or not this challenge)."""

    code, status, title = "CARD_READ_FAILED", 422, "Card read failed"


class ChallengeExpiredError(LifecycleError):
    code, status, title = "CHALLENGE_EXPIRED", 409, "Card challenge expired or already used"


class CardNotUsableError(LifecycleError):
    """2-A / 3-A: the card (or its signing certificate) is suspended, revoked, expired or retired."""

    code, status, title = "CARD_NOT_USABLE", 409, "Card not usable"


class LivenessFailedError(LifecycleError):
    code, status, title = "LIVENESS_FAILED", 422, "Liveness check failed"


class TermsNotAcceptedError(LifecycleError):
    code, status, title = "TERMS_NOT_ACCEPTED", 422, "Terms or notes not accepted"


class NoCertificateChosenError(LifecycleError):
    code, status, title = "NO_CERTIFICATE_CHOSEN", 422, "No certificate chosen"


class PlatformMismatchError(LifecycleError):
    """An Android call on an iPhone (or the reverse), or a device id reused across platforms."""

    code, status, title = "PLATFORM_MISMATCH", 409, "Platform mismatch"


class WrongDeviceError(LifecycleError):
    code, status, title = "WRONG_DEVICE", 403, "Not the device of this registration"


class NoRegistrationToChangeError(LifecycleError):
    """4-B: 機種変更 needs a registered Android handset to move from."""

    code, status, title = "NO_REGISTRATION_TO_CHANGE", 409, "No registered Android handset to change from"


class InvalidRequestError(LifecycleError):
    code, status, title = "INVALID_LIFECYCLE_REQUEST", 422, "Invalid request"


class KeyReusedError(LifecycleError):
    """2-C / 3-C: phone keys a real handset never sends (one key for both certificates, the card's key)."""

    code, status, title = "KEY_REUSED", 422, "Public key reused"


class DuplicateCertificateKindError(LifecycleError):
    """2-C: the same certificate kind chosen twice."""

    code, status, title = "DUPLICATE_CERTIFICATE_KIND", 422, "Certificate kind chosen twice"
