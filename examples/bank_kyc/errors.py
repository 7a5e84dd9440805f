"""The bank's own refusals (not SDK reasons): each has a stable ``code`` and an HTTP status.

SDK errors (:class:`myna_rp.errors.MynaRPError`) keep their ``reason``; :mod:`examples.bank_kyc.problems`
turns both into RFC 9457 problem documents. Messages never carry personal data.
"""

from __future__ import annotations

from typing import Any

from myna_rp.errors import Reason

#: Members of a problem document the bank sets itself (RFC 9457 §3.1 plus ``code`` and ``reason``).
RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code", "reason"})


class BankError(Exception):
    """A refusal decided by the bank.

    Attributes:
        code: stable machine-readable code (also the problem ``type`` slug).
        status: the HTTP status of the problem answer.
        title: a short, fixed summary.
        detail: a human sentence (no personal data).
        reason: the SDK :class:`Reason` it corresponds to, when there is one.
        www_authenticate: the ``WWW-Authenticate`` challenge of a 401 when not the code's default.
        extra: extension members of the problem document.
    """

    code = "BANK_ERROR"
    status = 400
    title = "Request refused"
    reason: Reason | None = None
    www_authenticate: str | None = None

    def __init__(self, detail: str, **extra: Any) -> None:
        clash = RESERVED_MEMBERS.intersection(extra)
        if clash:  # a programming error: extension members must not shadow RFC 9457 members
            raise ValueError(f"reserved problem members: {sorted(clash)}")
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class MalformedRequestError(BankError):
    """A request member could not be decoded (bad base64, missing evidence)."""

    code = "MALFORMED_INPUT"
    status = 400
    title = "Malformed request"
    reason = Reason.MALFORMED_INPUT


class AccountExistsError(BankError):
    """The certificate presented at account opening already belongs to a customer."""

    code = "ACCOUNT_EXISTS"
    status = 409
    title = "Account already exists"


class LoginNotRecognisedError(BankError):
    """A valid user-authentication certificate that is bound to no customer of this bank."""

    code = "LOGIN_NOT_RECOGNISED"
    status = 401
    title = "Login not recognised"


class UnauthenticatedError(BankError):
    """A customer route without a valid bearer token (none, unknown or expired)."""

    code = "UNAUTHENTICATED"
    status = 401
    title = "Authentication required"


class AdminUnauthenticatedError(UnauthenticatedError):
    """An admin route without the right ``X-Admin-Token`` (same code, its own challenge)."""

    www_authenticate = 'Admin-Token realm="bank-kyc", header="X-Admin-Token"'


class PlatformNotConfiguredError(BankError):
    """The route needs the platform operator API (API key) and the bank has none configured."""

    code = "PLATFORM_NOT_CONFIGURED"
    status = 503
    title = "Platform API not configured"
    reason = Reason.CONFIGURATION_ERROR


class AccountClosedError(BankError):
    """The account is closed: its certificates no longer log in, and it cannot be closed twice."""

    code = "ACCOUNT_CLOSED"
    status = 409
    title = "Account closed"


class NoPlatformUserIdError(BankError):
    """The customer's platform user ID (利用者ID) is not known: nothing to ask the platform about.

    Platform mode learns it at account opening. Direct mode learns it only from the platform's first
    webhook about the customer, which the platform sends only for changes made after the customer
    consented to this bank; the detail says what to do.
    """

    code = "PLATFORM_USER_UNKNOWN"
    status = 409
    title = "Platform user ID not known"
