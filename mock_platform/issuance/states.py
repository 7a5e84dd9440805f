"""Explicit state machines of the lifecycle (values are the database strings).

Smartphone registration (one row per Android application / iPhone addition)::

    Android (§2, 4-B)                               iPhone (§3)
    awaiting_card_read                              awaiting_card_face_pin
        │ card read (2-C ⑦)                             │ card-face PIN (3-C ⑤)
        ▼                                              ▼
    awaiting_passwords ◀───────────────┐            awaiting_signing_password
        │ phone passwords (2-D)         │               │ card signing password (3-C ⑥)
        ▼                               │               ▼
    applied ──(notice)── register ──┐   └────────── awaiting_card_read (card read 3-C ⑦)
                                    │                   then awaiting_passwords (3-D ①–④)
                                    │                   then awaiting_wallet ── wallet (3-D ⑤⑥)
                                    ▼                   ▼
                               registered ◀── provision ── pending (until the usable time)
                                    │
       revoked (2-F/3-E/3-F) ◀──────┼──────▶ superseded (4-B)     card_renewed (FAQ 4)
                                    ▼
                               suspended (hotline, 5-B) ── resume ──▶ applied / pending

Any state before ``registered`` may be ``cancelled``. ``revoked``, ``superseded``, ``card_renewed`` and
``cancelled`` are final. :func:`check_transition` is the single source of the allowed edges.

Card: ``active`` ⇄ ``suspended`` (hotline lost card / found at the counter); ``retired`` is final.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import StepOutOfOrderError


class Platform(StrEnum):
    ANDROID = "android"
    IPHONE = "iphone"


class Flow(StrEnum):
    APPLY = "apply"  # 2-C
    DEVICE_CHANGE = "device_change"  # 4-B 機種変更 (Android → Android)
    ADD = "add"  # 3-C


class RegistrationState(StrEnum):
    AWAITING_CARD_FACE_PIN = "awaiting_card_face_pin"
    AWAITING_SIGNING_PASSWORD = "awaiting_signing_password"  # noqa: S105 - a state name
    AWAITING_CARD_READ = "awaiting_card_read"
    AWAITING_PASSWORDS = "awaiting_passwords"
    AWAITING_WALLET = "awaiting_wallet"
    APPLIED = "applied"
    PENDING = "pending"
    REGISTERED = "registered"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    CARD_RENEWED = "card_renewed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


class CardState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"


class NoticeKind(StrEnum):
    """Push notices a device can poll (no personal data in them)."""

    REGISTRATION_READY = "registration_ready"  # Android: "登録する" is now possible (2-E)
    WALLET_USABLE = "wallet_usable"  # iPhone: Wallet notice (usable about 5 minutes later)
    SUSPENDED = "suspended"  # hotline suspension (5-B)
    REVOKED = "revoked"  # stopped (2-F/3-E/3-F)
    SUPERSEDED = "superseded"  # replaced by a new handset (4-B)
    RE_REGISTRATION_REQUIRED = "re_registration_required"  # card certificate renewed (FAQ 4)
    SIGNING_REVOKED = "signing_revoked"  # basic four attributes changed
    DEVICE_CHANGE_ENDED = "device_change_ended"  # a 4-B application ended: the card went to another handset


S = RegistrationState
_FINAL = frozenset({S.REVOKED, S.SUPERSEDED, S.CARD_RENEWED, S.CANCELLED})
_BEFORE_USE = (
    S.AWAITING_CARD_FACE_PIN,
    S.AWAITING_SIGNING_PASSWORD,
    S.AWAITING_CARD_READ,
    S.AWAITING_PASSWORDS,
    S.AWAITING_WALLET,
)

TRANSITIONS: dict[RegistrationState, frozenset[RegistrationState]] = {
    S.AWAITING_CARD_FACE_PIN: frozenset({S.AWAITING_SIGNING_PASSWORD, S.CANCELLED, S.CARD_RENEWED}),
    S.AWAITING_SIGNING_PASSWORD: frozenset({S.AWAITING_CARD_READ, S.CANCELLED, S.CARD_RENEWED}),
    S.AWAITING_CARD_READ: frozenset({S.AWAITING_PASSWORDS, S.CANCELLED, S.CARD_RENEWED}),
    S.AWAITING_PASSWORDS: frozenset({S.APPLIED, S.AWAITING_WALLET, S.CANCELLED, S.CARD_RENEWED}),
    S.AWAITING_WALLET: frozenset({S.PENDING, S.CANCELLED, S.CARD_RENEWED}),
    S.APPLIED: frozenset({S.REGISTERED, S.CANCELLED, S.REVOKED, S.CARD_RENEWED}),
    S.PENDING: frozenset({S.REGISTERED, S.CANCELLED, S.REVOKED, S.CARD_RENEWED}),
    S.REGISTERED: frozenset({S.REVOKED, S.SUPERSEDED, S.SUSPENDED, S.CARD_RENEWED}),
    S.SUSPENDED: frozenset({S.APPLIED, S.PENDING, S.REVOKED, S.CARD_RENEWED}),
    S.REVOKED: frozenset(),
    S.SUPERSEDED: frozenset(),
    S.CARD_RENEWED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: States in which a registration occupies the person's (and the device's) smartphone slot.
SLOT_STATES = frozenset(
    {S.AWAITING_PASSWORDS, S.AWAITING_WALLET, S.APPLIED, S.PENDING, S.REGISTERED, S.SUSPENDED}
)
#: States from which the user may cancel an unfinished application/addition.
CANCELLABLE = frozenset({*_BEFORE_USE, S.APPLIED, S.PENDING})


def check_transition(current: RegistrationState, target: RegistrationState) -> None:
    """Raise :class:`StepOutOfOrderError` unless ``current → target`` is an edge of the machine."""
    if target not in TRANSITIONS[current]:
        raise StepOutOfOrderError(
            f"this step is not possible in state {current.value}",
            state=current.value,
            attempted=target.value,
        )
