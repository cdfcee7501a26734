"""The check every authenticated request makes (:func:`authenticate`), apart from the rest of the users context.

Every authenticated function imports this module, and only it of the users context: not logins, registration,
admins' user management, the login throttle or the API's user models (``users.service``, ``users.schemas``).

A token's signature and expiry are checked without DynamoDB; then the user's record says whether the token still
stands (the user exists, is active, and the token's version is the user's current ``token_version``) and what the
caller may do (the record's role and permissions, not the token's). Records are kept in this instance's memory for
:data:`CHECK_SECONDS` (60 s), so a request costs at most one extra read (a GetItem) per user per instance per
minute; a token newer than the kept record (a new login, a password change elsewhere) reads it again. Hence:

- deactivating, deleting, or changing a user's role or permissions reaches every instance within 60 s;
- a password change (and a deactivation) raises the token version in the same write as the change, so every
  token issued before it is refused at once by every instance that reads the record from then on: the
  instance that served the change (it drops its copy), any instance without a copy of that user, and every
  instance once its copy is 60 s old. "At once" is therefore exact for one instance (and for the local
  cloud, one process), and at most 60 s for an instance that served the user in the minute before the change:
  no instance can learn of a change it does not read, and reading on every request is what the cache saves.
"""

import time
from typing import NamedTuple

from fleetgate.core.auth import PERMISSIONS, Principal, principal_from_headers
from fleetgate.core.errors import Unauthorized
from fleetgate.core.settings import cached
from fleetgate.users import repository
from fleetgate.users.records import User

CHECK_SECONDS = 60.0
_CACHE_MAX = 4096


class _Known(NamedTuple):
    user: User | None  # None: no such user (deleted)
    read_at: float


@cached
def _known() -> dict[str, _Known]:
    return {}


def remember(user: User) -> None:
    """Keep ``user`` as this instance's current copy (a login, a password change just read or wrote it)."""
    known = _known()
    if len(known) >= _CACHE_MAX:
        for key in list(known)[: _CACHE_MAX // 4]:  # oldest first (insertion order)
            known.pop(key, None)
    known.pop(user.id, None)
    known[user.id] = _Known(user, time.time())


def forget(user_id: str) -> None:
    """Drop this instance's copy of the user (changed or deleted here): the next request reads the record."""
    _known().pop(user_id, None)


def _current(claims: Principal) -> User | None:
    now = time.time()
    entry = _known().get(claims.user_id)
    stale = (
        entry is None
        or now - entry.read_at >= CHECK_SECONDS
        or claims.issued_at > entry.read_at  # a token newer than what we know of its user
        or (entry.user is not None and claims.token_version > entry.user.token_version)
    )
    if not stale:
        return entry.user  # type: ignore[union-attr]
    user = repository.get(claims.user_id, consistent=True)
    if user is None:
        _known().pop(claims.user_id, None)
        _known()[claims.user_id] = _Known(None, now)
    else:
        remember(user)
    return user


def authenticate(
    headers: dict[str, str] | None, *, accept_audience: str | None = None, only_audience: bool = False
) -> Principal:
    """The caller of a request: its bearer token checked, then its user's current record (see the module)."""
    claims = principal_from_headers(headers, accept_audience=accept_audience, only_audience=only_audience)
    if claims.audience is not None:
        return claims  # another family's own login (Microshare, mobile): no Fleetgate user behind it
    user = _current(claims)
    if user is None or user.token_version != claims.token_version:
        raise Unauthorized("Could not validate credentials")
    if not user.is_active:
        raise Unauthorized("Inactive user")
    return Principal(
        user_id=user.id,
        role=user.role,  # type: ignore[arg-type]
        permissions=frozenset(p for p in user.permissions if p in PERMISSIONS),
        token_version=claims.token_version,
        issued_at=claims.issued_at,
    )
