"""Crash safety: the server process is SIGKILLed in the middle of a flow and restarted on the same database.

The server is ``myna-mock serve`` (test mode, a SQLite file, 127.0.0.1, a free port) in a child process;
the test kills it with SIGKILL — no shutdown hook, no ``finally`` runs — and starts it again on the same
file and port, with the mock clock where it was. After each crash the tables are read directly
(:func:`race_support.audit`: slots, no half-written application, PINs, notices, certificate ownership,
CRL numbering 1..n in time order), and the flow is then completed or retried to its end: register, sign,
verify with the SDK's ``JPKIVerifier`` and OCSP, and CRL numbers keep increasing across restarts.

Three of the tests kill the server at an exact point between two commits of one step (the factory of
``crash_app.py`` SIGKILLs itself there). Each pinned a bug of the mock platform (once strict xfails, now
fixed: see "Crash safety" in docs/lifecycle.md); a regression raises :class:`race_support.KnownBugError` at
the one check that showed it, after everything else was asserted.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from crash_app import CRASH_AT
from cryptography import x509
from race_support import (
    AFTER_NOTICE,
    BOUNDED,
    CARD_FACE_PIN,
    CARD_PASSWORD,
    PHONE_PASSWORD,
    PHONE_PIN,
    FixedClock,
    KeyPool,
    KnownBugError,
    ServerProcess,
    audit,
    crl_lists,
    force_crls,
    person_with_card,
    resident_pk,
    sdk_verify,
    server_process,
)

from mock_platform.ca.keys import PrivateKey
from mock_platform.ca.profile import FormFactor
from mock_platform.ca.token import TokenSimulator
from mock_platform.device import Card, PlatformProblemError, Smartphone


@pytest.fixture
def database_url(race_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "mock.sqlite3"
    shutil.copy(race_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """The server child process; always killed at the end (only this child, by its pid)."""
    with server_process(database_url, tmp_path) as child:
        yield child


def _verify(http: httpx.Client, server: ServerProcess, phone: Smartphone, kind: str = "signing") -> str:
    token = phone.signing if kind == "signing" else phone.user_authentication
    assert token is not None
    return sdk_verify(http, token.certificate, token, FixedClock(server.now()))


def _android_until_applied(phone: Smartphone, card: Card) -> dict[str, Any]:
    return phone.android_apply_all(
        card, CARD_PASSWORD, phone_signing_password=PHONE_PASSWORD, phone_user_authentication_pin=PHONE_PIN
    )


def _assert_crl_numbers_grew(before: dict[tuple[str, int], int], after: dict[tuple[str, int], int]) -> None:
    assert after.keys() == before.keys()
    assert all(after[ca] > before[ca] for ca in before), (before, after)


def _audit_clean(url: str) -> Any:
    report = audit(url)
    assert report.violations == [], "\n".join(report.violations)
    assert report.orphan_certificates == [], "good certificates nobody owns"
    assert report.stale_certificates == [], "good certificates of ended registrations"
    return report


# ------------------------------------------------------------------------------------ kill between steps


def test_2E_register_after_server_crash(
    server: ServerProcess, database_url: str, race_keys: list[PrivateKey]
) -> None:
    """2-C → SIGKILL → 2-D → SIGKILL → notice → 2-E → sign → 2-F, the server restarted after each kill."""
    server.start()
    with server.client() as http:
        card, spec = person_with_card(http, race_keys[0], race_keys[1])
        crls = force_crls(http)
        phone = Smartphone(http, "android", keys=KeyPool(race_keys, start=2))
        phone.android_apply(card, CARD_PASSWORD)
        assert phone.read_card(card)["state"] == "awaiting_passwords"

        server.sigkill()  # after the application and the card read (2-C ⑦⑧), before 2-D
        report = _audit_clean(database_url)
        person = resident_pk(database_url, spec.resident_id)
        [reg] = report.for_resident(person)
        assert (reg.state, reg.slot_resident_id, reg.slot_device_id) == (
            "awaiting_passwords",
            person,
            reg.device_id,
        )
        assert reg.id not in report.pins_by_registration

        server.start()
        assert server.now() == server.clock  # the mock clock resumes where it was
        applied = phone.set_passwords(signing_password=PHONE_PASSWORD, user_authentication_pin=PHONE_PIN)
        assert applied["state"] == "applied"
        crls_after_first_restart = force_crls(http)
        _assert_crl_numbers_grew(crls, crls_after_first_restart)

        server.sigkill()  # application complete (申請完了), before the notice and 2-E
        report = _audit_clean(database_url)
        [reg] = report.for_resident(person)
        assert reg.state == "applied"
        assert report.pins_by_registration[reg.id] == {"phone_signing", "phone_user_authentication"}
        assert (reg.signing_serial, reg.user_authentication_serial) == (None, None)

        server.start()
        with pytest.raises(PlatformProblemError) as early:
            phone.register()
        assert early.value.code == "NOT_READY"
        server.advance(AFTER_NOTICE)
        assert [n["kind"] for n in phone.notices()] == ["registration_ready"]
        registered = phone.register()
        assert registered["state"] == "registered"
        assert _verify(http, server, phone) == "good"
        assert _verify(http, server, phone, "user_authentication") == "good"
        crls_after_second_restart = force_crls(http)
        _assert_crl_numbers_grew(crls_after_first_restart, crls_after_second_restart)

        phone.stop_with_password(PHONE_PASSWORD)  # 2-F: revoked at once in OCSP, at the next CRL issue
        assert _verify(http, server, phone) == "revoked:cessationOfOperation"
        assert not crl_lists(http, phone.signing_certificate)
        _assert_crl_numbers_grew(crls_after_second_restart, force_crls(http))
        assert crl_lists(http, phone.signing_certificate)

    server.sigkill()
    report = _audit_clean(database_url)
    assert all(numbers == list(range(1, 5)) for numbers in report.crl_numbers.values()), report.crl_numbers


# ------------------------------------------------------------------------------------ kill under load


class _InFlight:
    """Counts requests sent and not yet answered (httpx event hooks), to kill under load."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.done = 0

    def sent(self, _: httpx.Request) -> None:
        with self._lock:
            self.now += 1

    def answered(self, _: httpx.Response) -> None:
        with self._lock:
            self.now -= 1
            self.done += 1


def _phase1(phone: Smartphone, card: Card) -> None:
    if phone.platform == "android":
        _android_until_applied(phone, card)
    else:
        phone.iphone_add_all(
            card,
            card_face_pin=CARD_FACE_PIN,
            card_signing_password=CARD_PASSWORD,
            iphone_pin=PHONE_PIN,
            iphone_signing_password=PHONE_PASSWORD,
        )


def _complete(phone: Smartphone, card: Card, server: ServerProcess) -> None:
    """Drive an unfinished application/addition to ``registered`` from whatever state it is in."""
    steps: dict[str, Callable[[], Any]] = {
        "awaiting_card_face_pin": lambda: phone.enter_card_face_pin(CARD_FACE_PIN),
        "awaiting_signing_password": lambda: phone.enter_card_signing_password(CARD_PASSWORD),
        "awaiting_card_read": lambda: phone.read_card(card),
        "awaiting_passwords": lambda: phone.set_passwords(
            signing_password=PHONE_PASSWORD, user_authentication_pin=PHONE_PIN
        ),
        "awaiting_wallet": phone.add_to_wallet,
        "applied": lambda: (server.advance(AFTER_NOTICE), phone.register()),
        "pending": lambda: (server.advance(AFTER_NOTICE), phone.provision()),
    }
    for _ in range(len(steps) + 1):
        state = phone.status()["state"]
        if state == "registered":
            return
        steps[state]()
    raise AssertionError(f"{phone.device_id} did not reach registered")


def _has_certificate(phone: Smartphone) -> bool:
    try:
        phone.signing_certificate  # noqa: B018 - raises LookupError without one
    except LookupError:
        return False
    return True


def test_2E_FAQ2_crash_with_requests_in_flight(
    server: ServerProcess, database_url: str, race_keys: list[PrivateKey]
) -> None:
    """SIGKILL while ~20 requests are in flight: two 8-handset FAQ 2 races (Android and iPhone), a triple
    「登録する」 tap, a 2-F stop, OCSP and forced CRL issues. Afterwards no row is half-written and every
    person's flow is completed or retried to a registered, SDK-verified handset."""
    in_flight = _InFlight()
    server.start()
    http = server.client()  # one connection per request: the same client works after the restart
    http.event_hooks = {"request": [in_flight.sent], "response": [in_flight.answered]}
    keys = KeyPool(race_keys, start=2)
    with http:
        racing = [person_with_card(http, race_keys[0], race_keys[1])[0] for _ in range(2)]
        tapping_card = person_with_card(http, race_keys[0], race_keys[1])[0]
        stopping_card = person_with_card(http, race_keys[0], race_keys[1])[0]
        tapper = Smartphone(http, "android", keys=keys)
        _android_until_applied(tapper, tapping_card)
        stopper = Smartphone(http, "android", keys=keys)
        _android_until_applied(stopper, stopping_card)
        server.advance(AFTER_NOTICE)
        stopper.register()
        stopped_serials = {c["serial"] for c in stopper.status()["certificates"]}
        crls_before = force_crls(http)
        racers = [
            (Smartphone(http, "android" if i % 2 else "iphone", device_id=f"storm-{n}-{i}", keys=keys), card)
            for n, card in enumerate(racing)
            for i in range(8)
        ]
        at_kill, outcomes = _storm(server, http, in_flight, racers, tapper, stopper)
        assert at_kill >= 5, f"only {at_kill} requests in flight at the kill"
        assert "cut" in outcomes
        assert "INTERNAL_ERROR" not in outcomes, outcomes

        # --- straight after the crash: no half-written row; only the leftovers of the known bugs
        report = audit(database_url)
        assert report.violations == [], "\n".join(report.violations)
        _only_known_leftovers(report, stopped_serials)

        # --- restart; every flow completes or is retried to its end
        server.start()
        registered = [_finish_race(http, server, card, racers, keys) for card in racing]

        if tapper.status()["state"] == "applied":  # no tap reached the platform
            tapper.register()
        elif not _has_certificate(tapper):  # registered, but every answer was cut (a retry would do)
            tapper.stop_with_card(tapping_card, CARD_PASSWORD)
            _android_until_applied(tapper, tapping_card)
            server.advance(AFTER_NOTICE)
            tapper.register()
        registered.append(tapper)

        if stopper.status()["state"] == "registered":  # the stop never reached the platform: do it again
            stopper.stop_with_password(PHONE_PASSWORD)
        assert stopper.status()["state"] == "revoked"
        again = Smartphone(http, "android", keys=keys)
        _android_until_applied(again, stopping_card)
        server.advance(AFTER_NOTICE)
        again.register()
        registered.append(again)

        for phone in registered:
            assert phone.status()["state"] == "registered"
            assert _verify(http, server, phone) == "good", phone.device_id
        _assert_crl_numbers_grew(crls_before, force_crls(http))

    server.sigkill()
    report = audit(database_url)
    assert report.violations == [], "\n".join(report.violations)
    _only_known_leftovers(report, stopped_serials)
    for person_card in [*racing, tapping_card, stopping_card]:
        person = resident_pk(database_url, person_card.resident_id)
        regs = report.for_resident(person)
        assert [r.state for r in regs if r.slot_resident_id == person] == ["registered"]
        # abandoned applications whose handset never heard of them (the answer to 2-C/3-C was cut) hold
        # nothing (the audit checks it); everything else is finished
        assert {r.state for r in regs} <= {"registered", "cancelled", "revoked", *_BEFORE_SLOT}


_BEFORE_SLOT = ("awaiting_card_face_pin", "awaiting_signing_password", "awaiting_card_read")


def _storm(
    server: ServerProcess,
    http: httpx.Client,
    in_flight: _InFlight,
    racers: list[tuple[Smartphone, Card]],
    tapper: Smartphone,
    stopper: Smartphone,
) -> tuple[int, list[str]]:
    """Start every job at once, SIGKILL the server once ≥ 10 requests are in flight; (in flight, outcomes)."""
    killed = threading.Event()
    outcomes: list[str] = []
    stopper_token = stopper.signing
    assert stopper_token is not None

    def guarded(call: Callable[[], Any]) -> None:
        try:
            call()
            outcomes.append("ok")
        except PlatformProblemError as error:
            outcomes.append(error.code)
        except httpx.TransportError:
            assert killed.is_set(), "a request failed before the server was killed"
            outcomes.append("cut")

    def loop(call: Callable[[], Any]) -> None:
        while not killed.is_set():
            guarded(call)

    def ocsp() -> None:
        sdk_verify(http, stopper_token.certificate, stopper_token, FixedClock(server.clock))

    jobs: list[Callable[[], Any]] = [lambda p=p, c=c: guarded(lambda: _phase1(p, c)) for p, c in racers]
    jobs += [lambda: guarded(tapper.register) for _ in range(3)]
    jobs += [lambda: guarded(lambda: stopper.stop_with_password(PHONE_PASSWORD))]
    jobs += [lambda: loop(lambda: force_crls(http)), lambda: loop(ocsp)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        try:
            futures = [pool.submit(job) for job in jobs]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (in_flight.now >= 10 and in_flight.done >= 20):
                time.sleep(0.005)
            at_kill = in_flight.now
        finally:
            killed.set()
            server.sigkill()
        for future in futures:
            future.result(timeout=BOUNDED)
    return at_kill, outcomes


def _only_known_leftovers(report: Any, stopped_serials: set[str]) -> None:
    """Straight after a kill (before the restart) at most this may be left, and nothing else: good
    smartphone certificates owned by nobody (2-E; none since issuance commits with its record), and the
    good certificates of the handset whose 2-F stop committed just before the kill (its revocations are
    still in the CA outbox; the restart applies them)."""
    for serial in report.orphan_certificates:
        assert report.certificates[serial].form_factor == "android", serial  # only 2-E ran in the storm
    assert set(report.stale_certificates) <= stopped_serials, report.stale_certificates


def _finish_race(
    http: httpx.Client,
    server: ServerProcess,
    card: Card,
    racers: list[tuple[Smartphone, Card]],
    keys: KeyPool,
) -> Smartphone:
    """After the crash: the slot holder (if any) completes its flow, the other racers cancel; with no
    holder, a new Android handset applies. Returns the registered handset."""
    resident = http.get(f"/admin/residents/{card.resident_id}").json()
    mine = [p for p, c in racers if c is card and p.registration_id is not None]
    holder = next((p for p in mine if p.registration_id == resident["registration_id"]), None)
    assert (holder is None) == (resident["registration_id"] is None)  # the holder is one of our handsets
    for phone in mine:
        if phone is not holder and phone.status()["state"] != "cancelled":
            assert phone.cancel()["state"] == "cancelled"
    if holder is None:
        holder = Smartphone(http, "android", keys=keys)
        _phase1(holder, card)
    _complete(holder, card, server)
    return holder


# ---------------------------------------------------------------- kill at an exact point (fixed bugs)


def _dies(server: ServerProcess, call: Callable[[], Any]) -> None:
    """``call`` makes the fault-injecting server SIGKILL itself: the request is cut, the process gone."""
    with pytest.raises(httpx.TransportError):
        call()
    assert server.wait_dead() == -signal.SIGKILL


def test_2E_crash_after_certificate_issue_leaves_no_good_certificate(
    server: ServerProcess, database_url: str, race_keys: list[PrivateKey]
) -> None:
    server.start(factory="create", env={CRASH_AT: "after_phone_issue"})
    with server.client() as http:
        card, spec = person_with_card(http, race_keys[0], race_keys[1])
        phone = Smartphone(http, "android", keys=KeyPool(race_keys, start=2))  # signing key: race_keys[2]
        _android_until_applied(phone, card)
        server.advance(AFTER_NOTICE)
        _dies(server, phone.register)  # the signing certificate is committed, then the process dies

        report = audit(database_url)
        assert report.violations == [], "\n".join(report.violations)
        [reg] = report.for_resident(resident_pk(database_url, spec.resident_id))
        assert (reg.state, reg.signing_serial, reg.user_authentication_serial) == ("applied", None, None)
        leftovers = [report.certificates[s] for s in report.orphan_certificates]

        server.start()  # plain myna-mock serve on the same file
        assert phone.register()["state"] == "registered"  # the retry completes 2-E
        assert _verify(http, server, phone) == "good"
        phone.stop_with_password(PHONE_PASSWORD)  # 2-F
        assert _verify(http, server, phone) == "revoked:cessationOfOperation"

        # every certificate ever issued for this handset's key must now be unusable
        for record in leftovers:
            certificate = x509.load_der_x509_certificate(record.certificate_der)
            assert certificate.public_key() == phone.signing_certificate.public_key()
            token = TokenSimulator(race_keys[2], form_factor=FormFactor.ANDROID, certificate=certificate)
            verdict = sdk_verify(http, certificate, token, FixedClock(server.now()))
            if verdict == "good":
                raise KnownBugError(
                    f"certificate {record.serial_hex}, issued to the handset's key just before the crash, "
                    "is still good in OCSP after the handset stopped"
                )


def test_2F_stop_then_crash_before_revocation_still_revokes(
    server: ServerProcess, database_url: str, race_keys: list[PrivateKey]
) -> None:
    server.start(factory="create", env={CRASH_AT: "before_revoke"})
    with server.client() as http:
        card, spec = person_with_card(http, race_keys[0], race_keys[1])
        phone = Smartphone(http, "android", keys=KeyPool(race_keys, start=2))
        _android_until_applied(phone, card)
        server.advance(AFTER_NOTICE)
        phone.register()
        assert _verify(http, server, phone) == "good"
        _dies(server, lambda: phone.stop_with_password(PHONE_PASSWORD))

        report = audit(database_url)
        assert report.violations == [], "\n".join(report.violations)
        [reg] = report.for_resident(resident_pk(database_url, spec.resident_id))
        assert (reg.state, reg.slot_resident_id, reg.slot_device_id) == ("revoked", None, None)

        server.start()
        assert phone.status()["state"] == "revoked"
        with pytest.raises(PlatformProblemError) as again:
            phone.stop_with_password(PHONE_PASSWORD)
        assert again.value.code == "STEP_OUT_OF_ORDER"
        successor = Smartphone(http, "android", keys=KeyPool(race_keys, start=4))  # the slot is free again
        _android_until_applied(successor, card)
        server.advance(AFTER_NOTICE)
        successor.register()
        assert _verify(http, server, successor) == "good"

        verdict = _verify(http, server, phone)
        if verdict == "good":
            raise KnownBugError("the stopped handset's signing certificate is still good in OCSP")
        assert verdict == "revoked:cessationOfOperation"


def test_2E_register_retried_after_its_answer_was_lost_in_a_crash(
    server: ServerProcess, database_url: str, race_keys: list[PrivateKey]
) -> None:
    server.start(factory="create", env={CRASH_AT: "after_register_commit"})
    with server.client() as http:
        card, _ = person_with_card(http, race_keys[0], race_keys[1])
        phone = Smartphone(http, "android", keys=KeyPool(race_keys, start=2))
        _android_until_applied(phone, card)
        server.advance(AFTER_NOTICE)
        _dies(server, phone.register)  # committed as registered; the answer never left

        _audit_clean(database_url)  # registered, both certificates owned: consistent

        server.start()
        assert phone.status()["state"] == "registered"
        retry_code = None
        try:
            phone.register()
        except PlatformProblemError as error:
            retry_code = error.code
        if not _has_certificate(phone):  # today's way out: stop with the card, apply again, register
            phone.stop_with_card(card, CARD_PASSWORD)
            _android_until_applied(phone, card)
            server.advance(AFTER_NOTICE)
            phone.register()
        assert _verify(http, server, phone) == "good"
        _audit_clean(database_url)

        if retry_code is not None:
            raise KnownBugError(f"retrying 2-E after the lost answer: {retry_code}, no certificate")
