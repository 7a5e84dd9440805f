"""Every error of the bank as an RFC 9457 problem document (``application/problem+json``).

A problem has the RFC members ``type`` (a stable URI: :data:`PROBLEM_TYPE_BASE` + the code in kebab case),
``title``, ``status``, ``detail``, ``instance``, plus ``code`` (the stable machine-readable code) and, for
SDK errors, ``reason`` (the :class:`myna_rp.errors.Reason` value). Clients branch on ``code``/``type``.
Details never carry personal data (SDK messages are free of it by contract; request bodies are never
echoed).

=================================  ======  ===============================================================
code                               status  when
=================================  ======  ===============================================================
MALFORMED_INPUT                    400     undecodable base64, certificate, CMS, challenge id; evidence
                                           missing or ambiguous
VALIDATION_ERROR                   422     the JSON body does not match the schema
CHALLENGE_MISMATCH                 403     the challenge belongs to another opening/login (it is burned)
CHALLENGE_REPLAYED                 409     the challenge (hence the signature) was used before
CHALLENGE_EXPIRED                  410     the challenge's TTL is over: start again
CHALLENGE_UNKNOWN                  422     never issued here (or already forgotten)
CHALLENGE_STORE_UNAVAILABLE        503     the challenge store (SQLite, Redis) could not answer: retry
                                           later (``reason`` CHALLENGE_UNKNOWN: nothing was accepted)
HOLDER_MISMATCH                    403     platform mode: the signing and the login certificate belong to
                                           different holders (platform user IDs differ)
CERTIFICATE_REVOKED                403     revoked (e.g. affiliationChanged after a move, a stopped phone)
CERTIFICATE_ON_HOLD                403     on hold (a phone reported lost)
SIGNATURE_INVALID, UNTRUSTED_…     422     the evidence does not verify (any path/signature/profile reason:
                                           CERTIFICATE_EXPIRED, WRONG_KEY_USAGE, WRONG_CERTIFICATE_KIND…)
REVOCATION_UNAVAILABLE             503     no revocation answer under REQUIRE (hard fail): retry later
ACCOUNT_EXISTS                     409     a certificate presented at opening already belongs to a customer
ACCOUNT_CLOSED                     409     login to, or closing of, a closed account
LOGIN_NOT_RECOGNISED               401     a valid login certificate bound to no customer
                                           (``WWW-Authenticate: JPKI realm="bank-kyc"``)
UNAUTHENTICATED                    401     no/unknown/expired bearer token on a customer route
                                           (``WWW-Authenticate: Bearer realm="bank-kyc"``)
CONSENT_REQUIRED                   403     the holder has not consented to share the latest attributes
PLATFORM_USER_UNKNOWN              409     the customer's platform user ID is not known yet
PLATFORM_NOT_CONFIGURED            503     the route needs the platform API / webhook secret
PLATFORM_UNAVAILABLE               503     the platform did not answer (after retries)
PLATFORM_RESPONSE_INVALID, …       502     the platform answered something unusable / refused our call
CLIENT_AUTHENTICATION_FAILED       503     the platform refused the bank's credentials (configuration)
WEBHOOK_SIGNATURE_INVALID          401     a webhook without a valid signature (forged, wrong secret)
                                           (``WWW-Authenticate: Standard-Webhooks realm="bank-kyc"``)
WEBHOOK_REPLAYED                   409     a webhook timestamp outside the replay window
RECORD_STORE_ERROR                 503     the database failed; nothing was written
CONFIGURATION_ERROR                503     the bank's configuration is unusable
NOT_FOUND / METHOD_NOT_ALLOWED     404/405 405 with ``Allow`` (RFC 9110 §15.5.6)
INTERNAL_ERROR                     500     a bug; never caused by input, the detail says nothing
=================================  ======  ===============================================================

Every 503 carries ``Retry-After``; every 401 a ``WWW-Authenticate`` challenge (RFC 9110 §11.6.1,
§15.5.2) naming how to authenticate: ``Bearer`` (RFC 6750) on customer routes, the custom schemes
``JPKI`` (a login signed with the user authentication certificate, ``POST /login/challenges``) and
``Standard-Webhooks`` (the platform's webhook signature), and ``Admin-Token`` (``X-Admin-Token``).
"""

from __future__ import annotations

from fastapi import FastAPI

from myna_rp.errors import Reason

from .._shared.problems import PROBLEM_MEDIA_TYPE, Problems, allowed_methods
from .errors import BankError

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "allowed_methods",
    "bank_problem",
    "install_problem_handlers",
    "problem_response",
    "problem_type",
    "reason_status",
    "sdk_problem",
]

PROBLEM_TYPE_BASE = "https://myna-rp.example/examples/bank-kyc/problems/"

#: Status and title per SDK reason; a reason not listed is a 422 "evidence does not verify".
_REASON_STATUS: dict[Reason, tuple[int, str]] = {
    Reason.MALFORMED_INPUT: (400, "Malformed request"),
    Reason.CHALLENGE_MISMATCH: (403, "Challenge of another session"),
    Reason.CHALLENGE_REPLAYED: (409, "Challenge already used"),
    Reason.CHALLENGE_EXPIRED: (410, "Challenge expired"),
    Reason.CHALLENGE_UNKNOWN: (422, "Unknown challenge"),
    Reason.CERTIFICATE_REVOKED: (403, "Certificate revoked"),
    Reason.CERTIFICATE_ON_HOLD: (403, "Certificate on hold"),
    Reason.REVOCATION_UNAVAILABLE: (503, "Revocation status unavailable"),
    Reason.CONFIGURATION_ERROR: (503, "Bank misconfigured"),
    Reason.RECORD_STORE_ERROR: (503, "Storage unavailable"),
    Reason.CONSENT_REQUIRED: (403, "Consent required"),
    Reason.PLATFORM_UNAVAILABLE: (503, "Platform unavailable"),
    Reason.PLATFORM_RESPONSE_INVALID: (502, "Invalid platform response"),
    Reason.PLATFORM_REJECTED: (502, "Platform refused the request"),
    Reason.CLIENT_AUTHENTICATION_FAILED: (503, "Platform credentials refused"),
    Reason.WEBHOOK_SIGNATURE_INVALID: (401, "Webhook signature invalid"),
    Reason.WEBHOOK_REPLAYED: (409, "Webhook replayed"),
    Reason.HOLDER_MISMATCH: (403, "Certificates of different holders"),
}
_BEARER = 'Bearer realm="bank-kyc"'

_PROBLEMS = Problems(
    type_base=PROBLEM_TYPE_BASE,
    reason_statuses=_REASON_STATUS,
    logger="examples.bank_kyc",
    headers={"Cache-Control": "no-store"},
    # The WWW-Authenticate challenge of each 401 code (RFC 9110 §11.6.1); others get the Bearer one.
    challenges={
        "UNAUTHENTICATED": _BEARER,
        "LOGIN_NOT_RECOGNISED": 'JPKI realm="bank-kyc"',
        "WEBHOOK_SIGNATURE_INVALID": 'Standard-Webhooks realm="bank-kyc"',
    },
    default_challenge=_BEARER,
)


#: The stable ``type`` URI of a problem code.
problem_type = _PROBLEMS.type_of


def reason_status(reason: Reason) -> int:
    """The HTTP status the bank answers for an SDK reason."""
    return _PROBLEMS.status_of(reason)[0]


#: A problem answer of the bank (``extra``: extension members; ``Cache-Control: no-store``, a 503
#: gets ``Retry-After``, a 401 the code's ``WWW-Authenticate`` challenge).
problem_response = _PROBLEMS.response


#: The problem of an SDK error (its reason is the code; a challenge-store outage is a 503
#: ``CHALLENGE_STORE_UNAVAILABLE``, not the client's fault).
sdk_problem = _PROBLEMS.sdk_response


#: The problem document of a refusal decided by the bank.
bank_problem = _PROBLEMS.error_response


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error to a problem document."""
    _PROBLEMS.install(app, BankError)
