"""The partner APIs as their contracts' clients see them, over real HTTP against a real ``make dev`` process whose
upstreams are configured only through the contracts' environment variables (MOBIVISOR_API_URL, MICROSHARE_*, ...)
set in the shell it starts from, pointing at fakes on 127.0.0.1.

The Microshare client below uses only what ../shared/specs/microshare-erp.md documents: its paths (on the Microshare
API's own port), its bodies, its login."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import RunningCloud, run_cli, start_cloud
from tests.fakes import FakeMicroshare, FakeMobivisor

pytestmark = pytest.mark.e2e

MOBIVISOR_TOKEN = "mobivisor-e2e-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[FakeMobivisor, FakeMicroshare]]:
    with FakeMobivisor(MOBIVISOR_TOKEN) as mobivisor, FakeMicroshare() as microshare:
        yield mobivisor, microshare


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, upstreams) -> Iterator[RunningCloud]:
    mobivisor, microshare = upstreams
    shell = {
        "MOBIVISOR_API_URL": mobivisor.url,
        "MOBIVISOR_API_TOKEN": MOBIVISOR_TOKEN,
        "MICROSHARE_AUTH_URL": microshare.url,
        "MICROSHARE_API_URL": microshare.url,
        "MICROSHARE_USERNAME": microshare.username,
        "MICROSHARE_PASSWORD": microshare.password,
        "MICROSHARE_API_KEY": microshare.client_id,
        "API_TIMEOUT": "30",  # the contract's value: accepted on the Microshare API
        "CACHE_TTL": "600",
    }
    running = start_cloud(tmp_path_factory.mktemp("partners"), env=shell)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def microshare_api(cloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.apis["MicroshareApi"], timeout=30) as client:
        yield client


def test_given_the_shell_sets_the_contracts_variables_when_starting_then_the_banner_says_where_without_secrets(
    cloud, upstreams
):
    mobivisor, microshare = upstreams
    out = cloud.output()
    assert f"MobivisorApiUrl={mobivisor.url} ($MOBIVISOR_API_URL)" in out
    assert "MobivisorApiToken=set ($MOBIVISOR_API_TOKEN)" in out
    assert "MicroshareApiTimeout=30   ($API_TIMEOUT)" in out
    assert f"{cloud.apis['MicroshareApi']}/docs" in out and f"{cloud.url}/docs" in out
    for secret in (MOBIVISOR_TOKEN, microshare.password, microshare.client_id):
        assert secret not in out


def test_given_mobivisor_configured_only_by_environment_when_an_admin_lists_devices_then_the_upstreams_devices(
    cloud, upstreams
):
    mobivisor, _ = upstreams
    tag = uuid.uuid4().hex[:8]
    email, password = f"ops-{tag}@example.com", "ops password " + tag
    created = run_cli("create-admin", email, f"ops_{tag}", password, "--data-dir", str(cloud.data_dir))
    assert created.returncode == 0, created.stderr
    with httpx.Client(base_url=cloud.url, timeout=30) as http:
        login = http.post("/api/v1/auth/login", data={"username": email, "password": password})
        token = login.json()["access_token"]
        listed = http.get("/api/v1/mobivisor/devices", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.text
    assert sorted(d["id"] for d in listed.json()["devices"]) == ["123", "456"]
    assert mobivisor.calls()[-1].headers["authorization"] == f"Bearer {MOBIVISOR_TOKEN}"


def test_given_a_client_of_the_microshare_document_when_it_runs_its_paths_and_bodies_then_each_answers_as_documented(
    cloud, upstreams, microshare_api
):
    _, microshare = upstreams
    assert microshare_api.get("/health").json()["status"] == "healthy"
    login = microshare_api.post(
        "/api/v1/auth/login", json={"username": microshare.username, "password": microshare.password}
    )
    assert login.status_code == 200 and login.json()["token_type"] == "bearer"
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

    listed = microshare_api.get("/api/v1/devices/", headers=auth)
    assert listed.status_code == 200 and len(listed.json()["items"]) == 6
    for path in ("/api/v1/devices/discovery", "/api/v1/devices/clusters", "/api/v1/status"):
        assert microshare_api.get(path, headers=auth).status_code == 200, path
    benchmark = microshare_api.get("/api/v1/devices/performance/benchmark", headers=auth)
    assert benchmark.status_code == 200 and benchmark.json()["iterations"] >= 1

    point = f"ERP-{uuid.uuid4().hex[:6]}"
    rodent = {  # the document's map_erp_to_device
        "id": "00-00-00-00-00-00-00-00",
        "meta": {"location": ["Acme", "Leeds", "Hall", point, "Internal", "Bait/Lured"]},
        "status": "pending",
        "guid": f"erp-sync-{point}",
    }
    created = microshare_api.post("/api/v1/devices/", json=rodent, headers=auth)
    assert created.status_code == 201, created.text
    assert (created.json()["guid"], created.json()["erp_reference"]) == (rodent["guid"], point)
    gateway = {  # the document's gateway example: 4 elements, active, no device_type
        "id": "AA-BB-CC-DD-EE-FF-00-09",
        "meta": {"location": ["Golden Crust", "Manchester", "Roof", "Gateway_Location"]},
        "status": "active",
        "guid": f"gateway-{point}",
    }
    assert microshare_api.post("/api/v1/devices/", json=gateway, headers=auth).status_code == 201
    updated = microshare_api.put(f"/api/v1/devices/{rodent['guid']}", json={"status": "active"}, headers=auth)
    assert (updated.status_code, updated.json()["status"]) == (200, "active")
    undashed = microshare_api.put("/api/v1/devices/AABBCCDDEEFF0009", json={"status": "maintenance"}, headers=auth)
    assert (undashed.status_code, undashed.json()["guid"]) == (200, gateway["guid"])
    assert microshare_api.delete(f"/api/v1/devices/{rodent['guid']}", headers=auth).status_code == 204
    assert rodent["guid"] not in [d["guid"] for d in microshare.devices_in("trap-acme")]


def test_given_two_apis_when_reading_each_document_then_each_port_documents_its_own_paths(cloud, microshare_api):
    own = microshare_api.get("/openapi.json").json()["paths"]
    main = httpx.get(f"{cloud.url}/openapi.json", timeout=30).json()["paths"]
    assert {"/api/v1/devices", "/api/v1/devices/discovery", "/api/v1/auth/login", "/health"} <= set(own)
    assert "/api/v1/devices/discovery" not in main and "/api/v1/microshare/devices" not in main
    assert "dev_eui" not in str(own["/api/v1/devices"]) and microshare_api.get("/docs").status_code == 200
