"""Bearer tokens: issue and verify the HS256 JWTs every device-manager family route accepts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal, Mapping

from fleetgate.core.errors import Unauthorized
from fleetgate.core.settings import get_settings

Role = Literal["admin", "user"]


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def issue_token(user_id: str, role: Role) -> tuple[str, int]:
    """Return ``(token, expires_in_seconds)``."""
    import jwt

    settings = get_settings()
    now = int(time.time())
    ttl = settings.jwt_ttl_seconds
    claims = {"sub": user_id, "role": role, "iat": now, "exp": now + ttl, "iss": settings.jwt_issuer}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256"), ttl


def verify_token(token: str) -> Principal:
    import jwt

    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token has expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("Could not validate credentials") from None
    role = claims.get("role")
    if role not in ("admin", "user") or not isinstance(claims["sub"], str):
        raise Unauthorized("Could not validate credentials")
    return Principal(user_id=claims["sub"], role=role)


def principal_from_headers(headers: Mapping[str, str] | None) -> Principal:
    """Read ``Authorization: Bearer <jwt>`` (header names are case-insensitive)."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "authorization"), None)
    if not value:
        raise Unauthorized("Not authenticated")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Not authenticated")
    return verify_token(token.strip())
