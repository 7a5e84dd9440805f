"""What is particular to each backend: storage layout (hashes only), failing closed, SQLite pragmas and
locking, fork safety, Redis TTL versus the store's clock, Lua script reloading, decoded clients."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from challenge_support import NOW, ManualClock, free_port

from myna_rp.challenge import (
    DEFAULT_GRACE,
    DEFAULT_TTL,
    VALUE_LENGTH,
    ChallengeStoreUnavailableError,
    MemoryChallengeStore,
    RedisChallengeStore,
    SQLiteChallengeStore,
)
from myna_rp.errors import ChallengeError, ConfigurationError, Reason

SESSION = "sess-7f3a9c0e1b2d4e5f"
PURPOSE = "kyc.sign"


def secrets_of(challenge_value: bytes, session_id: str) -> list[bytes]:
    """Byte strings that must never appear in a dump: the value (raw, hex, base64url) and the session id."""
    from myna_rp.challenge import Challenge

    handle = Challenge(challenge_value, session_id, PURPOSE, NOW, NOW).id
    return [
        challenge_value,
        challenge_value.hex().encode(),
        challenge_value.hex().upper().encode(),
        handle.encode(),
        session_id.encode(),
    ]


# --------------------------------------------------------------------------------------------- memory


def test_memory_purge_drops_only_forgotten_records() -> None:
    clock = ManualClock(NOW)
    store = MemoryChallengeStore(clock=clock, grace=timedelta(minutes=1))
    old = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(minutes=1))
    clock.advance(timedelta(minutes=1))
    young = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(minutes=5))
    assert store.purge() == 0
    clock.advance(timedelta(minutes=1))  # old: expires + grace reached; young: still live
    assert store.purge() == 1
    assert store.purge() == 0
    with pytest.raises(ChallengeError) as caught:
        store.consume(old.value, session_id=SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_UNKNOWN
    assert store.consume(young.value, session_id=SESSION, purpose=PURPOSE) == young


def test_memory_stays_bounded_under_steady_issuing() -> None:
    clock = ManualClock(NOW)
    store = MemoryChallengeStore(clock=clock, default_ttl=timedelta(seconds=10), grace=timedelta(seconds=10))
    for _ in range(1000):
        store.issue(session_id=SESSION, purpose=PURPOSE)
        clock.advance(timedelta(seconds=1))
    # Issue purges lazily: only the last ttl + grace = 20 s of records (one per second) remain.
    assert 19 <= len(store._entries) <= 21


# --------------------------------------------------------------------------------------------- SQLite


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "challenges.sqlite3"


def test_sqlite_file_is_in_wal_mode_with_the_expected_table(db_path: Path) -> None:
    with SQLiteChallengeStore(db_path) as store:
        store.issue(session_id=SESSION, purpose=PURPOSE)
        connection = store._connection()
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [row[1] for row in raw.execute("PRAGMA table_info(myna_rp_challenge)")]
        assert columns == [
            "value_hash",
            "session_hash",
            "purpose",
            "issued_us",
            "expires_us",
            "forget_us",
            "consumed",
        ]
    finally:
        raw.close()


def test_sqlite_dump_holds_hashes_not_values_or_sessions(db_path: Path) -> None:
    store = SQLiteChallengeStore(db_path, clock=ManualClock(NOW))
    live = store.issue(session_id=SESSION, purpose=PURPOSE)
    used = store.issue(session_id=SESSION + "-2", purpose=PURPOSE)
    store.consume(used.value, session_id=SESSION + "-2", purpose=PURPOSE)
    store.close()
    raw = sqlite3.connect(db_path)
    try:
        dump = "\n".join(raw.iterdump()).encode()
        rows = raw.execute(
            "SELECT value_hash, session_hash, purpose, consumed FROM myna_rp_challenge"
        ).fetchall()
    finally:
        raw.close()
    files = b"".join(path.read_bytes() for path in db_path.parent.iterdir() if path.is_file())
    for challenge, session in ((live, SESSION), (used, SESSION + "-2")):
        for secret in secrets_of(challenge.value, session):
            assert secret not in dump
            assert secret not in files
    assert len(rows) == 2
    assert {bytes(row[0]) for row in rows} == {
        hashlib.sha256(b"myna_rp.challenge.value\x00" + c.value).digest() for c in (live, used)
    }
    assert sorted(row[3] for row in rows) == [0, 1]


def test_sqlite_purge_deletes_forgotten_rows(db_path: Path) -> None:
    clock = ManualClock(NOW)
    store = SQLiteChallengeStore(db_path, clock=clock, grace=timedelta(minutes=1))
    store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(minutes=1))
    keep = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(minutes=10))
    clock.advance(timedelta(minutes=2))
    assert store.purge() == 1
    assert store.purge() == 0
    assert store.consume(keep.value, session_id=SESSION, purpose=PURPOSE) == keep
    # issue() purges too.
    store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(minutes=1))
    clock.advance(timedelta(minutes=20))
    store.issue(session_id=SESSION, purpose=PURPOSE)
    count = store._connection().execute("SELECT COUNT(*) FROM myna_rp_challenge").fetchone()[0]
    assert count == 1
    store.close()


@pytest.mark.parametrize("path", [":memory:", "", "file::memory:?cache=shared"])
def test_sqlite_refuses_in_memory_databases(path: str) -> None:
    with pytest.raises(ConfigurationError):
        SQLiteChallengeStore(path)


def test_sqlite_unopenable_path_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")  # missing folders are created, but not under a file
    with pytest.raises(ConfigurationError):
        SQLiteChallengeStore(tmp_path / "a-file" / "dir" / "challenges.sqlite3")
    (tmp_path / "garbage.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigurationError):
        SQLiteChallengeStore(tmp_path / "garbage.sqlite3")


def test_sqlite_fails_closed_when_the_table_is_gone(db_path: Path) -> None:
    store = SQLiteChallengeStore(db_path)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    vandal = sqlite3.connect(db_path)
    vandal.execute("DROP TABLE myna_rp_challenge")
    vandal.commit()
    vandal.close()
    with pytest.raises(ChallengeStoreUnavailableError) as caught:
        store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_UNKNOWN
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    with pytest.raises(ChallengeStoreUnavailableError):
        store.issue(session_id=SESSION, purpose=PURPOSE)
    store.close()


def test_sqlite_fails_closed_on_a_corrupt_row(db_path: Path) -> None:
    store = SQLiteChallengeStore(db_path)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    vandal = sqlite3.connect(db_path)
    vandal.execute("UPDATE myna_rp_challenge SET session_hash = 'not bytes'")
    vandal.commit()
    vandal.close()
    with pytest.raises(ChallengeStoreUnavailableError):
        store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    store.close()


def test_sqlite_lock_timeout_fails_closed_and_burns_nothing(db_path: Path) -> None:
    store = SQLiteChallengeStore(db_path, busy_timeout=timedelta(milliseconds=200))
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        started = time.monotonic()
        with pytest.raises(ChallengeStoreUnavailableError):
            store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
        assert time.monotonic() - started >= 0.15  # it waited for the busy timeout
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # The failed attempt changed nothing: the rightful consume still succeeds, once.
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued
    store.close()


def test_sqlite_waits_for_a_short_lock_instead_of_failing(db_path: Path) -> None:
    import threading

    store = SQLiteChallengeStore(db_path)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    releaser.start()
    try:
        assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued
    finally:
        releaser.join()
        holder.close()
    store.close()


def _consume_in_child(store: SQLiteChallengeStore, value: bytes, results: Any) -> None:
    try:
        store.consume(value, session_id=SESSION, purpose=PURPOSE)
        results.put("ok")
    except ChallengeError as exc:
        results.put(exc.reason.value)
    except Exception as exc:  # noqa: BLE001
        results.put(f"error:{exc!r}")


def test_sqlite_store_survives_fork(db_path: Path) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    store = SQLiteChallengeStore(db_path)
    first = store.issue(session_id=SESSION, purpose=PURPOSE)  # the parent's connection is open
    second = store.issue(session_id=SESSION, purpose=PURPOSE)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_consume_in_child, args=(store, first.value, results))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert results.get(timeout=5) == "ok"
    # The child opened its own connection; the parent's is still good.
    with pytest.raises(ChallengeError) as caught:
        store.consume(first.value, session_id=SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_REPLAYED
    assert store.consume(second.value, session_id=SESSION, purpose=PURPOSE) == second
    store.close()


def test_sqlite_close_then_reuse(db_path: Path) -> None:
    store = SQLiteChallengeStore(db_path)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    store.close()
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued
    store.close()
    store.close()


def test_sqlite_threads_get_their_own_connections(db_path: Path) -> None:
    import threading

    store = SQLiteChallengeStore(db_path)  # the constructor opened one for this thread
    barrier = threading.Barrier(4)
    seen: list[int] = []

    def worker() -> None:
        barrier.wait(10)  # four live threads at once: four different threads
        seen.append(id(store._connection()))
        barrier.wait(10)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(set(seen)) == 4
    assert id(store._connection()) not in seen
    assert len(store._connections) == 5
    store.close()
    assert store._connections == []


# --------------------------------------------------------------------------------------------- Redis


def redis_dump(client: Any, prefix: str) -> dict[bytes, dict[bytes, bytes]]:
    return {key: client.hgetall(key) for key in client.scan_iter(match=prefix + "*")}


def test_redis_layout_is_hashes_only_with_ttl_plus_grace(redis_client: Any, redis_prefix: str) -> None:
    store = RedisChallengeStore(redis_client, clock=ManualClock(NOW), key_prefix=redis_prefix)
    live = store.issue(session_id=SESSION, purpose=PURPOSE)
    used = store.issue(session_id=SESSION + "-2", purpose=PURPOSE)
    store.consume(used.value, session_id=SESSION + "-2", purpose=PURPOSE)
    dump = redis_dump(redis_client, redis_prefix)
    assert set(dump) == {store.redis_key(live.value).encode(), store.redis_key(used.value).encode()}
    blob = b"|".join(key + b"".join(k + v for k, v in fields.items()) for key, fields in dump.items())
    for challenge, session in ((live, SESSION), (used, SESSION + "-2")):
        for secret in secrets_of(challenge.value, session):
            assert secret not in blob
    assert dump[store.redis_key(used.value).encode()][b"c"] == b"1"
    assert dump[store.redis_key(live.value).encode()][b"c"] == b"0"
    assert dump[store.redis_key(live.value).encode()][b"p"] == PURPOSE.encode()
    expected_ms = (DEFAULT_TTL + DEFAULT_GRACE) // timedelta(milliseconds=1)
    for key in dump:
        pttl = redis_client.pttl(key)
        assert expected_ms - 10_000 < pttl <= expected_ms  # consuming kept the TTL


def test_redis_expiry_follows_the_store_clock_not_the_server_clock(
    redis_client: Any, redis_prefix: str
) -> None:
    clock = ManualClock(NOW)  # frozen: real time passes, the store's time does not
    store = RedisChallengeStore(redis_client, clock=clock, key_prefix=redis_prefix)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(seconds=1))
    time.sleep(1.2)  # past the TTL in real time; Redis still holds the key (TTL + grace)
    assert store.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued
    later = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(seconds=1))
    clock.advance(timedelta(seconds=1))  # the store's clock says expired, Redis' TTL has most of a grace left
    assert redis_client.exists(store.redis_key(later.value)) == 1
    with pytest.raises(ChallengeError) as caught:
        store.consume(later.value, session_id=SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_EXPIRED


def test_redis_dropping_the_key_is_a_refusal_never_an_acceptance(
    redis_client: Any, redis_prefix: str
) -> None:
    clock = ManualClock(NOW)
    store = RedisChallengeStore(
        redis_client, clock=clock, grace=timedelta(milliseconds=100), key_prefix=redis_prefix
    )
    issued = store.issue(session_id=SESSION, purpose=PURPOSE, ttl=timedelta(milliseconds=100))
    deadline = time.monotonic() + 5
    while redis_client.exists(store.redis_key(issued.value)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert redis_client.exists(store.redis_key(issued.value)) == 0
    # By the store's (frozen) clock the challenge is still valid, but Redis forgot it: refused.
    with pytest.raises(ChallengeError) as caught:
        store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_UNKNOWN


def test_redis_reloads_its_scripts_after_a_flush(redis_client: Any, redis_prefix: str) -> None:
    store = RedisChallengeStore(redis_client, key_prefix=redis_prefix)
    first = store.issue(session_id=SESSION, purpose=PURPOSE)
    redis_client.script_flush()
    assert store.consume(first.value, session_id=SESSION, purpose=PURPOSE) == first
    redis_client.script_flush()
    second = store.issue(session_id=SESSION, purpose=PURPOSE)
    assert store.consume(second.value, session_id=SESSION, purpose=PURPOSE) == second


def test_redis_with_a_decoding_client(redis_url: str, redis_prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisChallengeStore(client, key_prefix=redis_prefix)
        issued = store.issue(session_id="セッション", purpose="年齢確認")
        assert store.consume(issued.value, session_id="セッション", purpose="年齢確認") == issued
        with pytest.raises(ChallengeError) as caught:
            store.consume(issued.value, session_id="セッション", purpose="年齢確認")
        assert caught.value.reason is Reason.CHALLENGE_REPLAYED
    finally:
        client.close()


def test_redis_key_prefixes_keep_stores_apart(redis_client: Any, redis_prefix: str) -> None:
    bank = RedisChallengeStore(redis_client, key_prefix=redis_prefix + "bank:")
    shop = RedisChallengeStore(redis_client, key_prefix=redis_prefix + "shop:")
    issued = bank.issue(session_id=SESSION, purpose=PURPOSE)
    with pytest.raises(ChallengeError) as caught:
        shop.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_UNKNOWN
    assert bank.consume(issued.value, session_id=SESSION, purpose=PURPOSE) == issued


@pytest.mark.parametrize(
    "vandalism",
    [
        lambda client, key: client.set(key, "a string, not a hash"),  # WRONGTYPE
        lambda client, key: client.hset(key, "s", "zz-not-hex"),
        lambda client, key: client.hset(key, "e", "soon"),
        lambda client, key: client.hdel(key, "p"),
    ],
    ids=["wrong-type", "bad-session-hash", "bad-expiry", "missing-field"],
)
def test_redis_fails_closed_on_a_corrupt_record(redis_client: Any, redis_prefix: str, vandalism: Any) -> None:
    store = RedisChallengeStore(redis_client, key_prefix=redis_prefix)
    issued = store.issue(session_id=SESSION, purpose=PURPOSE)
    vandalism(redis_client, store.redis_key(issued.value))
    with pytest.raises(ChallengeStoreUnavailableError) as caught:
        store.consume(issued.value, session_id=SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_UNKNOWN


def test_redis_unreachable_fails_closed() -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: the default policy backs off for seconds before giving up.
    client = redis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=1,
        socket_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    store = RedisChallengeStore(client, key_prefix="test:unreachable:")
    with pytest.raises(ChallengeStoreUnavailableError) as caught:
        store.issue(session_id=SESSION, purpose=PURPOSE)
    assert isinstance(caught.value.__cause__, redis.RedisError)
    with pytest.raises(ChallengeStoreUnavailableError) as caught:
        store.consume(b"\x01" * VALUE_LENGTH, session_id=SESSION, purpose=PURPOSE)
    assert caught.value.reason is Reason.CHALLENGE_UNKNOWN
    client.close()


def test_redis_empty_prefix_is_refused() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=free_port())
    with pytest.raises(ConfigurationError):
        RedisChallengeStore(client, key_prefix="")
    client.close()
