"""The smartphone-card lifecycle of the official guide (domain-lifecycle.md) over the mock CAs.

* :mod:`.service` — :class:`LifecycleService`, every flow as one method (one transaction per change);
* :mod:`.states` — the explicit state machines (registration, card, notices);
* :mod:`.rules` — notice/usable times, PIN formats, health insurance and driver's licence rules;
* :mod:`.pins` — PIN kinds, lockouts, argon2id hashing;
* :mod:`.errors` — errors with stable problem codes.
"""

from .errors import LifecycleError
from .pins import PinHasher, PinKind
from .rules import LifecycleRules
from .service import (
    CardRead,
    CardView,
    CertificateView,
    ChallengeView,
    LifecycleConfig,
    LifecycleService,
    NoticeView,
    RegistrationView,
    ResidentView,
    card_read_message,
)
from .states import CardState, Flow, NoticeKind, Platform, RegistrationState

__all__ = [
    "CardRead",
    "CardState",
    "CardView",
    "CertificateView",
    "ChallengeView",
    "Flow",
    "LifecycleConfig",
    "LifecycleError",
    "LifecycleRules",
    "LifecycleService",
    "NoticeKind",
    "NoticeView",
    "PinHasher",
    "PinKind",
    "Platform",
    "RegistrationState",
    "RegistrationView",
    "ResidentView",
    "card_read_message",
]
