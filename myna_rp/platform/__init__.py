"""Platform operator mode (プラットフォーム事業者): verification through a certified operator's API.

* :class:`PlatformClient` / :class:`AsyncPlatformClient` — httpx clients (sync / async) over one sans-I/O
  core (:mod:`myna_rp.platform._core`): signature and CMS verification returning the same
  :class:`~myna_rp.identity.IdentityVerification` as direct verification (``mode=PLATFORM``), logins
  (:class:`~myna_rp.identity.AuthenticationVerification`), certificate status (現況確認), the latest
  basic four attributes of a consenting holder.
* :class:`PrivateKeyJWT` / :class:`APIKey` — client credentials; :class:`RetryPolicy` — retries of
  idempotent calls.
* :class:`WebhookVerifier` — the platform's signed webhooks (Standard Webhooks scheme, replay window;
  ``verify(..., mark=False)`` + :meth:`WebhookVerifier.mark_processed` to record an event only once it is
  stored).
* :class:`MynaOIDCClient` / :class:`AsyncMynaOIDCClient` — OpenID Connect relying party for the Digital
  Authentication App (デジタル認証アプリ) on authlib: login with PKCE and private_key_jwt, and document
  signing through sign transactions (:func:`verify_signature_result` gives ``mode=OIDC``).

See docs/platform_operator.md and docs/oidc.md.
"""

from ._core import (
    APIKey,
    CertificateStatusResult,
    Credentials,
    PlatformChallenge,
    PrivateKeyJWT,
    RetryPolicy,
)
from .client import AsyncPlatformClient, PlatformClient
from .oidc import (
    AsyncMynaOIDCClient,
    IDTokenClaims,
    LoginState,
    MynaOIDCClient,
    OIDCAcr,
    OIDCLogin,
    OIDCProviderError,
    OIDCScope,
    OIDCSettings,
    PartialAttributes,
    ProviderMetadata,
    ServiceTokenRefusedError,
    SignatureResult,
    SignTransaction,
    digest_info_sha256,
    verify_signature_result,
)
from .webhook import (
    MemorySeenEventStore,
    ProcessedEventStore,
    SeenEventStore,
    WebhookEvent,
    WebhookEventType,
    WebhookVerifier,
)

__all__ = [
    "APIKey",
    "AsyncMynaOIDCClient",
    "AsyncPlatformClient",
    "CertificateStatusResult",
    "Credentials",
    "IDTokenClaims",
    "LoginState",
    "MemorySeenEventStore",
    "MynaOIDCClient",
    "OIDCAcr",
    "OIDCLogin",
    "OIDCProviderError",
    "OIDCScope",
    "OIDCSettings",
    "PartialAttributes",
    "PlatformChallenge",
    "PlatformClient",
    "PrivateKeyJWT",
    "ProcessedEventStore",
    "ProviderMetadata",
    "RetryPolicy",
    "SeenEventStore",
    "ServiceTokenRefusedError",
    "SignTransaction",
    "SignatureResult",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookVerifier",
    "digest_info_sha256",
    "verify_signature_result",
]
