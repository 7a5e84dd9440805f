"""Fixtures of the end-to-end age tests: the mock platform in-process (the lifecycle tests' :class:`World`
harness from ``tests/lifecycle/lifecycle_support.py``: real app, TestClient, MockClock, fast PINs, a key
pool) and, on the relying party's side, the SDK only (``MdocVerifier`` anchored on ``GET /mdoc/iaca.cer``,
``JPKIVerifier`` through the World)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography import x509

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import World
from mock_world import ca_template_fixture, key_pool_fixture, mock_app_fixture, world_fixture

from myna_rp import IACAStore, MdocVerifier

POOL_SIZE = 12

e2e_age_template = ca_template_fixture("e2e-age-template")
e2e_age_keys = key_pool_fixture(POOL_SIZE)
#: One app per module; each test enrols its own residents and phones, the clock is reset to NOW.
e2e_age_platform = mock_app_fixture("e2e_age_template", "e2e-age")
world = world_fixture("e2e_age_platform", "e2e_age_keys")


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
