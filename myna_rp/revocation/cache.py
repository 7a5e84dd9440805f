"""Caches for validated revocation answers.

Two kinds of entries, each stored with the instant it stops being usable (the answer's nextUpdate, or
thisUpdate + the policy's max age; computed by the checker):

- OCSP answers (:class:`~myna_rp.revocation.RevocationStatus`) keyed by :func:`ocsp_cache_key` — the
  CertID (issuer name hash, issuer key hash, serial), always computed with SHA-256 whatever hash the
  request used;
- indexed CRLs (:class:`~myna_rp.revocation.crl.CRLIndex`) keyed by :func:`crl_cache_key` — the issuer's
  name and key.

Only *validated* answers are stored. The checker still re-checks a cached answer's thisUpdate/nextUpdate
against the validation time and policy before using it, so a cache can only make an answer *unusable*
earlier, never extend it. :class:`RevocationCache` is a Protocol so a shared (e.g. Redis) backend can be
added; :class:`MemoryRevocationCache` is the in-process default: LRU-bounded, thread-safe, injectable clock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Generic, Protocol, TypeVar, runtime_checkable

from cryptography import x509

from ..clock import Clock, require_aware
from ._common import IssuerIdentity
from .crl import CRLIndex
from .status import RevocationStatus

__all__ = ["MemoryRevocationCache", "RevocationCache", "crl_cache_key", "ocsp_cache_key"]


def _serial_bytes(serial: int) -> bytes:
    return serial.to_bytes((serial.bit_length() + 8) // 8 or 1, "big", signed=True)


def ocsp_cache_key(certificate: x509.Certificate, issuer: x509.Certificate | IssuerIdentity) -> bytes:
    """The cache key of an OCSP answer: ``b"ocsp:" + SHA-256(issuer name) + SHA-256(issuer key) + serial``.

    Raises:
        ValueError: the issuer certificate cannot be read.
    """
    identity = issuer if isinstance(issuer, IssuerIdentity) else IssuerIdentity.of(issuer)
    return (
        b"ocsp:"
        + identity.name_hash("sha256")
        + identity.key_hash("sha256")
        + _serial_bytes(certificate.serial_number)
    )


def crl_cache_key(issuer: x509.Certificate | IssuerIdentity) -> bytes:
    """The cache key of an issuer's CRL: ``b"crl:" + SHA-256(issuer name DER) + SHA-256(issuer key bits)``.

    Raises:
        ValueError: the issuer certificate cannot be read.
    """
    identity = issuer if isinstance(issuer, IssuerIdentity) else IssuerIdentity.of(issuer)
    return b"crl:" + identity.name_hash("sha256") + identity.key_hash("sha256")


@runtime_checkable
class RevocationCache(Protocol):
    """Storage for validated answers. Implementations must be safe for concurrent use.

    ``get_*`` returns ``None`` for a missing or expired entry; ``put_*`` stores ``value`` until
    ``expires_at`` (tz-aware) and may evict other entries to stay bounded.
    """

    def get_ocsp(self, key: bytes) -> RevocationStatus | None: ...

    def put_ocsp(self, key: bytes, status: RevocationStatus, *, expires_at: datetime) -> None: ...

    def get_crl(self, key: bytes) -> CRLIndex | None: ...

    def put_crl(self, key: bytes, index: CRLIndex, *, expires_at: datetime) -> None: ...


_V = TypeVar("_V")


class _Bounded(Generic[_V]):
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("cache size must be at least 1")
        self._limit = limit
        self._items: OrderedDict[bytes, tuple[datetime, _V]] = OrderedDict()

    def get(self, key: bytes, now: datetime) -> _V | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires_at, value = item
        if now >= expires_at:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: bytes, value: _V, expires_at: datetime, now: datetime) -> None:
        if now >= expires_at:
            self._items.pop(key, None)
            return
        self._items[key] = (expires_at, value)
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class MemoryRevocationCache:
    """In-process, LRU-bounded :class:`RevocationCache`; entries expire by ``clock``.

    Args:
        clock: the time source for expiry (tz-aware).
        max_ocsp_entries: most OCSP answers kept (least recently used evicted first).
        max_crl_entries: most indexed CRLs kept (each can be large: a 1M-entry CRL is ~100 MB).

    Raises:
        ValueError: a size below 1.
    """

    def __init__(self, *, clock: Clock, max_ocsp_entries: int = 10_000, max_crl_entries: int = 8) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ocsp: _Bounded[RevocationStatus] = _Bounded(max_ocsp_entries)
        self._crl: _Bounded[CRLIndex] = _Bounded(max_crl_entries)

    def _now(self) -> datetime:
        return require_aware(self._clock.now())

    def get_ocsp(self, key: bytes) -> RevocationStatus | None:
        """The cached OCSP answer for ``key`` unless missing or expired."""
        now = self._now()
        with self._lock:
            return self._ocsp.get(key, now)

    def put_ocsp(self, key: bytes, status: RevocationStatus, *, expires_at: datetime) -> None:
        """Keep ``status`` until ``expires_at`` (ignored when already past)."""
        now = self._now()
        require_aware(expires_at)
        with self._lock:
            self._ocsp.put(key, status, expires_at, now)

    def get_crl(self, key: bytes) -> CRLIndex | None:
        """The cached CRL index for ``key`` unless missing or expired."""
        now = self._now()
        with self._lock:
            return self._crl.get(key, now)

    def put_crl(self, key: bytes, index: CRLIndex, *, expires_at: datetime) -> None:
        """Keep ``index`` until ``expires_at`` (ignored when already past)."""
        now = self._now()
        require_aware(expires_at)
        with self._lock:
            self._crl.put(key, index, expires_at, now)

    def sizes(self) -> tuple[int, int]:
        """``(OCSP entries, CRL entries)`` currently held (expired ones included until touched)."""
        with self._lock:
            return len(self._ocsp), len(self._crl)
