"""Storage routes (device-manager Storage Management): configurations and reading time series back."""

from datetime import UTC, datetime, timedelta

import pytest


def _storage(api, token, **body):
    reply = api.call("POST", "/api/v1/storages", token=token, json_body={"name": "Temperatures", **body})
    assert reply.status == 201, reply.body
    return reply.body


def _write(storage_id, device_id, minutes):
    from fleetgate.storages import repository

    storage = repository.get(storage_id)
    base = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    return [repository.write_point(storage, device_id, {"minute": m}, base + timedelta(minutes=m)) for m in minutes]


def test_given_storage_crud_then_create_get_list_update_delete(api):
    user = api.register()
    storage = _storage(api, user["token"], retention_days=7, description="cold chain")
    assert (storage["type"], storage["retention_days"]) == ("timeseries", 7)
    path = f"/api/v1/storages/{storage['id']}"
    assert api.call("GET", path, token=user["token"]).body == storage
    assert [s["id"] for s in api.call("GET", "/api/v1/storages", token=user["token"]).body["items"]] == [storage["id"]]
    updated = api.call("PUT", path, token=user["token"], json_body={"retention_days": 90, "name": "Temps"})
    assert (updated.status, updated.body["retention_days"], updated.body["name"]) == (200, 90, "Temps")
    assert api.call("DELETE", path, token=user["token"]).status == 204
    assert api.call("GET", path, token=user["token"]).status == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x", "retention_days": 0}, "retention_days"),
        ({"name": "x", "retention_days": 4000}, "retention_days"),
        ({"name": "x", "type": "s3"}, "type"),
    ],
)
def test_given_invalid_storage_then_422(api, body, field):
    user = api.register()
    reply = api.call("POST", "/api/v1/storages", token=user["token"], json_body=body)
    assert reply.status == 422 and ["body", field] in [e["loc"][:2] for e in reply.body["detail"]]


def test_given_points_then_data_reads_newest_first_paginated_and_windowed(api):
    user = api.register()
    storage = _storage(api, user["token"])
    _write(storage["id"], "dev-a", range(5))
    _write(storage["id"], "dev-b", [10])
    path = f"/api/v1/storages/{storage['id']}/data"
    seen, cursor = [], None
    while True:
        reply = api.call(
            "GET",
            path,
            token=user["token"],
            query={"device_id": "dev-a", "limit": 2, **({"cursor": cursor} if cursor else {})},
        )
        assert reply.status == 200, reply.body
        seen += [p["data"]["minute"] for p in reply.body["items"]]
        cursor = reply.body["next_cursor"]
        if not cursor:
            break
    assert seen == [4, 3, 2, 1, 0]
    window = api.call(
        "GET",
        path,
        token=user["token"],
        query={"device_id": "dev-a", "from": "2026-11-22T08:01:00Z", "to": "2026-11-22T10:03:00+02:00"},
    )
    assert [p["data"]["minute"] for p in window.body["items"]] == [3, 2, 1]
    everything = api.call("GET", path, token=user["token"], query={"from": "2026-11-22T08:04:00.000Z"})
    assert [(p["device_id"], p["data"]["minute"]) for p in everything.body["items"]] == [("dev-b", 10), ("dev-a", 4)]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "yesterday"},
        {"to": "2026-13-01"},
        {"from": "2026-11-22T09:00:00Z", "to": "2026-11-22T08:00:00Z"},
        {"limit": 0},
        {"cursor": "forged.cursor"},
    ],
)
def test_given_bad_data_query_then_422_not_500(api, query):
    user = api.register()
    storage = _storage(api, user["token"])
    reply = api.call("GET", f"/api/v1/storages/{storage['id']}/data", token=user["token"], query=query)
    assert reply.status == 422, reply.body


def test_given_point_then_it_expires_after_the_storage_retention(api):
    from fleetgate.storages import repository

    user = api.register()
    storage = _storage(api, user["token"], retention_days=3)
    [point] = _write(storage["id"], "dev-a", [0])
    item = next(iter(repository._points().query(f"{storage['id']}#dev-a")))
    written = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert int(item.expires_at.timestamp()) == int((written + timedelta(days=3)).timestamp())
    assert point.timestamp == "2026-11-22T08:00:00.000Z"


def test_given_no_token_then_every_storage_route_is_401(api):
    for method, path in (
        ("GET", "/api/v1/storages"),
        ("POST", "/api/v1/storages"),
        ("GET", "/api/v1/storages/x"),
        ("PUT", "/api/v1/storages/x"),
        ("DELETE", "/api/v1/storages/x"),
        ("GET", "/api/v1/storages/x/data"),
    ):
        assert api.call(method, path, json_body={} if method in ("POST", "PUT") else None).status == 401


def test_given_another_users_storage_then_every_route_answers_404(api):
    alice, bob = api.register(), api.register()
    storage = _storage(api, alice["token"])
    _write(storage["id"], "dev-a", [1])
    for sid in (storage["id"], "missing"):
        for method, suffix, body in (
            ("GET", "", None),
            ("PUT", "", {"name": "x"}),
            ("DELETE", "", None),
            ("GET", "/data", None),
        ):
            reply = api.call(method, f"/api/v1/storages/{sid}{suffix}", token=bob["token"], json_body=body)
            assert (reply.status, reply.body) == (404, {"detail": "Storage not found"}), (sid, method, suffix)
