"""Offline detection: the OfflineFunction on EventBridge Scheduled Events, a query on due time (never a scan)."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.flow_support import ScriptedSink, later, queue_depth, run_worker, v4_up
from tests.support import RECORDER, new_eui

EVENTS = Path(__file__).resolve().parent.parent / "events"


def _scheduled(at: datetime) -> dict:
    event = json.loads((EVENTS / "offline-schedule.json").read_text())
    event["id"], event["time"] = str(uuid.uuid4()), at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _check(api, at: datetime) -> tuple[dict, list[str]]:
    RECORDER.calls.clear()
    result = api.functions.invoke("OfflineFunction", _scheduled(at))
    return result, list(RECORDER.calls)


@pytest.fixture
def w(api):
    user = api.register()
    t = user["token"]
    key = api.call("POST", "/api/v1/ingest/keys", token=t, json_body={"name": "cs"}).body["key"]

    def device(ett: int | None = 60, **extra) -> dict:
        body = {"dev_eui": new_eui(), "name": f"meter {uuid.uuid4().hex[:4]}", **extra}
        if ett:
            body["expected_transmit_time"] = ett
        return api.call("POST", "/api/v1/devices", token=t, json_body=body).body

    def uplink(dev: dict) -> dict:
        reply = api.call(
            "POST",
            "/api/v1/ingest/chirpstack",
            json_body=v4_up(dev["dev_eui"]),
            query={"event": "up"},
            headers={"x-api-key": key},
        )
        assert reply.body["status"] == "accepted", reply.body
        return reply.body

    def get(dev: dict) -> dict:
        return api.call("GET", f"/api/v1/devices/{dev['id']}", token=t).body

    def history(dev: dict) -> list[dict]:
        return api.call("GET", f"/api/v1/devices/{dev['id']}/history", token=t).body["items"]

    return {"api": api, "t": t, "device": device, "uplink": uplink, "get": get, "history": history}


def _seen(w, dev: dict) -> datetime:
    return datetime.fromisoformat(w["get"](dev)["last_seen"].replace("Z", "+00:00"))


def test_given_a_device_silent_past_its_expected_transmit_time_then_the_schedule_marks_it_offline_once(
    w, api, monkeypatch
):
    dev = w["device"](ett=60)
    w["uplink"](dev)
    seen = _seen(w, dev)

    early, _ = _check(api, seen + timedelta(seconds=59))
    assert early["marked_offline"] == 0 and w["get"](dev)["status"] == "online"

    later(monkeypatch)  # the offline function's instance has not read this device's flow triggers
    due, calls = _check(api, seen + timedelta(seconds=61))
    again, again_calls = _check(api, seen + timedelta(seconds=120))

    assert due["marked_offline"] == 1 and due["complete"] is True
    assert w["get"](dev)["status"] == "offline"
    offline = [e for e in w["history"](dev) if e["event"] == "offline"]
    assert len(offline) == 1 and offline[0]["data"]["last_seen"] == w["get"](dev)["last_seen"]
    assert offline[0]["data"]["expected_transmit_time"] == 60
    assert again["marked_offline"] == 0
    # one Query per shard of the offline_due index (never a Scan), then per due device: its newest history (an
    # uplink newer than last_seen?), the conditional status update, its history entry, and the flow trigger
    # lookups (labels, then the device's trigger key)
    assert Counter(calls) == Counter({"Query": 4 + 1 + 2, "UpdateItem": 1, "PutItem": 1})
    assert again_calls == ["Query"] * 4


def test_given_an_uplink_after_the_due_time_was_read_then_the_device_stays_online(w, api):
    from fleetgate.devices import presence
    from fleetgate.devices import service as devices

    dev = w["device"](ett=60)
    w["uplink"](dev)
    far = "9999-12-31T00:00:00.000Z"
    [old_due] = [d.offline_due for d in presence.due(presence.shard_of(dev["id"]), far, 1000) if d.id == dev["id"]]
    device = devices.device_by_id(dev["id"])
    presence.write_seen(device, datetime.now(UTC) + timedelta(seconds=90))  # a later uplink moves the due time

    assert presence.mark_offline(dev["id"], old_due) is False
    assert w["get"](dev)["status"] == "online"


def test_given_uplinks_within_the_bound_then_presence_is_written_once_and_detection_catches_up_on_the_last(w, api):
    dev = w["device"](ett=60)
    w["uplink"](dev)
    seen = _seen(w, dev)
    time.sleep(1.1)
    w["uplink"](dev)  # within the bound: no presence write, last_seen stays

    assert _seen(w, dev) == seen
    result, _ = _check(api, seen + timedelta(seconds=61))  # due by the stored last_seen, not by the last uplink

    assert result["marked_offline"] == 0 and w["get"](dev)["status"] == "online"
    assert _seen(w, dev) > seen  # the second uplink, caught up from history


def test_given_devices_without_expected_transmit_time_or_in_maintenance_then_they_are_never_marked(w, api):
    plain, kept = w["device"](ett=None), w["device"](ett=60)
    w["api"].call("PUT", f"/api/v1/devices/{kept['id']}", token=w["t"], json_body={"status": "maintenance"})
    w["uplink"](plain)
    w["uplink"](kept)

    result, _ = _check(api, datetime.now(UTC) + timedelta(days=3))

    assert result["marked_offline"] == 0
    assert (w["get"](plain)["status"], w["get"](kept)["status"]) == ("online", "maintenance")


def test_given_a_device_never_heard_from_then_offline_detection_leaves_it_alone(w, api):
    dev = w["device"](ett=60)

    result, _ = _check(api, datetime.now(UTC) + timedelta(days=1))

    assert result["marked_offline"] == 0 and w["get"](dev)["status"] == "never_seen"


def test_given_flows_when_a_device_goes_offline_then_only_flows_listening_to_offline_run(w, api):
    dev = w["device"](ett=30)
    with ScriptedSink() as sink:
        integration = api.call(
            "POST",
            "/api/v1/integrations",
            token=w["t"],
            json_body={"name": "pager", "type": "http", "config": {"url": sink.url}},
        ).body

        def flow(events: list[str] | None) -> dict:
            trigger = {"id": "d", "type": "device", "device_id": dev["id"], **({"events": events} if events else {})}
            return api.call(
                "POST",
                "/api/v1/flows",
                token=w["t"],
                json_body={
                    "name": f"f {events}",
                    "nodes": [trigger, {"id": "i", "type": "integration", "integration_id": integration["id"]}],
                    "edges": [{"source": "d", "target": "i"}],
                },
            ).body

        on_offline, on_up, on_both = flow(["offline"]), flow(None), flow(["up", "offline"])
        w["uplink"](dev)
        run_worker(api)
        assert len(sink.requests) == 2  # the uplink: on_up and on_both
        sink.requests.clear()

        result, _ = _check(api, _seen(w, dev) + timedelta(seconds=31))
        run_worker(api)

        assert result["flows_started"] == 3  # every flow of the device gets a first step ...
        assert sorted(r["body"]["event"] for r in sink.requests) == ["offline", "offline"]  # ... two listen to it
        assert {r["body"]["device_id"] for r in sink.requests} == {dev["id"]}
        runs = {
            f["id"]: api.call("GET", f"/api/v1/flows/{f['id']}/history", token=w["t"]).body["items"]
            for f in (on_offline, on_up, on_both)
        }
        assert [r["trigger"]["event"] for r in runs[on_offline["id"]]] == ["offline"]
        assert [r["trigger"]["event"] for r in runs[on_up["id"]]] == ["up"]
        assert sorted(r["trigger"]["event"] for r in runs[on_both["id"]]) == ["offline", "up"]
        assert queue_depth() == 0


def test_given_many_due_devices_when_the_run_is_out_of_time_then_it_stops_and_the_rest_is_done_next_time(w, api):
    from fleetgate.ingest import service

    devices = [w["device"](ett=10) for _ in range(3)]
    for dev in devices:
        w["uplink"](dev)
    later = datetime.now(UTC) + timedelta(minutes=5)

    first = service.detect_offline(later, limit=2)
    second = service.detect_offline(later)

    assert (first["marked_offline"], first["complete"]) == (2, False)
    assert (second["marked_offline"], second["complete"]) == (1, True)
    assert {w["get"](d)["status"] for d in devices} == {"offline"}
