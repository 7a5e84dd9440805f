"""Errors of the mock OpenID provider, by where they are answered.

* :class:`OAuthError` — the token endpoint: an RFC 6749 §5.2 error (``error``, ``error_description``),
  HTTP 400 (401 for ``invalid_client``), sent as a problem document carrying those members (the same
  convention as the platform API's token endpoint, :func:`mock_platform.rp_auth.invalid_client_response`).
* :class:`AuthorizationRedirectError` — the authorization endpoint once the client and its redirect URI
  are known good: the user agent is sent back to the RP with ``error`` in the query (RFC 6749 §4.1.2.1,
  OIDC Core §3.1.2.6).
* :class:`OIDCProblemError` — everything else (an untrustworthy redirect URI, the holder's app, the sign
  transaction API, userinfo): an RFC 9457 problem with a stable ``code``. :class:`BearerTokenError` adds the
  ``WWW-Authenticate: Bearer`` challenge of RFC 6750 §3.

Messages never contain personal attributes, PINs or tokens.
"""

from __future__ import annotations

from typing import Any

from ..routes.problems import ProblemError


class OAuthError(Exception):
    """An error answer of the token endpoint (RFC 6749 §5.2).

    Attributes:
        error: the registered error code (``invalid_request``, ``invalid_client``, ``invalid_grant``,
            ``unauthorized_client``, ``unsupported_grant_type``, ``invalid_scope``).
        description: a human sentence (``error_description``), ASCII, no personal data.
        status_code: 401 for ``invalid_client``, else 400.
    """

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status_code = 401 if error == "invalid_client" else 400


class AuthorizationRedirectError(Exception):
    """An authorization request error reported to the RP's (verified) redirect URI.

    Attributes:
        error: ``invalid_request``, ``unsupported_response_type``, ``invalid_scope``, ``access_denied``,
            ``login_required``, ``request_not_supported``, ``request_uri_not_supported`` …
        description: ``error_description``.
        redirect_uri, state: where to send it (set once the redirect URI is verified).
    """

    def __init__(
        self, error: str, description: str, *, redirect_uri: str | None = None, state: str | None = None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state

    def to(self, redirect_uri: str, state: str | None) -> AuthorizationRedirectError:
        """The same error, addressed to ``redirect_uri`` (with the request's ``state``)."""
        return AuthorizationRedirectError(
            self.error, self.description, redirect_uri=redirect_uri, state=state
        )


class OIDCProblemError(ProblemError):
    """A problem+json answer (RFC 9457) of the provider; ``code`` is stable, ``extra`` adds members."""

    def __init__(self, status: int, code: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(status, code, title, detail, **extra)


class BearerTokenError(OIDCProblemError):
    """A refused bearer token (RFC 6750 §3.1): 401 ``invalid_token`` / 403 ``insufficient_scope``.

    Attributes:
        oauth_error: the RFC 6750 error code put in ``WWW-Authenticate``.
    """

    def __init__(self, oauth_error: str, detail: str) -> None:
        status = 403 if oauth_error == "insufficient_scope" else 401
        code = "INSUFFICIENT_SCOPE" if status == 403 else "INVALID_TOKEN"
        title = "Insufficient scope" if status == 403 else "Invalid access token"
        super().__init__(status, code, title, detail)
        self.oauth_error = oauth_error

    @property
    def www_authenticate(self) -> str:
        return f'Bearer realm="myna-mock", error="{self.oauth_error}"'


__all__ = ["AuthorizationRedirectError", "BearerTokenError", "OAuthError", "OIDCProblemError"]
