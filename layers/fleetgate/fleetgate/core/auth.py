"""Bearer tokens: issue and verify the HS256 JWTs every device-manager family route accepts."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from fleetgate.core.errors import Unauthorized
from fleetgate.core.settings import get_settings

Role = Literal["admin", "user"]


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    audience: str | None = None  # None: a device-manager login; else the API family whose login issued the token
    version: int | None = None  # the account's token version when issued (``ver``), for families that revoke tokens

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def issue_token(
    user_id: str,
    role: Role,
    *,
    audience: str | None = None,
    ttl_seconds: int | None = None,
    version: int | None = None,
) -> tuple[str, int]:
    """Return ``(token, expires_in_seconds)``.

    A token with an ``audience`` (e.g. ``"microshare"``, issued by that family's own login) is accepted only by
    resolvers that name that audience; device-manager routes reject it. ``ttl_seconds`` overrides the
    setting for families whose contract fixes a lifetime; ``version`` (claim ``ver``) lets the issuer end every
    token of an account issued before a change (it compares ``Principal.version`` with the account's).
    """
    import jwt

    settings = get_settings()
    now = int(time.time())
    ttl = ttl_seconds or settings.jwt_ttl_seconds
    claims: dict[str, object] = {"sub": user_id, "role": role, "iat": now, "exp": now + ttl, "iss": settings.jwt_issuer}
    if audience:
        claims["aud"] = audience
    if version is not None:
        claims["ver"] = version
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256"), ttl


def verify_token(token: str, *, accept_audience: str | None = None, only_audience: bool = False) -> Principal:
    """A device-manager token (no ``aud``), or one whose ``aud`` is ``accept_audience``; anything else is 401.

    ``only_audience``: a family with tokens of its own (mobile) takes only ``accept_audience`` tokens, not the
    device manager's."""
    import jwt

    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            issuer=settings.jwt_issuer,
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
    version = claims.get("ver")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise Unauthorized("Could not validate credentials")
    return Principal(user_id=claims["sub"], role=role, audience=audience, version=version)


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
