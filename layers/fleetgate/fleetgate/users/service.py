"""Registration, login and admin bootstrap. No HTTP here: plain values in, models or domain errors out."""

from __future__ import annotations

from fleetgate.core.auth import issue_token
from fleetgate.core.errors import Conflict, Unauthorized
from fleetgate.core.ids import new_id, now_iso
from fleetgate.core.settings import cached
from fleetgate.users import repository
from fleetgate.users.schemas import RegisterRequest, TokenOut, User, UserOut


@cached
def _hasher():
    """argon2id at OWASP's recommended minimum (19 MiB, t=2, p=1): ~25 ms here, not 1-2 s on a small Lambda."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@cached
def _dummy_hash() -> str:
    return _hasher().hash("fleetgate-timing-equaliser")


def register(request: RegisterRequest, *, role: str = "user") -> UserOut:
    now = now_iso()
    user = User(
        id=new_id(),
        email=request.email,
        username=request.username,
        role=role,
        password_hash=_hasher().hash(request.password.get_secret_value()),
        created_at=now,
        updated_at=now,
    )
    repository.create(user)
    return UserOut.of(user)


def login(username: str, password: str) -> TokenOut:
    """``username`` may be the email or the username. Wrong user and wrong password look the same."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    user = repository.find_by_login(username.strip())
    if user is None:
        _verify_quietly(_dummy_hash(), password)  # same cost as a real check: no user enumeration by timing
        raise Unauthorized("Incorrect username or password")
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("Incorrect username or password") from None
    if not user.is_active:
        raise Unauthorized("Inactive user")
    if hasher.check_needs_rehash(user.password_hash):
        repository.set_password_hash(user.id, hasher.hash(password), now_iso())
    token, expires_in = issue_token(user.id, user.role)  # type: ignore[arg-type]
    return TokenOut(access_token=token, expires_in=expires_in)


def _verify_quietly(password_hash: str, password: str) -> None:
    from argon2.exceptions import VerificationError

    try:
        _hasher().verify(password_hash, password)
    except VerificationError:
        pass


def create_admin(email: str, username: str, password: str) -> tuple[UserOut, bool]:
    """Create an admin, or promote the existing user with that email. Returns ``(user, created)``."""
    request = RegisterRequest(email=email, username=username, password=password)
    try:
        return register(request, role="admin"), True
    except Conflict:
        existing = repository.find_by_login(request.email)
        if existing is None or existing.username.lower() != request.username.lower():
            raise
        repository.set_role(existing.id, "admin", now_iso())
        return UserOut.of(existing.model_copy(update={"role": "admin"})), False
