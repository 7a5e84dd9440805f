"""An age-gated shop (alcohol, minimum age 20) built on ``myna_rp``: ``verify_age()`` on an iPhone
attribute proof (web DC API and in-app), the JPKI fallback for Android with explicit consent, and nothing
kept but yes/no, the evidence type, the time and the order id.

Serve: ``uvicorn --factory examples.age_check.app:create_app`` (see README.md in this folder).
"""

from .app import ShopDependencies, build_shop, create_app
from .errors import (
    AgeCheckRequiredError,
    AgeRequirementNotMetError,
    CheckoutAlreadyDecidedError,
    FallbackDeclinedError,
    MalformedRequestError,
    OrderStoreUnavailableError,
    ShopError,
    UnknownCheckoutError,
)
from .orders import AgeCheckRecord, MemoryOrderStore, Order, OrderStatus, OrderStore, SQLiteOrderStore
from .problems import PROBLEM_TYPE_BASE, problem_type
from .service import PURPOSE_APPLE, PURPOSE_DCAPI, PURPOSE_JPKI, AgeCheckShop, AppleRequest, DCAPIRequest
from .settings import ShopSettings
from .trust import PlatformClock, ShopTrust, build_trust, trust_from_platform

__all__ = [
    "PROBLEM_TYPE_BASE",
    "PURPOSE_APPLE",
    "PURPOSE_DCAPI",
    "PURPOSE_JPKI",
    "AgeCheckRecord",
    "AgeCheckRequiredError",
    "AgeCheckShop",
    "AgeRequirementNotMetError",
    "AppleRequest",
    "CheckoutAlreadyDecidedError",
    "DCAPIRequest",
    "FallbackDeclinedError",
    "MalformedRequestError",
    "MemoryOrderStore",
    "Order",
    "OrderStatus",
    "OrderStore",
    "OrderStoreUnavailableError",
    "PlatformClock",
    "SQLiteOrderStore",
    "ShopDependencies",
    "ShopError",
    "ShopSettings",
    "ShopTrust",
    "UnknownCheckoutError",
    "build_shop",
    "build_trust",
    "create_app",
    "problem_type",
    "trust_from_platform",
]
