"""OCSP throughput of the running mock server: requests per second on loopback, one uvicorn worker.

What runs:

1. the mock platform as a separate process — ``python -m mock_platform.cli serve`` (``myna-mock serve``:
   uvicorn, the ``create_app`` factory, ONE worker, access log off) on ``127.0.0.1`` and a free port, with a
   temporary SQLite file (WAL) that is deleted afterwards;
2. this process issues a few certificates through the admin API (signing and user-authentication, RSA
   keys generated here), revokes one and puts one on hold, and builds a pool of DER OCSPRequests with the
   SDK (``build_ocsp_request``, SHA-1 CertID and a fresh 32-octet nonce each);
3. ``--connections`` client threads, each with its own keep-alive ``httpx.Client``, POST those requests
   back to back for a short warm-up (not counted) plus ``--duration`` seconds, or until ``--max-requests``
   requests in all, whichever comes first; every ``--validate-every``-th response is validated with
   ``myna_rp.revocation.validate_ocsp_response`` (signature, CertID, nonce, freshness) and its status
   compared with the expected one (good / revoked / on hold);
4. prints requests/second and latency percentiles, then stops the server (SIGTERM, then SIGKILL).

Traffic goes only to 127.0.0.1; every loop is bounded in time and count. The client shares the machine's
cores with the server, so the number is a lower bound of what the server alone can do.

Run: ``.venv/bin/python benchmarks/bench_ocsp_server.py [--duration 10] [--connections 4]``. Exit status 1
when a request failed or a validated response was wrong, or when ``--min-rps`` is given and not met.
Target (issue 3): ≥ 200 OCSP requests/second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from myna_rp.revocation import CertStatus, RevocationPolicy, build_ocsp_request, validate_ocsp_response

ROOT = Path(__file__).resolve().parent.parent
TARGET_RPS = 200.0
HOST = "127.0.0.1"
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
MAX_DURATION_S = 120.0
MAX_REQUESTS = 1_000_000

SIGNING: dict[str, Any] = {
    "kind": "signing",
    "date_of_birth": "319850704",
    "card_expiry": "2034-07-04",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
    "attributes": {"name": "試験　花子", "gender": "2", "address": "東京都千代田区試験町一丁目99番99号"},
}
AUTHENTICATION: dict[str, Any] = {
    "kind": "user_authentication",
    "date_of_birth": "319850704",
    "card_expiry": "2034-07-04",
}
FORM_FACTORS = ("card", "android", "iphone")


@dataclass(frozen=True)
class Subject:
    certificate: x509.Certificate
    issuer: x509.Certificate
    expected: CertStatus


@dataclass(frozen=True)
class PreparedRequest:
    der: bytes
    nonce: bytes | None
    subject: Subject


@dataclass
class WorkerResult:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    validated: int = 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(port: int, database: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MYNA_MOCK_DATABASE_URL": f"sqlite:///{database}",
        "MYNA_MOCK_TEST_MODE": "false",
    }
    command = [sys.executable, "-m", "mock_platform.cli", "serve", "--host", HOST, "--port", str(port)]
    command += ["--log-level", "warning"]  # no access log: it would be most of the work measured
    log = log_path.open("wb")
    try:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def wait_ready(client: httpx.Client, server: subprocess.Popen[bytes], timeout: float = 120.0) -> float:
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode} before it was ready")
        try:
            if client.get("/ca").status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server was not ready after {timeout:.0f} s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=15)


def issue_subjects(client: httpx.Client, count: int) -> list[Subject]:
    """``count`` certificates through the admin API; one revoked, one on hold when count allows."""
    roots: dict[tuple[str, int], x509.Certificate] = {}
    subjects: list[Subject] = []
    for index in range(count):
        template = SIGNING if index % 2 == 0 else AUTHENTICATION
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        body = {**template, "form_factor": FORM_FACTORS[index % 3], "public_key_pem": pem.decode()}
        response = client.post("/admin/certificates", json=body)
        response.raise_for_status()
        issued = response.json()
        issuer_key = (issued["issuer"]["purpose"], issued["issuer"]["generation"])
        if issuer_key not in roots:
            root = client.get(f"/ca/{issuer_key[0]}/{issuer_key[1]}.cer")
            root.raise_for_status()
            roots[issuer_key] = x509.load_der_x509_certificate(root.content)
        expected = CertStatus.GOOD
        if index == 1:
            client.post(
                f"/admin/certificates/{issued['serial']}/revoke", json={"reason": "keyCompromise"}
            ).raise_for_status()
            expected = CertStatus.REVOKED
        elif index == 2:
            client.post(
                f"/admin/certificates/{issued['serial']}/revoke", json={"reason": "certificateHold"}
            ).raise_for_status()
            expected = CertStatus.ON_HOLD
        certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())
        subjects.append(Subject(certificate, roots[issuer_key], expected))
    return subjects


def prepare_requests(subjects: list[Subject], pool_size: int) -> list[PreparedRequest]:
    prepared = []
    for index in range(pool_size):
        subject = subjects[index % len(subjects)]
        request = build_ocsp_request(subject.certificate, subject.issuer)
        prepared.append(PreparedRequest(request.der, request.nonce, subject))
    return prepared


def check_response(prepared: PreparedRequest, content: bytes) -> None:
    status = validate_ocsp_response(
        content,
        prepared.subject.certificate,
        prepared.subject.issuer,
        at=datetime.now(UTC),
        policy=RevocationPolicy.REQUIRE,
        expected_nonce=prepared.nonce,
    )
    if status.status is not prepared.subject.expected:
        raise AssertionError(f"expected {prepared.subject.expected.value}, got {status.status.value}")


def worker(
    base_url: str,
    pool: list[PreparedRequest],
    offset: int,
    *,
    start: threading.Barrier,
    measure_from: list[float],
    deadline: list[float],
    budget: threading.Semaphore,
    validate_every: int,
    result: WorkerResult,
) -> None:
    headers = {"content-type": OCSP_REQUEST, "accept": OCSP_RESPONSE}
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        start.wait()
        sent = 0
        while time.perf_counter() < deadline[0] and budget.acquire(blocking=False):
            prepared = pool[(offset + sent) % len(pool)]
            sent += 1
            began = time.perf_counter()
            try:
                response = client.post("/ocsp", content=prepared.der, headers=headers)
            except httpx.HTTPError as exc:
                result.errors.append(f"transport: {exc!r}")
                continue
            elapsed = time.perf_counter() - began
            if response.status_code != 200 or response.headers.get("content-type") != OCSP_RESPONSE:
                result.errors.append(f"HTTP {response.status_code} {response.headers.get('content-type')}")
                continue
            if began >= measure_from[0]:
                result.latencies.append(elapsed)
            if sent % validate_every == 0:
                try:
                    check_response(prepared, response.content)
                    result.validated += 1
                except Exception as exc:  # noqa: BLE001 - any validation failure is reported, not raised
                    result.errors.append(f"validation: {exc!r}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="myna-bench-ocsp-"))
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    server = start_server(port, workdir / "mock.sqlite3", workdir / "server.log")
    try:
        with httpx.Client(base_url=base_url, timeout=30.0) as admin:
            ready = wait_ready(admin, server)
            subjects = issue_subjects(admin, args.certificates)
        pool = prepare_requests(subjects, args.pool)

        results = [WorkerResult() for _ in range(args.connections)]
        start = threading.Barrier(args.connections + 1)
        budget = threading.Semaphore(args.max_requests)
        deadline = [float("inf")]
        measure_from: list[float] = [float("inf")]
        threads = [
            threading.Thread(
                target=worker,
                args=(base_url, pool, i * 997),
                kwargs={
                    "start": start,
                    "measure_from": measure_from,
                    "deadline": deadline,
                    "budget": budget,
                    "validate_every": args.validate_every,
                    "result": results[i],
                },
                daemon=True,
            )
            for i in range(args.connections)
        ]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        measure_from[0] = began + args.warmup
        deadline[0] = measure_from[0] + args.duration
        start.wait()
        for thread in threads:
            thread.join(timeout=args.warmup + args.duration + 60)
        finished = time.perf_counter()
        if any(thread.is_alive() for thread in threads):
            print("warning: a client thread did not finish in time", file=sys.stderr)
    finally:
        stop_server(server)
        server_log = (workdir / "server.log").read_text(errors="replace")
        shutil.rmtree(workdir, ignore_errors=True)

    latencies = [value for result in results for value in result.latencies]
    errors = [error for result in results for error in result.errors]
    validated = sum(result.validated for result in results)
    window = max(1e-9, min(finished, deadline[0]) - measure_from[0])
    rps = len(latencies) / window

    print("OCSP POST throughput of the mock server (1 uvicorn worker, SQLite WAL, loopback)")
    print(
        f"server ready in {ready:.1f} s; {len(subjects)} certificates; {args.connections} connections; "
        f"{args.warmup:.0f} s warm-up, then {window:.1f} s measured"
    )
    print()
    print("| measurement | result | target |")
    print("|---|---:|---:|")
    print(f"| OCSP requests per second | {rps:,.0f} | ≥ {TARGET_RPS:.0f} |")
    if latencies:
        print(f"| latency p50 | {percentile(latencies, 0.50) * 1000:.2f} ms | |")
        print(f"| latency p90 | {percentile(latencies, 0.90) * 1000:.2f} ms | |")
        print(f"| latency p99 | {percentile(latencies, 0.99) * 1000:.2f} ms | |")
        print(f"| latency mean | {statistics.fmean(latencies) * 1000:.2f} ms | |")
    print(f"| requests measured | {len(latencies):,} | |")
    print(f"| responses validated with the SDK | {validated:,} (all statuses as expected) | |")
    print(f"| errors | {len(errors)} | 0 |")
    print()
    print(f"target ≥ {TARGET_RPS:.0f}/s: {'met' if rps >= TARGET_RPS else 'NOT MET'} ({rps:,.0f}/s)")

    status = 0
    if errors:
        print(f"{len(errors)} error(s); first: {errors[:3]}", file=sys.stderr)
        tail = "\n".join(server_log.splitlines()[-20:])
        print(f"server log (tail):\n{tail}", file=sys.stderr)
        status = 1
    if validated == 0:
        print("no response was validated", file=sys.stderr)
        status = 1
    if args.min_rps is not None and rps < args.min_rps:
        print(f"below --min-rps {args.min_rps}", file=sys.stderr)
        status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10, max 120)")
    parser.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds first (default 1)")
    parser.add_argument(
        "--connections", type=int, default=4, help="concurrent client connections (default 4)"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=50_000,
        help="stop after this many requests in all (default 50000)",
    )
    parser.add_argument("--certificates", type=int, default=8, help="certificates to ask about (default 8)")
    parser.add_argument("--pool", type=int, default=512, help="distinct prepared requests (default 512)")
    parser.add_argument(
        "--validate-every", type=int, default=25, help="validate every n-th response (default 25)"
    )
    parser.add_argument("--min-rps", type=float, default=None, help="exit 1 below this rate")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S:.0f}]")
    if not 0 <= args.warmup <= 30:
        parser.error("--warmup must be in [0, 30]")
    if not 1 <= args.connections <= 64:
        parser.error("--connections must be 1–64")
    if not 1 <= args.max_requests <= MAX_REQUESTS:
        parser.error(f"--max-requests must be 1–{MAX_REQUESTS}")
    if not 3 <= args.certificates <= 100:
        parser.error("--certificates must be 3–100")
    if not 1 <= args.pool <= 100_000 or args.validate_every < 1:
        parser.error("--pool must be 1–100000 and --validate-every ≥ 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
