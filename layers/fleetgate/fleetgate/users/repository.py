"""Users in DynamoDB. Email and username uniqueness are claims in the uniques table, written in one transaction."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute

from fleetgate.core.errors import Conflict
from fleetgate.core.repository import BaseModel, Transaction, meta, uniques
from fleetgate.core.settings import cached, table_name
from fleetgate.users.schemas import User


class UserItem(BaseModel):
    class Meta:
        abstract = True

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    username = UnicodeAttribute()
    role = UnicodeAttribute()
    is_active = BooleanAttribute(default=True)
    password_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


@cached
def _users() -> type[UserItem]:
    return type("UserModel", (UserItem,), {"Meta": meta(table_name("USERS_TABLE"))})


def email_key(email: str) -> str:
    return f"email#{email.lower()}"


def username_key(username: str) -> str:
    return f"username#{username.lower()}"


def _to_user(item: UserItem) -> User:
    return User(**item.attribute_values)


def create(user: User) -> None:
    """Store a new user; :class:`Conflict` when the email or username is taken."""
    Users, Claims = _users(), uniques()
    item = Users(**user.model_dump())
    claims = [Claims(email_key(user.email), owner_id=user.id), Claims(username_key(user.username), owner_id=user.id)]
    tx = Transaction(Users)
    tx.save("user", item, condition=Users.id.does_not_exist())
    tx.save("email", claims[0], condition=Claims.key.does_not_exist())
    tx.save("username", claims[1], condition=Claims.key.does_not_exist())
    failed = tx.run()
    if "email" in failed:
        raise Conflict("Email already registered", field="email")
    if failed:
        raise Conflict("Username already taken", field="username")


def get(user_id: str) -> User | None:
    try:
        return _to_user(_users().get(user_id))
    except _users().DoesNotExist:
        return None


def find_by_login(login: str) -> User | None:
    """Find a user by email (when the login holds an ``@``) or by username."""
    key = email_key(login) if "@" in login else username_key(login)
    Claims = uniques()
    try:
        claim = Claims.get(key, consistent_read=True)
    except Claims.DoesNotExist:
        return None
    return get(claim.owner_id)


def set_password_hash(user_id: str, password_hash: str, updated_at: str) -> None:
    Users = _users()
    Users(id=user_id).update(
        actions=[Users.password_hash.set(password_hash), Users.updated_at.set(updated_at)], condition=Users.id.exists()
    )


def set_role(user_id: str, role: str, updated_at: str) -> None:
    Users = _users()
    Users(id=user_id).update(
        actions=[Users.role.set(role), Users.updated_at.set(updated_at)], condition=Users.id.exists()
    )
