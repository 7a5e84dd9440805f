"""Fixtures of the lifecycle tests: see lifecycle_support.py and mock_world.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_support import KeyPool, World
from mock_world import ca_template_fixture, key_pool_fixture, mock_app_fixture, running_mock, world_fixture

from mock_platform.ca.keys import PrivateKey

POOL_SIZE = 24

lifecycle_template = ca_template_fixture("lifecycle-template")
key_material = key_pool_fixture(POOL_SIZE)
#: One app per test module (loading the CA keys costs ~0.4 s). Tests stay independent: each enrols its own
#: residents and uses fresh device ids; the clock is set back to NOW before each test.
shared_platform = mock_app_fixture("lifecycle_template", "lifecycle")
world = world_fixture("shared_platform", "key_material")


@pytest.fixture
def fresh_world(lifecycle_template: Path, tmp_path: Path, key_material: list[PrivateKey]) -> Iterator[World]:
    """A platform of its own (CRL numbering, counts over the whole database)."""
    with running_mock(lifecycle_template, tmp_path) as (client, clock):
        yield World(client, clock, KeyPool(key_material))
