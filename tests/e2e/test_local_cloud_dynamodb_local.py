"""``serve --dynamodb local``: the real engine behind the API, its data and tokens surviving a restart."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.dynamodb_local.lane import require_dynamodb_local
from tests.e2e.conftest import searched, start_cloud, state_of

pytestmark = [pytest.mark.e2e, pytest.mark.dynamodb_local]


def test_given_dynamodb_local_when_the_cloud_restarts_then_users_devices_and_tokens_survive(tmp_path):
    require_dynamodb_local()
    tag = uuid.uuid4().hex[:10]
    email, eui = f"keep-{tag}@example.com", uuid.uuid4().hex[:16]
    password = "correct horse battery"

    # given a user with a device, created through a cloud backed by DynamoDB Local
    cloud = start_cloud(tmp_path, "--dynamodb", "local")
    try:
        state = state_of(tmp_path)
        assert state["dynamodb_endpoint"] != state["endpoint"]
        http = httpx.Client(base_url=cloud.url, timeout=30)
        assert (
            http.post(
                "/api/v1/auth/register", json={"email": email, "username": f"keep_{tag}", "password": password}
            ).status_code
            == 201
        )
        token = http.post("/api/v1/auth/login", data={"username": email, "password": password}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert http.post("/api/v1/devices", json={"dev_eui": eui, "name": "kept"}, headers=auth).status_code == 201
        # DynamoDB Local streams like AWS: the device reaches the search index through its table's stream
        assert searched(http, auth, "kept") == ["kept"]
    finally:
        assert cloud.stop() == 0, cloud.output()

    # when it restarts on the same data directory
    cloud = start_cloud(tmp_path, "--dynamodb", "local")
    try:
        http = httpx.Client(base_url=cloud.url, timeout=30)
        # then the old token is still valid (same secret) and the device is still there
        listed = http.get("/api/v1/devices", headers=auth)
        assert listed.status_code == 200, listed.text
        assert [d["dev_eui"] for d in listed.json()["items"]] == [eui]
        assert http.post("/api/v1/auth/login", data={"username": email, "password": password}).status_code == 200
    finally:
        assert cloud.stop() == 0, cloud.output()
    assert (tmp_path / "dynamodb" / "shared-local-instance.db").exists()
