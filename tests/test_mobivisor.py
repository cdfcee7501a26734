"""Mobivisor proxy (../shared/specs/mobivisor-proxy.md) against a fake Mobivisor on 127.0.0.1.

Statuses and bodies are the contract's, byte for byte; timeouts, refused connections and malformed
bodies are real (the proxy's deadlines are lowered through its settings to keep the suite fast).
"""

from __future__ import annotations

import socket
import time

import pytest

from fleetgate.core import settings
from tests.fakes import Answer, FakeMobivisor
from tests.support import token_for

TOKEN = "mobivisor-test-token"


@pytest.fixture
def upstream(api, monkeypatch):
    fake = FakeMobivisor(TOKEN).start()
    monkeypatch.setenv("MOBIVISOR_API_URL", fake.url + "/")
    monkeypatch.setenv("MOBIVISOR_API_TOKEN", TOKEN)
    # Short deadlines keep the timeout tests quick, with room for a loaded CI machine's loopback calls.
    monkeypatch.setenv("MOBIVISOR_TIMEOUT", "1.5")
    monkeypatch.setenv("MOBIVISOR_CONNECT_TIMEOUT", "0.5")
    settings.reset()
    yield fake
    fake.stop()


@pytest.fixture
def user(api):
    return token_for("user", ("mobivisor:read",))


@pytest.fixture
def admin(api):
    return token_for("admin")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the three routes
def test_given_user_when_listing_then_upstream_json_is_returned_unchanged_with_bearer_and_query(api, upstream, user):
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"], query={"status": "online", "page": "2"})
    assert reply.status == 200
    assert reply.body == {
        "devices": [
            {"id": "123", "name": "Device 1", "status": "online"},
            {"id": "456", "name": "Device 2", "status": "offline"},
        ]
    }
    [sent] = upstream.calls("GET")
    assert sent.path == "/devices"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.query == [("status", "online"), ("page", "2")]
    assert reply.ddb_calls == ["GetItem"]  # the token's user, read once per instance and minute
    again = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert (again.status, again.ddb_calls) == (200, [])


def test_given_base_url_without_trailing_slash_and_a_path_when_listing_then_devices_is_appended(api, user, monkeypatch):
    with FakeMobivisor(TOKEN, prefix="/api/v2") as fake:
        monkeypatch.setenv("MOBIVISOR_API_URL", fake.url + "/api/v2")
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", TOKEN)
        settings.reset()
        reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
        assert reply.status == 200 and len(reply.body["devices"]) == 2
        assert [r.path for r in fake.calls()] == ["/api/v2/devices"]


def test_given_device_when_getting_then_details_exactly_as_upstream(api, upstream, user):
    reply = api.call("GET", "/api/v1/mobivisor/devices/123", token=user["token"])
    assert (reply.status, reply.body) == (
        200,
        {
            "id": "123",
            "name": "Device 1",
            "status": "online",
            "last_seen": "2025-10-18T10:30:00Z",
            "location": "Store A",
            "firmware_version": "1.2.3",
        },
    )


def test_given_id_with_reserved_characters_when_getting_then_it_is_url_encoded_once(api, upstream, user):
    upstream.devices["a b/c?"] = {"id": "a b/c?", "name": "odd"}
    reply = api.call("GET", "/api/v1/mobivisor/devices/a%20b%2Fc%3F", token=user["token"])
    assert (reply.status, reply.body) == (200, {"id": "a b/c?", "name": "odd"})
    assert upstream.calls()[-1].path == "/devices/a%20b%2Fc%3F"


def test_given_admin_when_deleting_then_contract_confirmation_and_device_is_gone(api, upstream, admin):
    reply = api.call("DELETE", "/api/v1/mobivisor/devices/123", token=admin["token"])
    assert (reply.status, reply.body) == (200, {"message": "Device deleted successfully", "device_id": "123"})
    assert "123" not in upstream.devices
    assert api.call("GET", "/api/v1/mobivisor/devices/123", token=admin["token"]).status == 404


def test_given_user_without_mobivisor_write_when_deleting_then_403_and_upstream_is_never_called(api, upstream, user):
    reply = api.call("DELETE", "/api/v1/mobivisor/devices/123", token=user["token"])
    assert (reply.status, reply.body) == (
        403,
        {"detail": {"error": "Forbidden", "message": "This needs the mobivisor:write permission"}},
    )
    assert upstream.calls() == [] and "123" in upstream.devices


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/mobivisor/devices"),
        ("GET", "/api/v1/mobivisor/devices/123"),
        ("DELETE", "/api/v1/mobivisor/devices/123"),
    ],
)
def test_given_no_token_when_calling_then_401_in_mobivisor_shape(api, upstream, method, path):
    reply = api.call(method, path)
    assert (reply.status, reply.body) == (401, {"detail": {"error": "Unauthorized", "message": "Not authenticated"}})
    assert reply.headers["www-authenticate"] == "Bearer"
    assert upstream.calls() == []


def test_given_a_microshare_login_token_when_calling_mobivisor_then_401(api, upstream):
    from fleetgate.core.auth import issue_token

    token, _ = issue_token("microshare:someone", "admin", audience="microshare")
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=token)
    assert reply.status == 401 and upstream.calls() == []


def test_given_trailing_slash_when_listing_then_same_route(api, upstream, user):
    assert api.call("GET", "/api/v1/mobivisor/devices/", token=user["token"]).status == 200


# ------------------------------------------------------------------ configuration errors
def test_given_no_url_when_calling_then_500_configuration_error(api, upstream, user, monkeypatch):
    monkeypatch.setenv("MOBIVISOR_API_URL", "")
    settings.reset()
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert (reply.status, reply.body) == (
        500,
        {"detail": {"error": "Configuration Error", "message": "Mobivisor API URL is not configured"}},
    )


def test_given_no_token_setting_when_calling_then_500_configuration_error(api, upstream, user, monkeypatch):
    monkeypatch.delenv("MOBIVISOR_API_TOKEN")
    settings.reset()
    reply = api.call("GET", "/api/v1/mobivisor/devices/123", token=user["token"])
    assert (reply.status, reply.body) == (
        500,
        {"detail": {"error": "Configuration Error", "message": "Mobivisor API token is not configured"}},
    )
    assert upstream.calls() == []


def test_given_unusable_url_when_calling_then_500_configuration_error(api, upstream, user, monkeypatch):
    monkeypatch.setenv("MOBIVISOR_API_URL", "mydd.mobivisor.com")
    settings.reset()
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert (reply.status, reply.body["detail"]["error"]) == (500, "Configuration Error")


# ------------------------------------------------------------------ upstream errors
@pytest.mark.parametrize("status", [401, 403])
def test_given_upstream_rejects_the_token_when_calling_then_same_status_unauthorized(api, upstream, user, status):
    upstream.fail(Answer.json(status, {"error": "nope"}))
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert (reply.status, reply.body) == (
        status,
        {
            "detail": {
                "error": "Unauthorized",
                "message": "Invalid or missing Bearer token for Mobivisor API",
                "upstream_status": status,
            }
        },
    )
    assert "www-authenticate" not in reply.headers  # the caller's own token was fine


def test_given_wrong_configured_token_when_calling_then_401_passthrough(api, upstream, user, monkeypatch):
    monkeypatch.setenv("MOBIVISOR_API_TOKEN", "stale-token")
    settings.reset()
    reply = api.call("GET", "/api/v1/mobivisor/devices/123", token=user["token"])
    assert reply.status == 401 and reply.body["detail"]["upstream_status"] == 401


def test_given_unknown_device_when_getting_then_404_not_found(api, upstream, user):
    reply = api.call("GET", "/api/v1/mobivisor/devices/999", token=user["token"])
    assert (reply.status, reply.body) == (
        404,
        {"detail": {"error": "Not Found", "message": "Resource not found on Mobivisor API"}},
    )


def test_given_upstream_500_with_json_when_calling_then_502_with_upstream_error(api, upstream, user):
    upstream.fail(Answer.json(500, {"error": "Internal server error"}))
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert (reply.status, reply.body) == (
        502,
        {
            "detail": {
                "error": "Bad Gateway",
                "message": "Mobivisor API returned error 500",
                "upstream_status": 500,
                "upstream_error": {"error": "Internal server error"},
            }
        },
    )


def test_given_upstream_error_with_html_body_when_calling_then_502_carries_the_text(api, upstream, user, admin):
    upstream.fail(Answer(503, b"<html>Service Unavailable</html>", content_type="text/html"))
    reply = api.call("DELETE", "/api/v1/mobivisor/devices/123", token=admin["token"])
    assert (reply.status, reply.body) == (
        502,
        {
            "detail": {
                "error": "Bad Gateway",
                "message": "Mobivisor API returned error 503",
                "upstream_status": 503,
                "upstream_error": "<html>Service Unavailable</html>",
            }
        },
    )


def test_given_upstream_200_that_is_not_json_when_listing_then_502(api, upstream, user):
    upstream.fail(Answer(200, b"{not json", content_type="application/json"))
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert reply.status == 502
    assert reply.body["detail"] == {
        "error": "Bad Gateway",
        "message": "Mobivisor API returned an invalid response",
        "upstream_status": 200,
        "upstream_error": "{not json",
    }


def test_given_slow_upstream_when_calling_then_504_at_the_deadline(api, upstream, user):
    upstream.fail(Answer.json(200, {"devices": []}, delay=3))
    started = time.monotonic()
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    elapsed = time.monotonic() - started
    assert (reply.status, reply.body) == (
        504,
        {"detail": {"error": "Gateway Timeout", "message": "Mobivisor API did not respond in time"}},
    )
    assert 1.4 < elapsed < 2.8  # the 1.5 s deadline, not the upstream's 3 s


def test_given_upstream_trickling_its_body_when_calling_then_504_at_the_total_deadline(api, upstream, user):
    # Every byte arrives well within a per-read timeout; only a deadline on the whole call stops this.
    api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])  # the caller's record read: not timed
    upstream.fail(Answer.json(200, {"devices": [{"id": str(i)} for i in range(20)]}, trickle=0.05))
    started = time.monotonic()
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert reply.status == 504
    assert time.monotonic() - started < 2.8  # the 1.5 s deadline, not the body's 12 s of trickle


def test_given_upstream_that_never_accepts_when_calling_then_504_after_the_connect_timeout(
    api, upstream, user, monkeypatch
):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):  # fill the accept queue: further SYNs are dropped, so connect() hangs
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(listener.getsockname())
        fillers.append(s)
    try:
        monkeypatch.setenv("MOBIVISOR_API_URL", f"http://127.0.0.1:{listener.getsockname()[1]}/")
        settings.reset()
        api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])  # the caller's record read: not timed
        started = time.monotonic()
        reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
        assert reply.status == 504 and reply.body["detail"]["error"] == "Gateway Timeout"
        assert time.monotonic() - started < 1.4  # the 0.5 s connect timeout, not the 1.5 s deadline
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_given_refused_connection_when_calling_then_502(api, upstream, user, monkeypatch):
    monkeypatch.setenv("MOBIVISOR_API_URL", f"http://127.0.0.1:{_closed_port()}/")
    settings.reset()
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert (reply.status, reply.body) == (
        502,
        {"detail": {"error": "Bad Gateway", "message": "Could not connect to Mobivisor API"}},
    )


def test_given_upstream_dropping_the_connection_when_calling_then_502(api, upstream, user):
    upstream.fail(Answer(200, drop=True))
    reply = api.call("GET", "/api/v1/mobivisor/devices/123", token=user["token"])
    assert reply.status == 502 and reply.body["detail"]["error"] == "Bad Gateway"


# ------------------------------------------------------------------ token from a secret store, pooling, logging
def test_given_token_in_secrets_manager_when_rotated_then_one_refetch_and_retry(api, upstream, user, monkeypatch):
    import boto3

    sm = boto3.client("secretsmanager", region_name="us-east-1")
    sm.create_secret(Name="fleetgate/mobivisor/api-token", SecretString=TOKEN)
    monkeypatch.setenv("MOBIVISOR_API_TOKEN", "secretsmanager:fleetgate/mobivisor/api-token")
    settings.reset()
    assert api.call("GET", "/api/v1/mobivisor/devices", token=user["token"]).status == 200
    # rotation: Mobivisor and the secret get a new token; the cached old one is refused once, then re-read
    upstream.token = "rotated-token"
    sm.put_secret_value(SecretId="fleetgate/mobivisor/api-token", SecretString="rotated-token")
    upstream.reset_counts()
    reply = api.call("GET", "/api/v1/mobivisor/devices/123", token=user["token"])
    assert reply.status == 200
    assert [r.headers["authorization"] for r in upstream.calls()] == ["Bearer " + TOKEN, "Bearer rotated-token"]


def test_given_token_in_ssm_when_calling_then_it_is_used(api, upstream, user, monkeypatch):
    import boto3

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/fleetgate/mobivisor/api-token", Value=TOKEN, Type="SecureString"
    )
    monkeypatch.setenv("MOBIVISOR_API_TOKEN", "ssm:/fleetgate/mobivisor/api-token")
    settings.reset()
    assert api.call("GET", "/api/v1/mobivisor/devices", token=user["token"]).status == 200


def test_given_secret_that_cannot_be_read_when_calling_then_500_configuration_error(api, upstream, user, monkeypatch):
    monkeypatch.setenv("MOBIVISOR_API_TOKEN", "secretsmanager:does-not-exist")
    settings.reset()
    reply = api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert (reply.status, reply.body) == (
        500,
        {"detail": {"error": "Configuration Error", "message": "Mobivisor API token could not be read"}},
    )


def test_given_many_requests_when_proxying_then_one_pooled_upstream_connection(api, upstream, user):
    for _ in range(15):
        assert api.call("GET", "/api/v1/mobivisor/devices/123", token=user["token"]).status == 200
    assert upstream.connections == 1


def test_given_any_outcome_when_proxying_then_the_upstream_token_is_never_logged(api, upstream, user, caplog):
    caplog.set_level("DEBUG")
    api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    upstream.fail(Answer.json(500, {"error": "x"}))
    api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    upstream.fail(Answer.json(200, {}, delay=3))
    api.call("GET", "/api/v1/mobivisor/devices", token=user["token"])
    assert [r.getMessage() for r in caplog.records].count("Mobivisor call") == 2  # the calls are logged...
    assert not [r for r in caplog.records if TOKEN in repr(r.__dict__)]  # ...without the token


@pytest.mark.parametrize("levels, status", [(200, 200), (5000, 502)])
def test_given_upstream_json_nested_deep_when_proxied_then_never_a_500(api, upstream, user, levels, status):
    upstream.fail(Answer(200, ("[" * levels + "]" * levels).encode()), method="GET", path="/devices/deep")
    reply = api.call("GET", "/api/v1/mobivisor/devices/deep", token=user["token"])
    assert reply.status == status, reply.body
    if status == 200:
        assert "nested deeper than 32 levels" in str(reply.body)
