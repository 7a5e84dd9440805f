"""Review fixes of the platform operator API (issue 5 review): the token endpoint's audience comes from
configuration, never the Host header; consent can only be given through the holder's own channel (token
ids, a consent structure no login signs or verifies, and the PIN); sectors of pairwise user IDs are never
taken on a registration's word; login challenges are not burnt by another RP; raw OCSP evidence reaches the
RP; expired consent challenges are purged and open ones limited."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from lifecycle_support import CARD_AUTH_PIN, HANAKO, PHONE_PIN, World
from platform_api_support import BASE_URL, TOKEN_URL, RelyingPartyKit, client_assertion, register_rp
from sqlalchemy import func, select

from mock_platform.ca.token import ConsentSigningRefusedError
from mock_platform.device import PlatformProblemError
from mock_platform.device.platform_holder import give_consent, set_consent
from mock_platform.platform_api.service import (
    CONSENT_CONTEXT,
    PlatformChallengeRecord,
    PlatformConsentChallengeRecord,
    consent_message,
)
from myna_rp.errors import ChallengeError, MynaRPError, Reason, VerificationError
from myna_rp.identity import IdentityVerification
from myna_rp.jpki.verifier import CONSENT_STRUCTURE_PREFIX
from myna_rp.platform import APIKey, PlatformChallenge, PlatformClient, PrivateKeyJWT

DATA = b"review challenge"


def _form(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }


def _api_client(world: World, api_key: str) -> PlatformClient:
    return PlatformClient(BASE_URL, world.client, APIKey(api_key), clock=world.clock, sleep=lambda _: None)


def _register(world: World, **body: object) -> dict[str, object]:
    answer = world.client.post("/admin/relying-parties", json={"generate_api_key": True, **body})
    assert answer.status_code == 201, answer.text
    registered: dict[str, object] = answer.json()
    return registered


def _refusal(call: object) -> MynaRPError:
    with pytest.raises(MynaRPError) as caught:
        call()  # type: ignore[operator]
    return caught.value


# ----------------------------------------------------------------------------------- 1. token audience


def test_token_audience_is_the_configured_url_not_the_host_header(
    world: World, bank: RelyingPartyKit
) -> None:
    other = "http://other-operator.example/platform/v1/token"
    spoofed = world.client.post(
        "/platform/v1/token",
        data=_form(client_assertion(bank, world.clock.now(), audience=other)),
        headers={"host": "other-operator.example"},
    )
    assert spoofed.status_code == 401
    assert spoofed.json()["failure"] == "WRONG_AUDIENCE"
    # The configured URL is accepted whatever Host the request names.
    configured = world.client.post(
        "/platform/v1/token",
        data=_form(client_assertion(bank, world.clock.now(), audience=TOKEN_URL)),
        headers={"host": "other-operator.example"},
    )
    assert configured.status_code == 200, configured.text
    assert world.client.app.state.platform.config.token_endpoint == TOKEN_URL  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------- 3. consent


def test_rp_cannot_harvest_consent_with_a_disguised_login(world: World) -> None:
    """The review's attack: the RP fetches a consent challenge and hands the consent message to the holder
    as its 'login challenge'. Each step is now refused."""
    person = world.person(HANAKO)
    shady = _register(world, name="Shady RP")
    platform = _api_client(world, str(shady["api_key"]))
    user_id = platform.verify_signature(
        data=DATA, signature=person.card.signing.sign(DATA), certificate=person.card.signing.certificate
    ).user_id
    assert user_id is not None
    # 1. An RP cannot create a consent challenge: it does not know the holder's token ids.
    bare = world.client.post("/platform/v1/holder/consent-challenges", json={"client_id": shady["client_id"]})
    assert bare.status_code == 422
    # 2. The holder's login signing refuses consent-shaped data (card and phone) …
    disguised = consent_message("grant", str(shady["client_id"]), secrets.token_bytes(32))
    with pytest.raises(ConsentSigningRefusedError):
        person.card.user_authentication.sign(disguised)
    phone = world.android_registered(person)
    with pytest.raises(ConsentSigningRefusedError):
        phone.authenticate(disguised)
    # 3. … and even a consent signature the RP somehow got (a compromised app) is useless without the PIN,
    # which is entered in the platform's app only.
    issued = world.client.post(
        "/platform/v1/holder/consent-challenges",
        json={
            "client_id": shady["client_id"],
            "action": "grant",
            "method": "card",
            "card_id": person.card.card_id,
        },
    ).json()
    signature = person.card.user_authentication.sign_consent(
        consent_message("grant", str(shady["client_id"]), base64.b64decode(issued["nonce"]))
    )
    guessed = world.client.post(
        "/platform/v1/holder/consents",
        json={
            "challenge_id": issued["challenge_id"],
            "signature": base64.b64encode(signature).decode(),
            "user_authentication_pin": "0000",
        },
    )
    assert (guessed.status_code, guessed.json()["code"]) == (403, "PIN_INCORRECT")
    assert _refusal(lambda: platform.latest_attributes(user_id)).reason is Reason.CONSENT_REQUIRED


def test_consent_through_the_holder_channel_with_the_pin(world: World) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    assert phone.signing is not None
    bank = _register(world, name="Consent Bank")
    platform = _api_client(world, str(bank["api_key"]))
    user_id = platform.verify_signature(
        data=DATA, signature=phone.signing.sign(DATA), certificate=phone.signing.certificate
    ).user_id
    assert user_id is not None
    with pytest.raises(PlatformProblemError) as wrong:
        give_consent(world.client, phone, str(bank["client_id"]), pin="0000")
    assert wrong.value.code == "PIN_INCORRECT"
    assert _refusal(lambda: platform.latest_attributes(user_id)).reason is Reason.CONSENT_REQUIRED
    answer = give_consent(world.client, phone, str(bank["client_id"]), pin=PHONE_PIN)
    assert answer["status"] == "granted"
    assert platform.latest_attributes(user_id).address == HANAKO["address"]
    # A signature by another token than the one the challenge was issued for is refused.
    issued = world.client.post(
        "/platform/v1/holder/consent-challenges",
        json={
            "client_id": bank["client_id"],
            "action": "withdraw",
            "method": "smartphone",
            "device_id": phone.device_id,
            "registration_id": phone.registration_id,
        },
    ).json()
    by_card = person.card.user_authentication.sign_consent(
        consent_message("withdraw", str(bank["client_id"]), base64.b64decode(issued["nonce"]))
    )
    refused = world.client.post(
        "/platform/v1/holder/consents",
        json={
            "challenge_id": issued["challenge_id"],
            "signature": base64.b64encode(by_card).decode(),
            "user_authentication_pin": PHONE_PIN,
        },
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "SIGNATURE_INVALID")
    assert platform.latest_attributes(user_id).address == HANAKO["address"]  # still granted


def test_consent_challenge_is_single_use_and_bound_to_its_handset(world: World) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    bank = _register(world, name="Single-use Bank")
    wrong_device = world.client.post(
        "/platform/v1/holder/consent-challenges",
        json={
            "client_id": bank["client_id"],
            "action": "grant",
            "method": "smartphone",
            "device_id": "dev-someone-else",
            "registration_id": phone.registration_id,
        },
    )
    assert (wrong_device.status_code, wrong_device.json()["code"]) == (403, "WRONG_DEVICE")
    issued = world.client.post(
        "/platform/v1/holder/consent-challenges",
        json={
            "client_id": bank["client_id"],
            "action": "grant",
            "method": "card",
            "card_id": person.card.card_id,
        },
    ).json()
    body = {
        "challenge_id": issued["challenge_id"],
        "signature": base64.b64encode(
            person.card.user_authentication.sign_consent(
                consent_message("grant", str(bank["client_id"]), base64.b64decode(issued["nonce"]))
            )
        ).decode(),
        "user_authentication_pin": CARD_AUTH_PIN,
    }
    assert world.client.post("/platform/v1/holder/consents", json=body).status_code == 200
    again = world.client.post("/platform/v1/holder/consents", json=body)
    assert (again.status_code, again.json()["code"]) == (409, "CHALLENGE_REPLAYED")


def test_open_consent_challenges_are_limited_and_expired_ones_purged(world: World) -> None:
    person = world.person(HANAKO)
    bank = _register(world, name="Limited Bank")
    body = {
        "client_id": bank["client_id"],
        "action": "grant",
        "method": "card",
        "card_id": person.card.card_id,
    }
    limit = world.client.app.state.platform.config.max_open_consent_challenges  # type: ignore[attr-defined]
    for _ in range(limit):
        assert world.client.post("/platform/v1/holder/consent-challenges", json=body).status_code == 201
    refused = world.client.post("/platform/v1/holder/consent-challenges", json=body)
    assert (refused.status_code, refused.json()["code"]) == (429, "TOO_MANY_CHALLENGES")

    database = world.client.app.state.platform.database  # type: ignore[attr-defined]

    def stored() -> int:
        with database.transaction() as session:
            return int(
                session.scalar(
                    select(func.count(PlatformConsentChallengeRecord.id)).where(
                        PlatformConsentChallengeRecord.client_id == bank["client_id"]
                    )
                )
                or 0
            )

    assert stored() == limit
    world.advance(hours=2)  # expired, and beyond the purge delay
    assert world.client.post("/platform/v1/holder/consent-challenges", json=body).status_code == 201
    assert stored() == 1


def test_sdk_and_platform_logins_refuse_consent_structures(world: World, bank: RelyingPartyKit) -> None:
    person = world.person(HANAKO)
    token = person.card.user_authentication
    assert CONSENT_CONTEXT.startswith(CONSENT_STRUCTURE_PREFIX)  # the two packages agree on the tag
    structure = consent_message("grant", bank.client_id, secrets.token_bytes(32))
    signature = token.sign_consent(structure)
    # Direct mode: the SDK's verifier refuses to treat it as a login challenge.
    with pytest.raises(ChallengeError) as direct:
        world.verifier().verify_authentication(
            challenge=structure, signature=signature, certificate=token.certificate
        )
    assert direct.value.reason is Reason.CHALLENGE_MISMATCH
    # Platform mode, SDK side: refused before anything is sent.
    platform = PlatformClient(
        BASE_URL,
        world.client,
        PrivateKeyJWT(bank.client_id, bank.key),
        clock=world.clock,
        sleep=lambda _: None,
    )
    forged = PlatformChallenge("chl_forged", structure, world.clock.now() + timedelta(minutes=5))
    with pytest.raises(ChallengeError) as sdk:
        platform.verify_authentication(challenge=forged, signature=signature, certificate=token.certificate)
    assert sdk.value.reason is Reason.CHALLENGE_MISMATCH
    # Platform side: a login challenge holding a consent structure is refused by its verification.
    now = world.clock.now()
    database = world.client.app.state.platform.database  # type: ignore[attr-defined]
    with database.transaction() as session:
        session.add(
            PlatformChallengeRecord(
                public_id="chl_consent_shaped",
                client_id=bank.client_id,
                purpose="authentication",
                nonce=structure,
                expires_at=now + timedelta(minutes=5),
                created_at=now,
            )
        )
    answer = world.client.post(
        "/platform/v1/authentication/verify",
        json={
            "challenge_id": "chl_consent_shaped",
            "signature": base64.b64encode(signature).decode(),
            "certificate": base64.b64encode(token.certificate.public_bytes(Encoding.DER)).decode(),
        },
        headers={"authorization": f"Bearer {_bearer(world, bank)}"},
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "CHALLENGE_MISMATCH")


def _bearer(world: World, kit: RelyingPartyKit) -> str:
    answer = world.client.post(
        "/platform/v1/token", data=_form(client_assertion(kit, world.clock.now(), audience=TOKEN_URL))
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


# ----------------------------------------------------------------------------------- 5. sectors


def test_a_second_rp_cannot_obtain_another_rps_user_ids(world: World) -> None:
    host = f"bank-{uuid.uuid4().hex[:8]}.example"
    person = world.person(HANAKO)

    def user_id(registered: dict[str, object]) -> str | None:
        return (
            _api_client(world, str(registered["api_key"]))
            .verify_signature(
                data=DATA,
                signature=person.card.signing.sign(DATA),
                certificate=person.card.signing.certificate,
            )
            .user_id
        )

    bank = _register(world, name="Bank", redirect_uris=[f"https://{host}/callback"])
    assert bank["sector_identifier"] == host
    # Claiming a redirect URI on the bank's host does not give the bank's sector …
    squatter = _register(world, name="Broker 1", redirect_uris=[f"https://{host}/never-used"])
    assert squatter["sector_identifier"] == squatter["client_id"]
    # … nor does naming it as the sector.
    named = world.client.post(
        "/admin/relying-parties",
        json={"name": "Broker 2", "generate_api_key": True, "sector_identifier": host},
    )
    assert (named.status_code, named.json()["code"]) == (422, "SECTOR_TAKEN")
    # A sector must cover the redirect URIs.
    uncovered = world.client.post(
        "/admin/relying-parties",
        json={
            "name": "Broker 3",
            "sector_identifier": "x.example",
            "redirect_uris": ["https://y.example/cb"],
            "generate_api_key": True,
        },
    )
    assert (uncovered.status_code, uncovered.json()["code"]) == (422, "INVALID_SECTOR")
    bank_id = user_id(bank)
    assert bank_id is not None
    assert user_id(squatter) != bank_id
    # The bank's own second client joins its sector with proof (the bank's API key).
    sibling = _register(
        world,
        name="Bank app",
        redirect_uris=[f"https://app.{host}/callback"],
        sector_identifier=host,
        sector_proof=bank["api_key"],
    )
    assert user_id(sibling) == bank_id


# ------------------------------------------------------------------------------ 14. evidence, challenges


def test_raw_ocsp_response_reaches_the_rp(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    signing = person.card.signing
    verified = platform.verify_signature(
        data=DATA, signature=signing.sign(DATA), certificate=signing.certificate
    )
    assert verified.ocsp_response is not None
    parsed = ocsp.load_der_ocsp_response(verified.ocsp_response)
    assert parsed.serial_number == signing.certificate.serial_number
    assert parsed.certificate_status is ocsp.OCSPCertStatus.GOOD
    status = platform.certificate_status(signing.certificate)
    assert status.ocsp_response is not None
    assert (
        ocsp.load_der_ocsp_response(status.ocsp_response).serial_number == signing.certificate.serial_number
    )
    challenge = platform.authentication_challenge()
    login = platform.verify_authentication(
        challenge=challenge,
        signature=person.card.user_authentication.sign(challenge.nonce),
        certificate=person.card.user_authentication.certificate,
    )
    assert login.ocsp_response is not None
    # Evidence is not identity: ignored by same_identity_as.
    without = IdentityVerification(
        mode=verified.mode,
        attributes=verified.attributes,
        certificate=verified.certificate,
        revocation=verified.revocation,
        verified_at=verified.verified_at,
        signed_content=verified.signed_content,
    )
    assert verified.same_identity_as(without)


def test_another_rp_cannot_burn_a_login_challenge(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    token = person.card.user_authentication
    challenge = platform.authentication_challenge()
    thief = register_rp(world.client, "Thief")
    stolen = PlatformClient(
        BASE_URL,
        world.client,
        PrivateKeyJWT(thief.client_id, thief.key),
        clock=world.clock,
        sleep=lambda _: None,
    )
    signature = token.sign(challenge.nonce)
    with pytest.raises(ChallengeError) as caught:
        stolen.verify_authentication(challenge=challenge, signature=signature, certificate=token.certificate)
    assert caught.value.reason is Reason.CHALLENGE_MISMATCH
    # The owner's login still works: the challenge was not consumed by the other RP's attempt.
    login = platform.verify_authentication(
        challenge=challenge, signature=signature, certificate=token.certificate
    )
    assert login.certificate.serial_number == token.certificate.serial_number


def test_from_jpki_of_a_user_authentication_verification_is_a_typed_error(world: World) -> None:
    person = world.person(HANAKO)
    token = person.card.user_authentication
    verification = world.verifier().verify_signature(
        data=DATA, signature=token.sign(DATA), certificate=token.certificate
    )
    assert verification.attributes is None
    with pytest.raises(VerificationError) as caught:
        IdentityVerification.from_jpki(verification)
    assert caught.value.reason is Reason.WRONG_CERTIFICATE_KIND


def test_set_consent_refuses_an_unknown_client(world: World) -> None:
    person = world.person(HANAKO)
    with pytest.raises(PlatformProblemError) as caught:
        set_consent(world.client, person.card, "nobody", "grant", pin=CARD_AUTH_PIN)
    assert (caught.value.status, caught.value.code) == (404, "UNKNOWN_CLIENT")
