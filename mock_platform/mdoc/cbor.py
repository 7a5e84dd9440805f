"""The few CBOR shapes ISO/IEC 18013-5 needs, over ``cbor2`` (RFC 8949).

* :func:`encode` — deterministic-enough encoding (definite lengths, shortest integers: ``cbor2``'s
  default); the mock never re-encodes what it signed: the exact bytes are kept and reused.
* :func:`tag24` — ``#6.24(bstr .cbor X)`` (encoded CBOR data item, RFC 8949 §3.4.5.1) from the bytes of
  ``X``; :func:`embedded` wraps bytes that are already encoded.
* :func:`tdate` — ``#6.0(tstr)`` RFC 3339 date-time in UTC, whole seconds, ``Z`` (18013-5 §9.1.2.4).
* :func:`full_date` — ``#6.1004(tstr)`` ``YYYY-MM-DD`` (RFC 8943).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import cbor2

TAG_ENCODED_CBOR = 24
TAG_TDATE = 0
TAG_FULL_DATE = 1004


def encode(value: Any) -> bytes:
    """CBOR bytes of ``value`` (dates are never passed raw: use :func:`tdate` / :func:`full_date`)."""
    return cbor2.dumps(value)


def embedded(encoded: bytes) -> cbor2.CBORTag:
    """``#6.24(bstr)`` around bytes that are already a CBOR data item."""
    return cbor2.CBORTag(TAG_ENCODED_CBOR, encoded)


def tag24(value: Any) -> tuple[cbor2.CBORTag, bytes]:
    """``#6.24(bstr .cbor value)`` and the exact bytes of the whole tagged item."""
    item = embedded(encode(value))
    return item, encode(item)


def tdate(instant: datetime) -> cbor2.CBORTag:
    """``0("YYYY-MM-DDTHH:MM:SSZ")`` (aware datetimes only; fractions dropped)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("tdate needs an aware datetime")
    text = instant.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    return cbor2.CBORTag(TAG_TDATE, text)


def full_date(day: date) -> cbor2.CBORTag:
    """``1004("YYYY-MM-DD")``."""
    return cbor2.CBORTag(TAG_FULL_DATE, day.isoformat())


__all__ = [
    "TAG_ENCODED_CBOR",
    "TAG_FULL_DATE",
    "TAG_TDATE",
    "embedded",
    "encode",
    "full_date",
    "tag24",
    "tdate",
]
