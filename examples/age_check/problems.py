"""RFC 9457 problem details for every refusal of the shop — never a 500 for bad input.

Every error answer is ``application/problem+json`` with ``type`` (stable URI:
``https://myna-rp.example/examples/age-check/problems/<code in kebab case>``), ``title``, ``status``,
``detail``, ``instance`` (the request path) and ``code`` (the SDK :class:`~myna_rp.errors.Reason` value or
the shop's own code; clients branch on ``code`` or ``type``, never on ``detail``). Extension members:
``fallback``, ``fallback_url``, ``consent_notice`` (Android), ``order_id``, ``minimum_age``, ``evidence``
(under age), ``errors`` (validation, without the offending input).

=================================  ======  ===============================================================
code                               status  when
=================================  ======  ===============================================================
AGE_REQUIREMENT_NOT_MET            403     verified: under the minimum age — checkout refused (recorded)
AGE_CHECK_REQUIRED                 403     placing an order whose age check did not pass
JPKI_FALLBACK_DECLINED             403     the Android customer did not consent to the JPKI fallback
CERTIFICATE_REVOKED / _ON_HOLD     403     the JPKI signing certificate is revoked / on hold
CHALLENGE_MISMATCH                 403     the challenge belongs to another checkout (or purpose); burned
CHALLENGE_REPLAYED                 409     the challenge (hence the response/signature) was used before
CHALLENGE_EXPIRED                  410     the challenge's TTL is over: start the age check again
CHALLENGE_UNKNOWN                  422     never issued here (or already forgotten)
CHALLENGE_STORE_UNAVAILABLE        503     the challenge store (SQLite, Redis) could not answer: retry
                                           later (``reason`` CHALLENGE_UNKNOWN: nothing was accepted)
ORDER_STORE_UNAVAILABLE            503     the order store (SQLite) is locked or failing: retry later
ATTRIBUTE_PROOF_UNSUPPORTED        409     Android: no attribute proof; ``fallback`` names the JPKI route
CHECKOUT_ALREADY_DECIDED           409     the checkout's age check already has an answer
UNKNOWN_CHECKOUT                   404     no such order id
AGE_NOT_DISCLOSED                  422     nothing verified decides the age (element withheld, partial date)
ENVELOPE_INVALID, DEVICE_AUTH_…    422     the mdoc evidence does not verify (any mdoc reason)
SIGNATURE_INVALID, UNTRUSTED_…     422     the JPKI evidence does not verify (any path/signature reason)
INDIVIDUAL_NUMBER_REFUSED          422     the response discloses the My Number (個人番号): refused
MALFORMED_INPUT                    400     undecodable base64, CBOR, certificate, challenge id
VALIDATION_ERROR                   422     the JSON body does not match the schema
REVOCATION_UNAVAILABLE             503     no revocation answer under REQUIRE (hard fail): try again later
CONFIGURATION_ERROR                503     the shop's trust configuration is unusable
NOT_FOUND / METHOD_NOT_ALLOWED     404/405 405 with ``Allow`` (RFC 9110 §15.5.6)
INTERNAL_ERROR                     500     a bug; never caused by input, the detail says nothing
=================================  ======  ===============================================================

Every 503 carries ``Retry-After``. The shop has no authenticated route, hence no 401.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from myna_rp.errors import AttributeProofUnsupported, MynaRPError, Reason

from .._shared.problems import PROBLEM_MEDIA_TYPE, Problems, allowed_methods
from .errors import ShopError

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "allowed_methods",
    "install_problem_handlers",
    "problem_response",
    "problem_type",
    "reason_status",
    "sdk_problem",
    "shop_problem",
]

PROBLEM_TYPE_BASE = "https://myna-rp.example/examples/age-check/problems/"

#: Status and title per SDK reason; a reason not listed is a 422 "evidence does not verify".
_REASON_STATUS: dict[Reason, tuple[int, str]] = {
    Reason.MALFORMED_INPUT: (400, "Malformed request"),
    Reason.CERTIFICATE_REVOKED: (403, "Certificate revoked"),
    Reason.CERTIFICATE_ON_HOLD: (403, "Certificate on hold"),
    Reason.CHALLENGE_MISMATCH: (403, "Challenge of another checkout"),
    Reason.CHALLENGE_REPLAYED: (409, "Challenge already used"),
    Reason.CHALLENGE_EXPIRED: (410, "Challenge expired"),
    Reason.CHALLENGE_UNKNOWN: (422, "Unknown challenge"),
    Reason.ATTRIBUTE_PROOF_UNSUPPORTED: (409, "Attribute proof not supported on this device"),
    Reason.AGE_NOT_DISCLOSED: (422, "Age not disclosed"),
    Reason.INDIVIDUAL_NUMBER_REFUSED: (422, "Individual number refused"),
    Reason.REVOCATION_UNAVAILABLE: (503, "Revocation status unavailable"),
    Reason.CONFIGURATION_ERROR: (503, "Shop misconfigured"),
    Reason.CONSENT_REQUIRED: (403, "Consent required"),
}


def _fallback_members(request: Request, error: MynaRPError) -> dict[str, Any]:
    """An Android refusal names the JPKI fallback (and, on a checkout route, where to start it)."""
    if not isinstance(error, AttributeProofUnsupported):
        return {}
    members: dict[str, Any] = {"fallback": error.fallback}
    order_id = request.path_params.get("order_id")
    if order_id is not None:
        members["fallback_url"] = f"/checkouts/{order_id}/age-check/jpki/challenge"
    return members


_PROBLEMS = Problems(
    type_base=PROBLEM_TYPE_BASE,
    reason_statuses=_REASON_STATUS,
    logger="examples.age_check",
    sdk_members=_fallback_members,
)


#: The stable ``type`` URI of a problem code.
problem_type = _PROBLEMS.type_of


def reason_status(reason: Reason) -> int:
    """The HTTP status the shop answers for an SDK reason."""
    return _PROBLEMS.status_of(reason)[0]


#: A problem answer of the shop (``extra``: extension members; a 503 gets ``Retry-After``).
problem_response = _PROBLEMS.response


#: The problem of an SDK error (``more``: extension members; an Android refusal names the JPKI
#: fallback). A challenge-store outage is a 503 ``CHALLENGE_STORE_UNAVAILABLE``, whatever the route.
sdk_problem = _PROBLEMS.sdk_response


#: The problem document of a refusal decided by the shop.
shop_problem = _PROBLEMS.error_response


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error to a problem document."""
    _PROBLEMS.install(app, ShopError)
