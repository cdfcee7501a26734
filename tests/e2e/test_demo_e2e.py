"""A newcomer's first minutes: a fresh ``make dev`` seeds the demo and prints how to use it; the printed curl posts a
ChirpStack uplink that is answered 202 and runs the demo flow to success (°C to °F, delivered to the sink)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import RunningCloud, start_cloud

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[RunningCloud]:
    running = start_cloud(tmp_path_factory.mktemp("demo"), demo=True)  # a new, empty data folder
    try:
        yield running
    finally:
        running.stop()


def _printed(cloud: RunningCloud, label: str) -> str:
    match = re.search(rf"^  {label} +(.+)$", cloud.output(), re.M)
    assert match, f"the banner has no {label!r} line:\n{cloud.output()}"
    return match.group(1).strip()


def _runs(http: httpx.Client, history: str, token: str) -> list[dict]:
    reply = http.get(history, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]


def test_given_a_fresh_make_dev_when_running_the_printed_curl_then_202_and_the_demo_flow_succeeds(cloud):
    token = _printed(cloud, "Demo token")
    history = _printed(cloud, "Demo flow").split()[0]
    sink = _printed(cloud, "Demo sink").split()[0]
    curl = _printed(cloud, "Try")
    assert _printed(cloud, "Demo login").startswith("demo@fleetgate.local / ")
    assert _printed(cloud, "Ingest key") in curl
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")

    with httpx.Client(timeout=30) as http:
        deadline = time.monotonic() + 30
        while len(_runs(http, history, token)) < 3 and time.monotonic() < deadline:  # the seeded uplinks' runs
            time.sleep(0.2)
        seeded = _runs(http, history, token)
        assert [r["status"] for r in seeded] == ["success"] * 3

        posted = subprocess.run(
            ["bash", "-c", curl + " -o /dev/null -w '%{http_code}'"], capture_output=True, text=True, timeout=30
        )
        assert posted.stdout == "202", posted

        while len(_runs(http, history, token)) < 4 and time.monotonic() < deadline + 30:
            time.sleep(0.2)
        runs = _runs(http, history, token)
        assert len(runs) == 4 and all(r["status"] == "success" for r in runs)
        delivered = [item["data"] for item in http.get(sink).json()["items"]]
    assert {"temperature": 23.5, "humidity": 48, "temperatureF": 74.3} in delivered


def test_given_no_demo_flag_when_starting_then_nothing_is_seeded(tmp_path):
    empty = start_cloud(tmp_path / "empty")  # --no-demo
    try:
        login = httpx.post(
            f"{empty.url}/api/v1/auth/login",
            data={"username": "demo@fleetgate.local", "password": "fleetgate-demo"},
            timeout=30,
        )
        assert login.status_code == 401
        assert "Demo           none (--no-demo)" in empty.output() and "Demo token" not in empty.output()
    finally:
        assert empty.stop() == 0
