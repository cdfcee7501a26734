"""DynamoDB calls per request, route by route: the cost a user pays in latency, and proof no route scans.

The recorder in conftest.py counts every call botocore makes (``before-call.dynamodb``);
any Scan fails every test. A change to these numbers is a design change: update the
table on purpose, never to make a test pass.
"""

import pytest

from fleetgate.core import settings
from tests.fakes import FakeMobivisor
from tests.support import new_eui

EXPECTED = {
    ("POST", "/api/v1/auth/register"): ["TransactWriteItems"],
    ("POST", "/api/v1/auth/login"): ["GetItem", "GetItem"],
    ("GET", "/api/v1/devices"): ["Query"],
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
    # Mobivisor proxy: the caller's JWT is verified without DynamoDB, the rest is upstream
    ("GET", "/api/v1/mobivisor/devices"): [],
    ("GET", "/api/v1/mobivisor/devices/{device_id}"): [],
    ("DELETE", "/api/v1/mobivisor/devices/{device_id}"): [],
    # Microshare (upstream calls not listed). A read of the cluster cache is a Query of its one partition plus
    # an UpdateItem of the hit/miss counters (a miss adds the rediscovery's writes). A device write adds its
    # cluster's lease (PutItem ... DeleteItem) around the upstream read-modify-write, and the PutItem that
    # replaces that one cluster in the cache. Counts are with a warm cache and 3 clusters upstream.
    ("POST", "/api/v1/microshare/auth/login"): [],
    ("GET", "/api/v1/microshare/auth/status"): [],
    ("GET", "/api/v1/microshare/health"): [],
    ("GET", "/api/v1/microshare/health/microshare"): [],
    ("GET", "/api/v1/microshare/status"): ["BatchGetItem"],
    ("GET", "/api/v1/microshare/devices/clusters"): ["Query", "UpdateItem"],
    ("GET", "/api/v1/microshare/devices/clusters/{cluster_id}"): ["Query", "UpdateItem"],
    ("GET", "/api/v1/microshare/devices"): ["Query", "UpdateItem"],
    ("POST", "/api/v1/microshare/devices"): ["Query", "UpdateItem", "PutItem", "PutItem", "DeleteItem"],
    ("GET", "/api/v1/microshare/devices/{device_id}"): ["Query", "UpdateItem"],
    ("PUT", "/api/v1/microshare/devices/{device_id}"): ["Query", "UpdateItem", "PutItem", "PutItem", "DeleteItem"],
    ("DELETE", "/api/v1/microshare/devices/{device_id}"): ["Query", "UpdateItem", "PutItem", "PutItem", "DeleteItem"],
    # a PutItem per cluster, then the freshness mark (plus a DeleteItem per cluster that vanished upstream)
    ("GET", "/api/v1/microshare/devices/discovery"): ["Query", "PutItem", "PutItem", "PutItem", "PutItem"],
    ("GET", "/api/v1/microshare/devices/cache/stats"): ["BatchGetItem"],
    ("POST", "/api/v1/microshare/devices/cache/clear"): ["Query", "BatchWriteItem"],
    ("GET", "/api/v1/microshare/devices/performance/benchmark"): ["Query", "Query", "Query"],  # 3 iterations
    ("GET", "/api/v1/microshare/erp/status"): ["Query"],
    ("POST", "/api/v1/microshare/erp/inspection-points"): ["Query", "BatchWriteItem"],
    ("GET", "/api/v1/microshare/erp/discovery"): ["Query"],
    ("GET", "/api/v1/microshare/erp/mapping"): ["Query", "Query", "UpdateItem"],
    ("GET", "/api/v1/microshare/erp/unmapped"): ["Query", "Query", "UpdateItem"],
    # one cluster receives devices: its lease and its cache entry
    ("POST", "/api/v1/microshare/erp/sync"): ["Query", "Query", "UpdateItem", "PutItem", "PutItem", "DeleteItem"],
    ("GET", "/health"): [],
}


def test_every_route_in_the_template_has_an_expected_call_count():
    from tests.conftest import STACK

    assert {(r.method, r.path) for r in STACK.routes()} == set(EXPECTED)


@pytest.fixture
def world(api):
    user = api.register(password="pw-for-counting")
    token = user["token"]
    device = api.call("POST", "/api/v1/devices", token=token, json_body={"dev_eui": new_eui(), "name": "d"}).body
    label = api.call("POST", "/api/v1/labels", token=token, json_body={"name": "l"}).body
    other = api.call("POST", "/api/v1/labels", token=token, json_body={"name": "m"}).body
    api.call("POST", f"/api/v1/labels/{label['id']}/devices/{device['id']}", token=token)
    return {"user": user, "token": token, "device": device["id"], "label": label["id"], "other": other["id"]}


def test_given_each_route_when_called_then_dynamodb_calls_are_exactly_the_expected_ones(api, world):
    t, d, lbl = world["token"], world["device"], world["label"]
    eui = new_eui()
    calls = [
        ("POST", "/api/v1/auth/register", None,
         {"email": f"{eui}@example.com", "username": f"u{eui}", "password": "password123"}),
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
        ("DELETE", "/api/v1/labels/{label_id}", t, None),
        ("DELETE", "/api/v1/devices/{device_id}", t, None),
    ]
    seen = {}
    for method, template, token, body in calls:
        path = template.replace("{device_id}", d).replace("{label_id}", lbl)
        if template == "/api/v1/auth/login":
            reply = api.call(method, path, form={"username": world["user"]["email"], "password": "pw-for-counting"})
        else:
            reply = api.call(method, path, token=token, json_body=body)
        assert reply.status < 300, (method, template, reply.status, reply.body)
        seen[(method, template)] = reply.ddb_calls
    assert seen == _family(("/api/v1/auth/", "/api/v1/devices", "/api/v1/labels"))


def _family(prefixes: tuple[str, ...]) -> dict:
    """EXPECTED's entries for one API family: each family's test must exercise all of them."""
    return {k: v for k, v in EXPECTED.items() if k[1].startswith(prefixes)}


def test_given_mobivisor_routes_when_called_then_no_dynamodb_calls(api, monkeypatch):
    admin = api.register(admin=True)
    with FakeMobivisor("t") as fake:
        monkeypatch.setenv("MOBIVISOR_API_URL", fake.url)
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", "t")
        settings.reset()
        seen = {}
        for method, template in [("GET", "/api/v1/mobivisor/devices"), ("GET", "/api/v1/mobivisor/devices/{device_id}"),
                                 ("DELETE", "/api/v1/mobivisor/devices/{device_id}")]:
            reply = api.call(method, template.replace("{device_id}", "123"), token=admin["token"])
            assert reply.status == 200, (method, template, reply.body)
            seen[(method, template)] = reply.ddb_calls
    assert seen == _family(("/api/v1/mobivisor/",))


def test_given_microshare_routes_when_called_then_dynamodb_calls_are_exactly_the_expected_ones(api, microshare):
    p = "/api/v1/microshare"
    token = api.register()["token"]
    point = [{"id": "9", "reference": "ACME-77", "customer": "Acme", "site": "Leeds", "area": "Yard"}]
    location = ["Acme", "Leeds", "Hall", "ACME-78", "Internal", "Bait/Lured"]
    assert api.call("POST", f"{p}/erp/inspection-points", token=token, json_body=point).status == 200
    assert api.call("GET", f"{p}/devices", token=token).status == 200  # warm cache
    calls = [
        ("POST", "/auth/login", None, {"username": microshare.username, "password": microshare.password}),
        ("GET", "/auth/status", token, None), ("GET", "/health", None, None), ("GET", "/health/microshare", None, None),
        ("GET", "/status", token, None), ("GET", "/devices/clusters", token, None),
        ("GET", "/devices/clusters/{cluster_id}", token, None), ("GET", "/devices", token, None),
        ("POST", "/devices", token, {"meta": {"location": location}, "guid": "count-1"}),
        ("GET", "/devices/{device_id}", token, None), ("PUT", "/devices/{device_id}", token, {"status": "active"}),
        ("DELETE", "/devices/{device_id}", token, None), ("GET", "/devices/discovery", token, None),
        ("GET", "/devices/cache/stats", token, None), ("GET", "/devices/performance/benchmark", token, None),
        ("GET", "/erp/status", token, None), ("POST", "/erp/inspection-points", token, point),
        ("GET", "/erp/discovery", token, None), ("GET", "/erp/mapping", token, None),
        ("GET", "/erp/unmapped", token, None), ("POST", "/erp/sync", token, None),
        ("POST", "/devices/cache/clear", token, None),
    ]
    seen = {}
    for method, template, tok, body in calls:
        path = p + template.replace("{cluster_id}", "trap-acme").replace("{device_id}", "count-1")
        reply = api.call(method, path, token=tok, json_body=body)
        assert reply.status < 300, (method, template, reply.status, reply.body)
        seen[(method, p + template)] = reply.ddb_calls
    reply = api.call("GET", "/health")
    assert reply.status == 200
    seen[("GET", "/health")] = reply.ddb_calls
    assert seen == _family(("/api/v1/microshare/", "/health"))
