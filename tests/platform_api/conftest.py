"""Fixtures of the platform-API tests: the real mock app in-process (the lifecycle tests' World harness:
TestClient, MockClock, fast PINs, a key pool), a registered relying party with a private_key_jwt key and a
webhook URL, the SDK's PlatformClient over the same TestClient, and an in-process webhook receiver (an
``httpx.MockTransport`` the mock's dispatcher posts to)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lifecycle_support import World
from mock_world import ca_template_fixture, key_pool_fixture, running_mock, world_at_now
from platform_api_support import BASE_URL, Inbox, RelyingPartyKit, register_rp

from mock_platform.ca.keys import PrivateKey
from mock_platform.clock import MockClock
from myna_rp.platform import PlatformClient, PrivateKeyJWT

POOL_SIZE = 16

platform_api_template = ca_template_fixture("platform-api-template")
platform_api_keys = key_pool_fixture(POOL_SIZE)


@pytest.fixture(scope="module")
def platform_app(
    platform_api_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, MockClock, Inbox]]:
    """One app per module; each test registers its own RP and enrols its own residents. Webhooks go to
    the module's :class:`Inbox`."""
    inbox = Inbox()
    webhook_client = httpx.Client(transport=httpx.MockTransport(inbox.handle), timeout=5.0)
    folder = tmp_path_factory.mktemp("platform-api")
    with running_mock(platform_api_template, folder, webhook_client=webhook_client) as (client, clock):
        yield client, clock, inbox
    webhook_client.close()


@pytest.fixture
def world(platform_app: tuple[TestClient, MockClock, Inbox], platform_api_keys: list[PrivateKey]) -> World:
    client, clock, inbox = platform_app
    inbox.clear()
    return world_at_now(client, clock, platform_api_keys)


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
