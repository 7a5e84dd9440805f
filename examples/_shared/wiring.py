"""Wiring both example services share: the challenge store their settings name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from myna_rp.challenge import ChallengeStore, MemoryChallengeStore, RedisChallengeStore, SQLiteChallengeStore
from myna_rp.clock import Clock


class ChallengeStoreSettings(Protocol):
    """The settings :func:`challenge_store` reads (``ShopSettings`` and ``BankSettings`` have them)."""

    @property
    def challenge_store(self) -> str: ...
    @property
    def challenge_ttl_seconds(self) -> int: ...
    @property
    def challenge_key_prefix(self) -> str: ...
    @property
    def http_timeout_seconds(self) -> float: ...


def challenge_store(
    settings: ChallengeStoreSettings, clock: Clock, closers: list[Callable[[], None]]
) -> ChallengeStore:
    """The store ``settings.challenge_store`` names (``memory``, ``sqlite:///PATH``, ``redis://…``, with
    ``settings.challenge_ttl_seconds`` as the default TTL); what must be closed at shutdown goes to
    ``closers``. Redis needs the optional extra ``redis``."""
    ttl = timedelta(seconds=settings.challenge_ttl_seconds)
    url = settings.challenge_store
    if url == "memory":
        return MemoryChallengeStore(clock=clock, default_ttl=ttl)
    if url.startswith("sqlite:///"):
        store = SQLiteChallengeStore(url.removeprefix("sqlite:///"), clock=clock, default_ttl=ttl)
        closers.append(store.close)
        return store
    import redis  # the optional extra "redis"
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    # Timeouts and two quick retries: an unreachable Redis must become a 503 soon, not hang the worker.
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.http_timeout_seconds,
        socket_timeout=settings.http_timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
    )
    closers.append(client.close)
    return RedisChallengeStore(client, clock=clock, default_ttl=ttl, key_prefix=settings.challenge_key_prefix)
