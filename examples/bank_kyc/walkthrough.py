"""The README's walk-through as a script: a customer (played by the mock's device simulator) opens an
account at the bank, logs in, moves house, and the bank follows.

Two commands, against a served mock (test mode) and a served bank (see README.md)::

    # register the bank at the mock platform; prints the BANK_KYC_* variables to start the bank with
    .venv/bin/python -m examples.bank_kyc.walkthrough register \\
        --platform http://127.0.0.1:8700 --bank http://127.0.0.1:8702

    # the customer's story
    .venv/bin/python -m examples.bank_kyc.walkthrough run \\
        --platform http://127.0.0.1:8700 --bank http://127.0.0.1:8702

The story (:func:`run`):

1. the municipal counter enrols a synthetic resident and issues her card; she puts it on an Android phone
   (the mock's test clock is moved past the notice with ``POST /admin/clock``);
2. account opening: the phone signs the bank's ``signing`` challenge with the signing certificate and its
   ``login`` challenge with the user authentication certificate → 201, a confirmation record;
3. the same request replayed → 409 ``CHALLENGE_REPLAYED``;
4. login with the phone's user authentication certificate → the same customer; ``GET /customers/me``;
5. a stranger's valid card → 401 ``LOGIN_NOT_RECOGNISED``;
6. in the platform's app she consents to the bank getting her latest attributes;
7. she moves: the counter records the new address, her signing certificates are revoked
   (``affiliationChanged``), the platform sends the bank a signed webhook (``POST /admin/webhooks/deliver``
   makes the mock send it now) → the bank flags her, fetches the new address with her consent, clears
   the flag; she logs in again (her user authentication certificate survives a move) and sees it;
8. a forged webhook → 401 ``WEBHOOK_SIGNATURE_INVALID``.

:func:`run` takes two :class:`httpx.Client` objects, so the test suite runs the very same script
in-process (``TestClient``s) — the README cannot drift from the code.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from mock_platform.device import Smartphone
from mock_platform.device.platform_holder import give_consent
from mock_platform.device.simulator import Card, PlatformProblemError

from .._shared.encoding import b64url_decode
from .._shared.walkthrough import CARD_PASSWORD, CARD_PIN, PHONE_PASSWORD, PHONE_PIN, SimulatedCustomers

__all__ = [
    "CARD_PASSWORD",
    "CARD_PIN",
    "HANAKO",
    "HANAKO_MOVED",
    "PHONE_PASSWORD",
    "PHONE_PIN",
    "STRANGER",
    "Walkthrough",
    "main",
    "register",
    "run",
]

HANAKO: dict[str, str] = {
    "name": "見本　花子",
    "gender": "2",
    "date_of_birth": "319880412",  # Showa 63 (1988-04-12)
    "address": "東京都千代田区見本町一丁目1番1号",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
}
HANAKO_MOVED: dict[str, str] = {
    **HANAKO,
    "address": "大阪府大阪市北区見本町三丁目3番3号",
    "prefecture": "Osaka-fu",
    "municipality": "Osaka-shi",
}
STRANGER: dict[str, str] = {
    "name": "試験　一郎",
    "gender": "1",
    "date_of_birth": "419970101",
    "address": "東京都千代田区試験町二丁目2番2号",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Walkthrough(SimulatedCustomers):
    """The customer's side: the device simulator against the platform, plain HTTP against the bank."""

    def __init__(
        self, platform: httpx.Client, bank: httpx.Client, *, say: Callable[[str], None] = print
    ) -> None:
        super().__init__(platform, say)
        self.bank = bank

    # -- helpers --------------------------------------------------------------------------------------

    def report(self, what: str, answer: httpx.Response) -> dict[str, Any]:
        body: dict[str, Any] = answer.json() if answer.content else {}
        if answer.status_code >= 400:
            self.say(f"   {what}: {answer.status_code} {body.get('code')} — {body.get('detail')}")
        else:
            self.say(f"   {what}: {answer.status_code}")
        return body

    def card(self, attributes: dict[str, str]) -> Card:
        return self.issue_card(attributes)

    @staticmethod
    def der(certificate: Any) -> str:
        return _b64(certificate.public_bytes(Encoding.DER))

    def open_account(self, phone: Smartphone) -> tuple[httpx.Response, str, dict[str, Any]]:
        opening = self.bank.post("/accounts/openings").json()
        body = {
            "signing": {
                "challenge_id": opening["signing"]["challenge_id"],
                "signature": _b64(phone.sign(b64url_decode(opening["signing"]["challenge"]))),
                "certificate": self.der(phone.signing_certificate),
            },
            "login": {
                "challenge_id": opening["login"]["challenge_id"],
                "signature": _b64(phone.authenticate(b64url_decode(opening["login"]["challenge"]))),
                "certificate": self.der(phone.user_authentication_certificate),
            },
        }
        url = opening["complete_url"]
        return self.bank.post(url, json=body), url, body

    def login(self, sign: Callable[[bytes], bytes], certificate: Any) -> httpx.Response:
        challenge = self.bank.post("/login/challenges").json()
        return self.bank.post(
            "/login",
            json={
                "session_id": challenge["session_id"],
                "challenge_id": challenge["challenge_id"],
                "signature": _b64(sign(b64url_decode(challenge["challenge"]))),
                "certificate": self.der(certificate),
            },
        )

    def me(self, token: str) -> dict[str, Any]:
        answer = self.bank.get("/customers/me", headers={"Authorization": f"Bearer {token}"})
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def consent(self, phone: Smartphone, client_id: str) -> int:
        """In the platform's app: consent to ``client_id`` getting the latest attributes — the phone's
        user authentication key signs the platform's consent structure, with its PIN
        (:func:`mock_platform.device.platform_holder.give_consent`, the mock's holder protocol; a real
        platform's app does this for the user). Returns the HTTP status (200, or the problem's)."""
        try:
            give_consent(self.platform, phone, client_id, pin=PHONE_PIN)
        except PlatformProblemError as problem:
            self.say(f"   consent refused: {problem.status} {problem.code}")
            return problem.status
        return 200

    # -- the story ------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run the story; returns what each step answered (the tests read it)."""
        seen: dict[str, Any] = {}
        health = self.bank.get("/healthz").json()
        client_id = health.get("platform_client_id")
        self.say(f"== The bank verifies in {health['mode']} mode; its client_id at the platform: {client_id}")

        self.say("== 1. Counter: a synthetic resident gets her card and puts it on an Android phone")
        card = self.card(HANAKO)
        phone = self.android(card)
        self.say("   Android phone registered (signing + user authentication certificates)")

        self.say("== 2. Account opening: the phone signs both challenges")
        answer, url, body = self.open_account(phone)
        opened = self.report("open account", answer)
        seen["opened"] = (answer.status_code, opened)
        if answer.status_code == 201:
            verification = opened["verification"]
            self.say(
                f"   customer {opened['customer_id']}, confirmation record {opened['record_id']} "
                f"({verification['form_factor']}, revocation via {verification['revocation_source']})"
            )

        self.say("== 3. The same request replayed")
        replay = self.bank.post(url, json=body)
        seen["replay"] = (replay.status_code, self.report("replay", replay))

        self.say("== 4. Login with the phone's user authentication certificate")
        login = self.login(phone.authenticate, phone.user_authentication_certificate)
        logged_in = self.report("login", login)
        seen["login"] = (login.status_code, logged_in)
        token = logged_in.get("access_token", "")
        if login.status_code == 200:
            account = self.me(token)
            seen["me_before"] = account
            self.say(f"   customer {account['customer_id']}: address on file {account['address']}")

        self.say("== 5. A stranger's valid card")
        stranger = self.card(STRANGER)
        refused = self.login(stranger.user_authentication.sign, stranger.user_authentication.certificate)
        seen["stranger"] = (refused.status_code, self.report("stranger login", refused))

        self.say("== 6. In the platform's app, she consents to the bank getting her latest attributes")
        if client_id is None:
            self.say("   (the bank has no BANK_KYC_PLATFORM_CLIENT_ID: skipped)")
        else:
            seen["consent"] = (self.consent(phone, client_id), None)
            self.say(f"   consent: {seen['consent'][0]}")

        self.say("== 7. She moves: new address at the counter → signing certificates revoked → webhook")
        self.counter.change_attributes(card, HANAKO_MOVED)
        report = self.platform.post("/admin/webhooks/deliver").json()
        seen["delivery"] = report
        self.say(f"   platform webhooks: {report}")
        again = self.login(phone.authenticate, phone.user_authentication_certificate)
        relogged = self.report("login after the move", again)
        if again.status_code == 200:
            account = self.me(relogged["access_token"])
            seen["me_after"] = account
            self.say(
                f"   address on file {account['address']} (source {account['attributes_source']}, "
                f"re-verification required: {account['reverification_required']})"
            )

        self.say("== 8. A forged webhook")
        forged_body = json.dumps({"id": "msg_forged", "type": "certificate.revoked", "data": {}}).encode()
        forged = self.bank.post(
            "/webhooks/platform",
            content=forged_body,
            headers={
                "content-type": "application/json",
                "webhook-id": "msg_forged",
                "webhook-timestamp": str(int(self.platform_now().timestamp())),
                "webhook-signature": "v1," + _b64(b"\x00" * 32),
            },
        )
        seen["forged"] = (forged.status_code, self.report("forged webhook", forged))
        return seen


def run(platform: httpx.Client, bank: httpx.Client, *, say: Callable[[str], None] = print) -> dict[str, Any]:
    """The story over two clients (see the module docstring)."""
    walk = Walkthrough(platform, bank, say=say)
    return walk.run()


def register(platform: httpx.Client, bank_url: str) -> dict[str, Any]:
    """Register the bank at the mock (``POST /admin/relying-parties``, test mode): an API key for the
    platform API and a webhook URL; returns the registration (``api_key`` and ``webhook_secret`` once)."""
    answer = platform.post(
        "/admin/relying-parties",
        json={
            "name": "Example Bank (synthetic)",
            "generate_api_key": True,
            "webhook_url": bank_url.rstrip("/") + "/webhooks/platform",
        },
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.bank_kyc.walkthrough", description=__doc__)
    parser.add_argument("command", choices=["register", "run"])
    parser.add_argument("--platform", default="http://127.0.0.1:8700", help="the mock platform (test mode)")
    parser.add_argument("--bank", default="http://127.0.0.1:8702", help="the bank")
    args = parser.parse_args(argv)
    with httpx.Client(base_url=args.platform, timeout=30.0) as platform:
        if args.command == "register":
            registration = register(platform, args.bank)
            print(f"export BANK_KYC_PLATFORM_CLIENT_ID={registration['client_id']}")
            print(f"export BANK_KYC_PLATFORM_API_KEY={registration['api_key']}")
            print(f"export BANK_KYC_WEBHOOK_SECRET={registration['webhook_secret']}")
            return 0
        with httpx.Client(base_url=args.bank, timeout=60.0) as bank:
            seen = run(platform, bank)
    return 0 if seen.get("opened", (0,))[0] == 201 else 1


if __name__ == "__main__":
    sys.exit(main())
