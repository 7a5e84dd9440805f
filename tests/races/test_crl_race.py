"""Revocation follows state (issue item 8): forced CRL issues racing each other on one server.

Operators (and tests) force a CRL with ``POST /admin/crl/issue``; two of them at the same moment must both
get a CRL, numbered strictly increasing per CA generation. The UNIQUE (CA, CRL number) constraint keeps
the numbering right; the request that loses the number must not answer 500.
"""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from race_support import BOUNDED, NOW, KnownBugError, ThreadedServer, audit, build_app

from mock_platform.clock import MockClock

CALLERS = 8
ROUNDS = 10


def test_CRL_concurrent_forced_issues_never_fail(race_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "mock.sqlite3"
    shutil.copy(race_template, path)
    url = f"sqlite:///{path}"
    statuses: list[int] = []
    with ThreadedServer(build_app(url, MockClock(NOW))) as server:
        together = threading.Barrier(CALLERS, timeout=BOUNDED)

        def force(_: int) -> int:
            together.wait()
            with httpx.Client(base_url=server.base_url, timeout=BOUNDED) as http:
                response = http.post("/admin/crl/issue", json={})
            if response.status_code != 200:
                assert response.headers["content-type"] == "application/problem+json"
            return response.status_code

        with ThreadPoolExecutor(max_workers=CALLERS) as pool:
            for _ in range(ROUNDS):
                statuses += pool.map(force, range(CALLERS))
                if set(statuses) != {200}:
                    break

    report = audit(url)  # whatever the answers, the numbering holds: 1..n per CA, in time order
    assert report.violations == [], "\n".join(report.violations)
    assert set(statuses) <= {200, 500}
    if 500 in statuses:
        raise KnownBugError(f"{statuses.count(500)} of {len(statuses)} concurrent forced CRL issues: 500")
