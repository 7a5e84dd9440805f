"""FAQ 2 (one handset per person) under a real race: 20 handsets apply for one person at the same moment.

Ten Android applications (2-C → 2-D → 2-E) and ten iPhone additions (3-C → 3-D → provision) for Hanako
start together behind a barrier. Whatever the interleaving, exactly one handset may end registered; every
other one is refused with ``DEVICE_ALREADY_REGISTERED`` (at the apply/start or at the card read, where the
UNIQUE person/device slots are taken), stays refused when it retries, and cancels. The winner taps
「登録する」 (or provisions) three times at once: one tap registers, the duplicates lose with
``STEP_OUT_OF_ORDER`` and leave no certificate (issuance commits with the state change; a revoked,
unowned one would also be accepted).

The outcome is read straight from the tables (:func:`race_support.audit`): one slot holder, no
half-written application, PINs and notices only where the state says so, every smartphone certificate
either the winner's (good, owned by its registration) or revoked and owned by nobody, and the winner's
signature verified by the SDK (``JPKIVerifier`` + OCSP).

Four ways to race: 20 threads against one real uvicorn server (SQLite file); 20 processes, each with its
own app instance, on one SQLite file; the same 20 processes on one real PostgreSQL schema; and four app
instances in one process (each its own engine and uvicorn server) sharing a PostgreSQL schema — the
setup of several mock instances sharing state. The PostgreSQL tests use the ``postgres_schema_url``
fixture (skipped with a reason when no server runs; ``make test`` starts one).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from fastapi.testclient import TestClient
from race_support import (
    AFTER_NOTICE,
    BOUNDED,
    NOW,
    CardSpec,
    DeviceSpec,
    ThreadedServer,
    audit,
    build_app,
    person_with_card,
    race_one_device,
    race_process_main,
    resident_pk,
    sdk_verify,
)

from mock_platform.ca.keys import PrivateKey, load_private_key_pem, private_key_to_pem
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import Clock, MockClock

RACERS = 20
TAPS = 3  # concurrent 「登録する」 taps of the winner (race_one_device's default)
REFUSAL_STEPS = {"2-C apply", "2-C card read", "3-C start", "3-C card read"}


def _devices(keys: list[PrivateKey], tag: str) -> list[DeviceSpec]:
    """20 handsets, Android and iPhone alternating; keys from the pool (the card has keys 0 and 1)."""
    device_keys = [private_key_to_pem(key) for key in keys[2:]]
    return [
        DeviceSpec(
            platform="android" if index % 2 == 0 else "iphone",
            device_id=f"{tag}-{index:02d}",
            key_pems=(
                device_keys[(2 * index) % len(device_keys)],
                device_keys[(2 * index + 1) % len(device_keys)],
            ),
        )
        for index in range(RACERS)
    ]


def _summary(outcomes: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{o['device_id']} {o['platform']}: refused_at={o.get('refused_at')} code={o.get('code')} "
        f"finish={o.get('finish')} retry={o.get('retry')} cancelled={o.get('cancelled')} "
        f"seconds={o.get('seconds')} "
        f"error={o.get('error', '')[-800:]}"
        for o in outcomes
    )


def _assert_one_winner(
    url: str,
    card: CardSpec,
    devices: list[DeviceSpec],
    outcomes: list[dict[str, Any]],
    http: httpx.Client,
    clock: Clock,
) -> None:
    summary = _summary(outcomes)
    assert len(outcomes) == RACERS, summary
    assert not [o for o in outcomes if "error" in o], summary

    # --- what the handsets saw
    winners = [o for o in outcomes if o["refused_at"] is None]
    assert len(winners) == 1, summary
    winner = winners[0]
    taps = winner["finish"]
    # Concurrent taps: one registers; a tap still in flight meanwhile is refused (409 STEP_OUT_OF_ORDER); a
    # tap arriving after the commit is an idempotent retry (200, the very same certificates, nothing new).
    successes = [t for t in taps if t["status"] == 200]
    assert len(successes) >= 1, summary
    assert all(t["status"] in (200, 409) for t in taps), summary
    assert {t["code"] for t in taps if t["status"] == 409} <= {"STEP_OUT_OF_ORDER"}, summary
    assert {(t["state"], t["certificates"]) for t in successes} == {("registered", 2)}
    assert len({tuple(t["received"]) for t in successes}) == 1, "idempotent retries got other certificates"
    for loser in (o for o in outcomes if o is not winner):
        assert (loser["status"], loser["code"]) == (409, "DEVICE_ALREADY_REGISTERED"), summary
        assert loser["refused_at"] in REFUSAL_STEPS, summary
        assert loser["retry"] == "DEVICE_ALREADY_REGISTERED", summary
        if loser["registration_id"] is not None:
            assert loser["cancelled"] == "cancelled", summary

    # --- what the tables say
    report = audit(url)
    assert report.violations == [], "\n".join(report.violations)
    assert report.orphan_certificates == [], "good certificates nobody owns"
    assert report.stale_certificates == [], "good certificates of ended registrations"
    person = resident_pk(url, card.resident_id)
    registrations = report.for_resident(person)
    assert {r.public_id for r in registrations} == {
        o["registration_id"] for o in outcomes if o["registration_id"] is not None
    }
    holders = [r for r in registrations if r.slot_resident_id == person]
    assert [(r.public_id, r.state) for r in holders] == [(winner["registration_id"], "registered")]
    holder = holders[0]
    for reg in registrations:
        if reg is holder:
            continue
        assert (reg.state, reg.end_reason) == ("cancelled", "cancelled"), reg.public_id
        assert (reg.signing_serial, reg.user_authentication_serial) == (None, None), reg.public_id
        assert reg.id not in report.pins_by_registration, reg.public_id
    winning_serials = {holder.signing_serial, holder.user_authentication_serial}
    assert None not in winning_serials
    phone_certificates = report.phone_certificates()
    assert len(phone_certificates) >= 2
    for certificate in phone_certificates:
        if certificate.serial_hex in winning_serials:
            assert certificate.status == "good"
            assert certificate.form_factor == winner["platform"]
            assert report.owned[certificate.serial_hex].registration_id == holder.id
        else:  # issued for a duplicate tap that lost: revoked again, never handed over, owned by nobody
            assert (certificate.status, certificate.revocation_reason) == ("revoked", "cessationOfOperation")
            assert certificate.serial_hex not in report.owned

    # --- the winner signs; the SDK verifies path and OCSP
    device = next(d for d in devices if d.device_id == winner["device_id"])
    certificate = x509.load_pem_x509_certificate(winner["signing_certificate_pem"].encode())
    token = TokenSimulator(load_private_key_pem(device.key_pems[0]), certificate=certificate)
    assert sdk_verify(http, certificate, token, clock) == "good"


def _threaded_race(
    base_urls: list[str], clocks: list[MockClock], card: CardSpec, devices: list[DeviceSpec]
) -> list[dict[str, Any]]:
    def past_the_notice() -> None:
        for clock in clocks:
            clock.advance(AFTER_NOTICE)

    start = threading.Barrier(RACERS, timeout=BOUNDED)
    between = threading.Barrier(RACERS, action=past_the_notice, timeout=BOUNDED)

    def one(index: int) -> dict[str, Any]:
        with httpx.Client(base_url=base_urls[index % len(base_urls)], timeout=BOUNDED) as http:
            return race_one_device(http, card.card(), devices[index], start=start.wait, between=between.wait)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(one, range(RACERS), timeout=BOUNDED * 3))


def _start_method() -> Any:
    """A fresh interpreter per racer, never a fork of this (threaded) pytest process.

    ``forkserver`` starts one clean interpreter that imports the app's modules once and forks each racer
    from it; every racer then builds its own app, engine and connections, exactly as under ``spawn`` but
    without paying 20 interpreter start-ups (~1.5 s of CPU each). ``MYNA_RACE_START_METHOD=spawn`` (or a
    platform without forkserver) uses plain ``spawn``.
    """
    method = os.environ.get("MYNA_RACE_START_METHOD", "forkserver")
    if method not in multiprocessing.get_all_start_methods():
        method = "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["race_support", "mock_platform.app", "fastapi.testclient"])
    return context


def _process_race(url: str, card: CardSpec, devices: list[DeviceSpec]) -> list[dict[str, Any]]:
    context = _start_method()
    start, between, results = context.Barrier(RACERS), context.Barrier(RACERS), context.Queue()
    processes = [
        context.Process(
            target=race_process_main,
            args=(url, card, device, start, between, results),
            name=f"racer-{device.device_id}",
            daemon=True,
        )
        for device in devices
    ]
    try:
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=BOUNDED * 3) for _ in processes]
        for process in processes:
            process.join(BOUNDED)
        assert [p.exitcode for p in processes] == [0] * RACERS, _summary(outcomes)
        return outcomes
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(5)
        results.close()


def _sqlite_copy(template: Path, folder: Path) -> str:
    path = folder / "mock.sqlite3"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def test_FAQ2_twenty_devices_race_threads(
    race_template: Path, race_keys: list[PrivateKey], tmp_path: Path
) -> None:
    """20 threads, each its own HTTP connection, against one real uvicorn server on 127.0.0.1."""
    url = _sqlite_copy(race_template, tmp_path)
    clock = MockClock(NOW)
    with (
        ThreadedServer(build_app(url, clock)) as server,
        httpx.Client(base_url=server.base_url, timeout=BOUNDED) as http,
    ):
        _, card = person_with_card(http, race_keys[0], race_keys[1])
        devices = _devices(race_keys, "thread")
        outcomes = _threaded_race([server.base_url], [clock], card, devices)
        _assert_one_winner(url, card, devices, outcomes, http, clock)


def test_FAQ2_twenty_devices_race_processes_sqlite(
    race_template: Path, race_keys: list[PrivateKey], tmp_path: Path
) -> None:
    """20 processes (fresh interpreters: forkserver or spawn), each building its own app on the same
    SQLite file (WAL)."""
    url = _sqlite_copy(race_template, tmp_path)
    clock = MockClock(NOW)
    with TestClient(build_app(url, clock), base_url="http://jlis-mock.test") as http:
        _, card = person_with_card(http, race_keys[0], race_keys[1])
        devices = _devices(race_keys, "process")
        outcomes = _process_race(url, card, devices)
        clock.advance(AFTER_NOTICE + timedelta(minutes=1))
        _assert_one_winner(url, card, devices, outcomes, http, clock)


def test_FAQ2_twenty_devices_race_processes_postgresql(
    postgres_schema_url: str, race_keys: list[PrivateKey]
) -> None:
    """20 processes, 20 mock instances (own app, own engine) sharing one PostgreSQL schema."""
    url = postgres_schema_url
    clock = MockClock(NOW)
    with TestClient(build_app(url, clock), base_url="http://jlis-mock.test") as http:
        _, card = person_with_card(http, race_keys[0], race_keys[1])
        devices = _devices(race_keys, "pg-process")
        outcomes = _process_race(url, card, devices)
        clock.advance(AFTER_NOTICE + timedelta(minutes=1))
        _assert_one_winner(url, card, devices, outcomes, http, clock)


INSTANCES = 4


def test_FAQ2_twenty_devices_race_postgresql(postgres_schema_url: str, race_keys: list[PrivateKey]) -> None:
    """Four mock instances (own engine, own uvicorn server) share one PostgreSQL schema; 20 threads race
    across them (handset i talks to instance i mod 4)."""
    url = postgres_schema_url
    clocks = [MockClock(NOW) for _ in range(INSTANCES)]
    servers = [ThreadedServer(build_app(url, clock)) for clock in clocks]  # the first one bootstraps the CAs
    started: list[ThreadedServer] = []
    try:
        for server in servers:
            started.append(server.__enter__())
        with httpx.Client(base_url=servers[1].base_url, timeout=BOUNDED) as http:
            _, card = person_with_card(http, race_keys[0], race_keys[1])
            devices = _devices(race_keys, "postgres")
            outcomes = _threaded_race([s.base_url for s in servers], clocks, card, devices)
            _assert_one_winner(url, card, devices, outcomes, http, clocks[1])
    finally:
        for server in reversed(started):
            server.__exit__(None, None, None)
