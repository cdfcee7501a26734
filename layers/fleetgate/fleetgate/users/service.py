"""Registration, login and admin bootstrap. No HTTP here: plain values in, models or domain errors out."""

from __future__ import annotations

from fleetgate.core.auth import issue_token
from fleetgate.core.errors import Conflict, Unauthorized
from fleetgate.core.ids import new_id, now_iso
from fleetgate.core.secrets import hash_secret, needs_rehash, verify_secret
from fleetgate.users import repository
from fleetgate.users.schemas import RegisterRequest, TokenOut, User, UserOut


def register(request: RegisterRequest, *, role: str = "user") -> UserOut:
    now = now_iso()
    user = User(
        id=new_id(),
        email=request.email,
        username=request.username,
        role=role,
        password_hash=hash_secret(request.password.get_secret_value()),
        created_at=now,
        updated_at=now,
    )
    repository.create(user)
    return UserOut.of(user)


def login(username: str, password: str) -> TokenOut:
    """``username`` may be the email or the username. Wrong user and wrong password look the same."""
    user = repository.find_by_login(username.strip())
    matches = verify_secret(user.password_hash if user else None, password)  # the same cost without a user
    if user is None or not matches:
        raise Unauthorized("Incorrect username or password")
    if not user.is_active:
        raise Unauthorized("Inactive user")
    if needs_rehash(user.password_hash):
        repository.set_password_hash(user.id, hash_secret(password), now_iso())
    token, expires_in = issue_token(user.id, user.role)  # type: ignore[arg-type]
    return TokenOut(access_token=token, expires_in=expires_in)


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
