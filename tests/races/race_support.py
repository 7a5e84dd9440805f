"""Harness of the race and crash tests (a top-level module: this folder has no ``__init__.py``).

* :func:`audit` reads a mock-platform database directly with SQLAlchemy and lists every broken invariant
  (slots, half-written applications, PINs, notices, certificate ownership, CRL numbering). Two kinds of
  finding are kept apart because they had a known cause (see the exact-point crash tests in
  ``test_crash_safety.py``): *orphan* certificates (good, never owned: issued just before a crash) and
  *stale* ones (good, but their owner has ended: the revocation that follows a commit never ran).
* :func:`race_one_device` is one handset of the FAQ 2 race: Android application (2-C, 2-D, 2-E) or iPhone
  addition (3-C, 3-D, provision), over any ``httpx.Client``; it returns a plain, picklable outcome so that
  it runs the same in a thread or in a process of its own (:func:`race_process_main`).
* :class:`ThreadedServer` is a real uvicorn server on 127.0.0.1 in a background thread;
  :class:`ServerProcess` is ``myna-mock serve`` (or the fault-injecting factory of ``crash_app.py``) in a
  child process that the test SIGKILLs and restarts.
* :func:`sdk_verify` checks a handset signature with the SDK's own ``JPKIVerifier`` and OCSP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from mock_platform.ca.keys import PrivateKey, load_private_key_pem, private_key_to_pem
from mock_platform.ca.profile import FormFactor
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import Clock
from mock_platform.db import (
    CardRecord,
    CertificateEventRecord,
    CRLRecord,
    Database,
    IssuedCertificateRecord,
    NoticeRecord,
    OwnedCertificateRecord,
    PinRecord,
    SmartphoneRegistrationRecord,
)
from mock_platform.device import Card, MunicipalCounter, PlatformProblemError, Smartphone
from mock_platform.issuance.states import SLOT_STATES, RegistrationState

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

#: 2026-11-29 12:00 JST (inside 08:00–19:30: the notice comes a few minutes after an application).
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)
#: Past every notice and usable time of an application made at NOW (notice ≈ +5 min, iPhone lag +5 min).
AFTER_NOTICE = timedelta(minutes=30)

CARD_PASSWORD = "AB1234"
CARD_AUTH_PIN = "1234"
CARD_FACE_PIN = "9120"
PHONE_PASSWORD = "PHONE1"
PHONE_PIN = "4321"

HANAKO: dict[str, Any] = {
    "name": "試験　花子",
    "gender": "2",
    "date_of_birth": "319850704",
    "address": "東京都千代田区試験町一丁目99番99号",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
}

S = RegistrationState
FINAL_STATES = frozenset(s for s in RegistrationState if s.is_final)
#: Non-final states in which an application holds no slot, no PIN and no certificate yet.
BEFORE_SLOT = frozenset({S.AWAITING_CARD_FACE_PIN, S.AWAITING_SIGNING_PASSWORD, S.AWAITING_CARD_READ})
#: States in which the phone's own PINs must exist (set in 2-D / 3-D).
WITH_PHONE_PINS = frozenset({S.APPLIED, S.AWAITING_WALLET, S.PENDING, S.REGISTERED, S.SUSPENDED})

BOUNDED = 60.0  # seconds: the upper bound of every wait in these tests


# ------------------------------------------------------------------------------------------------ keys


class KeyPool:
    """Hands out pre-generated RSA keys in order, wrapping around (key generation dominates run time)."""

    def __init__(self, keys: list[PrivateKey], start: int = 0) -> None:
        self._keys = keys
        self._next = start
        self._lock = threading.Lock()

    def take(self) -> PrivateKey:
        with self._lock:
            key = self._keys[self._next % len(self._keys)]
            self._next += 1
        return key

    def __call__(self, form_factor: FormFactor) -> TokenSimulator:
        return TokenSimulator(self.take(), form_factor=form_factor)


def key_factory(pems: list[str]) -> Callable[[FormFactor], TokenSimulator]:
    """A :data:`~mock_platform.device.KeyFactory` cycling through ``pems`` (picklable inputs)."""
    return KeyPool([load_private_key_pem(pem) for pem in pems])


# ------------------------------------------------------------------------------------------------ audit


@dataclass
class Audit:
    """What :func:`audit` found. ``violations`` must always be empty; see the module docstring."""

    violations: list[str] = field(default_factory=list)
    orphan_certificates: list[str] = field(default_factory=list)
    stale_certificates: list[str] = field(default_factory=list)
    registrations: list[SmartphoneRegistrationRecord] = field(default_factory=list)
    certificates: dict[str, IssuedCertificateRecord] = field(default_factory=dict)
    owned: dict[str, OwnedCertificateRecord] = field(default_factory=dict)
    pins_by_registration: dict[int, set[str]] = field(default_factory=dict)
    crl_numbers: dict[int, list[int]] = field(default_factory=dict)

    def for_resident(self, resident_pk: int) -> list[SmartphoneRegistrationRecord]:
        return [r for r in self.registrations if r.resident_id == resident_pk]

    def phone_certificates(self) -> list[IssuedCertificateRecord]:
        return [c for c in self.certificates.values() if c.form_factor != FormFactor.CARD.value]


def audit(url: str) -> Audit:
    """Read the whole lifecycle state at ``url`` and check its invariants (read only)."""
    database = Database(url)
    try:
        with database.transaction() as session:
            registrations = list(
                session.scalars(
                    select(SmartphoneRegistrationRecord).order_by(SmartphoneRegistrationRecord.id)
                )
            )
            cards = list(session.scalars(select(CardRecord)))
            certificates = {c.serial_hex: c for c in session.scalars(select(IssuedCertificateRecord))}
            owned = {o.serial_hex: o for o in session.scalars(select(OwnedCertificateRecord))}
            pins = list(session.scalars(select(PinRecord)))
            notices = list(session.scalars(select(NoticeRecord)))
            events = list(session.scalars(select(CertificateEventRecord).order_by(CertificateEventRecord.id)))
            crls = list(session.scalars(select(CRLRecord).order_by(CRLRecord.ca_id, CRLRecord.crl_number)))
    finally:
        database.dispose()

    result = Audit(registrations=registrations, certificates=certificates, owned=owned)
    problems = result.violations
    pins_by_registration: dict[int, set[str]] = defaultdict(set)
    for pin in pins:
        if pin.registration_id is not None:
            pins_by_registration[pin.registration_id].add(pin.kind)
    result.pins_by_registration = pins_by_registration
    notices_by_registration: dict[int, list[str]] = defaultdict(list)
    for notice in notices:
        if notice.registration_id is not None:
            notices_by_registration[notice.registration_id].append(notice.kind)
    events_by_certificate: dict[int, list[str]] = defaultdict(list)
    for event in events:
        events_by_certificate[event.certificate_id].append(event.event)

    live_serials: set[str] = set()
    slot_people: Counter[int] = Counter()
    slot_devices: Counter[int] = Counter()
    for reg in registrations:
        state = RegistrationState(reg.state)
        name = f"registration {reg.public_id} ({reg.platform}/{reg.flow}, {state.value})"
        serials = [s for s in (reg.signing_serial, reg.user_authentication_serial) if s]
        if reg.slot_resident_id is not None:
            slot_people[reg.slot_resident_id] += 1
        if reg.slot_device_id is not None:
            slot_devices[reg.slot_device_id] += 1
        if state in FINAL_STATES:
            if (reg.slot_resident_id, reg.slot_device_id, reg.replaces_id) != (None, None, None):
                problems.append(f"{name}: ended but still holds a slot or a replaces link")
            if reg.ended_at is None or reg.end_reason is None:
                problems.append(f"{name}: ended without ended_at/end_reason")
            continue
        live_serials.update(serials)
        if reg.ended_at is not None:
            problems.append(f"{name}: not ended but has ended_at")
        if state in BEFORE_SLOT:
            if reg.slot_resident_id is not None or reg.slot_device_id is not None:
                problems.append(f"{name}: holds a slot before the card read")
            if serials:
                problems.append(f"{name}: has certificates before the card read")
            if pins_by_registration.get(reg.id):
                problems.append(f"{name}: has phone PINs before 2-D/3-D")
            if notices_by_registration.get(reg.id):
                problems.append(f"{name}: has notices before it was applied")
        elif state in SLOT_STATES:
            if reg.slot_device_id != reg.device_id:
                problems.append(f"{name}: does not hold its device slot")
            device_change_unregistered = reg.flow == "device_change" and reg.registered_at is None
            expected_person = None if device_change_unregistered else reg.resident_id
            if reg.slot_resident_id != expected_person:
                problems.append(f"{name}: person slot is {reg.slot_resident_id}, expected {expected_person}")
        else:  # pragma: no cover - every state is one of the above
            problems.append(f"{name}: unknown state")
        if state in WITH_PHONE_PINS:
            expected_pins = {"phone_signing", "phone_user_authentication"}
            if reg.platform == "android":
                expected_pins = {
                    kind
                    for kind, wanted in (
                        ("phone_signing", reg.wants_signing),
                        ("phone_user_authentication", reg.wants_user_authentication),
                    )
                    if wanted
                }
            if pins_by_registration.get(reg.id, set()) != expected_pins:
                problems.append(f"{name}: PINs {sorted(pins_by_registration.get(reg.id, set()))}")
        elif pins_by_registration.get(reg.id):
            problems.append(f"{name}: phone PINs before the passwords step completed")
        if state is S.APPLIED:
            if reg.applied_at is None or reg.notice_at is None:
                problems.append(f"{name}: applied without applied_at/notice_at")
            if "registration_ready" not in notices_by_registration.get(reg.id, []):
                problems.append(f"{name}: applied without its registration_ready notice")
        if state is S.PENDING:
            if reg.usable_at is None or reg.notice_at is None:
                problems.append(f"{name}: pending without notice_at/usable_at")
            if "wallet_usable" not in notices_by_registration.get(reg.id, []):
                problems.append(f"{name}: pending without its wallet_usable notice")
        if state is S.REGISTERED:
            if reg.registered_at is None:
                problems.append(f"{name}: registered without registered_at")
            for kind, wanted, serial in (
                ("signing", reg.wants_signing, reg.signing_serial),
                ("user_authentication", reg.wants_user_authentication, reg.user_authentication_serial),
            ):
                if wanted and serial is None:
                    problems.append(f"{name}: registered without its {kind} certificate")
        for serial in serials:
            certificate = certificates.get(serial)
            if certificate is None:
                problems.append(f"{name}: certificate {serial} does not exist")
                continue
            if certificate.form_factor != reg.platform:
                problems.append(f"{name}: certificate {serial} is a {certificate.form_factor} certificate")
            owner = owned.get(serial)
            if owner is None or owner.registration_id != reg.id or owner.resident_id != reg.resident_id:
                problems.append(f"{name}: certificate {serial} is not owned by it")

    for resident, count in slot_people.items():
        if count > 1:
            problems.append(f"resident #{resident} holds {count} smartphone slots")
    for device, count in slot_devices.items():
        if count > 1:
            problems.append(f"device #{device} holds {count} slots")

    for card in cards:
        serials = [s for s in (card.signing_serial, card.user_authentication_serial) if s]
        if card.state != "retired":
            live_serials.update(serials)
        for serial in serials:
            owner = owned.get(serial)
            if serial not in certificates:
                problems.append(f"card {card.public_id}: certificate {serial} does not exist")
            elif owner is None or owner.card_id != card.id:
                problems.append(f"card {card.public_id}: certificate {serial} is not owned by it")

    for serial, owner in owned.items():
        certificate = certificates.get(serial)
        if certificate is None:
            problems.append(f"owned certificate {serial} was never issued")
        elif (certificate.kind, certificate.form_factor) != (owner.kind, owner.form_factor):
            problems.append(f"owned certificate {serial}: kind/form factor differ from the issued one")

    for serial, certificate in certificates.items():
        trail = events_by_certificate.get(certificate.id, [])
        if not trail or trail[0] != "issued":
            problems.append(f"certificate {serial}: no 'issued' event first ({trail})")
        if certificate.status == "revoked" and "revoked" not in trail:
            problems.append(f"certificate {serial}: revoked without a 'revoked' event")
        if certificate.status == "on_hold" and trail[-1:] != ["held"]:
            problems.append(f"certificate {serial}: on hold without a 'held' event last")
        if certificate.status == "good" and serial not in live_serials:
            if serial in owned:
                result.stale_certificates.append(serial)
            else:
                result.orphan_certificates.append(serial)

    numbers: dict[int, list[int]] = defaultdict(list)
    previous: dict[int, CRLRecord] = {}
    for crl in crls:
        numbers[crl.ca_id].append(crl.crl_number)
        before = previous.get(crl.ca_id)
        if before is not None and crl.this_update < before.this_update:
            problems.append(f"CRL #{crl.crl_number} of CA {crl.ca_id} is older than #{before.crl_number}")
        previous[crl.ca_id] = crl
    for ca_id, issued in numbers.items():
        if issued != list(range(1, len(issued) + 1)):
            problems.append(f"CRL numbers of CA {ca_id} are not 1..n: {issued}")
    result.crl_numbers = dict(numbers)
    return result


def resident_pk(url: str, resident_public_id: str) -> int:
    from mock_platform.db import ResidentRecord

    database = Database(url)
    try:
        with database.transaction() as session:
            return session.scalars(
                select(ResidentRecord.id).where(ResidentRecord.public_id == resident_public_id)
            ).one()
    finally:
        database.dispose()


# ------------------------------------------------------------------------------------------------ the race


@dataclass(frozen=True)
class CardSpec:
    """Enough of a card to read it in another process: ids and the card signing key (PEM)."""

    card_id: str
    resident_id: str
    signing_key_pem: str
    user_authentication_key_pem: str

    def card(self) -> Card:
        return Card(
            self.card_id,
            self.resident_id,
            TokenSimulator(load_private_key_pem(self.signing_key_pem)),
            TokenSimulator(load_private_key_pem(self.user_authentication_key_pem)),
        )


@dataclass(frozen=True)
class DeviceSpec:
    platform: str
    device_id: str
    key_pems: tuple[str, str]


def person_with_card(
    http: httpx.Client, signing_key: PrivateKey, user_authentication_key: PrivateKey
) -> tuple[Card, CardSpec]:
    """Counter: enrol Hanako and issue her card on the two given keys (the card's own keys)."""
    counter = MunicipalCounter(http, keys=KeyPool([signing_key, user_authentication_key]))
    resident_id = counter.enrol(HANAKO)
    card = counter.issue_card(
        resident_id,
        signing_password=CARD_PASSWORD,
        user_authentication_pin=CARD_AUTH_PIN,
        card_face_pin=CARD_FACE_PIN,
    )
    spec = CardSpec(
        card.card_id,
        resident_id,
        private_key_to_pem(signing_key),
        private_key_to_pem(user_authentication_key),
    )
    return card, spec


def _call(outcome: dict[str, Any], step: str, call: Callable[[], Any]) -> bool:
    """Run one step; on a problem answer record it (``refused_at``/``code``) and return False."""
    try:
        call()
    except PlatformProblemError as error:
        outcome.update(refused_at=step, status=error.status, code=error.code)
        return False
    return True


def _phase1(phone: Smartphone, card: Card, outcome: dict[str, Any]) -> bool:
    if phone.platform == "android":
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("2-C apply", lambda: phone.android_apply(card, CARD_PASSWORD)),
            ("2-C card read", lambda: phone.read_card(card)),
            (
                "2-D passwords",
                lambda: phone.set_passwords(
                    signing_password=PHONE_PASSWORD, user_authentication_pin=PHONE_PIN
                ),
            ),
        ]
    else:
        steps = [
            ("3-C start", lambda: phone.iphone_start(card)),
            ("3-C card-face PIN", lambda: phone.enter_card_face_pin(CARD_FACE_PIN)),
            ("3-C signing password", lambda: phone.enter_card_signing_password(CARD_PASSWORD)),
            ("3-C card read", lambda: phone.read_card(card)),
            (
                "3-D credentials",
                lambda: phone.set_passwords(
                    signing_password=PHONE_PASSWORD, user_authentication_pin=PHONE_PIN
                ),
            ),
            ("3-D wallet", phone.add_to_wallet),
        ]
    return all(_call(outcome, step, call) for step, call in steps)  # stops at the first refusal


def finish(phone: Smartphone) -> dict[str, Any]:
    """2-E register / iPhone provision; the answer as ``{"status", "code", "state", "certificates"}``."""
    try:
        body = phone.register() if phone.platform == "android" else phone.provision()
    except PlatformProblemError as error:
        return {"status": error.status, "code": error.code}
    return {
        "status": 200,
        "state": body["state"],
        "certificates": len(body["certificates"]),
        # what the handset received: identical on every successful (idempotent) tap
        "received": sorted(json.dumps(certificate, sort_keys=True) for certificate in body["certificates"]),
    }


def race_one_device(
    http: httpx.Client,
    card: Card,
    device: DeviceSpec,
    *,
    start: Callable[[], Any],
    between: Callable[[], Any],
    taps: int = 3,
) -> dict[str, Any]:
    """One handset of the FAQ 2 race (see the module docstring); never raises on a platform answer.

    ``start`` and ``between`` synchronise the racers (barriers) and, for ``between``, move the clock past
    the notice. The winner then taps 「登録する」 (or provisions) ``taps`` times at once — the concurrent
    duplicates must lose without leaving a certificate behind. A loser retries once (the same refusal)
    and then cancels its unfinished application.
    """
    phone = Smartphone(
        http, device.platform, device_id=device.device_id, keys=key_factory(list(device.key_pems))
    )
    outcome: dict[str, Any] = {"device_id": device.device_id, "platform": device.platform, "refused_at": None}
    start()
    try:
        won = _phase1(phone, card, outcome)
    finally:
        between()
    outcome["registration_id"] = phone.registration_id
    if won:
        with ThreadPoolExecutor(max_workers=taps) as pool:
            outcome["finish"] = list(pool.map(lambda _: finish(phone), range(taps)))
        try:  # the signing key is device.key_pems[0] (the handset makes its signing key first)
            certificate = phone.signing_certificate
            outcome["signing_certificate_pem"] = certificate.public_bytes(Encoding.PEM).decode()
        except LookupError:
            outcome["signing_certificate_pem"] = None
        return outcome
    retry: dict[str, Any] = {}
    if phone.registration_id is None:
        step = "apply" if phone.platform == "android" else "start"
        retried = phone.android_apply if phone.platform == "android" else phone.iphone_start
        _call(
            retry,
            step,
            lambda: retried(card, CARD_PASSWORD) if phone.platform == "android" else retried(card),
        )
    else:
        if phone.status()["state"] == S.AWAITING_CARD_READ.value:
            _call(retry, "card read", lambda: phone.read_card(card))
        try:
            outcome["cancelled"] = phone.cancel()["state"]
        except PlatformProblemError as error:
            outcome["cancelled"] = error.code
    outcome["retry"] = retry.get("code")
    return outcome


def build_app(url: str, clock: Clock) -> Any:
    """The real app on ``url`` with cheap argon2 parameters (tests only)."""
    from mock_platform.app import create_app
    from mock_platform.issuance import LifecycleConfig, PinHasher
    from mock_platform.settings import Settings

    return create_app(
        Settings(database_url=url, test_mode=True),
        clock=clock,
        lifecycle_config=LifecycleConfig(pin_hasher=PinHasher.fast_for_tests()),
    )


def race_process_main(
    url: str, card: CardSpec, device: DeviceSpec, start: Any, between: Any, results: Any
) -> None:
    """Entry point of one racing *process* (a fresh interpreter): its own app instance on the shared
    database, its own MockClock (moved past the notice after the ``between`` barrier)."""
    outcome: dict[str, Any] = {"device_id": device.device_id, "platform": device.platform}
    began = time.monotonic()
    try:
        from fastapi.testclient import TestClient

        from mock_platform.clock import MockClock

        clock = MockClock(NOW)
        app = build_app(url, clock)
        built = time.monotonic()
        with TestClient(app, base_url="http://jlis-mock.test", raise_server_exceptions=False) as client:
            outcome = race_one_device(
                client,
                card.card(),
                device,
                start=lambda: start.wait(BOUNDED * 2),
                between=lambda: (between.wait(BOUNDED), clock.advance(AFTER_NOTICE)),
            )
        outcome["seconds"] = (round(built - began, 2), round(time.monotonic() - built, 2))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        outcome["error"] = traceback.format_exc()
        for barrier in (start, between):
            barrier.abort()
    results.put(outcome)


# ------------------------------------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(
    base_url: str, *, alive: Callable[[], bool], what: str, timeout: float = BOUNDED
) -> None:
    """Poll ``GET /admin/clock`` until it answers 200 (bounded); fail early if the server died."""
    deadline = time.monotonic() + timeout
    last: object = None
    with httpx.Client(base_url=base_url, timeout=5.0) as http:
        while time.monotonic() < deadline:
            if not alive():
                raise AssertionError(f"{what} exited before serving")
            try:
                response = http.get("/admin/clock")
                if response.status_code == 200:
                    return
                last = response.status_code
            except httpx.TransportError as error:
                last = error
            time.sleep(0.05)
    raise AssertionError(f"{what} did not answer within {timeout} s (last: {last!r})")


class ThreadedServer:
    """A real uvicorn server for ``app`` on 127.0.0.1 (a port the OS picks), in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="uvicorn-race", daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        wait_until_serving(self.base_url, alive=self._thread.is_alive, what="uvicorn thread")
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(BOUNDED)
        self._socket.close()
        assert not self._thread.is_alive(), "uvicorn did not stop"


@dataclass
class ServerProcess:
    """The mock platform in a child process on a SQLite file (test mode), killable with SIGKILL.

    ``factory=None`` runs ``myna-mock serve``; otherwise ``uvicorn --factory crash_app:<factory>`` with
    ``env`` (the fault-injection switches of ``crash_app.py``).
    """

    database_url: str
    log_dir: Path
    clock: datetime = NOW
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, factory: str | None = None, env: dict[str, str] | None = None) -> None:
        """Start (or restart, on the same port) and wait until it serves; the clock starts at ``clock``."""
        assert self.process is None or self.process.poll() is not None, "already running"
        environment = {
            **os.environ,
            "MYNA_MOCK_DATABASE_URL": self.database_url,
            "MYNA_MOCK_TEST_MODE": "true",
            "MYNA_MOCK_INITIAL_CLOCK": self.clock.isoformat(),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        restart = self.port != 0
        for attempt in range(5):
            if not restart:  # a probed free port may be taken before the server binds it: try another
                self.port = free_port()
            if factory is None:
                script = Path(sys.executable).with_name("myna-mock")
                command = [str(script)] if script.exists() else [sys.executable, "-m", "mock_platform.cli"]
                command += ["serve", "--port", str(self.port), "--log-level", "warning"]
            else:
                command = [
                    sys.executable, "-m", "uvicorn", "--factory", f"crash_app:{factory}",
                    "--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(self.port),
                    "--log-level", "warning",
                ]  # fmt: skip
            self.starts += 1
            log = self.log_dir / f"server-{self.starts}.log"
            with log.open("wb") as output:
                self.process = subprocess.Popen(
                    command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
                )
            try:
                wait_until_serving(self.base_url, alive=self.alive, what=f"server process ({log})")
                return
            except AssertionError:
                text = log.read_text(errors="replace")
                self.kill()
                if "address already in use" not in text.lower() or attempt == 4:
                    raise AssertionError(f"server did not start:\n{text[-3000:]}") from None
                time.sleep(0.5)

    def client(self) -> httpx.Client:
        """A client to this server that survives restarts (same port; no pooled connection to go stale)."""
        return httpx.Client(
            base_url=self.base_url, timeout=BOUNDED, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def sigkill(self) -> None:
        """SIGKILL the server (no shutdown hook runs) and reap it."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(BOUNDED)
        assert self.process.returncode == -signal.SIGKILL, f"exit status {self.process.returncode}"

    def wait_dead(self) -> int:
        """Wait for a server that is expected to kill itself (fault injection); its exit status."""
        assert self.process is not None
        return self.process.wait(BOUNDED)

    def kill(self) -> None:
        """Cleanup: kill the child if it still runs (only this child, by its pid)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(BOUNDED)

    def now(self) -> datetime:
        response = httpx.get(f"{self.base_url}/admin/clock", timeout=10.0)
        response.raise_for_status()
        return datetime.fromisoformat(response.json()["now"])

    def advance(self, delta: timedelta) -> datetime:
        response = httpx.post(
            f"{self.base_url}/admin/clock", json={"advance_seconds": delta.total_seconds()}, timeout=10.0
        )
        response.raise_for_status()
        self.clock = datetime.fromisoformat(response.json()["now"])
        return self.clock


@contextmanager
def server_process(database_url: str, log_dir: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url, log_dir)
    try:
        yield server
    finally:
        server.kill()


# ------------------------------------------------------------------------------------------------ SDK


def sdk_verify(http: httpx.Client, certificate: x509.Certificate, token: TokenSimulator, clock: Clock) -> str:
    """``good`` / ``revoked:<reason>`` / ``on_hold`` / ``invalid:<reason>``: a signature by ``token`` checked
    by the SDK's ``JPKIVerifier`` (signature, path to the platform's roots, OCSP at the platform)."""
    from myna_rp.errors import CertificateRevokedError, VerificationError
    from myna_rp.jpki import JPKIVerifier, TrustStore
    from myna_rp.revocation import OCSPClient, RevocationChecker, RevocationPolicy, RevocationSource

    roots = [x509.load_pem_x509_certificate(i["certificate_pem"].encode()) for i in http.get("/ca").json()]
    checker = RevocationChecker(
        ocsp=OCSPClient(http, {root.subject: "/ocsp" for root in roots}, sleep=lambda _: None), clock=clock
    )
    policy = replace(RevocationPolicy.REQUIRE, name="OCSP_ONLY", sources=(RevocationSource.OCSP,))
    verifier = JPKIVerifier(
        TrustStore.from_certificates(roots), revocation=checker, policy=policy, clock=clock
    )
    data = b"relying-party challenge " + clock.now().isoformat().encode()
    try:
        verifier.verify_signature(data=data, signature=token.sign(data), certificate=certificate)
    except CertificateRevokedError as error:
        status = error.status
        reason = getattr(status, "reason", None)
        if getattr(getattr(status, "status", None), "value", "revoked") == "on_hold":
            return "on_hold"
        return f"revoked:{reason.value if reason is not None else 'none'}"
    except VerificationError as error:
        return f"invalid:{error.reason.value}"
    return "good"


class FixedClock:
    """A clock for the SDK side that reads the server's mock time once."""

    def __init__(self, instant: datetime) -> None:
        self._now = instant

    def now(self) -> datetime:
        return self._now


class KnownBugError(AssertionError):
    """Raised at the one check of a test that showed a reported (now fixed) bug: a regression of that bug
    is told apart from any other failure of the test."""


def force_crls(http: httpx.Client) -> dict[tuple[str, int], int]:
    """``POST /admin/crl/issue``: the new CRL number of every CA generation."""
    response = http.post("/admin/crl/issue", json={})
    assert response.status_code == 200, response.text
    return {(c["purpose"], c["generation"]): c["crl_number"] for c in response.json()}


def crl_lists(http: httpx.Client, certificate: x509.Certificate) -> bool:
    """Whether the latest CRL of ``certificate``'s issuing CA generation lists it (fetched over HTTP)."""
    authority = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert authority.key_identifier is not None
    for ca in http.get("/ca").json():
        if ca["subject_key_identifier"].lower() == authority.key_identifier.hex():
            crl = x509.load_der_x509_crl(http.get(ca["crl_url"]).content)
            return crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
    raise AssertionError("no CA generation of the platform issued this certificate")
