"""Fixtures of the OIDC tests: the mock platform in-process (the lifecycle tests' :class:`World` harness:
real app, TestClient, MockClock, fast PINs, a key pool) with its OpenID provider at
``http://jlis-mock.test/oidc``, relying parties registered in its registry, and on the RP's side the SDK
only (:class:`myna_rp.platform.oidc.MynaOIDCClient` over the same TestClient, on the platform's clock)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import NOW, KeyPool, World
from oidc_support import ISSUER, RelyingPartyHandle, register_rp

from mock_platform.app import create_app
from mock_platform.ca.keys import KeyType, PrivateKey, generate_private_key
from mock_platform.ca.service import CAService
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.issuance import LifecycleConfig, PinHasher
from mock_platform.oidc import OIDCConfig
from mock_platform.settings import Settings

POOL_SIZE = 16


@pytest.fixture(scope="session")
def oidc_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("oidc-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def oidc_keys() -> list[PrivateKey]:
    return [generate_private_key(KeyType.RSA_2048) for _ in range(POOL_SIZE)]


@pytest.fixture(scope="module")
def oidc_platform(
    oidc_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, MockClock]]:
    """One app per module; each test registers its own RPs, residents and phones; the clock is reset."""
    path = tmp_path_factory.mktemp("oidc") / "mock.sqlite3"
    shutil.copy(oidc_template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    app = create_app(
        Settings(database_url="sqlite://", test_mode=True),
        clock=clock,
        database=database,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
        oidc_config=OIDCConfig(issuer=ISSUER),
    )
    with TestClient(app, base_url="http://jlis-mock.test", raise_server_exceptions=False) as client:
        yield client, clock
    database.dispose()


@pytest.fixture
def world(oidc_platform: tuple[TestClient, MockClock], oidc_keys: list[PrivateKey]) -> World:
    client, clock = oidc_platform
    clock.set(NOW)
    return World(client, clock, KeyPool(oidc_keys))


@pytest.fixture
def make_rp(world: World) -> Callable[..., RelyingPartyHandle]:
    """Register a relying party (fresh EC key, its own client id and redirect URIs)."""

    def make(name: str = "Example Bank", host: str = "bank.example", **options: object) -> RelyingPartyHandle:
        return register_rp(world, name=name, host=host, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def rp(make_rp: Callable[..., RelyingPartyHandle]) -> RelyingPartyHandle:
    return make_rp()
