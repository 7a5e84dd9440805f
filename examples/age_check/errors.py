"""The shop's own refusals (not SDK reasons): each has a stable ``code`` and an HTTP status.

SDK errors (:class:`myna_rp.errors.MynaRPError`) keep their ``reason``; :mod:`examples.age_check.problems`
turns both into RFC 9457 problem documents. Messages never carry personal data.
"""

from __future__ import annotations

from myna_rp.errors import Reason

from .._shared.errors import RESERVED_MEMBERS as RESERVED_MEMBERS  # re-exported
from .._shared.errors import ProblemError


class ShopError(ProblemError):
    """A refusal decided by the shop (:class:`examples._shared.errors.ProblemError`).

    Its ``code``, ``status``, ``title``, ``reason`` and ``extra`` become the problem document.
    """

    code = "SHOP_ERROR"


class UnknownCheckoutError(ShopError):
    """No checkout with this order id (never opened, or opened on another shop)."""

    code = "UNKNOWN_CHECKOUT"
    status = 404
    title = "Unknown checkout"


class CheckoutAlreadyDecidedError(ShopError):
    """The checkout's age check already has an answer; it is decided once."""

    code = "CHECKOUT_ALREADY_DECIDED"
    status = 409
    title = "Age check already decided"


class AgeRequirementNotMetError(ShopError):
    """The verified evidence says the customer is younger than the minimum age: checkout refused."""

    code = "AGE_REQUIREMENT_NOT_MET"
    status = 403
    title = "Age requirement not met"


class AgeCheckRequiredError(ShopError):
    """The order cannot be placed: its age check has not passed (not done, or refused)."""

    code = "AGE_CHECK_REQUIRED"
    status = 403
    title = "Age check required"


class FallbackDeclinedError(ShopError):
    """The customer did not consent to the JPKI fallback (reading the date of birth): checkout refused."""

    code = "JPKI_FALLBACK_DECLINED"
    status = 403
    title = "JPKI fallback declined"
    reason = Reason.CONSENT_REQUIRED


class OrderStoreUnavailableError(ShopError):
    """The order store could not answer (SQLite locked past its timeout, disk full, corrupt row).

    Not the customer's fault: 503 with ``Retry-After``; nothing was written."""

    code = "ORDER_STORE_UNAVAILABLE"
    status = 503
    title = "Order store unavailable"


class MalformedRequestError(ShopError):
    """A request member could not be decoded (bad base64, bad certificate encoding)."""

    code = "MALFORMED_INPUT"
    status = 400
    title = "Malformed request"
    reason = Reason.MALFORMED_INPUT
