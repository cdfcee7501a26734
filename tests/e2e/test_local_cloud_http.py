"""The local cloud as a developer uses it: a real process, real HTTP, the real template and handlers."""

from __future__ import annotations

import json
import os
import uuid

import jwt
import pytest

from tests.e2e.conftest import run_cli, searched, start_cloud, state_of

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


def _user(http) -> dict:
    tag = uuid.uuid4().hex[:10]
    email, username = f"e2e-{tag}@example.com", f"e2e_{tag}"
    reply = http.post("/api/v1/auth/register", json={"email": email, "username": username, "password": PASSWORD})
    assert reply.status_code == 201, reply.text
    return {**reply.json(), "token": _login(http, email)}


def _login(http, login: str, password: str = PASSWORD) -> str:
    reply = http.post("/api/v1/auth/login", data={"username": login, "password": password})
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def test_given_a_registered_user_when_creating_and_listing_devices_over_http_then_the_device_is_listed(http):
    user = _user(http)
    auth = {"Authorization": f"Bearer {user['token']}"}
    eui = uuid.uuid4().hex[:16]

    created = http.post("/api/v1/devices", json={"dev_eui": eui, "name": "e2e sensor"}, headers=auth)
    listed = http.get("/api/v1/devices", params={"limit": 10}, headers=auth)

    assert created.status_code == 201, created.text
    assert listed.status_code == 200
    assert [d["dev_eui"] for d in listed.json()["items"]] == [eui]
    assert listed.json()["next_cursor"] is None


def test_given_a_device_created_over_http_then_the_clouds_stream_mapping_makes_it_searchable(local_cloud, http):
    user = _user(http)
    auth = {"Authorization": f"Bearer {user['token']}"}
    name = f"Stream sensor {uuid.uuid4().hex[:6]}"

    assert http.post("/api/v1/devices", json={"dev_eui": uuid.uuid4().hex[:16], "name": name}, headers=auth).is_success

    assert searched(http, auth, name) == [name]  # the indexer ran from the devices table's stream
    assert "Stream         fleetgate-local-DevicesTable -> SearchIndexerFunction" in local_cloud.output()


def test_given_no_token_when_listing_devices_then_401(http):
    reply = http.get("/api/v1/devices")

    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"


def test_given_an_unknown_route_when_requested_then_api_gateways_404(http):
    reply = http.get("/api/v1/nothing-here")

    assert (reply.status_code, reply.json()) == (404, {"message": "Not Found"})


def test_given_the_running_cloud_when_opening_the_docs_then_swagger_ui_and_the_merged_openapi_document(http):
    page = http.get("/docs")
    document = http.get("/openapi.json").json()

    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "swagger-ui" in page.text and "/openapi.json" in page.text
    assert {"/api/v1/devices", "/api/v1/auth/login", "/api/v1/labels/{label_id}"} <= set(document["paths"])
    assert {"Device", "DeviceCreate", "TokenOut"} <= set(document["components"]["schemas"])
    assert "bearerAuth" in document["components"]["securitySchemes"]


def test_given_the_running_cloud_when_running_create_admin_then_that_admin_can_log_in(local_cloud, http):
    tag = uuid.uuid4().hex[:10]
    email, password = f"admin-{tag}@example.com", f"admin-pw-{tag}"

    result = run_cli("create-admin", email, f"admin_{tag}", password, "--data-dir", str(local_cloud.data_dir))

    assert result.returncode == 0, result.stderr
    assert f"Created admin admin_{tag} <{email}>" in result.stdout
    assert password not in result.stdout + result.stderr
    claims = jwt.decode(_login(http, email, password), options={"verify_signature": False})
    assert claims["role"] == "admin"


def test_given_an_existing_user_when_running_create_admin_for_them_then_they_are_promoted(local_cloud, http):
    user = _user(http)

    result = run_cli("create-admin", user["email"], user["username"], PASSWORD, "--data-dir", str(local_cloud.data_dir))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Promoted existing user to admin:")
    assert jwt.decode(_login(http, user["email"]), options={"verify_signature": False})["role"] == "admin"


def test_given_no_running_cloud_when_running_create_admin_then_exit_2_saying_to_run_make_dev(tmp_path):
    result = run_cli("create-admin", "a@example.com", "a_user", "whatever-pw", "--data-dir", str(tmp_path))

    assert result.returncode == 2
    assert "make dev" in result.stderr


def test_given_no_running_cloud_when_invoking_a_function_with_an_events_file_then_the_result_is_on_stdout(tmp_path):
    result = run_cli("invoke", "DevicesFunction", "events/devices-list.json", "--data-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)  # stdout holds only the result; logs went to stderr
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"]) == {"items": [], "next_cursor": None}


def test_given_the_register_event_when_invoking_the_auth_function_then_201(tmp_path):
    result = run_cli("invoke", "AuthFunction", "events/auth-register.json", "--data-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statusCode"] == 201


def test_given_a_running_cloud_when_invoking_then_the_call_reaches_its_tables(local_cloud, http, tmp_path):
    # given a user of the running cloud, and the devices-create event with a fresh EUI
    user = _user(http)
    event = json.loads(open("events/devices-create.json").read())
    eui = uuid.uuid4().hex[:16]
    event["body"] = json.dumps({**json.loads(event["body"]), "dev_eui": eui})
    (tmp_path / "event.json").write_text(json.dumps(event))

    # when invoking as that user
    result = run_cli(
        "invoke",
        "DevicesFunction",
        str(tmp_path / "event.json"),
        "--user-id",
        user["id"],
        "--data-dir",
        str(local_cloud.data_dir),
    )

    # then the device is created in the running cloud and listed over HTTP
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statusCode"] == 201
    listed = http.get("/api/v1/devices", headers={"Authorization": f"Bearer {user['token']}"}).json()
    assert [d["dev_eui"] for d in listed["items"]] == [eui]


def test_given_an_unknown_function_when_invoking_then_exit_2_listing_the_functions(tmp_path):
    result = run_cli("invoke", "NoSuchFunction", "events/devices-list.json", "--data-dir", str(tmp_path))

    assert result.returncode == 2
    assert "DevicesFunction" in result.stderr


def test_given_a_running_cloud_when_it_gets_sigterm_then_it_stops_cleanly_and_removes_its_state(tmp_path):
    cloud = start_cloud(tmp_path / "cloud")
    try:
        state = state_of(cloud.data_dir)
        assert state["pid"] == cloud.process.pid
        assert state["api_url"] == cloud.url
        assert state["endpoint"].startswith("http://127.0.0.1:") and state["dynamodb_endpoint"] == state["endpoint"]
    finally:
        code = cloud.stop()
    assert code == 0, cloud.output()
    assert not (cloud.data_dir / "state.json").exists()
    assert "Traceback" not in cloud.output()
    assert os.stat(cloud.data_dir / "secrets.json").st_size > 0


def test_given_an_integration_aimed_at_the_clouds_own_aws_endpoint_when_tested_then_refused(local_cloud, http):
    """Loopback sinks are allowed locally, but never the embedded AWS endpoint (it would list tables, secrets)."""
    auth = {"authorization": f"Bearer {_user(http)['token']}"}
    endpoint = state_of(local_cloud.data_dir)["endpoint"]  # http://127.0.0.1:<moto port>
    port = endpoint.rsplit(":", 1)[1]
    for url in (f"{endpoint}/", f"http://localhost:{port}/", f"http://127.0.0.2:{port}/"):
        body = {"name": "sneaky", "type": "http", "config": {"url": url, "method": "GET"}}
        integration = http.post("/api/v1/integrations", json=body, headers=auth).json()
        tested = http.post(f"/api/v1/integrations/{integration['id']}/test", json={}, headers=auth)
        assert tested.status_code == 200, tested.text
        assert tested.json()["success"] is False and "not allowed" in tested.json()["error"], (url, tested.json())
