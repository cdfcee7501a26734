"""Flow routes (device-manager Flow Management): graph validation, enable/disable, the trigger index, history."""

from datetime import UTC, datetime

import pytest

from tests.support import new_eui


@pytest.fixture
def world(api):
    """A user with one resource of each kind a flow can reference."""
    user = api.register()
    t = user["token"]
    device = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Freezer"}).body
    other_device = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Fridge"}).body
    label = api.call("POST", "/api/v1/labels", token=t, json_body={"name": "trackers"}).body
    fn = api.call(
        "POST", "/api/v1/functions", token=t, json_body={"name": "f", "code": "function process(m) { return m }"}
    ).body
    integration = api.call(
        "POST",
        "/api/v1/integrations",
        token=t,
        json_body={"name": "hook", "type": "http", "config": {"url": "https://example.com/hook"}},
    ).body
    storage = api.call("POST", "/api/v1/storages", token=t, json_body={"name": "series"}).body
    return {
        "user": user,
        "token": t,
        "device": device["id"],
        "device2": other_device["id"],
        "label": label["id"],
        "function": fn["id"],
        "integration": integration["id"],
        "storage": storage["id"],
    }


def graph(w, **overrides):
    body = {
        "name": "Cold chain",
        "nodes": [
            {"id": "dev", "type": "device", "device_id": w["device"], "position": {"x": 0, "y": 0}},
            {"id": "lbl", "type": "label", "label_id": w["label"]},
            {"id": "fn", "type": "function", "function_id": w["function"], "version": 1},
            {"id": "hot", "type": "switch", "field": "data.temperature", "operator": ">", "value": -18},
            {"id": "alert", "type": "integration", "integration_id": w["integration"]},
            {"id": "wait", "type": "delay", "seconds": 60},
            {"id": "keep", "type": "storage", "storage_id": w["storage"]},
        ],
        "edges": [
            {"source": "dev", "target": "fn"},
            {"source": "lbl", "target": "fn"},
            {"source": "fn", "target": "hot"},
            {"source": "hot", "target": "alert", "branch": "true"},
            {"source": "hot", "target": "wait", "branch": "false"},
            {"source": "wait", "target": "keep"},
        ],
    }
    body.update(overrides)
    return body


def _triggers(*keys):
    from fleetgate.flows import triggers

    return sorted((e.trigger, e.flow_id, tuple(e.node_ids)) for e in triggers.flows_triggered_by(keys))


def test_given_valid_graph_when_creating_then_201_and_the_trigger_index_finds_it(api, world):
    reply = api.call("POST", "/api/v1/flows", token=world["token"], json_body=graph(world))
    assert reply.status == 201, reply.body
    flow = reply.body
    assert flow["enabled"] is True and len(flow["nodes"]) == 7 and flow["nodes"][2]["version"] == 1
    assert flow["nodes"][0]["position"] == {"x": 0, "y": 0}
    assert api.call("GET", f"/api/v1/flows/{flow['id']}", token=world["token"]).body == flow
    assert [f["id"] for f in api.call("GET", "/api/v1/flows", token=world["token"]).body["items"]] == [flow["id"]]
    assert _triggers(f"device#{world['device']}", f"label#{world['label']}") == [
        (f"device#{world['device']}", flow["id"], ("dev",)),
        (f"label#{world['label']}", flow["id"], ("lbl",)),
    ]
    assert _triggers(f"device#{world['device2']}") == []


def test_given_flow_when_disabling_enabling_and_moving_the_trigger_then_the_index_follows(api, world):
    flow = api.call("POST", "/api/v1/flows", token=world["token"], json_body=graph(world, enabled=False)).body
    path = f"/api/v1/flows/{flow['id']}"
    dev, dev2 = f"device#{world['device']}", f"device#{world['device2']}"
    assert _triggers(dev) == []  # created disabled: not indexed
    enabled = api.call("PUT", path, token=world["token"], json_body={"enabled": True})
    assert enabled.status == 200 and enabled.body["enabled"] is True
    assert _triggers(dev) == [(dev, flow["id"], ("dev",))]
    nodes = [dict(n, device_id=world["device2"]) if n["id"] == "dev" else n for n in flow["nodes"]]
    moved = api.call("PUT", path, token=world["token"], json_body={"nodes": nodes})
    assert moved.status == 200, moved.body
    assert _triggers(dev) == [] and _triggers(dev2) == [(dev2, flow["id"], ("dev",))]
    api.call("PUT", path, token=world["token"], json_body={"enabled": False})
    assert _triggers(dev2, f"label#{world['label']}") == []
    api.call("PUT", path, token=world["token"], json_body={"enabled": True})
    assert api.call("DELETE", path, token=world["token"]).status == 204
    assert _triggers(dev2, f"label#{world['label']}") == []
    assert api.call("GET", path, token=world["token"]).status == 404


def test_given_unchanged_update_then_no_write(api, world):
    flow = api.call("POST", "/api/v1/flows", token=world["token"], json_body=graph(world)).body
    reply = api.call("PUT", f"/api/v1/flows/{flow['id']}", token=world["token"], json_body={"name": flow["name"]})
    assert reply.status == 200 and reply.body == flow and reply.ddb_calls == ["GetItem"]


def _node(w, node_id, **changes):
    g = graph(w)
    g["nodes"] = [dict(n, **changes) if n["id"] == node_id else n for n in g["nodes"]]
    return g


@pytest.mark.parametrize(
    "case",
    [
        "unknown type",
        "missing device",
        "missing function",
        "missing version",
        "missing integration",
        "missing storage",
        "missing label",
        "cycle",
        "no trigger",
        "edge to unknown",
        "edge into trigger",
        "switch edge without branch",
        "branch on plain edge",
        "duplicate id",
        "self loop",
        "delay too long",
        "ordering needs a value",
        "duplicate edge",
    ],
)
def test_given_an_invalid_graph_when_saving_then_422_naming_the_node(api, world, case):
    w = world
    if case == "unknown type":
        body, needle = graph(w, nodes=graph(w)["nodes"] + [{"id": "tp", "type": "teleport"}]), "'tp'"
    elif case == "missing device":
        body, needle = _node(w, "dev", device_id="nope"), "'dev'"
    elif case == "missing function":
        body, needle = _node(w, "fn", function_id="nope"), "'fn'"
    elif case == "missing version":
        body, needle = _node(w, "fn", version=9), "'fn'"
    elif case == "missing integration":
        body, needle = _node(w, "alert", integration_id="nope"), "'alert'"
    elif case == "missing storage":
        body, needle = _node(w, "keep", storage_id="nope"), "'keep'"
    elif case == "missing label":
        body, needle = _node(w, "lbl", label_id="nope"), "'lbl'"
    elif case == "cycle":
        body = graph(w)
        body["edges"] = body["edges"] + [{"source": "keep", "target": "fn"}]
        needle = "cycle"
    elif case == "no trigger":
        g = graph(w)
        body = graph(
            w,
            nodes=[n for n in g["nodes"] if n["type"] not in ("device", "label")],
            edges=[e for e in g["edges"] if e["source"] not in ("dev", "lbl")],
        )
        needle = "trigger"
    elif case == "edge to unknown":
        body, needle = graph(w, edges=graph(w)["edges"] + [{"source": "fn", "target": "ghost"}]), "'ghost'"
    elif case == "edge into trigger":
        body, needle = graph(w, edges=graph(w)["edges"] + [{"source": "keep", "target": "dev"}]), "'dev'"
    elif case == "switch edge without branch":
        body, needle = graph(w, edges=graph(w)["edges"] + [{"source": "hot", "target": "keep"}]), "'hot'"
    elif case == "branch on plain edge":
        body, needle = (
            graph(w, edges=graph(w)["edges"] + [{"source": "fn", "target": "keep", "branch": "true"}]),
            "'fn'",
        )
    elif case == "duplicate id":
        body, needle = graph(w, nodes=graph(w)["nodes"] + [{"id": "fn", "type": "delay", "seconds": 1}]), "'fn'"
    elif case == "self loop":
        body, needle = graph(w, edges=graph(w)["edges"] + [{"source": "wait", "target": "wait"}]), "'wait'"
    elif case == "delay too long":
        body, needle = _node(w, "wait", seconds=7 * 24 * 3600 + 1), "seconds"
    elif case == "ordering needs a value":
        body, needle = _node(w, "hot", value=None), "'hot'"
    else:
        body, needle = graph(w, edges=graph(w)["edges"] + [{"source": "dev", "target": "fn"}]), "duplicate edge"
    reply = api.call("POST", "/api/v1/flows", token=w["token"], json_body=body)
    assert reply.status == 422, reply.body
    text = " ".join(e["msg"] + " " + ".".join(map(str, e["loc"])) for e in reply.body["detail"])
    assert needle in text, reply.body
    assert api.call("GET", "/api/v1/flows", token=w["token"]).body["items"] == []


def test_given_another_users_resources_in_the_graph_then_422_as_if_missing(api, world):
    bob = api.register()
    reply = api.call("POST", "/api/v1/flows", token=bob["token"], json_body=graph(world))
    assert reply.status == 422
    assert reply.body["detail"][0]["loc"] == ["body", "nodes", 0, "device_id"]
    assert reply.body["detail"][0]["msg"] == f"node 'dev': device {world['device']} not found"


def test_given_invalid_update_then_422_and_graph_unchanged(api, world):
    flow = api.call("POST", "/api/v1/flows", token=world["token"], json_body=graph(world)).body
    path = f"/api/v1/flows/{flow['id']}"
    bad = api.call(
        "PUT", path, token=world["token"], json_body={"edges": flow["edges"] + [{"source": "keep", "target": "fn"}]}
    )
    assert bad.status == 422 and "cycle" in bad.body["detail"][0]["msg"]
    assert api.call("PUT", path, token=world["token"], json_body={"enabled": None}).status == 422
    assert api.call("GET", path, token=world["token"]).body == flow


def test_given_no_token_then_every_flow_route_is_401(api):
    for method, path in (
        ("GET", "/api/v1/flows"),
        ("POST", "/api/v1/flows"),
        ("GET", "/api/v1/flows/x"),
        ("PUT", "/api/v1/flows/x"),
        ("DELETE", "/api/v1/flows/x"),
        ("GET", "/api/v1/flows/history"),
        ("GET", "/api/v1/flows/x/history"),
        ("GET", "/api/v1/flows/x/history/y"),
    ):
        assert api.call(method, path, json_body={} if method in ("POST", "PUT") else None).status == 401, (method, path)


def test_given_another_users_flow_then_every_route_answers_404(api, world):
    bob = api.register()
    flow = api.call("POST", "/api/v1/flows", token=world["token"], json_body=graph(world)).body
    for fid in (flow["id"], "missing"):
        for method, suffix, body in (
            ("GET", "", None),
            ("PUT", "", {"enabled": False}),
            ("DELETE", "", None),
            ("GET", "/history", None),
            ("GET", "/history/20261122T080000000Z-abc", None),
        ):
            reply = api.call(method, f"/api/v1/flows/{fid}{suffix}", token=bob["token"], json_body=body)
            assert (reply.status, reply.body) == (404, {"detail": "Flow not found"}), (fid, method, suffix)
    assert _triggers(f"device#{world['device']}") != []  # untouched


def test_given_admin_then_sees_and_edits_other_users_flows_with_the_owners_references(api, world):
    admin = api.register(admin=True)
    flow = api.call("POST", "/api/v1/flows", token=world["token"], json_body=graph(world)).body
    listed = api.call("GET", "/api/v1/flows", token=admin["token"], query={"limit": 200})
    assert flow["id"] in [f["id"] for f in listed.body["items"]]
    renamed = api.call(
        "PUT",
        f"/api/v1/flows/{flow['id']}",
        token=admin["token"],
        json_body={"name": "by admin", "nodes": flow["nodes"]},
    )
    assert renamed.status == 200 and renamed.body["owner_id"] == flow["owner_id"]


def test_given_recorded_runs_then_flow_history_lists_and_details_them(api, world):
    from fleetgate.core.pagination import encode_cursor
    from fleetgate.history import service as history

    admin = api.register(admin=True)
    flow = api.call("POST", "/api/v1/flows", token=world["token"], json_body=graph(world)).body
    runs = [
        history.record_flow_run(
            flow_id=flow["id"],
            owner_id=flow["owner_id"],
            status=status,
            started=datetime.now(UTC).replace(minute=m),
            duration_ms=30,
            trigger={"device_id": world["device"]},
            input={"data": {"temperature": -10}},
            steps=[{"node_id": "fn", "status": "success"}],
            run_id=f"run-{m}",
        )
        for m, status in ((1, "success"), (2, "partial_success"), (3, "error"))
    ]
    base = f"/api/v1/flows/{flow['id']}/history"
    listed = api.call("GET", base, token=world["token"])
    assert [r["status"] for r in listed.body["items"]] == ["error", "partial_success", "success"]
    detail = api.call("GET", f"{base}/{runs[1].id}", token=world["token"])
    assert detail.status == 200 and detail.body["run_id"] == "run-2" and detail.body["steps"][0]["node_id"] == "fn"
    assert api.call("GET", f"{base}/nope", token=world["token"]).status == 404
    mine = api.call("GET", "/api/v1/flows/history", token=world["token"], query={"limit": 2})
    assert len(mine.body["items"]) == 2 and mine.body["next_cursor"]
    everyone = api.call("GET", "/api/v1/flows/history", token=admin["token"], query={"limit": 200})
    assert {r.id for r in runs} <= {r["id"] for r in everyone.body["items"]}
    # a cursor handed out when the table was keyed by resource (before commit b5f5438): invalid, not a failed Query
    old_key = {"resource": {"S": f"flow#{flow['id']}"}, "sk": {"S": runs[2].id}}
    stale = encode_cursor({"key": old_key}, f"exec:flow#{flow['id']}")
    refused = api.call("GET", base, token=world["token"], query={"cursor": stale})
    assert refused.status == 422 and refused.body["detail"][0]["msg"] == "Invalid cursor", refused.body


@pytest.mark.parametrize(
    "operator, value, message, expected",
    [
        ("==", 5, {"data": {"t": 5}}, True),
        ("!=", 5, {"data": {"t": 5}}, False),
        ("!=", 5, {}, True),
        ("<", 5, {"data": {"t": 4.5}}, True),
        ("<=", 5, {"data": {"t": 5}}, True),
        (">", 5, {"data": {"t": 5}}, False),
        (">=", "b", {"data": {"t": "c"}}, True),
        (">", 5, {"data": {"t": "6"}}, False),
        ("contains", "oo", {"data": {"t": "cool"}}, True),
        ("contains", 3, {"data": {"t": [1, 3]}}, True),
        ("contains", "k", {"data": {"t": {"k": 1}}}, True),
        ("exists", None, {"data": {"t": None}}, True),
        ("exists", None, {"data": {}}, False),
        ("==", 1, {"data": {"t": [0, 1]}}, False),
    ],
)
def test_given_switch_conditions_then_they_evaluate_as_documented(operator, value, message, expected):
    from fleetgate.engine.conditions import matches

    assert matches({"field": "data.t", "operator": operator, "value": value}, message) is expected
