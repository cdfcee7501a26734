"""Logs and metrics as an operator sees them: each function's log lines under its own service name (the local cloud
runs every function in one process), and CloudWatch EMF metrics for a dashboard (uplinks, flow runs, integration
latency, function-node duration, upstream errors), with nothing printed for an invocation that recorded none."""

from __future__ import annotations

import io
import json
import logging
import warnings

import pytest

from fleetgate.core import settings
from tests.fakes import FakeMobivisor
from tests.flow_support import ScriptedSink, run_worker, v4_up
from tests.support import new_eui, token_for


def _lines(out: str) -> list[dict]:
    found = []
    for line in out.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return [f for f in found if isinstance(f, dict)]


def _metrics(out: str) -> list[dict]:
    """Every EMF metric printed: name, its values (a list: an invocation's set holds one per event), unit and the
    dimensions of its line."""
    found = []
    for line in _lines(out):
        for directive in (line.get("_aws") or {}).get("CloudWatchMetrics", []):
            assert directive["Namespace"] == "Fleetgate"
            dimensions = {d: line[d] for dims in directive["Dimensions"] for d in dims}
            for metric in directive["Metrics"]:
                value = line[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                found.append({"name": metric["Name"], "unit": metric["Unit"], "values": values, **dimensions})
    return found


@pytest.fixture
def log_lines():
    """The functions' log lines as they are written (the Powertools formatter, at emit time, in the invoking
    thread): the logger's own stream is whatever stdout was when it was created."""
    from fleetgate.core.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield lambda: _lines(stream.getvalue())
    logger.removeHandler(handler)


def test_given_two_functions_in_one_process_then_each_logs_under_its_own_service_name(api, log_lines):
    user = api.register()

    api.call("GET", "/api/v1/devices", token=user["token"])
    api.call("GET", "/api/v1/labels", token=user["token"])
    api.call("GET", "/health")

    requests = [line for line in log_lines() if line.get("message") == "request"][-3:]
    assert [(r["route"], r["service"]) for r in requests] == [
        ("GET /api/v1/devices", "devices"),
        ("GET /api/v1/labels", "labels"),
        ("GET /health", "health"),
    ]


def test_given_a_request_that_records_no_metric_then_no_emf_line_and_no_warning(api, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No application metrics to publish" would fail here
        assert api.call("GET", "/health").status == 200
    assert _metrics(capsys.readouterr().out) == []


def test_given_uplinks_then_accepted_duplicate_and_ignored_are_counted_under_ingest(api, capsys):
    user = api.register()
    key = api.call("POST", "/api/v1/ingest/keys", token=user["token"], json_body={"name": "cs"}).body["key"]
    eui = new_eui()
    api.call("POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": eui, "name": "d"})
    capsys.readouterr()
    body = v4_up(eui)

    for uplink in (body, body, v4_up(new_eui())):  # accepted, the same again, an unknown device
        reply = api.call(
            "POST", "/api/v1/ingest/chirpstack", json_body=uplink, query={"event": "up"}, headers={"x-api-key": key}
        )
        assert reply.status == 202

    counted = [(m["name"], m["values"], m["unit"], m["service"]) for m in _metrics(capsys.readouterr().out)]
    assert counted == [
        ("UplinksAccepted", [1.0], "Count", "ingest"),
        ("UplinksDuplicate", [1.0], "Count", "ingest"),
        ("UplinksIgnored", [1.0], "Count", "ingest"),
    ]


def test_given_a_flow_run_then_its_final_status_function_duration_and_delivery_latency_are_recorded(api, capsys):
    user = api.register()
    t = user["token"]
    key = api.call("POST", "/api/v1/ingest/keys", token=t, json_body={"name": "cs"}).body["key"]
    eui = new_eui()
    device = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": eui, "name": "d"}).body
    fn = api.call(
        "POST", "/api/v1/functions", token=t, json_body={"name": "f", "code": "function process(m) { return m }"}
    ).body
    with ScriptedSink() as sink:
        config = {"name": "i", "type": "http", "config": {"url": sink.url}}
        integration = api.call("POST", "/api/v1/integrations", token=t, json_body=config).body
        nodes = [
            {"id": "d", "type": "device", "device_id": device["id"]},
            {"id": "f", "type": "function", "function_id": fn["id"]},
            {"id": "i", "type": "integration", "integration_id": integration["id"]},
        ]
        edges = [{"source": "d", "target": "f"}, {"source": "f", "target": "i"}]
        api.call("POST", "/api/v1/flows", token=t, json_body={"name": "fl", "nodes": nodes, "edges": edges})
        api.call(
            "POST", "/api/v1/ingest/chirpstack", json_body=v4_up(eui), query={"event": "up"}, headers={"x-api-key": key}
        )
        capsys.readouterr()
        run_worker(api)
        assert len(sink.requests) == 1

    recorded = {m["name"]: m for m in _metrics(capsys.readouterr().out)}
    assert recorded["FlowRuns"]["status"] == "success" and recorded["FlowRuns"]["values"] == [1.0]
    assert recorded["FlowRuns"]["service"] == "flow-worker"
    assert recorded["FunctionDuration"]["unit"] == "Milliseconds" and recorded["FunctionDuration"]["values"][0] > 0
    latency = recorded["IntegrationLatency"]
    assert latency["unit"] == "Milliseconds" and len(latency["values"]) == 1
    assert "IntegrationFailures" not in recorded and "DeadLetters" not in recorded


@pytest.fixture
def mobivisor(api, monkeypatch):
    with FakeMobivisor("t") as fake:
        monkeypatch.setenv("MOBIVISOR_API_URL", fake.url)
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", "t")
        settings.reset()
        yield fake


def test_given_an_upstream_error_then_it_is_counted_by_upstream_and_status(api, mobivisor, capsys):
    token = token_for("user", permissions=("mobivisor:read",))["token"]
    capsys.readouterr()

    assert api.call("GET", "/api/v1/mobivisor/devices/999", token=token).status == 404
    assert api.call("GET", "/api/v1/mobivisor/devices/123", token=token).status == 200

    errors = [(m["name"], m["upstream"], m["status"], m["service"]) for m in _metrics(capsys.readouterr().out)]
    assert errors == [("UpstreamErrors", "mobivisor", "404", "mobivisor")]
