"""Users and permissions: admins' user routes, revocation of tokens, login throttling, closed registration."""

from __future__ import annotations

import uuid

from fleetgate.core import settings
from fleetgate.users import authentication
from fleetgate.users import service as users
from tests.fakes import FakeMobivisor
from tests.support import token_for

U = "/api/v1/users"


def _me(api, token):
    return api.call("GET", "/api/v1/devices", token=token)


def _user_id(api, admin, email):
    listed = api.call("GET", U, token=admin["token"], query={"limit": 200})
    return next(u["id"] for u in listed.body["items"] if u["email"] == email)


def _age_cache(seconds: float = authentication.CHECK_SECONDS) -> None:
    """As if every kept user record had been read ``seconds`` ago (the cache's clock, not the test's)."""
    known = authentication._known()
    for key, entry in list(known.items()):
        known[key] = authentication._Known(entry.user, entry.read_at - seconds)


# ------------------------------------------------------------------ admins' user routes
def test_given_admin_when_listing_getting_and_changing_a_user_then_documented_bodies(api):
    admin, user = api.register(admin=True), api.register()
    listed = api.call("GET", U, token=admin["token"])
    assert listed.status == 200 and set(listed.body) == {"items", "next_cursor"}
    uid = _user_id(api, admin, user["email"])
    got = api.call("GET", f"{U}/{uid}", token=admin["token"])
    assert got.status == 200
    assert set(got.body) == {"id", "email", "username", "role", "is_active", "permissions", "created_at", "updated_at"}
    assert (got.body["role"], got.body["permissions"], got.body["is_active"]) == ("user", [], True)
    changed = api.call(
        "PUT", f"{U}/{uid}", token=admin["token"], json_body={"permissions": ["microshare:write", "microshare:read"]}
    )
    assert changed.status == 200
    assert changed.body["permissions"] == ["microshare:read", "microshare:write"] and changed.body["role"] == "user"
    bad = api.call("PUT", f"{U}/{uid}", token=admin["token"], json_body={"permissions": ["root"]})
    assert bad.status == 422 and bad.body["detail"][0]["loc"][:2] == ["body", "permissions"]
    assert api.call("GET", f"{U}/{uuid.uuid4()}", token=admin["token"]).status == 404


def test_given_admin_when_paging_users_then_every_user_once_newest_first(api):
    admin = api.register(admin=True)
    made = [api.register()["email"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        page = api.call("GET", U, token=admin["token"], query={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status == 200 and page.ddb_calls == ["Query"]
        seen += [u["email"] for u in page.body["items"]]
        cursor = page.body["next_cursor"]
        if not cursor:
            break
    assert [e for e in seen if e in made] == list(reversed(made))
    assert len(seen) == len(set(seen))


def test_given_admin_when_creating_a_user_with_permissions_then_they_can_use_them_at_once(api, monkeypatch):
    admin = api.register(admin=True)
    tag = uuid.uuid4().hex[:8]
    body = {
        "email": f"ops-{tag}@example.com",
        "username": f"ops_{tag}",
        "password": "a long enough password",
        "permissions": ["mobivisor:read"],
    }
    created = api.call("POST", U, token=admin["token"], json_body=body)
    assert created.status == 201 and created.body["permissions"] == ["mobivisor:read"]
    login = api.call("POST", "/api/v1/auth/login", form={"username": body["username"], "password": body["password"]})
    with FakeMobivisor("t") as fake:
        monkeypatch.setenv("MOBIVISOR_API_URL", fake.url)
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", "t")
        settings.reset()
        token = login.body["access_token"]
        assert api.call("GET", "/api/v1/mobivisor/devices", token=token).status == 200
        assert api.call("DELETE", "/api/v1/mobivisor/devices/123", token=token).status == 403
    again = api.call("POST", U, token=admin["token"], json_body=body)
    assert (again.status, again.body) == (409, {"detail": "Email already registered"})


def test_given_plain_users_when_calling_user_routes_then_403_and_anonymous_401(api):
    user = api.register()
    for method, path, body in [
        ("GET", U, None),
        ("POST", U, {"email": "x@example.com", "username": "xxx", "password": "never-a-real-one"}),
        ("GET", f"{U}/{uuid.uuid4()}", None),
        ("PUT", f"{U}/{uuid.uuid4()}", {"role": "admin"}),
        ("DELETE", f"{U}/{uuid.uuid4()}", None),
    ]:
        reply = api.call(method, path, token=user["token"], json_body=body)
        assert (reply.status, reply.body) == (403, {"detail": "This needs the admin role"}), (method, path)
        assert api.call(method, path, json_body=body).status == 401
    # 403 comes before body validation: an invalid body tells a non-admin nothing
    assert api.call("PUT", f"{U}/x", token=user["token"], json_body={"role": "god"}).status == 403


def test_given_admin_when_demoting_or_deleting_themselves_then_409(api):
    admin = api.register(admin=True)
    me = _user_id(api, admin, admin["email"])
    for method, body in (("PUT", {"role": "user"}), ("PUT", {"is_active": False}), ("DELETE", None)):
        reply = api.call(method, f"{U}/{me}", token=admin["token"], json_body=body)
        assert reply.status == 409, (method, body, reply.body)
    assert api.call("GET", U, token=admin["token"]).status == 200  # still an admin


# ------------------------------------------------------------------ revocation
def test_given_a_deactivated_user_when_their_token_is_used_then_refused_within_the_check_interval(api):
    admin, user = api.register(admin=True), api.register()
    uid = _user_id(api, admin, user["email"])
    assert _me(api, user["token"]).status == 200
    assert api.call("PUT", f"{U}/{uid}", token=admin["token"], json_body={"is_active": False}).status == 200
    refused = _me(api, user["token"])  # one process here: the change's own instance forgets its copy at once
    assert (refused.status, refused.body) == (401, {"detail": "Could not validate credentials"})
    login = api.call("POST", "/api/v1/auth/login", form={"username": user["email"], "password": user["password"]})
    assert (login.status, login.body) == (401, {"detail": "Inactive user"})
    # reactivated: a new login works, the old token stays dead (deactivating raised the token version)
    api.call("PUT", f"{U}/{uid}", token=admin["token"], json_body={"is_active": True})
    fresh = api.call("POST", "/api/v1/auth/login", form={"username": user["email"], "password": user["password"]})
    assert _me(api, fresh.body["access_token"]).status == 200
    assert _me(api, user["token"]).status == 401


def test_given_a_change_on_another_instance_when_the_cached_record_is_a_minute_old_then_it_is_read_again(api):
    """Another instance's view: its copy of the user stands for CHECK_SECONDS, then one GetItem refreshes it."""
    user = api.register()
    uid = authentication.authenticate({"authorization": f"Bearer {user['token']}"}).user_id
    assert _me(api, user["token"]).ddb_calls == ["Query"]  # warm: no read for the token
    from fleetgate.users import repository

    repository.update_access(uid, "2026-11-29T00:00:00.000Z", is_active=False)  # behind this instance's back
    assert _me(api, user["token"]).status == 200  # the copy is fresh: still served (at most 60 s)
    _age_cache()
    refused = _me(api, user["token"])
    assert (refused.status, refused.ddb_calls) == (401, ["GetItem"])


def test_given_a_demoted_admin_then_admin_routes_refuse_them_within_the_check_interval(api):
    admin, target = api.register(admin=True), token_for("admin")
    assert api.call("GET", U, token=target["token"]).status == 200
    assert api.call("PUT", f"{U}/{target['id']}", token=admin["token"], json_body={"role": "user"}).status == 200
    _age_cache()  # what any other instance does within CHECK_SECONDS
    assert api.call("GET", U, token=target["token"]).status == 403


def test_given_permissions_taken_away_then_partner_routes_refuse_within_the_check_interval(api, monkeypatch):
    admin, target = api.register(admin=True), token_for("user", ("mobivisor:read",))
    with FakeMobivisor("t") as fake:
        monkeypatch.setenv("MOBIVISOR_API_URL", fake.url)
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", "t")
        settings.reset()
        assert api.call("GET", "/api/v1/mobivisor/devices", token=target["token"]).status == 200
        change = api.call("PUT", f"{U}/{target['id']}", token=admin["token"], json_body={"permissions": []})
        assert change.status == 200
        _age_cache()
        after = api.call("GET", "/api/v1/mobivisor/devices", token=target["token"])
        assert (after.status, after.body["detail"]["error"]) == (403, "Forbidden")
        assert len(fake.calls("GET")) == 1  # the refused call never went upstream


def test_given_a_deleted_user_when_their_token_is_used_then_401_and_the_email_is_free_again(api):
    admin, user = api.register(admin=True), api.register()
    uid = _user_id(api, admin, user["email"])
    deleted = api.call("DELETE", f"{U}/{uid}", token=admin["token"])
    assert (deleted.status, deleted.body) == (204, None)
    assert _me(api, user["token"]).status == 401
    assert api.call("DELETE", f"{U}/{uid}", token=admin["token"]).status == 404
    again = api.call(
        "POST",
        "/api/v1/auth/register",
        json_body={"email": user["email"], "username": user["username"], "password": "another password"},
    )
    assert again.status == 201 and again.body["id"] != uid


def test_given_a_password_change_then_old_tokens_fail_at_once_and_the_new_one_works(api):
    user = api.register(password="first password")
    other_session = api.call(
        "POST", "/api/v1/auth/login", form={"username": user["email"], "password": "first password"}
    )
    wrong = api.call(
        "POST",
        "/api/v1/auth/password",
        token=user["token"],
        json_body={"current_password": "not it at all", "new_password": "second password"},
    )
    assert (wrong.status, wrong.body) == (401, {"detail": "Incorrect username or password"})
    changed = api.call(
        "POST",
        "/api/v1/auth/password",
        token=user["token"],
        json_body={"current_password": "first password", "new_password": "second password"},
    )
    assert changed.status == 200 and changed.body["token_type"] == "bearer"
    for old in (user["token"], other_session.body["access_token"]):
        assert _me(api, old).status == 401
    assert _me(api, changed.body["access_token"]).status == 200
    relog = api.call("POST", "/api/v1/auth/login", form={"username": user["email"], "password": "second password"})
    assert relog.status == 200
    assert api.call("POST", "/api/v1/auth/password", json_body={}).status == 401


def test_given_a_new_token_from_elsewhere_when_the_cached_version_is_older_then_it_is_read_at_once(api):
    """A password change served by another instance: its new token is newer than this instance's copy."""
    user = api.register(password="first password")
    assert _me(api, user["token"]).ddb_calls == ["Query"]
    from fleetgate.core.auth import issue_token
    from fleetgate.core.secrets import hash_secret
    from fleetgate.users import repository

    uid = authentication.authenticate({"authorization": f"Bearer {user['token']}"}).user_id
    version = repository.set_password_hash(uid, hash_secret("second password"), "2026-11-29T00:00:00.000Z", revoke=True)
    new_token = issue_token(uid, "user", version=version)[0]
    fresh = _me(api, new_token)
    assert (fresh.status, fresh.ddb_calls) == (200, ["GetItem", "Query"])
    assert _me(api, user["token"]).status == 401  # and the copy now read refuses the old one


# ------------------------------------------------------------------ login throttling
def test_given_repeated_wrong_passwords_then_429_with_retry_after_even_for_the_right_one(api):
    user = api.register()
    for _ in range(users.LOGIN_ACCOUNT_LIMIT.maximum):
        wrong = api.call("POST", "/api/v1/auth/login", form={"username": user["email"], "password": "wrong-password"})
        assert wrong.status == 401
    right = api.call("POST", "/api/v1/auth/login", form={"username": user["email"], "password": user["password"]})
    assert right.status == 429
    assert right.body == {"detail": "Too many failed logins: try again later"}
    assert 1 <= int(right.headers["retry-after"]) <= users.LOGIN_ACCOUNT_LIMIT.window_seconds
    # another account from another address is not affected
    other = api.register()
    assert other["token"]


def test_given_an_unknown_account_then_it_is_throttled_exactly_like_a_known_one(api):
    known, ghost = api.register(), f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    replies = {}
    for login in (known["email"], ghost):
        replies[login] = [
            api.call("POST", "/api/v1/auth/login", form={"username": login, "password": "wrong-password"})
            for _ in range(users.LOGIN_ACCOUNT_LIMIT.maximum + 1)
        ]
    a, b = replies[known["email"]], replies[ghost]
    assert [(r.status, r.body) for r in a] == [(r.status, r.body) for r in b]
    assert [r.ddb_calls for r in a] == [r.ddb_calls for r in b]
    assert a[-1].status == 429


def test_given_many_failures_from_one_address_then_every_account_from_it_is_throttled(api, monkeypatch):
    monkeypatch.setattr(users, "LOGIN_ADDRESS_LIMIT", users.Limit("login:address-test", 3, 900))
    victims = [api.register() for _ in range(2)]
    for i in range(3):
        api.call("POST", "/api/v1/auth/login", form={"username": f"nobody{i}@example.com", "password": "wrong-pass"})
    refused = api.call("POST", "/api/v1/auth/login", form={"username": victims[0]["email"], "password": "x" * 9})
    assert refused.status == 429 and "retry-after" in refused.headers


def test_given_a_successful_login_then_it_costs_the_throttle_checks_and_the_user_only(api):
    user = api.register(password="pw-for-counting")
    ok = api.call("POST", "/api/v1/auth/login", form={"username": user["email"], "password": "pw-for-counting"})
    assert ok.status == 200 and ok.ddb_calls == ["GetItem", "GetItem", "GetItem", "GetItem"]
    bad = api.call("POST", "/api/v1/auth/login", form={"username": user["email"], "password": "pw-for-countin"})
    assert bad.ddb_calls == ["GetItem", "GetItem", "GetItem", "GetItem", "UpdateItem", "UpdateItem"]


# ------------------------------------------------------------------ registration
def test_given_registration_closed_then_403_but_an_admin_still_creates_users(api, monkeypatch):
    monkeypatch.setenv("ALLOW_REGISTRATION", "false")
    settings.reset()
    tag = uuid.uuid4().hex[:8]
    body = {"email": f"c-{tag}@example.com", "username": f"c_{tag}", "password": "long enough pw"}
    closed = api.call("POST", "/api/v1/auth/register", json_body=body)
    assert (closed.status, closed.body) == (
        403,
        {"detail": "Registration is closed: ask an administrator for an account"},
    )
    admin = token_for("admin")
    assert api.call("POST", U, token=admin["token"], json_body=body).status == 201


def test_given_the_template_then_registration_is_a_parameter_on_locally_and_off_in_prod():
    import tomllib

    from localcloud.cloud import local_stack
    from localcloud.template import ROOT, stack

    assert local_stack().functions["AuthFunction"].environment["ALLOW_REGISTRATION"] == "true"
    assert stack().functions["AuthFunction"].environment["ALLOW_REGISTRATION"] == "false"
    prod = tomllib.loads((ROOT / "samconfig.toml").read_text())["prod"]["deploy"]["parameters"]
    assert "AllowRegistration=false" in prod["parameter_overrides"].split()


# ------------------------------------------------------------------ the log scan (conftest.py) itself
def test_given_a_secret_sent_in_a_test_when_it_shows_in_captured_output_then_the_scan_finds_it(api):
    from tests.support import SENT_SECRETS, leaked_secrets

    user = api.register(password="unique-pass-" + uuid.uuid4().hex[:6])
    assert user["password"] in SENT_SECRETS and user["token"] in SENT_SECRETS  # sent: register, login, reply
    assert leaked_secrets(f'{{"message": "request", "body": "{user["password"]}"}}') == [user["password"]]
    assert leaked_secrets(f"... Bearer {user['token']} ...") == [user["token"]]
    assert leaked_secrets('{"message": "request", "status": 200}') == []


def test_given_each_users_route_when_called_then_dynamodb_calls_are_exactly_its_budget(api):
    from tests.budgets.users import EXPECTED

    admin, user = api.register(admin=True), api.register(password="first password")
    tag = uuid.uuid4().hex[:8]
    body = {"email": f"b-{tag}@example.com", "username": f"b_{tag}", "password": "long enough pw"}
    created = api.call("POST", U, token=admin["token"], json_body=body)
    uid = created.body["id"]
    seen = {("POST", U): created.ddb_calls}
    for method, template, payload in [
        ("GET", U, None),
        ("GET", f"{U}/{{user_id}}", None),
        ("PUT", f"{U}/{{user_id}}", {"permissions": ["microshare:read"]}),
        ("DELETE", f"{U}/{{user_id}}", None),
    ]:
        reply = api.call(method, template.replace("{user_id}", uid), token=admin["token"], json_body=payload)
        assert reply.status < 300, reply.body
        seen[(method, template)] = reply.ddb_calls
    change = {"current_password": "first password", "new_password": "second password"}
    changed = api.call("POST", "/api/v1/auth/password", token=user["token"], json_body=change)
    assert changed.status == 200
    seen[("POST", "/api/v1/auth/password")] = changed.ddb_calls
    assert seen == EXPECTED
