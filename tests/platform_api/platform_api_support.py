"""Helpers of the platform-API tests (a top-level module: this folder has no ``__init__.py``)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

BASE_URL = "http://jlis-mock.test/platform/v1"
TOKEN_URL = BASE_URL + "/token"


@dataclass
class RelyingPartyKit:
    """A registered RP: its id, private key, webhook secret (if any) and API key (if any)."""

    client_id: str
    key: ECKey
    webhook_secret: str | None
    api_key: str | None
    user_ids: dict[str, str] = field(default_factory=dict)


def register_rp(
    client: httpx.Client, name: str, *, webhook_url: str | None = None, api_key: bool = False
) -> RelyingPartyKit:
    key = ECKey.generate_key("P-256", parameters={"kid": f"rp-{secrets.token_hex(4)}"}, private=True)
    body: dict[str, Any] = {"name": name, "jwks": {"keys": [key.as_dict(private=False)]}}
    if webhook_url is not None:
        body["webhook_url"] = webhook_url
    if api_key:
        body["generate_api_key"] = True
    response = client.post("/admin/relying-parties", json=body)
    assert response.status_code == 201, response.text
    answer = response.json()
    return RelyingPartyKit(answer["client_id"], key, answer.get("webhook_secret"), answer.get("api_key"))


def client_assertion(
    kit: RelyingPartyKit,
    now: datetime,
    *,
    audience: str = TOKEN_URL,
    header: dict[str, Any] | None = None,
    key: Any = None,
    **claims: Any,
) -> str:
    """A client assertion for ``kit`` at ``now``; ``claims`` override (``None`` removes a claim)."""
    issued = int(now.timestamp())
    body: dict[str, Any] = {
        "iss": kit.client_id,
        "sub": kit.client_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + 60,
        "jti": secrets.token_urlsafe(16),
    }
    for name, value in claims.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    protected = header or ({"alg": "ES256", "kid": kit.key.kid} if kit.key.kid else {"alg": "ES256"})
    signer = key if key is not None else kit.key
    return jwt.encode(protected, body, signer, algorithms=[protected["alg"]])


@dataclass
class Delivered:
    """One webhook request the mock's dispatcher sent."""

    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Inbox:
    """The RPs' webhook endpoints, in-process: records every delivery; answers ``status`` (default 204)."""

    def __init__(self) -> None:
        self.received: list[Delivered] = []
        self.status = 204

    def clear(self) -> None:
        self.received.clear()
        self.status = 204

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append(
            Delivered(str(request.url), {k.lower(): v for k, v in request.headers.items()}, request.content)
        )
        return httpx.Response(self.status)
