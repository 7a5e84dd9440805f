"""Device simulator: the phone, the card and the user, over the platform's HTTP API (:mod:`.simulator`)."""

from .simulator import (
    Card,
    KeyFactory,
    MunicipalCounter,
    PlatformProblemError,
    Smartphone,
    generate_rsa_token,
)

__all__ = [
    "Card",
    "KeyFactory",
    "MunicipalCounter",
    "PlatformProblemError",
    "Smartphone",
    "generate_rsa_token",
]
