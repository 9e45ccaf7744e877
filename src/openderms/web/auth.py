"""Who is calling: bearer tokens (API) and the portal's cookie, both resolved to an ``Actor``.

A token is an opaque random string issued by ``openderms token create``; the token repository
(the SQL store, or ``InMemoryTokenRepository`` in tests) maps it to an actor. The API takes
only ``Authorization: Bearer <token>``; the portal keeps the same token in an HttpOnly,
SameSite=Strict cookie set by its login page (so the API itself is not open to CSRF).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from openderms.registry.ports import Actor

COOKIE = "openderms_token"
#: the actor behind ``Settings.bootstrap_operator_token``
BOOTSTRAP_OPERATOR = Actor(id="operator", role="operator")


class TokenRepository(Protocol):
    """Issued tokens and the actor each one stands for."""

    def create(self, actor: Actor) -> str:
        """Issue a new token for ``actor`` and return it (shown once)."""
        ...

    def resolve(self, token: str) -> Actor | None:
        """The actor of ``token``, or None for an unknown token."""
        ...


class InMemoryTokenRepository:
    """Tokens in a dict (tests, and a store-less run)."""

    def __init__(self) -> None:
        self._actors: dict[str, Actor] = {}
        self._lock = threading.Lock()

    def create(self, actor: Actor) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._actors[token] = actor
        return token

    def resolve(self, token: str) -> Actor | None:
        return self._actors.get(token)


class NotAuthenticatedError(Exception):
    """No credentials, or credentials that resolve to no one (HTTP 401)."""


class LoginRequiredError(Exception):
    """A portal page was asked for without a valid login cookie (redirect to the login page)."""


class Authenticator:
    """Resolves a presented token, honouring the optional bootstrap operator token."""

    def __init__(self, tokens: TokenRepository, bootstrap_operator_token: str | None) -> None:
        self.tokens = tokens
        self._bootstrap = bootstrap_operator_token

    def actor(self, token: str | None) -> Actor | None:
        if not token:
            return None
        if self._bootstrap and hmac.compare_digest(token, self._bootstrap):
            return BOOTSTRAP_OPERATOR
        return self.tokens.resolve(token)


def authenticator(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.authenticator
    return auth


_bearer = HTTPBearer(auto_error=False, description="a token from `openderms token create`")


def api_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The caller of an API endpoint (401 when missing or unknown)."""
    token = credentials.credentials if credentials is not None else None
    actor = authenticator(request).actor(token)
    if actor is None:
        raise NotAuthenticatedError(
            "a valid bearer token is required" if token else "no bearer token given"
        )
    return actor


def portal_actor(request: Request) -> Actor:
    """The logged-in portal user (redirects to the login page when there is none)."""
    actor = authenticator(request).actor(request.cookies.get(COOKIE))
    if actor is None:
        raise LoginRequiredError(request.url.path)
    return actor


ApiActor = Annotated[Actor, Depends(api_actor)]
PortalActor = Annotated[Actor, Depends(portal_actor)]
