"""fleetgate.users.repository on the real engine: transactional uniqueness claims and lookups."""

from __future__ import annotations

import uuid

import pytest

from fleetgate.core.errors import Conflict
from fleetgate.core.ids import now_iso
from fleetgate.users import repository
from fleetgate.users.schemas import User

pytestmark = pytest.mark.dynamodb_local


def _user(**overrides) -> User:
    tag = uuid.uuid4().hex[:10]
    now = now_iso()
    fields = {
        "id": str(uuid.uuid4()),
        "email": f"Ada-{tag}@Example.com",
        "username": f"Ada_{tag}",
        "role": "user",
        "permissions": [],
        "password_hash": "$argon2id$not-a-real-hash",
        "created_at": now,
        "updated_at": now,
    }
    return User(**{**fields, **overrides})


def test_given_a_new_user_when_created_then_found_by_email_and_username_in_any_case():
    user = _user()

    repository.create(user)

    assert repository.get(user.id) == user
    assert repository.find_by_login(user.email.upper()) == user
    assert repository.find_by_login(user.username.lower()) == user


def test_given_a_taken_email_when_creating_then_conflict_on_email_and_nothing_half_written():
    first = _user()
    repository.create(first)
    second = _user(email=first.email.lower())

    with pytest.raises(Conflict) as caught:
        repository.create(second)

    assert caught.value.field == "email"
    assert repository.get(second.id) is None
    assert repository.find_by_login(second.username) is None  # the username claim was rolled back too


def test_given_a_taken_username_when_creating_then_conflict_on_username():
    first = _user()
    repository.create(first)

    with pytest.raises(Conflict) as caught:
        repository.create(_user(username=first.username.upper()))

    assert caught.value.field == "username"


def test_given_an_unknown_login_when_finding_then_none():
    assert repository.find_by_login(f"nobody-{uuid.uuid4().hex}@example.com") is None
    assert repository.find_by_login(f"nobody_{uuid.uuid4().hex[:10]}") is None


def test_given_a_user_when_setting_role_and_password_hash_then_both_are_stored():
    user = _user()
    repository.create(user)

    repository.set_role(user.id, "admin", "2026-11-22T10:00:00.000Z")
    repository.set_password_hash(user.id, "$argon2id$new", "2026-11-22T10:00:01.000Z")

    stored = repository.get(user.id)
    assert (stored.role, stored.password_hash, stored.updated_at) == (
        "admin",
        "$argon2id$new",
        "2026-11-22T10:00:01.000Z",
    )


def test_given_this_lane_when_the_repository_connects_then_it_talks_to_dynamodb_local(dynamodb_local):
    client = repository._users()._get_connection().connection.client

    assert client.meta.endpoint_url == dynamodb_local.endpoint
    assert "fleetgate-local-UsersTable" in client.list_tables()["TableNames"]
