"""The provider's ID-token signing keys: ES256 (ECDSA P-256 + SHA-256, RFC 7518 §3.4), kept in the database.

The first start creates a key; every later start (or another process on the same database) loads it, so
ID tokens stay verifiable across restarts. :meth:`ProviderKeys.rotate` makes a new key current; retired
keys stay in the JWKS (RFC 7517 §5) so tokens they signed still verify. The ``kid`` is the key's RFC 7638
JWK thumbprint.

Private keys are stored as unencrypted PKCS#8 PEM, like the CA keys: this is a mock, never a provider.
"""

from __future__ import annotations

import threading
from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..clock import Clock
from ..db import Database
from .models import OIDCSigningKeyRecord

_ACTIVE = 1


class ProviderKeys:
    """ES256 signing keys of one provider, backed by ``oidc_signing_keys``.

    Args:
        database: the mock's database (the table must exist).
        clock: timestamps of new keys.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded: dict[str, ECKey] = {}  # kid → key; keys never change once stored

    def signing_key(self) -> ECKey:
        """The current signing key (private, ``kid`` set); created on first use."""
        with self._db.transaction() as session:
            record = session.scalars(
                select(OIDCSigningKeyRecord).where(OIDCSigningKeyRecord.active_slot == _ACTIVE)
            ).one_or_none()
            if record is not None:
                return self._key(record.kid, record.private_key_pem)
        self._create(retire_current=False)
        return self.signing_key()

    def rotate(self) -> ECKey:
        """Make a new key current; the previous one stays published. Returns the new key."""
        self._create(retire_current=True)
        return self.signing_key()

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set of every key, current first: ``{"keys": [{kty, crv, x, y, kid, use, alg}]}``."""
        self.signing_key()  # make sure one exists
        with self._db.transaction() as session:
            records = session.scalars(
                select(OIDCSigningKeyRecord).order_by(
                    OIDCSigningKeyRecord.active_slot.is_(None), OIDCSigningKeyRecord.id.desc()
                )
            ).all()
            pairs = [(record.kid, record.private_key_pem) for record in records]
        keys = []
        for kid, pem in pairs:
            public = self._key(kid, pem).as_dict(private=False)
            keys.append({**public, "kid": kid, "use": "sig", "alg": "ES256"})
        return {"keys": keys}

    def _key(self, kid: str, pem: str) -> ECKey:
        with self._lock:
            cached = self._loaded.get(kid)
            if cached is None:
                cached = ECKey.import_key(pem, {"kid": kid})
                self._loaded[kid] = cached
            return cached

    def _create(self, *, retire_current: bool) -> None:
        key = ECKey.generate_key("P-256", private=True)
        kid = key.thumbprint()
        pem = key.as_pem(private=True).decode("ascii")
        try:
            with self._db.transaction() as session:
                if retire_current:
                    session.execute(
                        update(OIDCSigningKeyRecord)
                        .where(OIDCSigningKeyRecord.active_slot == _ACTIVE)
                        .values(active_slot=None)
                    )
                session.add(
                    OIDCSigningKeyRecord(
                        kid=kid, private_key_pem=pem, active_slot=_ACTIVE, created_at=self._clock.now()
                    )
                )
        except IntegrityError:
            pass  # another process created the current key first: use theirs


__all__ = ["ProviderKeys"]
