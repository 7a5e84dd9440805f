"""Fixtures of the platform-API tests: the real mock app in-process (the lifecycle tests' World harness:
TestClient, MockClock, fast PINs, a key pool), a registered relying party with a private_key_jwt key and a
webhook URL, the SDK's PlatformClient over the same TestClient, and an in-process webhook receiver (an
``httpx.MockTransport`` the mock's dispatcher posts to)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lifecycle_support import NOW, KeyPool, World
from platform_api_support import BASE_URL, Inbox, RelyingPartyKit, register_rp

from mock_platform.app import create_app
from mock_platform.ca.keys import KeyType, PrivateKey, generate_private_key
from mock_platform.ca.service import CAService
from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.issuance import LifecycleConfig, PinHasher
from mock_platform.settings import Settings
from myna_rp.platform import PlatformClient, PrivateKeyJWT

POOL_SIZE = 16


@pytest.fixture(scope="session")
def platform_api_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("platform-api-template") / "mock.sqlite3"
    database = Database(f"sqlite:///{path}")
    CAService.create(database, MockClock(NOW))
    database.dispose()
    return path


@pytest.fixture(scope="session")
def platform_api_keys() -> list[PrivateKey]:
    return [generate_private_key(KeyType.RSA_2048) for _ in range(POOL_SIZE)]


@pytest.fixture(scope="module")
def platform_app(
    platform_api_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, MockClock, Inbox]]:
    """One app per module; each test registers its own RP and enrols its own residents."""
    path = tmp_path_factory.mktemp("platform-api") / "mock.sqlite3"
    shutil.copy(platform_api_template, path)
    database = Database(f"sqlite:///{path}")
    clock = MockClock(NOW)
    inbox = Inbox()
    webhook_client = httpx.Client(transport=httpx.MockTransport(inbox.handle), timeout=5.0)
    app = create_app(
        Settings(database_url="sqlite://", test_mode=True),
        clock=clock,
        database=database,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
        webhook_client=webhook_client,
    )
    with TestClient(app, base_url="http://jlis-mock.test", raise_server_exceptions=False) as client:
        yield client, clock, inbox
    webhook_client.close()
    database.dispose()


@pytest.fixture
def world(platform_app: tuple[TestClient, MockClock, Inbox], platform_api_keys: list[PrivateKey]) -> World:
    client, clock, inbox = platform_app
    clock.set(NOW)
    inbox.clear()
    return World(client, clock, KeyPool(platform_api_keys))


@pytest.fixture
def inbox(platform_app: tuple[TestClient, MockClock, Inbox]) -> Inbox:
    return platform_app[2]


@pytest.fixture
def bank(world: World) -> RelyingPartyKit:
    """A relying party registered with an EC P-256 key and a webhook URL."""
    return register_rp(world.client, "Example Bank", webhook_url="https://bank.example/myna/webhook")


@pytest.fixture
def platform(world: World, bank: RelyingPartyKit) -> PlatformClient:
    """The SDK's client for ``bank``, over the same in-process TestClient, on the mock's clock."""
    return PlatformClient(
        BASE_URL,
        world.client,
        PrivateKeyJWT(bank.client_id, bank.key),
        clock=world.clock,
        sleep=lambda _: None,
    )
