"""Fixtures of the bank example tests: the mock platform in-process (the lifecycle tests' :class:`World`
harness: real app, TestClient, MockClock, fast PINs, a key pool) and the bank
(:func:`examples.bank_kyc.create_app`) in-process too — its trust configuration read from the mock
(``GET /ca``; OCSP and CRLs through the mock's TestClient), its clock the mock's, its database a SQLite
file of the test, registered at the mock as a relying party (API key + webhook URL). The mock delivers
webhooks through :class:`bank_support.WebhookRouter` to the bank's TestClient.

``make_bank(mode="direct"|"platform", webhook_secret=True, platform=True)`` builds one bank per call.
"""

from __future__ import annotations

import secrets
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bank_support import BANK_BASE, Bank, MakeBank, WebhookRouter
from lifecycle_support import World
from mock_world import Platform, ca_template_fixture, key_pool_fixture, running_mock, world_fixture

from examples.bank_kyc import BankDependencies, BankSettings, create_app
from myna_rp.platform import APIKey, PlatformClient

POOL_SIZE = 16

bank_mock_template = ca_template_fixture("bank-mock-template")
bank_keys = key_pool_fixture(POOL_SIZE)


@pytest.fixture(scope="module")
def bank_webhook_router() -> WebhookRouter:
    return WebhookRouter()


@pytest.fixture(scope="module")
def bank_platform(
    bank_mock_template: Path, tmp_path_factory: pytest.TempPathFactory, bank_webhook_router: WebhookRouter
) -> Iterator[Platform]:
    """One mock per module, its webhooks delivered to the banks through ``bank_webhook_router``; each
    test enrols its own residents and phones, the clock is reset to NOW."""
    webhooks = httpx.Client(transport=bank_webhook_router)
    folder = tmp_path_factory.mktemp("bank-mock")
    with running_mock(bank_mock_template, folder, webhook_client=webhooks) as mock:
        yield mock


world = world_fixture("bank_platform", "bank_keys")


@pytest.fixture
def make_bank(world: World, tmp_path: Path, bank_webhook_router: WebhookRouter) -> Iterator[MakeBank]:
    """``make_bank(mode=…, webhook_secret=True, platform=True, **settings)`` → a :class:`Bank`."""
    cleanups: list[Callable[[], None]] = []

    def make(
        mode: str = "direct", *, webhook_secret: bool = True, platform: bool = True, **settings: Any
    ) -> Bank:
        host = f"bank-{uuid.uuid4().hex[:10]}.test"
        api_key = secrets.token_urlsafe(32)
        rp = world.client.app.state.relying_parties.register(
            name="Example Bank (synthetic)", api_key=api_key, webhook_url=f"http://{host}/webhooks/platform"
        )
        client_for_platform = (
            PlatformClient(
                "http://jlis-mock.test/platform/v1",
                world.client,
                APIKey(api_key),
                clock=world.clock,
                timeout=5.0,
                sleep=lambda _: None,
            )
            if platform
            else None
        )
        bank_settings = BankSettings(
            mode=mode,
            database_url=f"sqlite:///{tmp_path / f'bank-{host}.sqlite3'}",
            webhook_secret=rp.webhook_secret if webhook_secret else None,
            platform_client_id=rp.client_id,
            **settings,
        )
        app = create_app(
            bank_settings,
            dependencies=BankDependencies(clock=world.clock, http=world.client, platform=client_for_platform),
        )
        client = TestClient(app, base_url=BANK_BASE, raise_server_exceptions=False)
        client.__enter__()
        cleanups.append(lambda: client.__exit__(None, None, None))
        bank_webhook_router.targets[host] = client
        cleanups.append(lambda: bank_webhook_router.targets.__delitem__(host))
        return Bank(client, app.state.bank, rp, api_key, world, host, bank_webhook_router)

    yield make
    for cleanup in reversed(cleanups):
        cleanup()


@pytest.fixture
def bank(make_bank: MakeBank) -> Bank:
    """A bank in direct mode (its own JPKIVerifier, revocation REQUIRE), platform API and webhooks on."""
    return make_bank()
