"""An OpenID provider shaped like the Digital Authentication App (デジタル認証アプリ).

* :mod:`.service` — :class:`OIDCService`: discovery, JWKS, authorization code flow with PKCE S256,
  private_key_jwt, ES256 ID tokens with pairwise ``sub``, UserInfo, sign transactions, and the holder's
  interaction (approve / decline);
* :mod:`.routes` — the HTTP layer (mounted under the issuer's path, ``/oidc`` by default);
* :mod:`.claims` — scopes, claims, ``acr`` values;
* :mod:`.keys` — the ES256 signing keys kept in the database;
* :mod:`.models` — its tables (imported here so that ``create_all`` sees them);
* :mod:`.errors` — OAuth errors, redirect errors, problems.

The holder's side (the app on a phone, with a card or the phone's own certificates) is
:mod:`mock_platform.device.auth_app`.
"""

from . import models as models
from .claims import Acr, Scope
from .errors import AuthorizationRedirectError, BearerTokenError, OAuthError, OIDCProblemError
from .keys import ProviderKeys
from .service import (
    SHA256_DIGEST_INFO_PREFIX,
    Approval,
    AuthorizationStarted,
    InteractionView,
    OIDCConfig,
    OIDCService,
    SignRequestView,
    SignTransactionView,
    interaction_message,
)

__all__ = [
    "SHA256_DIGEST_INFO_PREFIX",
    "Acr",
    "Approval",
    "AuthorizationRedirectError",
    "AuthorizationStarted",
    "BearerTokenError",
    "InteractionView",
    "OAuthError",
    "OIDCConfig",
    "OIDCProblemError",
    "OIDCService",
    "ProviderKeys",
    "Scope",
    "SignRequestView",
    "SignTransactionView",
    "interaction_message",
    "models",
]
