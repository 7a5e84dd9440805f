"""The base of each example service's own refusals (not SDK reasons).

SDK errors (:class:`myna_rp.errors.MynaRPError`) keep their ``reason``; :mod:`examples._shared.problems`
turns both into RFC 9457 problem documents. Messages never carry personal data.
"""

from __future__ import annotations

from typing import Any

from myna_rp.errors import Reason

#: Members of a problem document the service sets itself (RFC 9457 §3.1 plus ``code`` and ``reason``).
RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code", "reason"})


class ProblemError(Exception):
    """A refusal decided by the service (the shop's ``ShopError``, the bank's ``BankError``).

    Attributes:
        code: stable machine-readable code (also the problem ``type`` slug).
        status: the HTTP status of the problem answer.
        title: a short, fixed summary.
        detail: a human sentence (no personal data).
        reason: the SDK :class:`Reason` it corresponds to, when there is one.
        www_authenticate: the ``WWW-Authenticate`` challenge of a 401 when not the code's default
            (RFC 9110 §11.6.1).
        extra: extension members of the problem document.

    Raises (from the constructor):
        ValueError: an extension member would shadow an RFC 9457 member (a programming error).
    """

    code = "ERROR"
    status = 400
    title = "Request refused"
    reason: Reason | None = None
    www_authenticate: str | None = None

    def __init__(self, detail: str, **extra: Any) -> None:
        clash = RESERVED_MEMBERS.intersection(extra)
        if clash:  # a programming error: extension members must not shadow RFC 9457 members
            raise ValueError(f"reserved problem members: {sorted(clash)}")
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
