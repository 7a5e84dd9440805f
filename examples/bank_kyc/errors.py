"""The bank's own refusals (not SDK reasons): each has a stable ``code`` and an HTTP status.

SDK errors (:class:`myna_rp.errors.MynaRPError`) keep their ``reason``; :mod:`examples.bank_kyc.problems`
turns both into RFC 9457 problem documents. Messages never carry personal data.
"""

from __future__ import annotations

from myna_rp.errors import Reason

from .._shared.errors import RESERVED_MEMBERS as RESERVED_MEMBERS  # re-exported
from .._shared.errors import ProblemError


class BankError(ProblemError):
    """A refusal decided by the bank (:class:`examples._shared.errors.ProblemError`).

    Its ``code``, ``status``, ``title``, ``reason``, ``www_authenticate`` and ``extra`` become the problem
    document.
    """

    code = "BANK_ERROR"


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
