"""Register and log in (device-manager Authentication), through real API Gateway v2 events."""

import time
import uuid

import jwt

from fleetgate.core.settings import get_auth_settings


def _creds():
    tag = uuid.uuid4().hex[:8]
    return {"email": f"Ada.{tag}@Example.COM", "username": f"ada_{tag}", "password": "correct horse battery"}


def test_given_new_user_when_registering_then_201_with_user_and_no_password(api):
    creds = _creds()
    reply = api.call("POST", "/api/v1/auth/register", json_body=creds)
    assert reply.status == 201
    assert reply.body["username"] == creds["username"]
    assert reply.body["email"] == creds["email"].split("@")[0] + "@example.com"  # domain normalised
    assert reply.body["role"] == "user"
    assert "password" not in str(reply.body) and "password_hash" not in reply.body
    assert set(reply.body) == {
        "id",
        "email",
        "username",
        "role",
        "is_active",
        "permissions",
        "created_at",
        "updated_at",
    }
    assert reply.body["permissions"] == []
    assert reply.body["created_at"].endswith("Z")


def test_given_registered_user_when_logging_in_with_email_or_username_then_bearer_token(api):
    creds = _creds()
    api.call("POST", "/api/v1/auth/register", json_body=creds)
    for login in (creds["email"].lower(), creds["username"].upper()):
        reply = api.call("POST", "/api/v1/auth/login", form={"username": login, "password": creds["password"]})
        assert reply.status == 200, reply.body
        assert reply.body["token_type"] == "bearer"
        assert reply.body["expires_in"] == 3600
        claims = jwt.decode(
            reply.body["access_token"], get_auth_settings().secret, algorithms=["HS256"], issuer="fleetgate"
        )
        assert claims["role"] == "user" and claims["exp"] > time.time()


def test_given_wrong_password_or_unknown_user_when_logging_in_then_same_401(api):
    creds = _creds()
    api.call("POST", "/api/v1/auth/register", json_body=creds)
    wrong = api.call("POST", "/api/v1/auth/login", form={"username": creds["email"], "password": "nope-nope-nope"})
    unknown = api.call("POST", "/api/v1/auth/login", form={"username": "ghost@example.com", "password": "whatever1"})
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body == {"detail": "Incorrect username or password"}
    assert wrong.headers.get("www-authenticate") == "Bearer"


def test_given_taken_email_or_username_when_registering_then_409(api):
    creds = _creds()
    assert api.call("POST", "/api/v1/auth/register", json_body=creds).status == 201
    same_email = {**creds, "username": creds["username"] + "x"}
    same_name = {**creds, "email": "other." + creds["email"]}
    r1 = api.call("POST", "/api/v1/auth/register", json_body=same_email)
    r2 = api.call("POST", "/api/v1/auth/register", json_body={**same_name, "username": creds["username"].upper()})
    assert (r1.status, r1.body) == (409, {"detail": "Email already registered"})
    assert (r2.status, r2.body) == (409, {"detail": "Username already taken"})


def test_given_invalid_registration_when_posting_then_422_with_field_details_and_no_echo(api):
    reply = api.call(
        "POST", "/api/v1/auth/register", json_body={"email": "not-an-email", "username": "a", "password": "Zq9!x"}
    )
    assert reply.status == 422
    fields = {tuple(e["loc"]) for e in reply.body["detail"]}
    assert fields == {("body", "email"), ("body", "username"), ("body", "password")}
    assert all(e["msg"] and e["type"] for e in reply.body["detail"])
    assert "Zq9!x" not in str(reply.body)  # the password is never echoed back


def test_given_malformed_bodies_when_posting_then_422_never_500(api):
    for raw, ctype in (("{not json", "application/json"), ("[]", "application/json"), ("", "application/json")):
        reply = api.call("POST", "/api/v1/auth/register", raw=raw, headers={"content-type": ctype})
        assert reply.status == 422, (raw, reply.status, reply.body)
        assert isinstance(reply.body["detail"], list)
    missing = api.call("POST", "/api/v1/auth/login", form={"username": "someone"})
    assert missing.status == 422
    assert ["body", "password"] in [e["loc"] for e in missing.body["detail"]]


def test_given_admin_created_by_bootstrap_when_logging_in_then_token_has_admin_role(api):
    user = api.register(admin=True)
    claims = jwt.decode(user["token"], get_auth_settings().secret, algorithms=["HS256"], issuer="fleetgate")
    assert claims["role"] == "admin"


def test_given_existing_user_when_bootstrapping_admin_with_same_email_then_promoted_not_duplicated(api):
    from fleetgate.users import service

    user = api.register()
    promoted, created = service.create_admin(user["email"], user["username"], "another password")
    assert (created, promoted.role) == (False, "admin")
    # the original password still works; the new one was not applied to an existing account
    login = api.call("POST", "/api/v1/auth/login", form={"username": user["username"], "password": user["password"]})
    claims = jwt.decode(
        login.body["access_token"], get_auth_settings().secret, algorithms=["HS256"], issuer="fleetgate"
    )
    assert claims["role"] == "admin"


def test_given_bad_tokens_when_calling_a_protected_route_then_401_detail(api):
    secret = get_auth_settings().secret
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "u", "role": "user", "iat": now - 7200, "exp": now - 3600, "iss": "fleetgate"},
        secret,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": "u", "role": "admin", "iat": now, "exp": now + 60, "iss": "fleetgate"},
        "not-the-secret-but-long-enough-for-hs256!",
        algorithm="HS256",
    )
    cases = {
        None: "Not authenticated",
        "garbage": "Could not validate credentials",
        expired: "Token has expired",
        forged: "Could not validate credentials",
    }
    for token, detail in cases.items():
        reply = api.call("GET", "/api/v1/devices", token=token)
        assert (reply.status, reply.body) == (401, {"detail": detail}), token
        assert reply.headers.get("www-authenticate") == "Bearer"
    basic = api.call("GET", "/api/v1/labels", headers={"authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status == 401


def test_given_no_token_and_invalid_body_then_401_comes_before_422(api):
    reply = api.call("POST", "/api/v1/devices", json_body={"dev_eui": "zz"})
    assert reply.status == 401


def test_given_register_login_and_failures_then_logs_never_hold_password_or_token(api):
    import io
    import logging

    from fleetgate.core.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)  # exactly the lines Lambda would print
    logging.getLogger(logger.name).addHandler(handler)
    creds = _creds()
    creds["password"] = "Pa55-unique-" + uuid.uuid4().hex[:6]
    api.call("POST", "/api/v1/auth/register", json_body=creds)
    ok = api.call("POST", "/api/v1/auth/login", form={"username": creds["username"], "password": creds["password"]})
    api.call("POST", "/api/v1/auth/login", form={"username": creds["username"], "password": creds["password"] + "x"})
    api.call("GET", "/api/v1/devices", token=ok.body["access_token"])
    api.call("POST", "/api/v1/auth/register", json_body={**creds, "email": "broken"})
    logging.getLogger(logger.name).removeHandler(handler)
    logs = stream.getvalue()
    assert '"status":401' in logs.replace(" ", "")  # requests are logged: the checks below are not vacuous
    assert creds["password"] not in logs
    assert ok.body["access_token"] not in logs
