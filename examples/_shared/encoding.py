"""base64url without padding (RFC 4648 §5), as the examples put bytes into JSON."""

from __future__ import annotations

import base64


def b64url(data: bytes) -> str:
    """``data`` as base64url without ``=`` padding (RFC 4648 §5, §3.2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (lenient: for the walk-throughs reading trusted answers).

    Raises:
        binascii.Error / ValueError: not base64url.
    """
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
