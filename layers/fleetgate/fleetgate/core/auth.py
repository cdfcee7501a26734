"""Bearer tokens: issue and verify the HS256 JWTs every device-manager family route accepts; permissions.

A token says who (``sub``), the role when issued, and its user's token version (``ver``). Whether the user
still exists, is active and holds that role and which permissions is not taken from the token: the users
context checks it on every request (``fleetgate.users.authentication.authenticate``), so a change reaches tokens
already issued.
"""

import secrets
import time
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from fleetgate.core.errors import Unauthorized
from fleetgate.core.imports import hiding
from fleetgate.core.settings import get_auth_settings, token_ttl_seconds

Role = Literal["admin", "user"]

# What an admin grants (PUT /api/v1/users/{user_id}); an admin holds every one of them.
PERMISSIONS = ("mobivisor:read", "mobivisor:write", "microshare:read", "microshare:write")
ADMIN = "admin"  # a route's requirement that only the admin role meets (never a grantable permission)


def _jwt() -> Any:
    """PyJWT, imported on first use without cryptography (see core.imports): about 30 ms less for every
    authenticated cold start. PyJWT then offers only its HMAC algorithms: HS256 is all we issue and accept."""
    with hiding("cryptography"):
        import jwt
    return jwt


class Principal(NamedTuple):
    """Who calls, as every route sees it. A NamedTuple, not a frozen dataclass: cheaper to define at import (this
    module is on every authenticated cold start); nothing compares, iterates or serialises it."""

    user_id: str
    role: Role
    audience: str | None = None  # None: a device-manager login; else the API family whose login issued the token
    permissions: frozenset[str] = frozenset()
    token_version: int = 0  # the user's token version when the token was issued
    issued_at: int = 0
    token_id: str = ""  # ``jti``: this token among the user's (a family may keep one session past a change)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can(self, requirement: str) -> bool:
        """Whether this caller meets ``requirement``: a permission, or :data:`ADMIN`. Admins meet every one."""
        return self.is_admin or (requirement != ADMIN and requirement in self.permissions)


def issue_token(
    user_id: str,
    role: Role,
    *,
    audience: str | None = None,
    version: int = 0,
    permissions: tuple[str, ...] = (),
    ttl_seconds: int | None = None,
) -> tuple[str, int]:
    """Return ``(token, expires_in_seconds)``.

    A token with an ``audience`` (e.g. ``"microshare"``, issued by that family's own login) is accepted only by
    resolvers that name that audience; device-manager routes reject it. Such a token has no Fleetgate user
    behind it, so its ``permissions`` travel in it (``perm``). ``ttl_seconds`` overrides the setting for a
    family whose contract fixes a lifetime (mobile: 30 days).
    """
    jwt = _jwt()
    settings = get_auth_settings()
    now = int(time.time())
    ttl = ttl_seconds or token_ttl_seconds()
    claims: dict[str, object] = {
        "sub": user_id,
        "role": role,
        "ver": version,
        "iat": now,
        "exp": now + ttl,
        "iss": settings.issuer,
        "jti": secrets.token_hex(8),
    }
    if audience:
        claims["aud"] = audience
        claims["perm"] = list(permissions)
    return jwt.encode(claims, settings.secret, algorithm="HS256"), ttl


def verify_token(token: str, *, accept_audience: str | None = None, only_audience: bool = False) -> Principal:
    """A device-manager token (no ``aud``), or one whose ``aud`` is ``accept_audience``; anything else is 401.

    ``only_audience``: a family with accounts of its own (mobile) takes only ``accept_audience`` tokens, not the
    device manager's."""
    jwt = _jwt()
    settings = get_auth_settings()
    try:
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=["HS256"],
            issuer=settings.issuer,
            options={"require": ["sub", "exp", "iat", "iss"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token has expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("Could not validate credentials") from None
    role = claims.get("role")
    if role not in ("admin", "user") or not isinstance(claims["sub"], str):
        raise Unauthorized("Could not validate credentials")
    audience = claims.get("aud")
    if audience is not None and (accept_audience is None or audience != accept_audience):
        raise Unauthorized("Could not validate credentials")
    if audience is None and only_audience:
        raise Unauthorized("Could not validate credentials")
    version, issued = claims.get("ver", 0), claims.get("iat")
    granted = claims.get("perm") if audience is not None else None
    if type(version) is not int or not isinstance(issued, int):  # a bool is not a version
        raise Unauthorized("Could not validate credentials")
    return Principal(
        user_id=claims["sub"],
        role=role,
        audience=audience,
        permissions=frozenset(p for p in granted or () if p in PERMISSIONS),
        token_version=version,
        issued_at=issued,
        token_id=str(claims.get("jti") or ""),
    )


def principal_from_headers(
    headers: Mapping[str, str] | None, *, accept_audience: str | None = None, only_audience: bool = False
) -> Principal:
    """Read ``Authorization: Bearer <jwt>`` (header names are case-insensitive)."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "authorization"), None)
    if not value:
        raise Unauthorized("Not authenticated")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Not authenticated")
    return verify_token(token.strip(), accept_audience=accept_audience, only_audience=only_audience)
