"""Microshare ERP sync: auth, health, devices, the shared cluster cache and safe concurrent writes.

Every test runs against a fake Microshare on 127.0.0.1 (``microshare`` fixture in conftest.py): real
HTTP, real tokens with expiry, real timeouts and refused connections.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from fleetgate.core import settings
from tests.fakes import DEFAULT_ID, TRAP, Answer
from tests.support import token_for

P = "/api/v1"
ROD = ["Acme", "Leeds", "Hall", "ACME-09", "Internal", "Bait/Lured"]


@pytest.fixture
def api(api):
    """The Microshare API (its own HTTP API, the contract's paths); ``api.on("FleetgateApi")`` is the main one."""
    return api.on("MicroshareApi")


@pytest.fixture
def user(api):
    return token_for("user", ("microshare:read", "microshare:write"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _guids(fake, cluster_id):
    return [d["guid"] for d in fake.devices_in(cluster_id)]


# ------------------------------------------------------------------ access
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", f"{P}/devices"),
        ("POST", f"{P}/devices"),
        ("GET", f"{P}/devices/g-1"),
        ("PUT", f"{P}/devices/g-1"),
        ("DELETE", f"{P}/devices/g-1"),
        ("GET", f"{P}/devices/clusters"),
        ("GET", f"{P}/status"),
        ("GET", f"{P}/auth/status"),
        ("GET", f"{P}/devices/cache/stats"),
        ("POST", f"{P}/devices/cache/clear"),
        ("GET", f"{P}/erp/mapping"),
        ("POST", f"{P}/erp/sync"),
        ("GET", f"{P}/devices/performance/benchmark"),
    ],
)
def test_given_no_token_when_calling_a_protected_route_then_401(api, microshare, method, path):
    reply = api.call(method, path)
    assert (reply.status, reply.body) == (401, {"detail": "Not authenticated"})
    assert microshare.calls() == []


def test_given_no_token_when_calling_health_routes_then_they_answer(api, microshare):
    health = api.call("GET", "/health")
    assert health.status == 200 and health.body["status"] == "healthy" and health.body["service"] == "microshare-erp"
    upstream = api.call("GET", "/health/microshare")
    assert upstream.status == 200
    assert upstream.body["status"] == "healthy" and upstream.body["cluster_count"] == 3
    assert upstream.body["authentication"] == "valid" and upstream.body["response_time_ms"] > 0
    platform = api.on("FleetgateApi").call("GET", "/health")
    assert platform.status == 200 and platform.body["status"] == "healthy" and platform.body["service"] == "fleetgate"
    assert platform.ddb_calls == [] and health.ddb_calls == []


def test_given_microshare_credentials_when_logging_in_then_a_token_the_microshare_routes_accept(api, microshare):
    reply = api.call(
        "POST", f"{P}/auth/login", json_body={"username": microshare.username, "password": microshare.password}
    )
    assert reply.status == 200 and set(reply.body) == {"access_token", "token_type"}
    assert reply.body["token_type"] == "bearer"
    token = reply.body["access_token"]
    status = api.call("GET", f"{P}/auth/status", token=token)
    assert status.status == 200
    assert (status.body["token_source"], status.body["user_id"]) == ("microshare", f"microshare:{microshare.username}")
    assert api.call("GET", f"{P}/devices", token=token).status == 200
    # ...and only those: the device manager refuses it
    assert api.on("FleetgateApi").call("GET", "/api/v1/devices", token=token).status == 401


def test_given_wrong_microshare_password_when_logging_in_then_401(api, microshare):
    reply = api.call("POST", f"{P}/auth/login", json_body={"username": microshare.username, "password": "wrong"})
    assert (reply.status, reply.body) == (401, {"detail": "Incorrect username or password"})


def test_given_missing_password_when_logging_in_then_422(api, microshare):
    reply = api.call("POST", f"{P}/auth/login", json_body={"username": "x"})
    assert reply.status == 422 and ["body", "password"] in [e["loc"] for e in reply.body["detail"]]


def test_given_device_manager_token_when_asking_auth_status_then_fleetgate_and_upstream_state(api, microshare, user):
    api.call("GET", f"{P}/devices", token=user["token"])
    reply = api.call("GET", f"{P}/auth/status", token=user["token"])
    assert reply.status == 200
    assert reply.body["token_source"] == "fleetgate" and reply.body["role"] == "user"
    assert reply.body["upstream"]["configured"] is True and reply.body["upstream"]["token_cached"] is True
    assert 3500 < reply.body["upstream"]["token_expires_in"] <= 3600


# ------------------------------------------------------------------ upstream token
def test_given_warm_token_when_calling_upstream_repeatedly_then_one_authentication(api, microshare, user):
    for _ in range(3):
        assert api.call("GET", f"{P}/devices/discovery", token=user["token"]).status == 200
    assert (microshare.count("auth"), microshare.count("discover")) == (1, 3)


def test_given_token_near_expiry_when_calling_then_it_is_refreshed_before_it_runs_out(api, microshare, user):
    microshare.expires_in = 1  # refreshed 10 % before expiry, i.e. after 0.9 s
    assert api.call("GET", f"{P}/devices/discovery", token=user["token"]).status == 200
    time.sleep(0.95)
    assert api.call("GET", f"{P}/devices/discovery", token=user["token"]).status == 200
    assert microshare.count("auth") == 2
    assert microshare.refused == 0  # the old token was never sent after its time


def test_given_token_revoked_upstream_when_calling_then_one_reauthentication_and_retry(api, microshare, user):
    assert api.call("GET", f"{P}/devices/discovery", token=user["token"]).status == 200
    microshare.revoke()
    assert api.call("GET", f"{P}/devices/discovery", token=user["token"]).status == 200
    assert (microshare.count("auth"), microshare.refused) == (2, 1)


def test_given_upstream_refusing_every_token_when_calling_then_401_after_exactly_one_retry(api, microshare, user):
    microshare.fail(Answer.json(401, {"error": "nope"}), path="/device/", times=10)
    reply = api.call("GET", f"{P}/devices/discovery", token=user["token"])
    assert (reply.status, reply.body) == (
        401,
        {"error": "Authentication Error", "detail": "Microshare API refused the service token"},
    )
    assert "www-authenticate" not in reply.headers  # the caller's own credentials are not in question
    assert (microshare.count("auth"), microshare.count("discover")) == (2, 2)


def test_given_wrong_service_password_when_calling_then_the_contracts_401(api, microshare, user, monkeypatch):
    monkeypatch.setenv("MICROSHARE_PASSWORD", "wrong")
    settings.reset()
    reply = api.call("GET", f"{P}/devices", token=user["token"])
    assert (reply.status, reply.body) == (
        401,
        {"error": "Authentication Error", "detail": "Microshare rejected the configured credentials"},
    )
    health = api.call("GET", "/health/microshare")
    assert health.status == 503 and health.body["authentication"] == "invalid"


def test_given_service_password_in_secrets_manager_when_calling_then_it_is_used(api, microshare, user, monkeypatch):
    import boto3

    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="fleetgate/microshare/password", SecretString=microshare.password
    )
    monkeypatch.setenv("MICROSHARE_PASSWORD", "secretsmanager:fleetgate/microshare/password")
    settings.reset()
    assert api.call("GET", f"{P}/devices", token=user["token"]).status == 200


def test_given_any_call_when_logging_then_no_password_or_token_is_logged(api, microshare, user, caplog):
    caplog.set_level("DEBUG")
    api.call("POST", f"{P}/auth/login", json_body={"username": microshare.username, "password": microshare.password})
    api.call("GET", f"{P}/devices", token=user["token"])
    microshare.revoke()
    api.call("GET", f"{P}/devices/discovery", token=user["token"])
    logged = " ".join(repr(r.__dict__) for r in caplog.records)
    assert "Microshare call" in logged
    assert microshare.password not in logged and microshare.client_id not in logged
    assert not [t for t in list(microshare.tokens) if t in logged]


# ------------------------------------------------------------------ upstream failures
@pytest.mark.parametrize(
    "answer, times, status, detail",
    [
        (Answer.json(500, {"error": "boom"}), 9, 502, "Microshare API returned error 500"),
        (Answer.json(403, {"error": "forbidden"}), 1, 502, "Microshare API returned error 403"),
        (Answer(200, b"<html>", content_type="text/html"), 1, 502, "Microshare API returned an invalid response"),
        (Answer.json(200, {"objs": "nope"}), 1, 502, "Microshare API returned an invalid response"),
        (Answer.json(200, {"objs": []}, delay=2), 1, 504, "Microshare API did not respond in time"),
        (Answer(200, drop=True), 9, 502, "Could not connect to Microshare API"),
    ],
)
def test_given_upstream_failure_when_listing_devices_then_clear_gateway_error(
    api, microshare, user, answer, times, status, detail
):
    microshare.fail(answer, method="GET", path="/device/", times=times)
    started = time.monotonic()
    reply = api.call("GET", f"{P}/devices", token=user["token"])
    assert (reply.status, reply.body) == (status, {"detail": detail})
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    "answer",
    [Answer.json(503, {"error": "busy"}), Answer.json(429, {"error": "slow down"}), Answer(200, drop=True)],
    ids=["503", "429", "dropped"],
)
def test_given_a_passing_upstream_failure_when_reading_then_retried_with_backoff_and_200(api, microshare, user, answer):
    microshare.fail(answer, method="GET", path="/device/", times=2)
    reply = api.call("GET", f"{P}/devices", token=user["token"])
    assert reply.status == 200 and len(reply.body["items"]) == 6
    assert microshare.count("discover") == 3  # two failures, then the answer


def test_given_an_upstream_that_keeps_failing_when_reading_then_four_attempts_at_most(api, microshare, user):
    microshare.fail(Answer.json(502, {"error": "down"}), method="GET", path="/device/", times=50)
    reply = api.call("GET", f"{P}/devices/discovery", token=user["token"])
    assert (reply.status, reply.body) == (502, {"detail": "Microshare API returned error 502"})
    assert microshare.count("discover") == 4


def test_given_a_429_with_retry_after_beyond_the_cap_when_reading_then_not_retried(api, microshare, user):
    microshare.fail(Answer(429, b"{}", headers={"Retry-After": "60"}), method="GET", path="/device/", times=5)
    started = time.monotonic()
    reply = api.call("GET", f"{P}/devices/discovery", token=user["token"])
    assert reply.status == 502 and microshare.count("discover") == 1
    assert time.monotonic() - started < 1.5


def test_given_little_time_left_in_the_request_when_an_upstream_call_fails_then_no_retry(
    api, microshare, user, monkeypatch
):
    # A function whose timeout leaves no room after the first failure (the request's deadline is the function's
    # remaining time less a second): the failure is answered at once, no retry is attempted.
    monkeypatch.setattr(api.functions.stack.functions["MicroshareFunction"], "timeout", 1.2)
    microshare.fail(Answer.json(503, {"error": "busy"}), method="GET", path="/device/", times=5)
    reply = api.call("GET", f"{P}/devices/discovery", token=user["token"])
    assert reply.status == 502 and microshare.count("discover") == 1


def test_given_a_put_failing_once_under_the_lease_when_updating_then_replayed_and_applied(api, microshare, user):
    microshare.fail(Answer.json(503, {"error": "busy"}), method="PUT", path="/device/", times=1)
    reply = api.call("PUT", f"{P}/devices/a-1", token=user["token"], json_body={"status": "maintenance"})
    assert reply.status == 200 and reply.body["status"] == "maintenance"
    assert microshare.count("put") == 2


def test_given_upstream_down_when_calling_then_502_and_health_says_unreachable(api, microshare, user, monkeypatch):
    monkeypatch.setenv("MICROSHARE_AUTH_URL", f"http://127.0.0.1:{_closed_port()}")
    settings.reset()
    reply = api.call("GET", f"{P}/devices", token=user["token"])
    assert (reply.status, reply.body) == (502, {"detail": "Could not connect to Microshare API"})
    health = api.call("GET", "/health/microshare")
    assert health.status == 503
    assert (health.body["status"], health.body["microshare_api"]) == ("unhealthy", "unreachable")


@pytest.mark.parametrize(
    "variable, message",
    [
        ("MICROSHARE_API_URL", "Microshare API URL is not configured"),
        ("MICROSHARE_USERNAME", "Microshare username is not configured"),
        ("MICROSHARE_API_KEY", "Microshare API key is not configured"),
    ],
)
def test_given_missing_setting_when_calling_then_500_configuration_error(
    api, microshare, user, monkeypatch, variable, message
):
    monkeypatch.setenv(variable, "")
    settings.reset()
    reply = api.call("GET", f"{P}/devices", token=user["token"])
    assert (reply.status, reply.body) == (500, {"detail": message})
    health = api.call("GET", "/health/microshare")
    assert health.status == 503 and health.body["microshare_api"] == "not_configured"


def test_given_status_route_when_called_then_version_upstream_cache_and_adapter(api, microshare, user):
    api.call("GET", f"{P}/devices", token=user["token"])
    reply = api.call("GET", f"{P}/status", token=user["token"])
    assert reply.status == 200
    assert reply.body["status"] == "running" and reply.body["erp_adapter"] == "upload"
    assert reply.body["cache"]["fresh"] is True and reply.body["cache"]["clusters"] == 3
    assert reply.body["upstream"]["token_cached"] is True


# ------------------------------------------------------------------ reading devices and clusters
def test_given_clusters_when_listing_devices_then_every_device_with_its_cluster_and_location_fields(
    api, microshare, user
):
    reply = api.call("GET", f"{P}/devices", token=user["token"])
    assert reply.status == 200 and reply.body["next_cursor"] is None
    by_guid = {d["guid"]: d for d in reply.body["items"]}
    assert set(by_guid) == {"g-1", "g-2", "g-3", "a-1", "a-2", "gw-1"}
    assert by_guid["g-1"] == {
        "id": "58-A0-CB-FF-FE-80-00-01",
        "guid": "g-1",
        "status": "active",
        "device_type": "rodent_sensor",
        "rec_type": TRAP,
        "cluster_id": "trap-golden",
        "cluster_name": "Golden Crust traps",
        "meta": {"location": ["Golden Crust", "Manchester", "Flour Store", "ERP-001", "Internal", "Bait/Lured"]},
        "location": ["Golden Crust", "Manchester", "Flour Store", "ERP-001", "Internal", "Bait/Lured"],
        "customer": "Golden Crust",
        "site": "Manchester",
        "area": "Flour Store",
        "erp_reference": "ERP-001",
        "placement": "Internal",
        "configuration": "Bait/Lured",
    }
    assert by_guid["gw-1"]["device_type"] == "gateway" and by_guid["gw-1"]["erp_reference"] is None


@pytest.mark.parametrize(
    "query, guids",
    [
        ({"device_type": "gateway"}, {"gw-1"}),
        ({"device_type": "rodent_sensor", "customer": "ACME"}, {"a-1", "a-2"}),
        ({"customer": "golden crust", "site": "Manchester"}, {"g-1", "g-2", "g-3", "gw-1"}),
        ({"site": "nowhere"}, set()),
    ],
)
def test_given_filters_when_listing_devices_then_only_matching_devices(api, microshare, user, query, guids):
    reply = api.call("GET", f"{P}/devices", token=user["token"], query=query)
    assert reply.status == 200 and {d["guid"] for d in reply.body["items"]} == guids


def test_given_the_contracts_trailing_slash_when_listing_and_creating_then_same_routes(api, microshare, user):
    assert api.call("GET", f"{P}/devices/", token=user["token"]).status == 200
    created = api.call("POST", f"{P}/devices/", token=user["token"], json_body={"meta": {"location": ROD}})
    assert created.status == 201 and created.body["cluster_id"] == "trap-acme"


def test_given_unknown_device_type_when_listing_then_422(api, microshare, user):
    reply = api.call("GET", f"{P}/devices", token=user["token"], query={"device_type": "toaster"})
    assert reply.status == 422 and reply.body["detail"][0]["loc"] == ["query", "device_type"]


def test_given_small_pages_when_following_cursors_then_every_device_once(api, microshare, user):
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        reply = api.call("GET", f"{P}/devices", token=user["token"], query=query)
        assert reply.status == 200
        seen += [d["guid"] for d in reply.body["items"]]
        cursor, pages = reply.body["next_cursor"], pages + 1
        if not cursor:
            break
    assert pages == 2 and sorted(seen) == sorted({"g-1", "g-2", "g-3", "a-1", "a-2", "gw-1"})
    forged = api.call("GET", f"{P}/devices", token=user["token"], query={"cursor": "eyJvZmZzZXQiOjJ9.AAAA"})
    assert forged.status == 422 and forged.body["detail"][0]["loc"] == ["query", "cursor"]


def test_given_cursor_of_another_filter_when_listing_then_422(api, microshare, user):
    first = api.call("GET", f"{P}/devices", token=user["token"], query={"limit": 1})
    other = api.call(
        "GET",
        f"{P}/devices",
        token=user["token"],
        query={"limit": 1, "customer": "Acme", "cursor": first.body["next_cursor"]},
    )
    assert other.status == 422


def test_given_clusters_when_listing_and_getting_one_then_summaries_and_devices(api, microshare, user):
    reply = api.call("GET", f"{P}/devices/clusters", token=user["token"])
    assert reply.status == 200
    assert {c["id"]: (c["device_type"], c["device_count"]) for c in reply.body["items"]} == {
        "trap-golden": ("rodent_sensor", 3),
        "trap-acme": ("rodent_sensor", 2),
        "gw-golden": ("gateway", 1),
    }
    one = api.call("GET", f"{P}/devices/clusters/trap-acme", token=user["token"])
    assert one.status == 200 and [d["guid"] for d in one.body["devices"]] == ["a-1", "a-2"]
    assert one.body["name"] == "Acme traps" and one.body["rec_type"] == TRAP
    assert api.call("GET", f"{P}/devices/clusters/nope", token=user["token"]).status == 404


def test_given_device_when_getting_by_deveui_or_guid_then_the_same_device(api, microshare, user):
    by_eui = api.call("GET", f"{P}/devices/58-A0-CB-FF-FE-80-00-11", token=user["token"])
    by_guid = api.call("GET", f"{P}/devices/a-1", token=user["token"])
    assert by_eui.status == 200 and by_eui.body == by_guid.body and by_guid.body["cluster_id"] == "trap-acme"
    missing = api.call("GET", f"{P}/devices/zz-top", token=user["token"])
    assert (missing.status, missing.body) == (404, {"detail": "Device not found"})


def test_given_default_id_in_several_clusters_when_getting_then_409_unless_cluster_id_given(api, microshare, user):
    reply = api.call("GET", f"{P}/devices/{DEFAULT_ID}", token=user["token"])
    assert reply.status == 409 and "trap-golden" in reply.body["detail"] and "cluster_id" in reply.body["detail"]
    picked = api.call("GET", f"{P}/devices/{DEFAULT_ID}", token=user["token"], query={"cluster_id": "trap-acme"})
    assert picked.status == 200 and picked.body["guid"] == "a-2"


def test_given_default_id_twice_in_one_cluster_when_getting_then_409_asking_for_the_guid(api, microshare, user):
    api.call("POST", f"{P}/devices", token=user["token"], json_body={"meta": {"location": ROD}})
    reply = api.call("GET", f"{P}/devices/{DEFAULT_ID}", token=user["token"], query={"cluster_id": "trap-acme"})
    assert reply.status == 409 and "guid" in reply.body["detail"]


# ------------------------------------------------------------------ writing devices
def test_given_rodent_sensor_when_creating_then_201_in_the_customers_cluster_and_cache_updated_in_place(
    api, microshare, user
):
    api.call("GET", f"{P}/devices", token=user["token"])  # warm cache
    microshare.reset_counts()
    reply = api.call(
        "POST", f"{P}/devices", token=user["token"], json_body={"meta": {"location": ROD}, "guid": "erp-device-009"}
    )
    assert reply.status == 201
    assert reply.body["cluster_id"] == "trap-acme" and reply.body["guid"] == "erp-device-009"
    assert (reply.body["id"], reply.body["status"], reply.body["erp_reference"]) == (DEFAULT_ID, "pending", "ACME-09")
    assert _guids(microshare, "trap-acme") == ["a-1", "a-2", "erp-device-009"]
    # fresh read, PUT, verifying read; no rediscovery
    assert (microshare.count("get"), microshare.count("put"), microshare.count("discover")) == (2, 1, 0)
    listed = api.call("GET", f"{P}/devices", token=user["token"], query={"customer": "Acme"})
    assert "erp-device-009" in [d["guid"] for d in listed.body["items"]]
    assert microshare.count("discover") == 0 and listed.ddb_calls == ["Query", "UpdateItem"]


def test_given_gateway_when_creating_then_it_goes_to_the_gateway_cluster(api, microshare, user):
    reply = api.call(
        "POST",
        f"{P}/devices",
        token=user["token"],
        json_body={
            "device_type": "gateway",
            "id": "aabbccddeeff0002",
            "status": "active",
            "meta": {"location": ["Golden Crust", "Manchester", "Yard", "South mast"]},
        },
    )
    assert reply.status == 201
    assert (reply.body["cluster_id"], reply.body["id"]) == ("gw-golden", "AA-BB-CC-DD-EE-FF-00-02")
    assert len(microshare.devices_in("gw-golden")) == 2


def test_given_the_contracts_gateway_example_without_device_type_when_creating_then_a_gateway(api, microshare, user):
    body = {
        "id": "AA-BB-CC-DD-EE-FF-00-07",
        "meta": {"location": ["Golden Crust", "Manchester", "Roof", "South mast"]},
        "status": "active",
        "guid": "gateway-identifier-7",
    }
    reply = api.call("POST", f"{P}/devices", token=user["token"], json_body=body)
    assert reply.status == 201, reply.body
    assert (reply.body["device_type"], reply.body["cluster_id"]) == ("gateway", "gw-golden")
    assert "gateway-identifier-7" in _guids(microshare, "gw-golden")


def test_given_a_device_created_undashed_when_reading_updating_deleting_by_either_form_then_found(
    api, microshare, user
):
    created = api.call(
        "POST", f"{P}/devices", token=user["token"], json_body={"id": "58a0cb000011f85e", "meta": {"location": ROD}}
    )
    assert created.status == 201 and created.body["id"] == "58-A0-CB-00-00-11-F8-5E"
    for form in ("58A0CB000011F85E", "58-a0-cb-00-00-11-f8-5e", "58:A0:CB:00:00:11:F8:5E"):
        got = api.call("GET", f"{P}/devices/{form}", token=user["token"])
        assert (got.status, got.body["guid"]) == (200, created.body["guid"])
    updated = api.call("PUT", f"{P}/devices/58A0CB000011F85E", token=user["token"], json_body={"status": "active"})
    assert (updated.status, updated.body["status"]) == (200, "active")
    assert api.call("DELETE", f"{P}/devices/58A0CB000011F85E", token=user["token"]).status == 204
    assert created.body["guid"] not in _guids(microshare, "trap-acme")


def test_given_ids_stored_upstream_in_another_form_when_updating_then_only_the_changed_device_is_touched(
    api, microshare, user
):
    with microshare.lock:  # written upstream by another tool: undashed, lower case
        devices = microshare.clusters["trap-acme"]["data"]["devices"]
        devices[0]["id"], devices[1]["id"] = "58a0cb0000110001", "58a0cb0000110002"
    first_guid = devices[0]["guid"]
    reply = api.call(
        "PUT",
        f"{P}/devices/58-A0-CB-00-00-11-00-01",
        token=user["token"],
        json_body={"id": "58A0CB0000110001", "status": "maintenance"},  # the same DevEUI, written otherwise
    )
    assert reply.status == 200 and reply.body["guid"] == first_guid
    after = microshare.devices_in("trap-acme")
    assert [after[0]["id"], after[1]["id"]] == ["58a0cb0000110001", "58a0cb0000110002"]
    assert after[0]["status"] == "maintenance"


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {"device_type": "rodent_sensor", "meta": {"location": ["Acme", "Leeds", "Hall", "ACME-09"]}},
            "A rodent sensor needs a location of exactly 6 elements, not 4",
        ),
        (
            {"meta": {"location": ["Acme", "Leeds", "Hall", "ACME-09", "Internal"]}},
            "A rodent sensor needs a location of exactly 6 elements, not 5",
        ),
        (
            {"device_type": "gateway", "meta": {"location": ROD}},
            "A gateway needs a location of exactly 4 elements, not 6",
        ),
    ],
)
def test_given_wrong_location_length_when_creating_then_422_and_nothing_is_written(
    api, microshare, user, body, message
):
    reply = api.call("POST", f"{P}/devices", token=user["token"], json_body=body)
    assert (reply.status, reply.body) == (
        422,
        {"detail": [{"loc": ["body", "meta", "location"], "msg": message, "type": "validation_error"}]},
    )
    assert microshare.count("put") == 0


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"meta": {"location": ROD}, "id": "not-an-eui"}, ["body", "id"]),
        ({"meta": {"location": ROD}, "status": "exploded"}, ["body", "status"]),
        ({"meta": {"location": ROD}, "colour": "red"}, ["body", "colour"]),
        ({"meta": {}}, ["body", "meta", "location"]),
        ({"meta": {"location": ROD}, "device_type": "toaster"}, ["body", "device_type"]),
    ],
)
def test_given_invalid_device_when_creating_then_422_naming_the_field(api, microshare, user, body, loc):
    reply = api.call("POST", f"{P}/devices", token=user["token"], json_body=body)
    assert reply.status == 422 and loc in [e["loc"] for e in reply.body["detail"]]


@pytest.mark.parametrize(
    "location, query, fragment",
    [
        (["Zed", "Oslo", "Hall", "Z-1", "Internal", "Bait/Lured"], None, "give cluster_id"),
        (ROD, {"cluster_id": "gw-golden"}, "holds gateway devices"),
        (ROD, {"cluster_id": "nope"}, "Unknown cluster nope"),
    ],
)
def test_given_no_single_fitting_cluster_when_creating_then_422_on_cluster_id(
    api, microshare, user, location, query, fragment
):
    reply = api.call(
        "POST", f"{P}/devices", token=user["token"], json_body={"meta": {"location": location}}, query=query
    )
    assert reply.status == 422 and reply.body["detail"][0]["loc"] == ["query", "cluster_id"]
    assert fragment in reply.body["detail"][0]["msg"]


def test_given_explicit_cluster_when_creating_then_it_is_used(api, microshare, user):
    reply = api.call(
        "POST",
        f"{P}/devices",
        token=user["token"],
        query={"cluster_id": "trap-golden"},
        json_body={"meta": {"location": ["Zed", "Oslo", "Hall", "Z-1", "Internal", "Bait/Lured"]}},
    )
    assert reply.status == 201 and reply.body["cluster_id"] == "trap-golden"


def test_given_existing_guid_when_creating_then_409(api, microshare, user):
    reply = api.call("POST", f"{P}/devices", token=user["token"], json_body={"meta": {"location": ROD}, "guid": "a-1"})
    assert (reply.status, reply.body) == (409, {"detail": "A device with guid a-1 already exists in cluster trap-acme"})
    assert microshare.count("put") == 0


def test_given_pending_device_when_deployed_then_id_and_status_change_upstream_and_in_cache(api, microshare, user):
    reply = api.call(
        "PUT", f"{P}/devices/a-2", token=user["token"], json_body={"id": "58:a0:cb:ff:fe:80:00:12", "status": "active"}
    )
    assert reply.status == 200
    assert (reply.body["id"], reply.body["status"], reply.body["guid"]) == ("58-A0-CB-FF-FE-80-00-12", "active", "a-2")
    upstream = {d["guid"]: d for d in microshare.devices_in("trap-acme")}["a-2"]
    assert (upstream["id"], upstream["status"]) == ("58-A0-CB-FF-FE-80-00-12", "active")
    assert api.call("GET", f"{P}/devices/58-A0-CB-FF-FE-80-00-12", token=user["token"]).body == reply.body


def test_given_new_location_when_updating_then_replaced_and_other_meta_kept(api, microshare, user):
    microshare.clusters["trap-acme"]["data"]["devices"][0]["meta"]["installed_by"] = "kim"
    new = ["Acme", "Leeds", "Kitchen", "ACME-01", "External", "Kill/Trap"]
    reply = api.call("PUT", f"{P}/devices/a-1", token=user["token"], json_body={"meta": {"location": new}})
    assert reply.status == 200 and reply.body["meta"] == {"location": new, "installed_by": "kim"}
    assert reply.body["placement"] == "External"


@pytest.mark.parametrize(
    "path, body, status",
    [
        (f"{P}/devices/a-1", {"meta": {"location": ["too", "short"]}}, 422),
        (f"{P}/devices/gw-1", {"meta": {"location": ROD}}, 422),
        (f"{P}/devices/a-1", {"status": None}, 422),
        (f"{P}/devices/a-1", {"guid": "new"}, 422),
        (f"{P}/devices/nope", {"status": "active"}, 404),
        (f"{P}/devices/{DEFAULT_ID}", {"status": "active"}, 409),
    ],
)
def test_given_bad_update_when_putting_then_clear_error_and_nothing_written(api, microshare, user, path, body, status):
    reply = api.call("PUT", path, token=user["token"], json_body=body)
    assert reply.status == status, reply.body
    assert microshare.count("put") == 0


def test_given_device_when_deleting_then_204_gone_upstream_and_from_cache(api, microshare, user):
    reply = api.call("DELETE", f"{P}/devices/g-2", token=user["token"])
    assert (reply.status, reply.body) == (204, None)
    assert _guids(microshare, "trap-golden") == ["g-1", "g-3"]
    assert api.call("GET", f"{P}/devices/g-2", token=user["token"]).status == 404
    assert api.call("DELETE", f"{P}/devices/g-2", token=user["token"]).status == 404


def test_given_default_id_when_deleting_with_cluster_id_then_only_that_device_goes(api, microshare, user):
    reply = api.call("DELETE", f"{P}/devices/{DEFAULT_ID}", token=user["token"], query={"cluster_id": "trap-golden"})
    assert reply.status == 204
    assert _guids(microshare, "trap-golden") == ["g-1", "g-2"] and _guids(microshare, "trap-acme") == ["a-1", "a-2"]


def test_given_cluster_removed_upstream_after_caching_when_writing_then_404(api, microshare, user):
    api.call("GET", f"{P}/devices", token=user["token"])
    del microshare.clusters["trap-acme"]
    reply = api.call("PUT", f"{P}/devices/a-1", token=user["token"], json_body={"status": "inactive"})
    assert (reply.status, reply.body) == (404, {"detail": "Cluster trap-acme not found on Microshare"})


# ------------------------------------------------------------------ verified, serialised writes
def test_given_upstream_dropping_one_put_when_creating_then_the_reread_catches_it_and_it_is_retried(
    api, microshare, user
):
    microshare.ignore_puts = 1
    reply = api.call("POST", f"{P}/devices", token=user["token"], json_body={"meta": {"location": ROD}})
    assert reply.status == 201
    assert microshare.count("put") == 2 and reply.body["guid"] in _guids(microshare, "trap-acme")


def test_given_upstream_never_applying_puts_when_creating_then_502(api, microshare, user):
    microshare.ignore_puts = 5
    reply = api.call("POST", f"{P}/devices", token=user["token"], json_body={"meta": {"location": ROD}})
    assert (reply.status, reply.body) == (502, {"detail": "Microshare did not apply the change to cluster trap-acme"})
    assert microshare.count("put") == 2


def test_given_two_concurrent_creates_in_one_cluster_when_both_finish_then_both_devices_survive(api, microshare):
    """Without the lease both would read the cluster, append, and PUT: the second PUT would drop the first device."""
    from fleetgate.microshare import service
    from fleetgate.microshare.schemas import DeviceCreate

    service.list_clusters()  # warm the cache: both writers start from the same cached view
    microshare.read_delay = 0.15  # widen the read-modify-write window
    results, errors = [], []

    def create(guid: str) -> None:
        try:
            results.append(service.create_device(DeviceCreate(meta={"location": ROD}, guid=guid)).guid)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(g,)) for g in ("race-1", "race-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    assert not errors and sorted(results) == ["race-1", "race-2"]
    assert {"race-1", "race-2"} <= set(_guids(microshare, "trap-acme"))
    assert microshare.count("put") == 2


def test_given_cluster_lease_held_elsewhere_when_creating_then_409_after_the_wait(api, microshare, user, monkeypatch):
    from fleetgate.microshare import repository

    monkeypatch.setenv("MICROSHARE_LEASE_WAIT_SECONDS", "0.3")
    settings.reset()
    assert repository.acquire_lease("trap-acme", "someone-else", 30)
    reply = api.call("POST", f"{P}/devices", token=user["token"], json_body={"meta": {"location": ROD}})
    assert reply.status == 409 and "in progress" in reply.body["detail"]
    assert microshare.count("put") == 0


def test_given_lease_of_a_crashed_writer_when_it_expires_then_the_next_write_proceeds(api, microshare, user):
    from fleetgate.microshare import repository

    started = time.monotonic()  # the lease runs from a moment after this
    assert repository.acquire_lease("trap-acme", "crashed-instance", 0.3)
    reply = api.call("POST", f"{P}/devices", token=user["token"], json_body={"meta": {"location": ROD}})
    assert reply.status == 201 and time.monotonic() - started >= 0.3


# ------------------------------------------------------------------ the shared cache
def test_given_reads_when_asking_cache_stats_then_hits_misses_age_and_counts(api, microshare, user):
    api.call("GET", f"{P}/devices", token=user["token"])  # miss: discovery
    api.call("GET", f"{P}/devices/clusters", token=user["token"])  # hit
    api.call("GET", f"{P}/devices/a-1", token=user["token"])  # hit
    reply = api.call("GET", f"{P}/devices/cache/stats", token=user["token"])
    assert reply.status == 200
    body = reply.body
    assert (body["hits"], body["misses"], body["hit_rate"]) == (2, 1, 0.6667)
    assert (body["fresh"], body["clusters"], body["devices"], body["ttl_seconds"]) == (True, 3, 6, 300)
    assert 0 <= body["age_seconds"] < 5 and body["refreshed_at"] < body["expires_at"]
    assert microshare.count("discover") == 1


def test_given_empty_cache_when_asking_stats_then_zeros_and_not_fresh(api, microshare, user):
    reply = api.call("GET", f"{P}/devices/cache/stats", token=user["token"])
    assert reply.status == 200
    assert {k: reply.body[k] for k in ("hits", "misses", "hit_rate", "fresh", "clusters", "age_seconds")} == {
        "hits": 0,
        "misses": 0,
        "hit_rate": None,
        "fresh": False,
        "clusters": 0,
        "age_seconds": None,
    }


def test_given_cache_when_cleared_then_the_next_read_rediscovers(api, microshare, user):
    api.call("GET", f"{P}/devices", token=user["token"])
    reply = api.call("POST", f"{P}/devices/cache/clear", token=user["token"])
    assert reply.status == 200 and reply.body["cleared"] == 3
    api.call("GET", f"{P}/devices", token=user["token"])
    assert microshare.count("discover") == 2


def test_given_cache_older_than_ttl_when_reading_then_it_is_refreshed(api, microshare, user, monkeypatch):
    monkeypatch.setenv("CACHE_TTL", "1")
    settings.reset()
    api.call("GET", f"{P}/devices", token=user["token"])
    api.call("GET", f"{P}/devices", token=user["token"])
    assert microshare.count("discover") == 1
    time.sleep(1.05)
    api.call("GET", f"{P}/devices", token=user["token"])
    assert microshare.count("discover") == 2


def test_given_another_function_instance_when_reading_then_it_shares_the_cache(api, microshare, user):
    api.call("GET", f"{P}/devices", token=user["token"])
    settings.reset()  # a new instance: no token, no HTTP client, nothing in memory
    reply = api.call("GET", f"{P}/devices", token=user["token"])
    assert reply.status == 200 and len(reply.body["items"]) == 6
    assert (microshare.count("discover"), microshare.count("auth")) == (1, 1)


def test_given_upstream_change_when_discovering_then_the_cache_shows_it(api, microshare, user):
    api.call("GET", f"{P}/devices", token=user["token"])
    del microshare.clusters["gw-golden"]
    reply = api.call("GET", f"{P}/devices/discovery", token=user["token"])
    assert reply.status == 200
    assert (reply.body["cluster_count"], reply.body["device_count"]) == (2, 5)
    assert reply.body["devices_by_type"] == {"rodent_sensor": 5}
    listed = api.call("GET", f"{P}/devices/clusters", token=user["token"])
    assert [c["id"] for c in listed.body["items"]] == ["trap-acme", "trap-golden"]


def test_given_a_write_stored_after_a_slow_discovery_began_when_the_discovery_lands_then_the_write_wins(
    api, microshare
):
    from fleetgate.microshare import repository
    from fleetgate.microshare.clusters import Cluster

    old = {"_id": "trap-acme", "name": "Acme traps", "recType": TRAP, "data": {"devices": [{"guid": "old"}]}}
    new = {**old, "data": {"devices": [{"guid": "old"}, {"guid": "written"}]}}
    assert repository.store_cluster(Cluster.parse(new), fetched_at=200.0, ttl=300)
    repository.store_discovery([Cluster.parse(old)], fetched_at=100.0, ttl=300, cached_ids=set())
    [cached] = repository.read_cache().clusters
    assert cached.devices == [{"guid": "old"}, {"guid": "written"}]


def test_given_the_schedule_when_the_refresh_function_runs_then_the_cache_is_fresh(api, microshare, user):
    from localcloud.apigw import LambdaContext

    fn = api.functions.stack.functions["MicroshareRefreshFunction"]
    assert [s["Schedule"] for s in fn.schedules] == ["rate(4 minutes)"]  # < CACHE_TTL (300 s): always fresh
    event = {
        "version": "0",
        "id": "1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-22T10:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/refresh"],
        "detail": {},
    }
    result = api.functions.handler("MicroshareRefreshFunction")(event, LambdaContext("refresh"))
    assert (result["clusters"], result["devices"]) == (3, 6)
    reply = api.call("GET", f"{P}/devices", token=user["token"])
    assert reply.status == 200 and microshare.count("discover") == 1  # served from what the schedule stored
    stats = api.call("GET", f"{P}/devices/cache/stats", token=user["token"]).body
    assert (stats["hits"], stats["misses"]) == (1, 0)


# ------------------------------------------------------------------ benchmark
def test_given_benchmark_when_run_then_real_upstream_calls_are_timed_and_only_2xx_succeed(api, microshare, user):
    microshare.fail(Answer.json(503, {"error": "busy"}), method="GET", path="/device/io.", times=1)
    reply = api.call("GET", f"{P}/devices/performance/benchmark", token=user["token"], query={"iterations": 2})
    assert reply.status == 200 and reply.body["iterations"] == 2
    ops = reply.body["operations"]
    assert (ops["authentication"]["successes"], ops["discovery"]["successes"]) == (2, 2)
    assert ops["cluster_read"] | {"min_ms": 0, "p50_ms": 0, "max_ms": 0, "mean_ms": 0} == {
        "calls": 2,
        "successes": 1,
        "failures": 1,
        "statuses": {"503": 1, "200": 1},
        "min_ms": 0,
        "p50_ms": 0,
        "max_ms": 0,
        "mean_ms": 0,
    }
    assert ops["discovery"]["min_ms"] > 0 and ops["cached_read"]["successes"] == 2
    assert microshare.count("auth") >= 2 and microshare.count("discover") == 2


def test_given_upstream_down_when_benchmarking_then_every_call_fails(api, microshare, user, monkeypatch):
    monkeypatch.setenv("MICROSHARE_AUTH_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("MICROSHARE_API_URL", f"http://127.0.0.1:{_closed_port()}")
    settings.reset()
    reply = api.call("GET", f"{P}/devices/performance/benchmark", token=user["token"], query={"iterations": 1})
    assert reply.status == 200
    ops = reply.body["operations"]
    assert ops["authentication"] | {"min_ms": None, "p50_ms": None, "max_ms": None, "mean_ms": None} == {
        "calls": 1,
        "successes": 0,
        "failures": 1,
        "statuses": {"error": 1},
        "min_ms": None,
        "p50_ms": None,
        "max_ms": None,
        "mean_ms": None,
    }
    assert ops["discovery"]["successes"] == 0 and ops["cluster_read"]["calls"] == 0


def test_given_too_many_iterations_when_benchmarking_then_422(api, microshare, user):
    reply = api.call("GET", f"{P}/devices/performance/benchmark", token=user["token"], query={"iterations": 11})
    assert reply.status == 422
