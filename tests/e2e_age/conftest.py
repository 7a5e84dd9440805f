"""Fixtures of the end-to-end age tests: the mock platform in-process (the lifecycle tests' :class:`World`
harness from ``tests/lifecycle/lifecycle_support.py``: real app, TestClient, MockClock, fast PINs, a key
pool) and, on the relying party's side, the SDK only (``MdocVerifier`` anchored on ``GET /mdoc/iaca.cer``,
``JPKIVerifier`` through the World)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import NOW, KeyPool, World

from mock_platform.app import create_app
from mock_platform.ca.keys import KeyType, PrivateKey, generate_private_key
from mock_platform.ca.service import CAService
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.issuance import LifecycleConfig, PinHasher
from mock_platform.settings import Settings
from myna_rp import IACAStore, MdocVerifier

POOL_SIZE = 12


@pytest.fixture(scope="session")
def e2e_age_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e-age-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def e2e_age_keys() -> list[PrivateKey]:
    return [generate_private_key(KeyType.RSA_2048) for _ in range(POOL_SIZE)]


@pytest.fixture(scope="module")
def e2e_age_platform(
    e2e_age_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, MockClock]]:
    """One app per module; each test enrols its own residents and phones, the clock is reset to NOW."""
    path = tmp_path_factory.mktemp("e2e-age") / "mock.sqlite3"
    shutil.copy(e2e_age_template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    app = create_app(
        Settings(database_url="sqlite://", test_mode=True),
        clock=clock,
        database=database,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
    )
    with TestClient(app, base_url="http://jlis-mock.test", raise_server_exceptions=False) as client:
        yield client, clock
    database.dispose()


@pytest.fixture
def world(e2e_age_platform: tuple[TestClient, MockClock], e2e_age_keys: list[PrivateKey]) -> World:
    client, clock = e2e_age_platform
    clock.set(NOW)
    return World(client, clock, KeyPool(e2e_age_keys))


@pytest.fixture
def iaca(world: World) -> x509.Certificate:
    """The mock's IACA root, fetched the way an RP would configure it."""
    response = world.client.get("/mdoc/iaca.cer")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/pkix-cert")
    return x509.load_der_x509_certificate(response.content)


@pytest.fixture
def mdoc_verifier(world: World, iaca: x509.Certificate) -> MdocVerifier:
    """The SDK's verifier on the platform's clock (the credential's validityInfo is in mock time)."""
    return MdocVerifier(IACAStore.from_certificates([iaca]), clock=world.clock)
