"""Tables of the mock OpenID provider (on :data:`mock_platform.db.Base`, created with the others).

* ``oidc_signing_keys``: the provider's ES256 keys. ``active_slot`` is UNIQUE and NULL for retired keys,
  so at most one key signs at a time even when several processes start at once (the nullable-slot pattern
  of :mod:`mock_platform.db`); retired keys stay published in the JWKS.
* ``oidc_sign_transactions``: a digest an RP asked the holder to sign (created before the interaction).
* ``oidc_interactions``: one authorization request waiting for (or finished by) the holder's app.
  ``sign_transaction_id`` is UNIQUE: a sign transaction is presented in at most one interaction.
* ``oidc_authorization_codes``: one per approved interaction (UNIQUE ``interaction_id``), stored as a
  SHA-256 digest, used at most once (``used_at`` set by a guarded UPDATE).
* ``oidc_access_tokens``: bearer tokens (SHA-256 digest only), from a code or from client credentials.

Personal data: ``oidc_interactions.claims_json`` holds the claims released to the RP (a snapshot made
when the holder approved); never logged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

INTERACTION_STATUSES = ("pending", "approved", "declined", "failed")
SIGN_TRANSACTION_STATUSES = ("pending", "signed", "declined", "failed")


class OIDCSigningKeyRecord(Base):
    """An ES256 (P-256) ID-token signing key; ``active_slot`` = 1 for the current one, else NULL."""

    __tablename__ = "oidc_signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    active_slot: Mapped[int | None] = mapped_column(Integer, unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignTransactionRecord(Base):
    """A SHA-256 digest to be signed by the holder's JPKI signing key (PKCS#1 v1.5, RFC 8017 §8.2)."""

    __tablename__ = "oidc_sign_transactions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'signed', 'declined', 'failed')", name="ck_oidc_sign_transaction_status"
        ),
        CheckConstraint(
            "(status = 'signed') = (signature IS NOT NULL)", name="ck_oidc_sign_transaction_signature"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    digest_info_given: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    certificate_serial: Mapped[str | None] = mapped_column(String(42), default=None)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), default=None)
    acr: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class OIDCInteractionRecord(Base):
    """One authorization request (OIDC Core §3.1.2.1) and what the holder did with it."""

    __tablename__ = "oidc_interactions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'declined', 'failed')", name="ck_oidc_interaction_status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(512), default=None)
    nonce: Mapped[str | None] = mapped_column(String(512), default=None)
    code_challenge: Mapped[str] = mapped_column(String(128))
    acr_values: Mapped[str | None] = mapped_column(String(200), default=None)
    max_age: Mapped[int | None] = mapped_column(Integer, default=None)
    sign_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("oidc_sign_transactions.id"), unique=True, default=None
    )
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(64), default=None)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), default=None)
    acr: Mapped[str | None] = mapped_column(String(64), default=None)
    amr: Mapped[str | None] = mapped_column(String(64), default=None)
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    claims_json: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class OIDCAuthorizationCodeRecord(Base):
    """The authorization code of an approved interaction (RFC 6749 §4.1.2): single use, short-lived."""

    __tablename__ = "oidc_authorization_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("oidc_interactions.id"), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OIDCAccessTokenRecord(Base):
    """A bearer access token (RFC 6750); ``interaction_id`` is NULL for client-credentials tokens."""

    __tablename__ = "oidc_access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("oidc_interactions.id"), default=None, index=True
    )
    scope: Mapped[str] = mapped_column(String(200))
    revoked: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = [
    "INTERACTION_STATUSES",
    "SIGN_TRANSACTION_STATUSES",
    "OIDCAccessTokenRecord",
    "OIDCAuthorizationCodeRecord",
    "OIDCInteractionRecord",
    "OIDCSigningKeyRecord",
    "SignTransactionRecord",
]
