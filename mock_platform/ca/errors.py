"""Errors of the mock CA layer.

Every error carries a stable machine-readable ``code`` (the same string the HTTP layer puts in the RFC 9457
problem document) and a message that never contains personal attributes.
"""

from __future__ import annotations


class CAError(Exception):
    """Base of every error raised by :mod:`mock_platform.ca`.

    Attributes:
        code: stable upper-case identifier, e.g. ``UNKNOWN_CERTIFICATE``.
        message: a human sentence, free of personal data.
    """

    code = "CA_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPublicKeyError(CAError):
    """The submitted SubjectPublicKeyInfo could not be parsed."""

    code = "INVALID_PUBLIC_KEY"


class UnsupportedKeyTypeError(CAError):
    """The key parses but is not RSA (2048–4096 bit, e = 65537) or ECDSA P-256."""

    code = "UNSUPPORTED_KEY_TYPE"


class InvalidAttributesError(CAError, ValueError):
    """The basic four attributes (or their presence for the certificate kind) are invalid.

    Also a :class:`ValueError`, since it is raised from value-object constructors."""

    code = "INVALID_ATTRIBUTES"


class InvalidValidityError(CAError):
    """The computed validity period is empty (e.g. the card expires before the issuance day)."""

    code = "INVALID_VALIDITY"


class NoIssuingCAError(CAError):
    """No CA generation of the purpose is valid at the issuance time."""

    code = "NO_ISSUING_CA"


class UnknownCAError(CAError):
    """No CA generation with that purpose and number exists."""

    code = "UNKNOWN_CA"


class UnknownCertificateError(CAError):
    """No certificate with that serial number was issued by this mock."""

    code = "UNKNOWN_CERTIFICATE"


class InvalidTransitionError(CAError):
    """A revocation-state change that the certificate's current state does not allow."""

    code = "INVALID_TRANSITION"


class AlreadyRevokedError(InvalidTransitionError):
    """The certificate is permanently revoked: nothing can change its state any more."""

    code = "ALREADY_REVOKED"


class AlreadyOnHoldError(InvalidTransitionError):
    """certificateHold was requested for a certificate that is already on hold."""

    code = "ALREADY_ON_HOLD"


class NotOnHoldError(InvalidTransitionError):
    """Release was requested for a certificate that is not on hold."""

    code = "NOT_ON_HOLD"


class InvalidRevocationRequestError(CAError):
    """A revocation request that is well-formed but meaningless (e.g. an invalidity date in the future)."""

    code = "INVALID_REVOCATION_REQUEST"


class CRLContentionError(CAError):
    """A forced CRL issue kept losing its CRL number to concurrent issuers (try again later)."""

    code = "CRL_CONTENTION"
