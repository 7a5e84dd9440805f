"""Errors of the attribute credential (mdoc), as lifecycle problems (same RFC 9457 handler, stable codes).

Messages never carry personal attributes.
"""

from __future__ import annotations

from ..issuance.errors import LifecycleError


class AttributeProofUnsupportedError(LifecycleError):
    """Android carries no attribute proof (the official guide: 「Android端末では未対応」)."""

    code, status, title = "ATTRIBUTE_PROOF_UNSUPPORTED", 409, "Attribute proofs are not supported on Android"


class NoCredentialError(LifecycleError):
    """No device key has been bound yet: the device must fetch its credential with its key first."""

    code, status, title = "NO_CREDENTIAL", 404, "No attribute credential"


class CredentialInvalidatedError(LifecycleError):
    """The credential was invalidated (deletion 3-E/3-F, hotline suspension, attribute change…)."""

    code, status, title = "CREDENTIAL_INVALIDATED", 409, "Attribute credential invalidated"


class InvalidDeviceKeyError(LifecycleError):
    """The device key is not an EC P-256 SubjectPublicKeyInfo PEM."""

    code, status, title = "INVALID_DEVICE_KEY", 422, "Invalid device key"


__all__ = [
    "AttributeProofUnsupportedError",
    "CredentialInvalidatedError",
    "InvalidDeviceKeyError",
    "NoCredentialError",
]
