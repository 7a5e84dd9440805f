"""Device simulator: the phone, the card and the user, over the platform's HTTP API (:mod:`.simulator`)."""

from .simulator import (
    AttributeProofUnsupportedProblemError,
    Card,
    HeldCredential,
    KeyFactory,
    MunicipalCounter,
    PlatformProblemError,
    Smartphone,
    generate_rsa_token,
)
from .wallet import DeviceRequestError, RequestedDocument

__all__ = [
    "AttributeProofUnsupportedProblemError",
    "Card",
    "DeviceRequestError",
    "HeldCredential",
    "KeyFactory",
    "MunicipalCounter",
    "PlatformProblemError",
    "RequestedDocument",
    "Smartphone",
    "generate_rsa_token",
]
