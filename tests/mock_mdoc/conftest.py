"""Fixtures of the mock mdoc tests: the real app in-process (TestClient) on a MockClock, fast PINs, a key
pool, and the lifecycle tests' :class:`World` harness (``tests/lifecycle/lifecycle_support.py``, built by
``tests/lifecycle/mock_world.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from mock_world import ca_template_fixture, key_pool_fixture, mock_app_fixture, world_fixture

POOL_SIZE = 16

mdoc_template = ca_template_fixture("mdoc-template")
mdoc_keys = key_pool_fixture(POOL_SIZE)
shared_mdoc_platform = mock_app_fixture("mdoc_template", "mdoc")
world = world_fixture("shared_mdoc_platform", "mdoc_keys")
