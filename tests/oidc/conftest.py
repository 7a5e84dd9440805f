"""Fixtures of the OIDC tests: the mock platform in-process (the lifecycle tests' :class:`World` harness:
real app, TestClient, MockClock, fast PINs, a key pool) with its OpenID provider at
``http://jlis-mock.test/oidc``, relying parties registered in its registry, and on the RP's side the SDK
only (:class:`myna_rp.platform.oidc.MynaOIDCClient` over the same TestClient, on the platform's clock)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from lifecycle_support import World
from mock_world import ca_template_fixture, key_pool_fixture, mock_app_fixture, world_fixture
from oidc_support import ISSUER, RelyingPartyHandle, register_rp

from mock_platform.oidc import OIDCConfig

POOL_SIZE = 16

oidc_template = ca_template_fixture("oidc-template")
oidc_keys = key_pool_fixture(POOL_SIZE)
#: One app per module; each test registers its own RPs, residents and phones; the clock is reset.
oidc_platform = mock_app_fixture("oidc_template", "oidc", oidc_config=OIDCConfig(issuer=ISSUER))
world = world_fixture("oidc_platform", "oidc_keys")


@pytest.fixture
def make_rp(world: World) -> Callable[..., RelyingPartyHandle]:
    """Register a relying party (fresh EC key, its own client id and redirect URIs)."""

    def make(name: str = "Example Bank", host: str = "bank.example", **options: object) -> RelyingPartyHandle:
        return register_rp(world, name=name, host=host, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def rp(make_rp: Callable[..., RelyingPartyHandle]) -> RelyingPartyHandle:
    return make_rp()
