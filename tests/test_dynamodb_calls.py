"""DynamoDB calls per request, route by route: the cost a user pays in latency, and proof no route scans.

The recorder in conftest.py counts every call botocore makes (``before-call.dynamodb``);
any Scan fails every test. A change to these numbers is a design change: update the
table on purpose, never to make a test pass.
"""

from datetime import UTC, datetime

import pytest

from fleetgate.core import settings
from tests.budgets import microshare as microshare_budget
from tests.fakes import FakeMobivisor
from tests.flow_support import v4_up
from tests.support import STACK, Sink, new_eui, route_path, token_for

EXPECTED = {
    ("POST", "/api/v1/auth/register"): ["TransactWriteItems"],
    # the email or username claim, the user, then the throttle's counters (account, source address)
    ("POST", "/api/v1/auth/login"): ["GetItem", "GetItem", "GetItem", "GetItem"],
    ("GET", "/api/v1/devices"): ["Query"],
    # (search tokens are written by the indexer from the table's stream, not by the routes: tests/test_search.py)
    ("POST", "/api/v1/devices"): ["TransactWriteItems"],
    ("GET", "/api/v1/devices/history"): ["Query"],
    ("GET", "/api/v1/devices/{device_id}"): ["GetItem"],
    ("PUT", "/api/v1/devices/{device_id}"): ["GetItem", "UpdateItem"],
    ("GET", "/api/v1/devices/{device_id}/history"): ["GetItem", "Query"],
    ("GET", "/api/v1/devices/{device_id}/labels"): ["GetItem", "Query", "BatchGetItem"],
    ("PUT", "/api/v1/devices/{device_id}/labels"): ["GetItem", "BatchGetItem", "Query", "BatchWriteItem"],
    ("DELETE", "/api/v1/devices/{device_id}"): ["GetItem", "TransactWriteItems", "Query", "BatchWriteItem"],
    ("GET", "/api/v1/labels"): ["Query"],
    ("POST", "/api/v1/labels"): ["TransactWriteItems"],
    ("GET", "/api/v1/labels/{label_id}"): ["GetItem"],
    ("PUT", "/api/v1/labels/{label_id}"): ["GetItem", "TransactWriteItems"],
    ("POST", "/api/v1/labels/{label_id}/devices/{device_id}"): ["GetItem", "GetItem", "PutItem"],
    ("DELETE", "/api/v1/labels/{label_id}/devices/{device_id}"): ["GetItem", "DeleteItem"],
    # (the label is empty by then: a label with devices adds one BatchWriteItem per 25 of them)
    ("DELETE", "/api/v1/labels/{label_id}"): ["GetItem", "TransactWriteItems", "Query"],
    # functions: create/update write the function and its version in one transaction
    ("GET", "/api/v1/functions"): ["Query"],
    ("POST", "/api/v1/functions"): ["TransactWriteItems"],
    ("GET", "/api/v1/functions/history"): ["Query"],  # an empty page: no BatchGetItem
    ("GET", "/api/v1/functions/{function_id}"): ["GetItem"],
    ("PUT", "/api/v1/functions/{function_id}"): ["GetItem", "TransactWriteItems"],
    ("DELETE", "/api/v1/functions/{function_id}"): ["GetItem", "DeleteItem", "Query", "BatchWriteItem"],  # versions
    ("GET", "/api/v1/functions/{function_id}/history"): ["GetItem", "Query"],
    ("GET", "/api/v1/functions/{function_id}/versions"): ["GetItem", "Query"],
    ("POST", "/api/v1/functions/{function_id}/test"): ["GetItem"],  # no history written
    # integrations
    ("GET", "/api/v1/integrations"): ["Query"],
    ("POST", "/api/v1/integrations"): ["PutItem"],
    ("GET", "/api/v1/integrations/history"): ["Query", "BatchGetItem"],  # keys from the index, then the page
    ("GET", "/api/v1/integrations/{integration_id}"): ["GetItem"],
    ("PUT", "/api/v1/integrations/{integration_id}"): ["GetItem", "UpdateItem"],
    ("DELETE", "/api/v1/integrations/{integration_id}"): ["GetItem", "DeleteItem"],
    # the owner's items holding calls of the integration (a filtered index Query), then the page's items
    ("GET", "/api/v1/integrations/{integration_id}/history"): ["GetItem", "Query", "BatchGetItem"],
    ("GET", "/api/v1/integrations/{integration_id}/history/{history_id}"): ["GetItem", "GetItem"],
    ("POST", "/api/v1/integrations/{integration_id}/test"): ["GetItem"],  # no history written
    # flows: every reference of the graph in one BatchGetItem across the tables; flow + trigger index in one
    # transaction
    ("GET", "/api/v1/flows"): ["Query"],
    ("POST", "/api/v1/flows"): ["BatchGetItem", "TransactWriteItems"],
    ("GET", "/api/v1/flows/history"): ["Query", "BatchGetItem"],  # keys from the index, then the page
    ("GET", "/api/v1/flows/{flow_id}"): ["GetItem"],
    ("PUT", "/api/v1/flows/{flow_id}"): [
        "GetItem",
        "TransactWriteItems",
    ],  # enable/disable; a new graph adds 1 BatchGetItem
    ("DELETE", "/api/v1/flows/{flow_id}"): ["GetItem", "TransactWriteItems"],
    ("GET", "/api/v1/flows/{flow_id}/history"): ["GetItem", "Query", "BatchGetItem"],  # index keys, then the page
    ("GET", "/api/v1/flows/{flow_id}/history/{history_id}"): ["GetItem", "GetItem"],
    # storages
    ("GET", "/api/v1/storages"): ["Query"],
    ("POST", "/api/v1/storages"): ["PutItem"],
    ("GET", "/api/v1/storages/{storage_id}"): ["GetItem"],
    ("PUT", "/api/v1/storages/{storage_id}"): ["GetItem", "UpdateItem"],
    ("DELETE", "/api/v1/storages/{storage_id}"): ["GetItem", "DeleteItem"],
    ("GET", "/api/v1/storages/{storage_id}/data"): ["GetItem", "Query"],
    # search: one Query on the caller's token partition
    ("GET", "/api/v1/search"): ["Query"],
    # Mobivisor proxy: the caller's JWT is verified without DynamoDB, the rest is upstream. Every authenticated
    # route also reads its caller's user record once per instance and minute (not listed: counted warm; see
    # tests/test_users.py for the cold read)
    ("GET", "/api/v1/mobivisor/devices"): [],
    ("GET", "/api/v1/mobivisor/devices/{device_id}"): [],
    ("DELETE", "/api/v1/mobivisor/devices/{device_id}"): [],
    ("GET", "/health"): [],
    # ingest keys
    ("GET", "/api/v1/ingest/keys"): ["Query"],
    ("POST", "/api/v1/ingest/keys"): ["PutItem"],
    ("DELETE", "/api/v1/ingest/keys/{key_id}"): ["GetItem", "DeleteItem"],
    # ingest of an uplink (a device with one label): the key and the dev_eui claim in one BatchGetItem, the device,
    # the trigger lookups (labels, device, each label), the device history entry (the claim, keyed by the uplink's
    # own time and deduplicationId, with the flow starts: the outbox), presence. Not one call more per matching
    # flow: the fan-out is the flow starter's SQS messages
    ("POST", "/api/v1/ingest/chirpstack"): [
        "BatchGetItem",
        "GetItem",
        "Query",
        "Query",
        "Query",
        "PutItem",
        "UpdateItem",
    ],
    # dead letters: the flow (visibility), then its dead letters; a replay marks each one it sends (here: one)
    ("GET", "/api/v1/flows/{flow_id}/dead-letters"): ["GetItem", "Query"],
    ("POST", "/api/v1/flows/{flow_id}/dead-letters/replay"): ["GetItem", "Query", "UpdateItem"],
}


def every_budget() -> dict[tuple[str, str], list[str]]:
    """This module's table and the route groups' own: a context with many routes keeps its budget table in
    ``tests/budgets/<context>.py`` (an ``EXPECTED`` dict, asserted by that context's tests)."""
    import importlib
    import pkgutil

    import tests.budgets

    budgets = dict(EXPECTED)
    for module in pkgutil.iter_modules(tests.budgets.__path__):
        budgets.update(importlib.import_module(f"tests.budgets.{module.name}").EXPECTED)
    return budgets


def test_every_route_in_the_template_has_an_expected_call_count():
    assert {(r.method, route_path(r)) for r in STACK.routes()} == set(every_budget())


@pytest.fixture
def world(api):
    from fleetgate.history import service as history
    from fleetgate.storages import repository as storages

    user = api.register(password="pw-for-counting")
    token = user["token"]
    device = api.call("POST", "/api/v1/devices", token=token, json_body={"dev_eui": new_eui(), "name": "d"}).body
    label = api.call("POST", "/api/v1/labels", token=token, json_body={"name": "l"}).body
    other = api.call("POST", "/api/v1/labels", token=token, json_body={"name": "m"}).body
    api.call("POST", f"/api/v1/labels/{label['id']}/devices/{device['id']}", token=token)
    fn = api.call(
        "POST", "/api/v1/functions", token=token, json_body={"name": "fn", "code": "function process(m) { return m }"}
    ).body
    storage = api.call("POST", "/api/v1/storages", token=token, json_body={"name": "st"}).body
    sink = Sink().__enter__()
    integration = api.call(
        "POST",
        "/api/v1/integrations",
        token=token,
        json_body={"name": "in", "type": "http", "config": {"url": sink.url}},
    ).body
    flow = api.call(
        "POST",
        "/api/v1/flows",
        token=token,
        json_body={
            "name": "fl",
            "nodes": [
                {"id": "d", "type": "device", "device_id": device["id"]},
                {"id": "f", "type": "function", "function_id": fn["id"], "version": 1},
                {"id": "i", "type": "integration", "integration_id": integration["id"]},
                {"id": "s", "type": "storage", "storage_id": storage["id"]},
            ],
            "edges": [{"source": "d", "target": "f"}, {"source": "f", "target": "i"}, {"source": "f", "target": "s"}],
        },
    ).body
    now = datetime.now(UTC)
    ih = history.record_integration_call(
        integration_id=integration["id"],
        owner_id=user_id(api, token),
        status="success",
        started=now,
        duration_ms=3,
        request={"method": "POST"},
    )
    fh = history.record_flow_run(
        flow_id=flow["id"],
        owner_id=flow["owner_id"],
        status="success",
        started=now,
        duration_ms=5,
        trigger={"device_id": device["id"]},
    )
    storages.write_point(storages.get(storage["id"]), device["id"], {"t": 1}, now)
    ingest_key = api.call("POST", "/api/v1/ingest/keys", token=token, json_body={"name": "cs"}).body
    dead_letter(flow)
    yield {
        "user": user,
        "token": token,
        "device": device["id"],
        "label": label["id"],
        "other": other["id"],
        "function": fn["id"],
        "integration": integration["id"],
        "flow": flow["id"],
        "storage": storage["id"],
        "integration_history": ih.id,
        "flow_history": fh.id,
        "dev_eui": device["dev_eui"],
        "ingest_key": ingest_key["key"],
        "key": ingest_key["id"],
    }
    sink.__exit__()


def dead_letter(flow: dict) -> None:
    from fleetgate.core.ids import now_iso
    from fleetgate.engine import repository as engine
    from fleetgate.engine.schemas import DeadLetter

    engine.put_dead_letter(
        DeadLetter(
            id="20261122T000000000Z-000000000001",
            flow_id=flow["id"],
            run_id="r",
            node_id="i",
            node_type="integration",
            attempts=5,
            last_error="HTTP 500",
            failed_at=now_iso(),
            status="pending",
            message={"data": {"t": 1}},
        ),
        flow["owner_id"],
    )


def user_id(api, token):
    from fleetgate.core.auth import verify_token

    return verify_token(token).user_id


def test_given_each_route_when_called_then_dynamodb_calls_are_exactly_the_expected_ones(api, world):
    t, d, lbl = world["token"], world["device"], world["label"]
    eui = new_eui()
    calls = [
        (
            "POST",
            "/api/v1/auth/register",
            None,
            {"email": f"{eui}@example.com", "username": f"u{eui}", "password": "password123"},
        ),
        ("POST", "/api/v1/auth/login", None, None),
        ("GET", "/api/v1/devices", t, None),
        ("POST", "/api/v1/devices", t, {"dev_eui": eui, "name": "n"}),
        ("GET", "/api/v1/devices/history", t, None),
        ("GET", "/api/v1/devices/{device_id}", t, None),
        ("PUT", "/api/v1/devices/{device_id}", t, {"name": "renamed"}),
        ("GET", "/api/v1/devices/{device_id}/history", t, None),
        ("GET", "/api/v1/devices/{device_id}/labels", t, None),
        ("PUT", "/api/v1/devices/{device_id}/labels", t, {"label_ids": [world["other"]]}),
        ("GET", "/api/v1/labels", t, None),
        ("POST", "/api/v1/labels", t, {"name": "fresh"}),
        ("GET", "/api/v1/labels/{label_id}", t, None),
        ("PUT", "/api/v1/labels/{label_id}", t, {"name": "renamed-label"}),
        ("POST", "/api/v1/labels/{label_id}/devices/{device_id}", t, None),
        ("DELETE", "/api/v1/labels/{label_id}/devices/{device_id}", t, None),
        # functions
        ("GET", "/api/v1/functions", t, None),
        ("POST", "/api/v1/functions", t, {"name": "g", "code": "function process(m) { return m }"}),
        ("GET", "/api/v1/functions/history", t, None),
        ("GET", "/api/v1/functions/{function_id}", t, None),
        ("PUT", "/api/v1/functions/{function_id}", t, {"code": "function process(m) { return {v: 2} }"}),
        ("GET", "/api/v1/functions/{function_id}/history", t, None),
        ("GET", "/api/v1/functions/{function_id}/versions", t, None),
        ("POST", "/api/v1/functions/{function_id}/test", t, {"payload": {"a": 1}}),
        # integrations
        ("GET", "/api/v1/integrations", t, None),
        (
            "POST",
            "/api/v1/integrations",
            t,
            {"name": "j", "type": "mqtt", "config": {"host": "broker.example.com", "topic": "a/b"}},
        ),
        ("GET", "/api/v1/integrations/history", t, None),
        ("GET", "/api/v1/integrations/{integration_id}", t, None),
        ("PUT", "/api/v1/integrations/{integration_id}", t, {"name": "renamed-integration"}),
        ("GET", "/api/v1/integrations/{integration_id}/history", t, None),
        ("GET", "/api/v1/integrations/{integration_id}/history/{history_id}", t, None),
        ("POST", "/api/v1/integrations/{integration_id}/test", t, {}),
        # storages
        ("GET", "/api/v1/storages", t, None),
        ("POST", "/api/v1/storages", t, {"name": "more"}),
        ("GET", "/api/v1/storages/{storage_id}", t, None),
        ("PUT", "/api/v1/storages/{storage_id}", t, {"retention_days": 9}),
        ("GET", "/api/v1/storages/{storage_id}/data", t, None),
        # ingest
        ("GET", "/api/v1/ingest/keys", t, None),
        ("POST", "/api/v1/ingest/keys", t, {"name": "another"}),
        ("POST", "/api/v1/ingest/chirpstack", None, v4_up(world["dev_eui"])),
        ("GET", "/api/v1/flows/{flow_id}/dead-letters", t, None),
        ("POST", "/api/v1/flows/{flow_id}/dead-letters/replay", t, None),
        # flows
        ("GET", "/api/v1/flows", t, None),
        ("POST", "/api/v1/flows", t, {"name": "g", "nodes": [{"id": "l", "type": "label", "label_id": lbl}]}),
        ("GET", "/api/v1/flows/history", t, None),
        ("GET", "/api/v1/flows/{flow_id}", t, None),
        ("PUT", "/api/v1/flows/{flow_id}", t, {"enabled": False}),
        ("GET", "/api/v1/flows/{flow_id}/history", t, None),
        ("GET", "/api/v1/flows/{flow_id}/history/{history_id}", t, None),
        ("GET", "/api/v1/search", t, None),
        # deletes last
        ("DELETE", "/api/v1/ingest/keys/{key_id}", t, None),
        ("DELETE", "/api/v1/flows/{flow_id}", t, None),
        ("DELETE", "/api/v1/functions/{function_id}", t, None),
        ("DELETE", "/api/v1/integrations/{integration_id}", t, None),
        ("DELETE", "/api/v1/storages/{storage_id}", t, None),
        ("DELETE", "/api/v1/labels/{label_id}", t, None),
        ("DELETE", "/api/v1/devices/{device_id}", t, None),
    ]
    seen = {}
    for method, template, token, body in calls:
        path = template.replace("{device_id}", d).replace("{label_id}", lbl)
        for key in ("function", "integration", "flow", "storage", "key"):
            path = path.replace(f"{{{key}_id}}", world[key])
        if "{history_id}" in path:
            path = path.replace(
                "{history_id}", world["integration_history" if "integrations" in path else "flow_history"]
            )
        if template == "/api/v1/auth/login":
            reply = api.call(method, path, form={"username": world["user"]["email"], "password": "pw-for-counting"})
        elif template == "/api/v1/search":
            reply = api.call(method, path, token=token, query={"query": "renamed"})
        elif template == "/api/v1/ingest/chirpstack":
            reply = api.call(
                method, path, json_body=body, query={"event": "up"}, headers={"x-api-key": world["ingest_key"]}
            )
            assert reply.body["status"] == "accepted" and reply.body["flows_triggered"] == 1, reply.body
        else:
            reply = api.call(method, path, token=token, json_body=body)
        assert reply.status < 300, (method, template, reply.status, reply.body)
        if template == "/api/v1/integrations/{integration_id}/test":
            assert reply.body["success"] is True, reply.body
        seen[(method, template)] = reply.ddb_calls
    assert seen == _family(
        (
            "/api/v1/auth/",
            "/api/v1/devices",
            "/api/v1/labels",
            "/api/v1/functions",
            "/api/v1/integrations",
            "/api/v1/flows",
            "/api/v1/storages",
            "/api/v1/search",
            "/api/v1/ingest",
        )
    )


def _family(prefixes: tuple[str, ...]) -> dict:
    """EXPECTED's entries for one API family: each family's test must exercise all of them."""
    return {k: v for k, v in EXPECTED.items() if k[1].startswith(prefixes)}


def test_given_mobivisor_routes_when_called_then_no_dynamodb_calls(api, monkeypatch):
    with FakeMobivisor("t") as fake:
        monkeypatch.setenv("MOBIVISOR_API_URL", fake.url)
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", "t")
        settings.reset()
        admin = api.register(admin=True)  # its login leaves its user record in this instance's cache
        seen = {}
        for method, template in [
            ("GET", "/api/v1/mobivisor/devices"),
            ("GET", "/api/v1/mobivisor/devices/{device_id}"),
            ("DELETE", "/api/v1/mobivisor/devices/{device_id}"),
        ]:
            reply = api.call(method, template.replace("{device_id}", "123"), token=admin["token"])
            assert reply.status == 200, (method, template, reply.body)
            seen[(method, template)] = reply.ddb_calls
    assert seen == _family(("/api/v1/mobivisor/",))


def test_given_microshare_routes_when_called_then_dynamodb_calls_are_exactly_the_expected_ones(api, microshare):
    p = "MicroshareApi:/api/v1"
    token = token_for("user", ("microshare:read", "microshare:write"))["token"]
    point = [{"id": "9", "reference": "ACME-77", "customer": "Acme", "site": "Leeds", "area": "Yard"}]
    location = ["Acme", "Leeds", "Hall", "ACME-78", "Internal", "Bait/Lured"]
    assert api.call("POST", f"{p}/erp/inspection-points", token=token, json_body=point).status == 200
    assert api.call("GET", f"{p}/devices", token=token).status == 200  # warm cache
    calls = [
        ("POST", "/auth/login", None, {"username": microshare.username, "password": microshare.password}),
        ("GET", "/auth/status", token, None),
        ("GET", ":/health", None, None),
        ("GET", ":/health/microshare", None, None),
        ("GET", "/status", token, None),
        ("GET", "/devices/clusters", token, None),
        ("GET", "/devices/clusters/{cluster_id}", token, None),
        ("GET", "/devices", token, None),
        ("POST", "/devices", token, {"meta": {"location": location}, "guid": "count-1"}),
        ("GET", "/devices/{device_id}", token, None),
        ("PUT", "/devices/{device_id}", token, {"status": "active"}),
        ("DELETE", "/devices/{device_id}", token, None),
        ("GET", "/devices/discovery", token, None),
        ("GET", "/devices/cache/stats", token, None),
        ("GET", "/devices/performance/benchmark", token, None),
        ("GET", "/erp/status", token, None),
        ("POST", "/erp/inspection-points", token, point),
        ("GET", "/erp/discovery", token, None),
        ("GET", "/erp/mapping", token, None),
        ("GET", "/erp/unmapped", token, None),
        ("POST", "/erp/sync", token, None),
        ("POST", "/devices/cache/clear", token, None),
    ]
    seen = {}
    for method, template, tok, body in calls:
        key = "MicroshareApi" + template if template.startswith(":") else p + template
        path = key.replace("{cluster_id}", "trap-acme").replace("{device_id}", "count-1")
        reply = api.call(method, path, token=tok, json_body=body)
        assert reply.status < 300, (method, template, reply.status, reply.body)
        seen[(method, key)] = reply.ddb_calls
    assert seen == microshare_budget.EXPECTED
    platform = api.call("GET", "/health")  # the main API's own
    assert (platform.status, platform.ddb_calls) == (200, EXPECTED[("GET", "/health")])
