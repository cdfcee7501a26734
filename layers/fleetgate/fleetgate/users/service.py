"""Accounts, logins and admins' user management.

No HTTP here: plain values in, models or domain errors out.

**Token check**: :func:`authenticate`, in ``users.authentication`` (every authenticated function imports
that module alone); this module drops or refreshes its copy of a user it changes.

**Login throttling:** failed attempts are counted per account (the user, whose email and username share one
count; the login as typed, case-folded, when no user has it) and per source address (fixed windows in the
rate-limits table); at the limit, 429 with Retry-After until the window ends, whether the password is right or
not. An unknown account and a wrong password are counted, answered and timed alike.
"""

from __future__ import annotations

from fleetgate.core.auth import ADMIN, PERMISSIONS, Principal, issue_token
from fleetgate.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from fleetgate.core.ids import new_id, now_iso
from fleetgate.core.pagination import Page
from fleetgate.core.secrets import hash_secret, needs_rehash, verify_secret
from fleetgate.core.settings import allow_registration
from fleetgate.ratelimit import service as ratelimit
from fleetgate.ratelimit.service import Limit
from fleetgate.users import repository
from fleetgate.users.authentication import forget as _forget
from fleetgate.users.authentication import remember as _remember
from fleetgate.users.records import User
from fleetgate.users.schemas import PasswordChange, RegisterRequest, TokenOut, UserCreate, UserOut, UserUpdate

LOGIN_ACCOUNT_LIMIT = Limit(scope="login:account", maximum=10, window_seconds=900)
LOGIN_ADDRESS_LIMIT = Limit(scope="login:address", maximum=50, window_seconds=900)
_THROTTLED = "Too many failed logins: try again later"


# ------------------------------------------------------------------ registration and login
def register(request: RegisterRequest) -> UserOut:
    """Self-service registration, when the deployment allows it (AllowRegistration)."""
    if not allow_registration():
        raise Forbidden("Registration is closed: ask an administrator for an account")
    return _create(request, role="user", permissions=[])


def _create(request: RegisterRequest, *, role: str, permissions: list[str]) -> UserOut:
    now = now_iso()
    user = User(
        id=new_id(),
        email=request.email,
        username=request.username,
        role=role,
        permissions=sorted(set(permissions)),
        password_hash=hash_secret(request.password.get_secret_value()),
        created_at=now,
        updated_at=now,
    )
    repository.create(user)
    return UserOut.of(user)


def _checked_password(login: str, password: str, source_ip: str | None, *, known: User | None = None) -> User:
    """The user whose password this is, under the throttle; a miss counts against the account and the address.

    The account is the user (so its email and its username share one count), or the login as typed when no
    user has it; either way the same calls are made."""
    user = known or repository.find_by_login(login.strip())
    keys = [(LOGIN_ACCOUNT_LIMIT, user.id if user else login.strip().casefold())]
    if source_ip:
        keys.append((LOGIN_ADDRESS_LIMIT, source_ip))
    for limit, key in keys:
        ratelimit.check(limit, key, message=_THROTTLED)
    matches = verify_secret(user.password_hash if user else None, password)  # the same cost without a user
    if user is None or not matches:
        for limit, key in keys:
            ratelimit.hit(limit, key, message=_THROTTLED)
        raise Unauthorized("Incorrect username or password")
    return user


def login(username: str, password: str, source_ip: str | None = None) -> TokenOut:
    """``username`` may be the email or the username. Wrong user and wrong password look the same."""
    user = _checked_password(username, password, source_ip)
    if not user.is_active:
        raise Unauthorized("Inactive user")
    if needs_rehash(user.password_hash):
        repository.set_password_hash(user.id, hash_secret(password), now_iso())
    _remember(user)
    return _token(user)


def _token(user: User) -> TokenOut:
    token, expires_in = issue_token(user.id, user.role, version=user.token_version)  # type: ignore[arg-type]
    return TokenOut(access_token=token, expires_in=expires_in)


def change_password(who: Principal, change: PasswordChange, source_ip: str | None = None) -> TokenOut:
    """The caller's own password. Every token issued before (this one included) stops working; the answer
    is a new token. The current password is checked under the login throttle."""
    user = repository.get(who.user_id, consistent=True)
    if user is None:
        raise Unauthorized("Could not validate credentials")
    _checked_password(user.username, change.current_password.get_secret_value(), source_ip, known=user)
    now = now_iso()
    version = repository.set_password_hash(
        user.id, hash_secret(change.new_password.get_secret_value()), now, revoke=True
    )
    changed = user._replace(token_version=version, updated_at=now)
    _remember(changed)
    return _token(changed)


def create_admin(email: str, username: str, password: str) -> tuple[UserOut, bool]:
    """Create an admin, or promote the existing user with that email. Returns ``(user, created)``."""
    request = RegisterRequest(email=email, username=username, password=password)
    try:
        return _create(request, role="admin", permissions=[]), True
    except Conflict:
        existing = repository.find_by_login(request.email)
        if existing is None or existing.username.lower() != request.username.lower():
            raise
        repository.set_role(existing.id, "admin", now_iso())
        _forget(existing.id)
        return UserOut.of(existing._replace(role="admin")), False


def local_token(user_id: str, role: str) -> str:
    """A token for ``user_id`` (the local cloud's ``invoke``; no route calls this): the user is created with every
    permission when missing, its role set when different. Its password is unusable: it never logs in."""
    user = repository.get(user_id, consistent=True)
    if user is None:
        now = now_iso()
        user = User(
            id=user_id,
            email=f"{user_id}@localcloud.invalid",
            username=user_id,
            role=role,
            permissions=list(PERMISSIONS),
            password_hash="!",
            created_at=now,
            updated_at=now,
        )
        repository.create(user)
    elif user.role != role:
        user = repository.update_access(user.id, now_iso(), role=role) or user
    return _token(user).access_token


# ------------------------------------------------------------------ admins' user management
def _admin(who: Principal) -> None:
    if not who.can(ADMIN):
        raise Forbidden("This needs the admin role")


def create_user(who: Principal, request: UserCreate) -> UserOut:
    _admin(who)
    return _create(request, role=request.role, permissions=list(request.permissions))


def list_users(who: Principal, *, limit: int, cursor: str | None) -> Page[UserOut]:
    _admin(who)
    page = repository.list_users(limit=limit, cursor=cursor)
    return Page(items=[UserOut.of(u) for u in page.items], next_cursor=page.next_cursor)


def get_user(who: Principal, user_id: str) -> UserOut:
    _admin(who)
    user = repository.get(user_id)
    if user is None:
        raise NotFound("User not found")
    return UserOut.of(user)


def update_user(who: Principal, user_id: str, change: UserUpdate) -> UserOut:
    """Role, permissions, active flag. An admin cannot demote or deactivate themselves (nobody might be left to
    undo it). Deactivating raises the token version, so reactivating does not bring old tokens back."""
    _admin(who)
    user = repository.get(user_id, consistent=True)
    if user is None:
        raise NotFound("User not found")
    if user.id == who.user_id and (change.role == "user" or change.is_active is False):
        raise Conflict("You cannot demote or deactivate your own account")
    updated = repository.update_access(
        user.id,
        now_iso(),
        role=change.role,
        permissions=list(change.permissions) if change.permissions is not None else None,
        is_active=change.is_active,
        revoke=user.is_active and change.is_active is False,
    )
    if updated is None:
        raise NotFound("User not found")
    _forget(user.id)
    return UserOut.of(updated)


def delete_user(who: Principal, user_id: str) -> None:
    """The account and its email and username claims (both free to register again). What the user owned
    (devices, flows, ...) stays, visible to admins."""
    _admin(who)
    if user_id == who.user_id:
        raise Conflict("You cannot delete your own account")
    user = repository.get(user_id, consistent=True)
    if user is None or not repository.delete(user):
        raise NotFound("User not found")
    _forget(user.id)
