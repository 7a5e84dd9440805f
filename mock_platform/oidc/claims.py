"""Scopes, claims and authentication context values of the mock OpenID provider.

Shaped like the Digital Authentication App (デジタル認証アプリ); the real provider's exact claim names and
``acr`` values are not in our sources, so these are **this mock's** definitions (documented in
docs/oidc.md), built from the OIDC standard claims plus ``jpki_``-prefixed private claims (OIDC Core
§5.1.2) that carry the basic four attributes (基本4情報) exactly as in the signing certificate, so an RP can
rebuild them without loss:

=========  =====================================================================================
scope      claims released from the UserInfo endpoint (OIDC Core §5.4)
=========  =====================================================================================
openid     ``sub`` (pairwise per RP sector, OIDC Core §8.1)
name       ``name`` (氏名, family and given name separated by U+3000), ``jpki_name_substitute_positions``
address    ``address`` (``{"formatted": 住所}``, OIDC Core §5.1.1), ``jpki_address_substitute_positions``
birthdate  ``birthdate`` (``YYYY-MM-DD``, or ``YYYY`` when only the year is known, omitted when the year
           is unknown; OIDC Core §5.1), ``jpki_date_of_birth`` (``EYYYYMMDD`` with the era digit)
gender     ``gender`` (``male`` / ``female`` / ``not_stated``), ``jpki_gender`` (``1`` / ``2`` / ``3``)
sign       no claim: allows a sign transaction (document signature with the signing certificate)
=========  =====================================================================================

The attribute scopes and ``sign`` need the holder's signing certificate (署名用電子証明書, signing
password); ``openid`` alone needs only the user-authentication certificate (利用者証明用電子証明書, 4-digit
PIN), as with the real app.

``acr`` (OIDC Core §2): :class:`Acr` — which token authenticated the holder. ``amr`` (RFC 8176 §2):
``["sc", "pin"]`` for the card (smart card + PIN), ``["hwk", "pin"]`` for a smartphone (hardware-secured
key in the secure element + PIN).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from ..ca.attributes import DateOfBirth
from ..db import ResidentRecord


class Scope(StrEnum):
    """Scope values the provider understands (others are ignored, OIDC Core §3.1.2.1)."""

    OPENID = "openid"
    NAME = "name"
    ADDRESS = "address"
    BIRTHDATE = "birthdate"
    GENDER = "gender"
    SIGN = "sign"


class Acr(StrEnum):
    """Authentication context class references of this mock (``acr_values`` / the ``acr`` claim)."""

    CARD = "urn:myna-mock:acr:jpki-card"  # the physical card, read over NFC
    SMARTPHONE = "urn:myna-mock:acr:jpki-smartphone"  # smartphone certificates (Android, iPhone)

    @property
    def amr(self) -> tuple[str, ...]:
        """RFC 8176 ``amr`` values for this context."""
        return ("sc", "pin") if self is Acr.CARD else ("hwk", "pin")


#: Scopes whose release needs the signing certificate (and so its password).
SIGNING_SCOPES = frozenset({Scope.NAME, Scope.ADDRESS, Scope.BIRTHDATE, Scope.GENDER, Scope.SIGN})
#: Scope → claim names it releases (besides ``sub``).
SCOPE_CLAIMS: dict[Scope, tuple[str, ...]] = {
    Scope.NAME: ("name", "jpki_name_substitute_positions"),
    Scope.ADDRESS: ("address", "jpki_address_substitute_positions"),
    Scope.BIRTHDATE: ("birthdate", "jpki_date_of_birth"),
    Scope.GENDER: ("gender", "jpki_gender"),
}
CLAIMS_SUPPORTED: tuple[str, ...] = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    *(claim for claims in SCOPE_CLAIMS.values() for claim in claims),
)
_GENDER_NAMES = {"1": "male", "2": "female", "3": "not_stated"}


def parse_scopes(raw: str) -> tuple[Scope, ...]:
    """The known scopes of a space-separated ``scope`` value, in canonical order, duplicates removed."""
    wanted = set(raw.split(" "))
    return tuple(scope for scope in Scope if scope.value in wanted)


def scope_string(scopes: Iterable[Scope]) -> str:
    chosen = set(scopes)
    return " ".join(scope.value for scope in Scope if scope in chosen)


def needs_signing_certificate(scopes: Iterable[Scope]) -> bool:
    return any(scope in SIGNING_SCOPES for scope in scopes)


def released_claim_names(scopes: Iterable[Scope]) -> list[str]:
    """Claim names the holder is asked to release (the consent screen), ``sub`` first."""
    names = ["sub"]
    for scope in scopes:
        names.extend(SCOPE_CLAIMS.get(scope, ()))
    return names


def claims_for(resident: ResidentRecord, scopes: Iterable[Scope]) -> dict[str, Any]:
    """The claims of ``scopes`` for ``resident`` (without ``sub``), from the registered attributes."""
    claims: dict[str, Any] = {}
    chosen = set(scopes)
    if Scope.NAME in chosen:
        claims["name"] = resident.name
        claims["jpki_name_substitute_positions"] = resident.name_substitute_positions
    if Scope.ADDRESS in chosen:
        claims["address"] = {"formatted": resident.address}
        claims["jpki_address_substitute_positions"] = resident.address_substitute_positions
    if Scope.BIRTHDATE in chosen:
        birthdate = _oidc_birthdate(resident.date_of_birth)
        if birthdate is not None:
            claims["birthdate"] = birthdate
        claims["jpki_date_of_birth"] = resident.date_of_birth
    if Scope.GENDER in chosen:
        claims["gender"] = _GENDER_NAMES.get(resident.gender, "not_stated")
        claims["jpki_gender"] = resident.gender
    return claims


def _oidc_birthdate(raw: str) -> str | None:
    parsed = DateOfBirth.parse(raw)
    complete = parsed.as_date()
    if complete is not None:
        return complete.isoformat()
    if parsed.year is not None:
        return f"{parsed.year:04d}"
    return None


__all__ = [
    "CLAIMS_SUPPORTED",
    "SCOPE_CLAIMS",
    "SIGNING_SCOPES",
    "Acr",
    "Scope",
    "claims_for",
    "needs_signing_certificate",
    "parse_scopes",
    "released_claim_names",
    "scope_string",
]
