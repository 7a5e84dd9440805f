"""Validators of the settings both example services have (called from their pydantic ``field_validator``s).

Each raises ``ValueError`` (pydantic reports it as a validation error naming the field). :data:`HttpURL`
and :data:`ChallengeStoreURL` are the field types that apply the first two.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def http_url(value: str) -> str:
    """An ``http://`` or ``https://`` URL, without a trailing ``/``."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def challenge_store_url(value: str) -> str:
    """``memory``, ``sqlite:///PATH`` or ``redis://HOST:PORT/DB`` (``rediss://`` too)."""
    if value != "memory" and not value.startswith(("sqlite:///", "redis://", "rediss://")):
        raise ValueError("challenge_store is memory, sqlite:///PATH or redis://HOST:PORT/DB")
    return value


def hex_secret(value: str | None, name: str) -> str | None:
    """``None``, or hex of at least 32 bytes (64 hex digits); ``name`` is the setting, for the message."""
    if value is None:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be hex") from exc
    if len(raw) < 32:
        raise ValueError(f"{name} must hold at least 32 bytes (64 hex digits)")
    return value


#: A setting holding an ``http(s)://`` base URL (trailing ``/`` removed).
HttpURL = Annotated[str, AfterValidator(http_url)]
#: A setting naming a challenge store: ``memory``, ``sqlite:///PATH`` or ``redis://HOST:PORT/DB``.
ChallengeStoreURL = Annotated[str, AfterValidator(challenge_store_url)]
