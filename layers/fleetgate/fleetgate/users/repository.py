"""Users in DynamoDB. Email and username uniqueness are claims in the uniques table, written in one transaction.

- by id: the table key (login, and the token check of every request, read one item);
- every user, newest first (admins' list): the ``by_kind`` index (``kind`` = "user", ``created_key``);
- ``token_version``: raised by a password change or a deactivation; tokens carry the version they were
  issued under, so raising it revokes every earlier token.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection
from pynamodb.models import Model

from fleetgate.core.errors import Conflict
from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    BaseModel,
    Transaction,
    get_item,
    gsi,
    is_conditional_failure,
    meta,
    query_page,
    uniques,
)
from fleetgate.core.settings import cached, table_name
from fleetgate.users.records import User

KIND = "user"


class UserItem(BaseModel):
    class Meta:
        abstract = True

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    username = UnicodeAttribute()
    role = UnicodeAttribute()
    is_active = BooleanAttribute(default=True)
    permissions = ListAttribute(of=UnicodeAttribute, null=True)
    token_version = NumberAttribute(default=0)
    password_hash = UnicodeAttribute()
    kind = UnicodeAttribute(default=KIND)
    created_key = UnicodeAttribute(null=True)  # "<created_at>#<id>"
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


@cached
def _users() -> type[UserItem]:
    return type(
        "UserModel",
        (UserItem,),
        {
            "Meta": meta(table_name("USERS_TABLE")),
            "by_kind": gsi("by_kind", "kind", "created_key", AllProjection)(),
        },
    )


def email_key(email: str) -> str:
    return f"email#{email.lower()}"


def username_key(username: str) -> str:
    return f"username#{username.lower()}"


def _to_user(item: Model) -> User:
    values = {k: v for k, v in item.attribute_values.items() if k not in ("kind", "created_key")}
    values["permissions"] = sorted(values.get("permissions") or [])
    values["token_version"] = int(values.get("token_version") or 0)
    return User(**values)


def create(user: User) -> None:
    """Store a new user; :class:`Conflict` when the email or username is taken."""
    Users, Claims = _users(), uniques()
    item = Users(**user.fields(), created_key=f"{user.created_at}#{user.id}")
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


def get(user_id: str, *, consistent: bool = False) -> User | None:
    item = get_item_consistent(user_id) if consistent else get_item(_users(), user_id)
    return _to_user(item) if item is not None else None


def get_item_consistent(user_id: str) -> Model | None:
    Users = _users()
    try:
        return Users.get(user_id, consistent_read=True)
    except Users.DoesNotExist:
        return None


def find_by_login(login: str) -> User | None:
    """Find a user by email (when the login holds an ``@``) or by username. A user item is read either way, so
    a login for a missing account makes the same calls as one for a present account."""
    key = email_key(login) if "@" in login else username_key(login)
    Claims = uniques()
    try:
        owner_id = Claims.get(key, consistent_read=True).owner_id
    except Claims.DoesNotExist:
        get("-")  # no user has this id
        return None
    return get(owner_id)


def list_users(*, limit: int, cursor: str | None) -> Page[User]:
    return query_page(_users().by_kind.query, _to_user, limit=limit, cursor=cursor, scope="users:*", hash_key=KIND)


def set_password_hash(user_id: str, password_hash: str, updated_at: str, *, revoke: bool = False) -> int:
    """Store a new hash; ``revoke`` raises the token version too (a password change). Returns the version."""
    Users = _users()
    item = Users(id=user_id)
    actions = [Users.password_hash.set(password_hash), Users.updated_at.set(updated_at)]
    if revoke:
        actions.append(Users.token_version.add(1))
    item.update(actions=actions, condition=Users.id.exists())
    return int(item.token_version or 0)


def update_access(
    user_id: str,
    updated_at: str,
    *,
    role: str | None = None,
    permissions: list[str] | None = None,
    is_active: bool | None = None,
    revoke: bool = False,
) -> User | None:
    """Change role, permissions and/or the active flag (one UpdateItem); None when the user is gone."""
    Users = _users()
    item = Users(id=user_id)
    actions = [Users.updated_at.set(updated_at)]
    if role is not None:
        actions.append(Users.role.set(role))
    if permissions is not None:
        actions.append(Users.permissions.set(sorted(set(permissions))))
    if is_active is not None:
        actions.append(Users.is_active.set(is_active))
    if revoke:
        actions.append(Users.token_version.add(1))
    try:
        item.update(actions=actions, condition=Users.id.exists())
    except UpdateError as exc:
        if is_conditional_failure(exc):  # deleted meanwhile
            return None
        raise
    return _to_user(item)


def set_role(user_id: str, role: str, updated_at: str) -> None:
    update_access(user_id, updated_at, role=role)


def delete(user: User) -> bool:
    """Delete the user and free their email and username (one transaction); False when already gone."""
    Users, Claims = _users(), uniques()
    tx = Transaction(Users)
    tx.delete("user", Users(id=user.id), condition=Users.id.exists())
    mine = (Claims.owner_id == user.id) | Claims.key.does_not_exist()
    tx.delete("email", Claims(email_key(user.email)), condition=mine)
    tx.delete("username", Claims(username_key(user.username)), condition=mine)
    return not tx.run()
