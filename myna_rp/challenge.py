"""Single-use challenges (nonces) with a time to live, bound to an RP session and a purpose.

A relying party issues a :class:`Challenge` before it asks the holder for proof — the data a JPKI
signature is made over (署名用電子証明書 / 利用者証明用電子証明書), the ``nonce`` of an mdoc presentation
(ISO/IEC 18013-5 §9.1.5.1, the DC API / OpenID4VP ``nonce``) — and consumes it exactly once when the proof
comes back. Consuming is what stops a replayed signature or presentation: a challenge that was consumed
before raises ``CHALLENGE_REPLAYED``, one past its TTL ``CHALLENGE_EXPIRED``, one presented for another
session or purpose ``CHALLENGE_MISMATCH``, one this store never issued (or has already forgotten)
``CHALLENGE_UNKNOWN``. Every verdict is a :class:`~myna_rp.errors.ChallengeError`; callers branch on
``error.reason``.

Three backends share one behaviour (the test suite runs the same cases and the same race on each):

* :class:`MemoryChallengeStore` — one process (threads); the default for a single worker and for tests.
* :class:`SQLiteChallengeStore` — several processes on one host sharing a file (WAL mode).
* :class:`RedisChallengeStore` — a fleet of workers on several hosts sharing a Redis server.

Semantics common to all backends (the full discussion is in ``docs/challenges.md``):

* **Exactly once.** The first :meth:`~ChallengeStore.consume` of a live record atomically marks it
  consumed — whatever its verdict: a mismatched or expired attempt burns the challenge too (fail closed,
  a challenge seen by a wrong party is never usable afterwards). Every later attempt is
  ``CHALLENGE_REPLAYED``. Under any number of concurrent consumers (threads, processes, hosts, per
  backend) exactly one sees the record unconsumed.
* **Time comes from the store's** :class:`~myna_rp.clock.Clock`, read once per call. A challenge issued
  at ``t`` with TTL ``d`` is valid while ``now < t + d`` (``expires_at`` is exclusive). It is remembered
  until ``expires_at + grace``; after that it reads as ``CHALLENGE_UNKNOWN`` (the record is purged
  lazily). ``grace`` exists so an expired or replayed challenge is still told apart from one never issued.
* **Only hashes are stored.** The record key is SHA-256 of the challenge value and the session is kept as
  SHA-256 of the session id, so a dump of the SQLite file or of Redis leaks neither a live challenge nor a
  session id. (SHA-256 without a key suffices: the value has 256 bits of entropy, so the hash cannot be
  inverted or guessed.) The purpose is stored in clear (it is not secret and helps debugging).
* **Fail closed.** A backend that cannot answer (I/O error, Redis down, garbage in the store) raises
  :class:`ChallengeStoreUnavailableError` (a :class:`ChallengeError`, reason ``CHALLENGE_UNKNOWN``); a
  consume never succeeds without the store having recorded it. If the connection drops after Redis ran
  the consume script, the challenge is burned but the caller sees an error: a retry gets
  ``CHALLENGE_REPLAYED``, never a second success.
* **Inputs are checked.** ``session_id`` and ``purpose`` must be non-blank strings of at most
  :data:`MAX_FIELD_LENGTH` characters, a TTL must be positive and at most :data:`MAX_TTL`, a value must
  be :data:`VALUE_LENGTH` bytes; otherwise :class:`ChallengeInputError` (reason ``MALFORMED_INPUT``, a
  :class:`ChallengeError` and a :class:`~myna_rp.errors.MalformedInputError`) is raised and the store is
  not touched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import math
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .clock import Clock, SystemClock, require_aware
from .errors import ChallengeError, ConfigurationError, MalformedInputError, Reason

if TYPE_CHECKING:
    import redis

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_TTL",
    "MAX_FIELD_LENGTH",
    "MAX_TTL",
    "VALUE_LENGTH",
    "Challenge",
    "ChallengeInputError",
    "ChallengeStore",
    "ChallengeStoreUnavailableError",
    "MemoryChallengeStore",
    "RedisChallengeStore",
    "SQLiteChallengeStore",
]

#: Bytes of randomness in a challenge value (256 bits; also the size of an mdoc nonce we send).
VALUE_LENGTH = 32
#: TTL used when :meth:`ChallengeStore.issue` gets none.
DEFAULT_TTL = timedelta(minutes=5)
#: How long after ``expires_at`` a record is still remembered (EXPIRED / REPLAYED rather than UNKNOWN).
DEFAULT_GRACE = timedelta(minutes=10)
#: Upper bound for a TTL or a grace period: a challenge lives for seconds or minutes; a day is a mistake.
MAX_TTL = timedelta(days=1)
#: Maximum length, in characters, of ``session_id`` and ``purpose``.
MAX_FIELD_LENGTH = 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_VALUE_DOMAIN = b"myna_rp.challenge.value\x00"
_SESSION_DOMAIN = b"myna_rp.challenge.session\x00"
#: Attempts at drawing a value whose hash is not already stored (a second draw never happens in practice).
_ISSUE_ATTEMPTS = 3


# --------------------------------------------------------------------------------------------- errors


class ChallengeInputError(ChallengeError, MalformedInputError):
    """An argument of :meth:`~ChallengeStore.issue` / :meth:`~ChallengeStore.consume` is malformed.

    Reason ``MALFORMED_INPUT``. It is both a :class:`~myna_rp.errors.ChallengeError` (so one ``except``
    around ``consume`` catches it) and a :class:`~myna_rp.errors.MalformedInputError`. The store was not
    touched: a malformed attempt does not burn anything.
    """

    default_reason = Reason.MALFORMED_INPUT


class ChallengeStoreUnavailableError(ChallengeError):
    """The backend could not answer (I/O error, lock timeout, Redis unreachable, corrupt record).

    Reason ``CHALLENGE_UNKNOWN`` (fail closed: nothing is accepted that the store did not confirm). The
    backend's exception is chained as ``__cause__``.
    """

    default_reason = Reason.CHALLENGE_UNKNOWN


# --------------------------------------------------------------------------------------------- the value


@dataclass(frozen=True, slots=True)
class Challenge:
    """One issued challenge.

    Attributes:
        value: :data:`VALUE_LENGTH` (32) random bytes from :mod:`secrets`; what the holder signs, or the
            mdoc / OpenID4VP nonce. Left out of ``repr`` so it does not land in logs by accident.
        session_id: the RP session the challenge is bound to.
        purpose: what it is for, e.g. ``"kyc.sign"``, ``"login.auth"``, ``"age.mdoc"``, ``"age.jpki"``.
        issued_at: aware datetime (UTC) read from the store's clock at issue.
        expires_at: ``issued_at + ttl``, aware (UTC); the challenge is valid while ``now < expires_at``.
    """

    value: bytes = field(repr=False)
    session_id: str
    purpose: str
    issued_at: datetime
    expires_at: datetime

    @property
    def id(self) -> str:
        """The value as base64url without padding (RFC 4648 §5): a 43-character handle for JSON and URLs."""
        return base64.urlsafe_b64encode(self.value).rstrip(b"=").decode("ascii")

    @staticmethod
    def value_from_id(challenge_id: str) -> bytes:
        """Decode a handle made by :attr:`id` back to the value.

        Raises:
            ChallengeInputError: not a string, not unpadded base64url, or not :data:`VALUE_LENGTH` bytes.
        """
        if not isinstance(challenge_id, str) or len(challenge_id) > 2 * VALUE_LENGTH:
            raise ChallengeInputError("challenge id must be a short base64url string")
        if "=" in challenge_id or any(ch in challenge_id for ch in "+/ \t\r\n"):
            raise ChallengeInputError("challenge id must be unpadded base64url (RFC 4648 §5)")
        try:
            value = base64.urlsafe_b64decode(challenge_id + "=" * (-len(challenge_id) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ChallengeInputError("challenge id is not base64url") from exc
        if len(value) != VALUE_LENGTH:
            raise ChallengeInputError(f"challenge id must decode to {VALUE_LENGTH} bytes")
        # Canonical form only: one value, one id (no trailing-bit variants).
        if base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii") != challenge_id:
            raise ChallengeInputError("challenge id is not in canonical base64url form")
        return value


@runtime_checkable
class ChallengeStore(Protocol):
    """What the flows (eKYC, login, age check) need from a challenge store."""

    def issue(self, *, session_id: str, purpose: str, ttl: timedelta | None = None) -> Challenge:
        """Draw a fresh value, remember it for ``session_id`` + ``purpose`` and return it.

        ``ttl`` defaults to the store's ``default_ttl``.

        Raises:
            ChallengeInputError: blank/too long ``session_id`` or ``purpose``; ``ttl`` not in (0, MAX_TTL].
            ChallengeStoreUnavailableError: the backend could not store it (nothing was issued).
        """
        ...

    def consume(self, value: bytes, *, session_id: str, purpose: str) -> Challenge:
        """Use the challenge up: succeeds for exactly one caller, once, before ``expires_at``.

        Returns the :class:`Challenge` as issued.

        Raises:
            ChallengeError: reason ``CHALLENGE_UNKNOWN`` (never issued, or forgotten after the grace
                period), ``CHALLENGE_REPLAYED`` (consumed before), ``CHALLENGE_EXPIRED`` (``now >=
                expires_at``) or ``CHALLENGE_MISMATCH`` (another session or purpose; burns it).
            ChallengeInputError: ``value`` not :data:`VALUE_LENGTH` bytes, blank arguments.
            ChallengeStoreUnavailableError: the backend could not answer (fail closed).
        """
        ...


# --------------------------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class _Record:
    """What a backend stores under ``_value_key(value)``. Times in integer microseconds since the epoch."""

    session_hash: bytes
    purpose: str
    issued_us: int
    expires_us: int
    forget_us: int  # expires_us + grace: from then on the record reads as unknown (and may be purged)


#: The range of instants :class:`datetime` can hold, in microseconds since the epoch.
_MIN_US = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_MAX_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND


def _checked_record(
    session_hash: bytes, purpose: str, issued_us: int, expires_us: int, forget_us: int
) -> _Record:
    """A record read back from a backend, or :class:`ChallengeStoreUnavailableError` when its fields are
    not what :meth:`_StoreBase.issue` writes (fail closed: a corrupt record is never judged)."""
    if len(session_hash) != hashlib.sha256().digest_size:
        raise ChallengeStoreUnavailableError("corrupt challenge record (session hash)")
    if not _MIN_US <= issued_us < expires_us < forget_us <= _MAX_US:
        raise ChallengeStoreUnavailableError("corrupt challenge record (times out of order or range)")
    return _Record(session_hash, purpose, issued_us, expires_us, forget_us)


def _value_key(value: bytes) -> bytes:
    return hashlib.sha256(_VALUE_DOMAIN + value).digest()


def _session_hash(session_id: str) -> bytes:
    return hashlib.sha256(_SESSION_DOMAIN + session_id.encode("utf-8")).digest()


def _to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _check_text(name: str, text: object) -> str:
    if not isinstance(text, str):
        raise ChallengeInputError(f"{name} must be a string")
    if not text.strip():
        raise ChallengeInputError(f"{name} must not be blank")
    if len(text) > MAX_FIELD_LENGTH:
        raise ChallengeInputError(f"{name} is longer than {MAX_FIELD_LENGTH} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ChallengeInputError(f"{name} is not valid Unicode text") from exc
    return text


def _check_duration(
    name: str, duration: object, error: type[ChallengeError] | type[ConfigurationError]
) -> int:
    """Return ``duration`` in whole microseconds, or raise ``error`` when it is not in (0, MAX_TTL]."""
    if not isinstance(duration, timedelta):
        raise error(f"{name} must be a datetime.timedelta")
    if duration <= timedelta(0):
        raise error(f"{name} must be positive")
    if duration > MAX_TTL:
        raise error(f"{name} must be at most {MAX_TTL}")
    return duration // _MICROSECOND


class _StoreBase:
    """The behaviour every backend shares; a backend supplies ``_insert`` and ``_take``."""

    def __init__(self, *, clock: Clock | None, default_ttl: timedelta, grace: timedelta) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        if not isinstance(self._clock, Clock):
            raise ConfigurationError("clock must provide now()")
        self._default_ttl_us = _check_duration("default_ttl", default_ttl, ConfigurationError)
        self._grace_us = _check_duration("grace", grace, ConfigurationError)
        self.default_ttl = default_ttl
        self.grace = grace

    # -- what a backend implements ----------------------------------------------------------------------

    def _insert(self, key: bytes, record: _Record) -> bool:
        """Store ``record`` under ``key`` unconsumed unless ``key`` exists; ``False`` when it does."""
        raise NotImplementedError

    def _take(self, key: bytes) -> tuple[_Record, bool] | None:
        """Atomically read the record and mark it consumed.

        Returns ``None`` when there is no record, else the record and whether it was *already* consumed
        before this call. Among any number of concurrent calls for one key, exactly one sees ``False``.
        """
        raise NotImplementedError

    # -- the public behaviour ---------------------------------------------------------------------------

    def _now_us(self) -> int:
        try:
            now = require_aware(self._clock.now())
        except (ValueError, AttributeError) as exc:
            raise ConfigurationError("the clock must return an aware datetime") from exc
        return _to_us(now)

    def issue(self, *, session_id: str, purpose: str, ttl: timedelta | None = None) -> Challenge:
        """See :meth:`ChallengeStore.issue`."""
        _check_text("session_id", session_id)
        _check_text("purpose", purpose)
        ttl_us = self._default_ttl_us if ttl is None else _check_duration("ttl", ttl, ChallengeInputError)
        now_us = self._now_us()
        record = _Record(
            session_hash=_session_hash(session_id),
            purpose=purpose,
            issued_us=now_us,
            expires_us=now_us + ttl_us,
            forget_us=now_us + ttl_us + self._grace_us,
        )
        for _ in range(_ISSUE_ATTEMPTS):
            value = secrets.token_bytes(VALUE_LENGTH)
            if self._insert(_value_key(value), record):
                return Challenge(
                    value=value,
                    session_id=session_id,
                    purpose=purpose,
                    issued_at=_from_us(record.issued_us),
                    expires_at=_from_us(record.expires_us),
                )
        # 2**-256 per draw: reaching this means the random source is broken, not bad luck.
        raise ChallengeStoreUnavailableError("could not draw an unused challenge value (random source?)")

    def consume(self, value: bytes, *, session_id: str, purpose: str) -> Challenge:
        """See :meth:`ChallengeStore.consume`."""
        if not isinstance(value, (bytes, bytearray)):
            raise ChallengeInputError("challenge value must be bytes")
        if len(value) != VALUE_LENGTH:
            raise ChallengeInputError(f"challenge value must be {VALUE_LENGTH} bytes, got {len(value)}")
        value = bytes(value)
        _check_text("session_id", session_id)
        _check_text("purpose", purpose)
        taken = self._take(_value_key(value))
        # Read after the take: the verdict uses the instant the record was won (a busy wait counts).
        now_us = self._now_us()
        if taken is None:
            raise ChallengeError("challenge unknown to this store", reason=Reason.CHALLENGE_UNKNOWN)
        record, already_consumed = taken
        if now_us >= record.forget_us:
            # Past the grace period: the store no longer vouches for this record (purge is lazy).
            raise ChallengeError("challenge unknown to this store", reason=Reason.CHALLENGE_UNKNOWN)
        if already_consumed:
            raise ChallengeError("challenge already consumed", reason=Reason.CHALLENGE_REPLAYED)
        # This call won the record; whatever follows, it stays consumed.
        same_session = hmac.compare_digest(record.session_hash, _session_hash(session_id))
        if not same_session or record.purpose != purpose:
            raise ChallengeError(
                "challenge was issued for another session or purpose", reason=Reason.CHALLENGE_MISMATCH
            )
        if now_us >= record.expires_us:
            raise ChallengeError("challenge expired", reason=Reason.CHALLENGE_EXPIRED)
        return Challenge(
            value=value,
            session_id=session_id,
            purpose=purpose,
            issued_at=_from_us(record.issued_us),
            expires_at=_from_us(record.expires_us),
        )


# --------------------------------------------------------------------------------------------- memory


@dataclass(slots=True)
class _MemoryEntry:
    record: _Record
    consumed: bool = False


class MemoryChallengeStore(_StoreBase):
    """Challenges in a dict of this process, guarded by one lock: safe across threads, not processes.

    The default store. Use :class:`SQLiteChallengeStore` when several worker processes on one host serve
    the same users, :class:`RedisChallengeStore` for several hosts.

    Args:
        clock: where "now" comes from (default :class:`~myna_rp.clock.SystemClock`).
        default_ttl: TTL of :meth:`issue` without ``ttl``; in (0, :data:`MAX_TTL`].
        grace: how long past expiry a record is remembered; in (0, :data:`MAX_TTL`].

    Records past ``expires_at + grace`` are dropped on the next :meth:`issue` or :meth:`purge`, so memory
    stays bounded by the issue rate times ``ttl + grace``.

    Raises:
        ConfigurationError: a duration out of range, or ``clock`` without ``now()``.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        default_ttl: timedelta = DEFAULT_TTL,
        grace: timedelta = DEFAULT_GRACE,
    ) -> None:
        super().__init__(clock=clock, default_ttl=default_ttl, grace=grace)
        self._lock = threading.Lock()
        self._entries: dict[bytes, _MemoryEntry] = {}
        self._forget_heap: list[tuple[int, bytes]] = []

    def purge(self) -> int:
        """Drop the records past ``expires_at + grace``; returns how many were dropped."""
        now_us = self._now_us()
        with self._lock:
            return self._purge_locked(now_us)

    def _purge_locked(self, now_us: int) -> int:
        dropped = 0
        while self._forget_heap and self._forget_heap[0][0] <= now_us:
            _, key = heapq.heappop(self._forget_heap)
            if self._entries.pop(key, None) is not None:
                dropped += 1
        return dropped

    def _insert(self, key: bytes, record: _Record) -> bool:
        with self._lock:
            self._purge_locked(record.issued_us)
            if key in self._entries:
                return False
            self._entries[key] = _MemoryEntry(record)
            heapq.heappush(self._forget_heap, (record.forget_us, key))
            return True

    def _take(self, key: bytes) -> tuple[_Record, bool] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            already = entry.consumed
            entry.consumed = True
            return entry.record, already


# --------------------------------------------------------------------------------------------- SQLite

# Literal SQL only (table name included): every value goes through a "?" parameter.
_SQLITE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS myna_rp_challenge (
        value_hash BLOB PRIMARY KEY,      -- SHA-256 of the value; the value itself is never stored
        session_hash BLOB NOT NULL,       -- SHA-256 of the session id
        purpose TEXT NOT NULL,
        issued_us INTEGER NOT NULL,       -- microseconds since 1970-01-01T00:00Z
        expires_us INTEGER NOT NULL,
        forget_us INTEGER NOT NULL,       -- expires_us + grace: purge after this
        consumed INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS myna_rp_challenge_forget ON myna_rp_challenge (forget_us)",
)
_SQLITE_PURGE = "DELETE FROM myna_rp_challenge WHERE forget_us <= ?"
_SQLITE_INSERT = (
    "INSERT INTO myna_rp_challenge "
    "(value_hash, session_hash, purpose, issued_us, expires_us, forget_us, consumed) "
    "VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (value_hash) DO NOTHING"
)
# The winner: one conditional UPDATE; SQLite runs one writer at a time, so only one matches consumed = 0.
_SQLITE_TAKE = (
    "UPDATE myna_rp_challenge SET consumed = 1 WHERE value_hash = ? AND consumed = 0 "
    "RETURNING session_hash, purpose, issued_us, expires_us, forget_us"
)
_SQLITE_READ = (
    "SELECT session_hash, purpose, issued_us, expires_us, forget_us "
    "FROM myna_rp_challenge WHERE value_hash = ?"
)


class SQLiteChallengeStore(_StoreBase):
    """Challenges in a SQLite file shared by several processes (and threads) on one host.

    Why the stdlib :mod:`sqlite3` and not SQLAlchemy: the store is one table and four statements, and
    what matters is exact control of SQLite itself — ``BEGIN IMMEDIATE``, ``RETURNING``, the WAL and
    busy-timeout pragmas, and one connection per thread and process (a connection must never cross a
    ``fork``). SQLAlchemy's pool and transaction layer would sit between us and those and add nothing.

    Atomic consume: inside ``BEGIN IMMEDIATE`` (the write lock is taken before anything is read, so two
    connections cannot both read "unconsumed") a single conditional
    ``UPDATE … SET consumed = 1 WHERE value_hash = ? AND consumed = 0 RETURNING …`` decides the winner:
    SQLite serialises writers, so for one value exactly one statement returns the row; the losers then read
    the row (already consumed → ``CHALLENGE_REPLAYED``) in the same transaction.

    The file is put in WAL mode (readers never block the writer) with a busy timeout, so concurrent
    processes queue for the write lock instead of failing; ``synchronous=FULL`` so a consume that returned
    survives a power cut (a lost "consumed" flag would re-open a replay). Records past
    ``expires_at + grace`` are deleted when a challenge is issued, or by :meth:`purge`.

    Args:
        path: the database file (created with its table, and its missing parent folders, when missing).
            ``":memory:"`` is refused: each
            connection would get a database of its own — use :class:`MemoryChallengeStore`.
        clock: where "now" comes from (default :class:`~myna_rp.clock.SystemClock`).
        default_ttl: TTL of :meth:`issue` without ``ttl``; in (0, :data:`MAX_TTL`].
        grace: how long past expiry a record is remembered; in (0, :data:`MAX_TTL`].
        busy_timeout: how long a statement waits for another process's write lock before failing
            (:class:`ChallengeStoreUnavailableError`).

    Raises:
        ConfigurationError: bad durations, ``":memory:"``, or the file cannot be opened or set up.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        default_ttl: timedelta = DEFAULT_TTL,
        grace: timedelta = DEFAULT_GRACE,
        busy_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        super().__init__(clock=clock, default_ttl=default_ttl, grace=grace)
        raw = os.fspath(path)
        if not raw or raw == ":memory:" or raw.startswith("file:"):
            raise ConfigurationError("SQLiteChallengeStore needs a file path; use MemoryChallengeStore")
        self.path = Path(raw).absolute()  # a later chdir must not move the store
        try:
            # Like the other file stores of the project: a fresh tree has no var/ folder yet.
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the folder of the challenge database {self.path}"
            ) from exc
        busy_us = _check_duration("busy_timeout", busy_timeout, ConfigurationError)
        self._busy_seconds = busy_us / 1_000_000
        self._local = threading.local()
        self._connections_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        try:
            connection = self._connection()
            # journal_mode is a property of the file; the first store to open it switches it to WAL.
            connection.execute("PRAGMA journal_mode=WAL").fetchall()
            connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SQLITE_SCHEMA:
                    connection.execute(statement)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.close()
            raise ConfigurationError(f"cannot open the challenge database {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection in this process (opened on first use; a forked child opens its own)."""
        pid = os.getpid()
        if pid != self._pid:
            # Inherited through fork: the parent's connections must not be used (nor closed) here.
            with self._connections_lock:
                if pid != self._pid:
                    self._connections = []
                    self._local = threading.local()
                    self._pid = pid
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # isolation_level=None: we write BEGIN/COMMIT ourselves. check_same_thread=False only so that
            # close() may close every thread's connection; each is used by its own thread alone.
            connection = sqlite3.connect(
                self.path, timeout=self._busy_seconds, isolation_level=None, check_same_thread=False
            )
            try:
                connection.execute(f"PRAGMA busy_timeout={int(self._busy_seconds * 1000)}")
                connection.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error:
                connection.close()
                raise
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _transaction(self, body: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``body`` inside ``BEGIN IMMEDIATE`` … ``COMMIT``; sqlite3 errors become unavailability."""
        try:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = body(connection)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise ChallengeStoreUnavailableError(f"challenge database unavailable: {exc}") from exc
        return result

    def _insert(self, key: bytes, record: _Record) -> bool:
        def body(connection: sqlite3.Connection) -> bool:
            connection.execute(_SQLITE_PURGE, (record.issued_us,))
            cursor = connection.execute(
                _SQLITE_INSERT,
                (
                    key,
                    record.session_hash,
                    record.purpose,
                    record.issued_us,
                    record.expires_us,
                    record.forget_us,
                ),
            )
            return cursor.rowcount == 1

        return bool(self._transaction(body))

    def _take(self, key: bytes) -> tuple[_Record, bool] | None:
        def body(connection: sqlite3.Connection) -> tuple[_Record, bool] | None:
            won = connection.execute(_SQLITE_TAKE, (key,)).fetchall()
            if won:
                return _sqlite_record(won[0]), False
            seen = connection.execute(_SQLITE_READ, (key,)).fetchall()
            return (_sqlite_record(seen[0]), True) if seen else None

        result: tuple[_Record, bool] | None = self._transaction(body)
        return result

    def purge(self) -> int:
        """Delete the records past ``expires_at + grace``; returns how many were deleted.

        Raises:
            ChallengeStoreUnavailableError: the database could not be written.
        """
        now_us = self._now_us()

        def body(connection: sqlite3.Connection) -> int:
            return connection.execute(_SQLITE_PURGE, (now_us,)).rowcount

        return int(self._transaction(body))

    def close(self) -> None:
        """Close every connection this store opened in this process. The store reopens on next use."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        if os.getpid() != self._pid:
            return
        for connection in connections:
            connection.close()

    def __enter__(self) -> SQLiteChallengeStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _sqlite_record(row: tuple[Any, ...]) -> _Record:
    session_hash, purpose, issued_us, expires_us, forget_us = row
    if not isinstance(session_hash, bytes) or not isinstance(purpose, str):
        raise ChallengeStoreUnavailableError("corrupt challenge record")
    # SQLite columns are dynamically typed: a vandalised time column may hold text, a float or NULL.
    times = (issued_us, expires_us, forget_us)
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in times):
        raise ChallengeStoreUnavailableError("corrupt challenge record (time columns)")
    return _checked_record(bytes(session_hash), purpose, issued_us, expires_us, forget_us)


# --------------------------------------------------------------------------------------------- Redis

# Issue: never overwrite (a colliding value is redrawn), fields and expiry set in one atomic step.
_REDIS_ISSUE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[1], 'p', ARGV[2], 'i', ARGV[3], 'e', ARGV[4], 'f', ARGV[5], 'c', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
"""

# Consume: read and mark consumed in one atomic step (Redis runs a script without interleaving).
# Returns {0} unknown, or {1 if it was already consumed else 2, s, p, i, e, f}. Only the exact flag '0'
# is "unconsumed": any other value (a vandalised flag) reads as consumed (fail closed).
# HSET keeps the key's TTL (only SET and friends reset it).
_REDIS_CONSUME = """
local v = redis.call('HMGET', KEYS[1], 'c', 's', 'p', 'i', 'e', 'f')
if not v[1] then return {0} end
if v[1] ~= '0' then return {1, v[2], v[3], v[4], v[5], v[6]} end
redis.call('HSET', KEYS[1], 'c', '1')
return {2, v[2], v[3], v[4], v[5], v[6]}
"""


class RedisChallengeStore(_StoreBase):
    """Challenges in Redis, shared by a fleet of workers on several hosts.

    Each record is a hash under ``key_prefix + hex(SHA-256(value))`` (one key, so it works on Redis
    Cluster too). Issue and consume are Lua scripts (``EVALSHA``, falling back to ``EVAL`` after a
    ``SCRIPT FLUSH`` or on a new server), each one round trip and atomic: Redis runs a script to the end
    before serving any other command, so for one value exactly one consume sees it unconsumed.

    How Redis' TTL and the store's :class:`~myna_rp.clock.Clock` interact: validity is judged only
    against the store's Clock (``now < expires_at``, ``now < expires_at + grace`` for remembering),
    never against Redis' clock. The key also gets a Redis TTL of ``ttl + grace`` (rounded up to whole
    milliseconds, counted on the Redis server's clock from the issue), which only frees memory: a key Redis
    has dropped reads as ``CHALLENGE_UNKNOWN`` — still a refusal — and a key Redis still holds past the
    Clock's ``expires_at`` reads as ``CHALLENGE_EXPIRED``. So a skewed or simulated Clock can change which
    refusal a caller gets, never turn a refusal into an acceptance. Keep ``grace`` above the worst clock
    skew between hosts if ``EXPIRED`` versus ``UNKNOWN`` matters to you. Run Redis with
    ``maxmemory-policy noeviction`` (or a volatile-* policy you accept): an evicted record is a refusal,
    never a replay, but it turns EXPIRED/REPLAYED into UNKNOWN early.

    Args:
        client: a synchronous :class:`redis.Redis` (``decode_responses`` either way). Its connection pool
            gives each thread its own connection.
        clock: where "now" comes from (default :class:`~myna_rp.clock.SystemClock`).
        default_ttl: TTL of :meth:`issue` without ``ttl``; in (0, :data:`MAX_TTL`].
        grace: how long past expiry a record is remembered; in (0, :data:`MAX_TTL`].
        key_prefix: namespace of the keys (several applications can share a server).

    Any :class:`redis.RedisError` (connection refused, timeout, ``WRONGTYPE``, ``OOM``) or a reply that
    does not parse becomes :class:`ChallengeStoreUnavailableError`.

    Raises:
        ConfigurationError: bad durations, or an empty ``key_prefix``.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Clock | None = None,
        default_ttl: timedelta = DEFAULT_TTL,
        grace: timedelta = DEFAULT_GRACE,
        key_prefix: str = "myna_rp:challenge:",
    ) -> None:
        super().__init__(clock=clock, default_ttl=default_ttl, grace=grace)
        # Imported here: redis is an optional dependency (extra "redis"); a caller with a client has it.
        from redis.exceptions import RedisError

        if not isinstance(key_prefix, str) or not key_prefix:
            raise ConfigurationError("key_prefix must be a non-empty string")
        self._client = client
        self._redis_error: type[Exception] = RedisError
        self.key_prefix = key_prefix
        self._issue_script = client.register_script(_REDIS_ISSUE)
        self._consume_script = client.register_script(_REDIS_CONSUME)

    def redis_key(self, value: bytes) -> str:
        """The Redis key a value is stored under (for operators and tests; the value is not in it)."""
        return self.key_prefix + _value_key(value).hex()

    def _key(self, key: bytes) -> str:
        return self.key_prefix + key.hex()

    def _insert(self, key: bytes, record: _Record) -> bool:
        expire_ms = math.ceil((record.forget_us - record.issued_us) / 1000)
        try:
            reply = self._issue_script(
                keys=[self._key(key)],
                args=[
                    record.session_hash.hex(),
                    record.purpose,
                    record.issued_us,
                    record.expires_us,
                    record.forget_us,
                    expire_ms,
                ],
            )
            return int(reply) == 1
        except (self._redis_error, ValueError, TypeError) as exc:
            raise ChallengeStoreUnavailableError(f"Redis could not store the challenge: {exc}") from exc

    def _take(self, key: bytes) -> tuple[_Record, bool] | None:
        try:
            reply = self._consume_script(keys=[self._key(key)])
        except self._redis_error as exc:
            raise ChallengeStoreUnavailableError(f"Redis could not consume the challenge: {exc}") from exc
        try:
            state = int(reply[0])
            if state == 0:
                return None
            if state not in (1, 2) or len(reply) != 6:
                raise ValueError(f"unexpected consume state {state}")
            session_hex, purpose, issued, expires, forget = (_text(item) for item in reply[1:])
            times = (issued, expires, forget)
            if not all(t.isascii() and t.isdigit() for t in times):
                raise ValueError("non-integer time field")
            record = _checked_record(
                bytes.fromhex(session_hex), purpose, int(issued), int(expires), int(forget)
            )
        except ChallengeStoreUnavailableError:
            raise
        except (ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
            raise ChallengeStoreUnavailableError("Redis returned a corrupt challenge record") from exc
        return record, state == 1


def _text(item: object) -> str:
    """A Redis reply element as text, whether the client decodes responses or not."""
    if isinstance(item, bytes):
        return item.decode("utf-8")
    if isinstance(item, str):
        return item
    raise TypeError("missing or non-text field in a challenge record")
