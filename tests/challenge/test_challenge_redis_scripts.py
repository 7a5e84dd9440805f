"""The test Redis infrastructure itself: ``scripts/test-redis.sh`` and ``scripts/with-test-redis.sh``.

Each test uses a state folder and a port range of its own (``MYNA_REDIS_STATE_DIR``, ``MYNA_REDIS_PORT``),
so it never touches the server the rest of the run uses. Proved: a run from nothing starts a loopback
server without persistence, exports its URL, passes the command's exit status through and leaves no
server behind; concurrent runs share one server and the last one out stops it; a taken port is skipped; a
server started by hand or given in ``MYNA_TEST_REDIS_URL`` is left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from challenge_support import free_port, pid_alive, redis_unavailable

ROOT = Path(__file__).resolve().parents[2]
TEST_REDIS = ROOT / "scripts" / "test-redis.sh"
WITH_TEST_REDIS = ROOT / "scripts" / "with-test-redis.sh"

# Prints the URL and the server's pid after a write and a read through it.
PROBE = """
import os, redis
url = os.environ["MYNA_TEST_REDIS_URL"]
client = redis.Redis.from_url(url)
client.set("probe", "1")
assert client.get("probe") == b"1"
info = client.info("server")
persistence = client.config_get("save")["save"], client.config_get("appendonly")["appendonly"]
print(url, info["process_id"], client.config_get("bind")["bind"], repr(persistence), flush=True)
"""


@pytest.fixture(scope="module")
def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        redis_unavailable("redis-server is not installed (scripts/test-redis.sh start installs it as root)")
    return path


@pytest.fixture
def sandbox(tmp_path: Path, redis_server_binary: str) -> Iterator[dict[str, str]]:
    """Environment for the scripts: own state folder, own first port, no inherited server URL."""
    env = {key: value for key, value in os.environ.items() if key != "MYNA_TEST_REDIS_URL"}
    env["MYNA_REDIS_STATE_DIR"] = str(tmp_path / "redis-state")
    env["MYNA_REDIS_PORT"] = str(free_port())
    yield env
    # Whatever happened, leave no server behind.
    subprocess.run([str(TEST_REDIS), "stop"], env=env, capture_output=True, timeout=60, check=False)


def port_listens(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_a_run_from_nothing_starts_uses_and_stops_a_loopback_server(sandbox: dict[str, str]) -> None:
    result = run([str(WITH_TEST_REDIS), sys.executable, "-c", PROBE], sandbox)
    assert result.returncode == 0, result.stderr
    url, pid, bind, persistence = result.stdout.split(maxsplit=3)
    port = int(sandbox["MYNA_REDIS_PORT"])
    assert url == f"redis://127.0.0.1:{port}/0"
    assert bind == "127.0.0.1"
    assert persistence.strip() == "('', 'no')"  # no RDB snapshots, no AOF
    assert not pid_alive(int(pid)), "the server outlived the run"
    assert not port_listens(port)
    state = Path(sandbox["MYNA_REDIS_STATE_DIR"])
    assert not (state / "started-by-wrapper").exists()
    assert list((state / "leases").iterdir()) == []
    assert not list(state.glob("*.rdb"))
    assert not list(state.glob("appendonly*"))


def test_the_command_status_is_passed_through_and_the_server_still_stops(sandbox: dict[str, str]) -> None:
    script = "import os, redis\nredis.Redis.from_url(os.environ['MYNA_TEST_REDIS_URL']).ping()\nexit(7)"
    result = run([str(WITH_TEST_REDIS), sys.executable, "-c", script], sandbox)
    assert result.returncode == 7
    assert run([str(TEST_REDIS), "status"], sandbox).returncode == 3  # stopped


def test_concurrent_runs_share_one_server_and_the_last_out_stops_it(
    sandbox: dict[str, str], tmp_path: Path
) -> None:
    gate_a, gate_b = tmp_path / "release-a", tmp_path / "release-b"
    holder = (
        "import os, sys, time, redis; from pathlib import Path\n"
        "client = redis.Redis.from_url(os.environ['MYNA_TEST_REDIS_URL'])\n"
        "print(os.environ['MYNA_TEST_REDIS_URL'], client.info('server')['process_id'], flush=True)\n"
        "while not Path(sys.argv[1]).exists(): time.sleep(0.05)\n"
        "client.ping()\n"
    )
    first = subprocess.Popen(
        [str(WITH_TEST_REDIS), sys.executable, "-c", holder, str(gate_a)],
        env=sandbox,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    second: subprocess.Popen[str] | None = None
    try:
        assert first.stdout is not None
        url_a, pid_a = first.stdout.readline().split()
        second = subprocess.Popen(
            [str(WITH_TEST_REDIS), sys.executable, "-c", holder, str(gate_b)],
            env=sandbox,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert second.stdout is not None
        url_b, pid_b = second.stdout.readline().split()
        assert (url_b, pid_b) == (url_a, pid_a)  # joined, not a second server
        gate_a.touch()
        assert first.wait(60) == 0
        assert pid_alive(int(pid_a)), "the first run out stopped a server the second still uses"
        gate_b.touch()
        assert second.wait(60) == 0
        deadline = time.monotonic() + 10
        while pid_alive(int(pid_a)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(int(pid_a)), "the last run out did not stop the server"
    finally:
        gate_a.touch()
        gate_b.touch()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
            if process is not None:
                process.communicate(timeout=30)


def test_a_taken_port_is_skipped(sandbox: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        sandbox["MYNA_REDIS_PORT"] = str(taken)
        started = run([str(TEST_REDIS), "start"], sandbox)
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert url.startswith("redis://127.0.0.1:")
        assert url != f"redis://127.0.0.1:{taken}/0"
        assert run([str(TEST_REDIS), "url"], sandbox).stdout.strip() == url
        assert run([str(TEST_REDIS), "status"], sandbox).stdout.startswith("running on port")
    assert run([str(TEST_REDIS), "stop"], sandbox).returncode == 0
    assert run([str(TEST_REDIS), "status"], sandbox).returncode == 3


def test_a_server_started_by_hand_is_left_running(sandbox: dict[str, str]) -> None:
    started = run([str(TEST_REDIS), "start"], sandbox)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    # A second start reuses it.
    again = run([str(TEST_REDIS), "start"], sandbox)
    assert again.stdout.strip() == url
    assert "reusing" in again.stderr
    result = run([str(WITH_TEST_REDIS), sys.executable, "-c", PROBE], sandbox)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == url
    assert run([str(TEST_REDIS), "status"], sandbox).returncode == 0  # still running
    assert run([str(TEST_REDIS), "clean"], sandbox).returncode == 0
    assert not Path(sandbox["MYNA_REDIS_STATE_DIR"]).exists()


def test_a_given_url_is_used_and_nothing_is_started(sandbox: dict[str, str]) -> None:
    sandbox["MYNA_TEST_REDIS_URL"] = "redis://192.0.2.1:6379/0"  # TEST-NET-1: never contacted here
    script = "import os; print(os.environ['MYNA_TEST_REDIS_URL'])"
    result = run([str(WITH_TEST_REDIS), sys.executable, "-c", script], sandbox)
    assert result.returncode == 0
    assert result.stdout.strip() == "redis://192.0.2.1:6379/0"
    assert not Path(sandbox["MYNA_REDIS_STATE_DIR"]).exists()


def test_usage_errors() -> None:
    assert subprocess.run([str(TEST_REDIS), "bogus"], capture_output=True, check=False).returncode == 64
    assert subprocess.run([str(WITH_TEST_REDIS)], capture_output=True, check=False).returncode == 64


@pytest.mark.parametrize("require", ["", "1"])
def test_redis_tests_skip_visibly_or_fail_under_require(require: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "MYNA_TEST_REDIS_URL"}
    env["MYNA_RP_REQUIRE_REDIS"] = require
    selection = "tests/challenge/test_challenge_backends.py::test_redis_key_prefixes_keep_stores_apart"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", selection],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Redis not available: MYNA_TEST_REDIS_URL is not set" in result.stdout
    if require:
        assert result.returncode == 1
        assert "MYNA_RP_REQUIRE_REDIS=1 makes this an error" in result.stdout
    else:
        assert result.returncode == 0
        assert "1 skipped" in result.stdout
