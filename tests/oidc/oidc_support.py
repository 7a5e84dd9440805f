"""Helpers of the OIDC tests: relying parties registered in the mock's registry, and the login round trip
(the SDK's ``begin_login`` → the browser opens the URL → the holder's app approves → the SDK's
``complete_login``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey
from lifecycle_support import CARD_AUTH_PIN, CARD_PASSWORD, PHONE_PASSWORD, PHONE_PIN, Person, World

from mock_platform.device import Smartphone
from mock_platform.device.auth_app import AuthApp, InteractionRequest
from myna_rp.platform.oidc import LoginState, MynaOIDCClient, OIDCLogin, SignTransaction

ISSUER = "http://jlis-mock.test/oidc"


@dataclass
class RelyingPartyHandle:
    """A registered RP: its client id, private key, redirect URIs and SDK client."""

    client_id: str
    key: ECKey
    redirect_uri: str
    other_redirect_uri: str
    sector_identifier: str
    client: MynaOIDCClient
    world: World

    def fresh_client(self, **options: Any) -> MynaOIDCClient:
        return MynaOIDCClient(
            self.world.client,
            issuer=ISSUER,
            client_id=self.client_id,
            private_key=options.pop("private_key", self.key),
            clock=self.world.clock,
            **options,
        )


def register_rp(
    world: World, *, name: str, host: str, sector_identifier: str | None = None
) -> RelyingPartyHandle:
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": f"{host}-1"})
    registry = world.client.app.state.relying_parties  # type: ignore[attr-defined]
    registered = registry.register(
        name=name,
        jwks={"keys": [key.as_dict(private=False)]},
        redirect_uris=[f"https://{host}/callback", f"https://{host}/other-callback"],
        sector_identifier=sector_identifier,
    )
    client = MynaOIDCClient(
        world.client, issuer=ISSUER, client_id=registered.client_id, private_key=key, clock=world.clock
    )
    return RelyingPartyHandle(
        client_id=registered.client_id,
        key=key,
        redirect_uri=f"https://{host}/callback",
        other_redirect_uri=f"https://{host}/other-callback",
        sector_identifier=registered.sector_identifier,
        client=client,
        world=world,
    )


Approve = Callable[[AuthApp, InteractionRequest], str]


def with_card(person: Person, *, pin: str = CARD_AUTH_PIN, password: str = CARD_PASSWORD) -> Approve:
    def approve(app: AuthApp, request: InteractionRequest) -> str:
        return app.approve_with_card(
            request,
            person.card,
            pin=pin,
            signing_password=password if request.needs_signing_certificate else None,
        )

    return approve


def with_phone(phone: Smartphone, *, pin: str = PHONE_PIN, password: str = PHONE_PASSWORD) -> Approve:
    def approve(app: AuthApp, request: InteractionRequest) -> str:
        return app.approve_with_phone(
            request, phone, pin=pin, signing_password=password if request.needs_signing_certificate else None
        )

    return approve


def authorize(
    rp: RelyingPartyHandle,
    approve: Approve,
    *,
    scopes: Sequence[str] = ("openid",),
    acr_values: Sequence[str] = (),
    sign_transaction: SignTransaction | None = None,
    client: MynaOIDCClient | None = None,
) -> tuple[str, LoginState]:
    """begin_login → open → approve: the callback URL and the login state."""
    url, state = (client or rp.client).begin_login(
        scopes, redirect_uri=rp.redirect_uri, acr_values=acr_values, sign_transaction=sign_transaction
    )
    app = AuthApp(rp.world.client)
    return approve(app, app.open(url)), state


def login(rp: RelyingPartyHandle, approve: Approve, **options: Any) -> OIDCLogin:
    callback, state = authorize(rp, approve, **options)
    return (options.get("client") or rp.client).complete_login(callback, state)
