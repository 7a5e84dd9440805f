"""Fixtures of the race and crash tests: a CA template database and a pool of RSA keys (see race_support)."""

from __future__ import annotations

import sys
from pathlib import Path

from race_support import NOW

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))

from mock_world import ca_template_fixture, key_pool_fixture

#: 2 card keys + 2 keys for each of 20 handsets would be 42; handsets share keys round-robin beyond this.
POOL_SIZE = 24

#: A SQLite file with the tables and the CA generations (made at NOW), copied by each test.
race_template = ca_template_fixture("race-template", now=NOW)
race_keys = key_pool_fixture(POOL_SIZE)
