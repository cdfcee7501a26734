"""Search (device-manager Search): the caller's devices, functions, flows and integrations, from a write-time index."""

import pytest

from tests.support import new_eui


@pytest.fixture
def user_with_things(api):
    user = api.register()
    t = user["token"]
    eui = new_eui()
    device = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": eui, "name": "Cold Room Sensor"}).body
    second = api.call(
        "POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Roomba charging dock"}
    ).body
    fn = api.call(
        "POST",
        "/api/v1/functions",
        token=t,
        json_body={"name": "Room temperature decoder", "code": "function process(m){return m}"},
    ).body
    integration = api.call(
        "POST",
        "/api/v1/integrations",
        token=t,
        json_body={"name": "Café webhook", "type": "http", "config": {"url": "https://example.com"}},
    ).body
    flow = api.call(
        "POST",
        "/api/v1/flows",
        token=t,
        json_body={
            "name": "Room alerts",
            "nodes": [{"id": "d", "type": "device", "device_id": device["id"]}],
            "edges": [],
        },
    ).body
    return {
        "user": user,
        "token": t,
        "device": device,
        "second": second,
        "function": fn,
        "integration": integration,
        "flow": flow,
        "eui": eui,
    }


def _search(api, token, query, **extra):
    reply = api.call("GET", "/api/v1/search", token=token, query={"query": query, **extra})
    assert reply.status == 200, reply.body
    return reply


def test_given_resources_when_searching_then_every_type_matches_best_first(api, user_with_things):
    w = user_with_things
    reply = _search(api, w["token"], "ROOM")
    hits = [(h["type"], h["name"], h["match"]) for h in reply.body["items"]]
    assert hits[0] == ("flow", "Room alerts", "prefix")  # a prefix of the name, shortest name first
    assert set(hits) == {
        ("device", "Roomba charging dock", "prefix"),
        ("function", "Room temperature decoder", "prefix"),
        ("flow", "Room alerts", "prefix"),
        ("device", "Cold Room Sensor", "word"),
    }
    assert hits[-1] == ("device", "Cold Room Sensor", "word")
    assert reply.ddb_calls == ["Query"]


def test_given_substring_eui_and_accents_then_they_match_case_insensitively(api, user_with_things):
    w = user_with_things
    substring = _search(api, w["token"], "oom sen").body["items"]
    assert [(h["id"], h["match"]) for h in substring] == [(w["device"]["id"], "substring")]
    by_eui = _search(api, w["token"], w["eui"][5:11].upper()).body["items"]
    assert by_eui[0]["id"] == w["device"]["id"] and by_eui[0]["matched_field"] == "dev_eui"
    assert by_eui[0]["dev_eui"] == w["eui"]
    exact = _search(api, w["token"], "cafe WEBHOOK").body["items"]
    assert [(h["type"], h["match"]) for h in exact] == [("integration", "exact")]


def test_given_rename_and_delete_then_the_index_follows(api, user_with_things):
    w = user_with_things
    t = w["token"]
    api.call("PUT", f"/api/v1/devices/{w['device']['id']}", token=t, json_body={"name": "Blast chiller"})
    api.call("PUT", f"/api/v1/functions/{w['function']['id']}", token=t, json_body={"name": "Chiller decoder"})
    api.call("PUT", f"/api/v1/flows/{w['flow']['id']}", token=t, json_body={"name": "Chiller alerts"})
    api.call("PUT", f"/api/v1/integrations/{w['integration']['id']}", token=t, json_body={"name": "Chiller hook"})
    names = {h["name"] for h in _search(api, t, "chill").body["items"]}
    assert names == {"Blast chiller", "Chiller decoder", "Chiller alerts", "Chiller hook"}
    assert {h["name"] for h in _search(api, t, "room").body["items"]} == {"Roomba charging dock"}
    for path in (
        f"/api/v1/flows/{w['flow']['id']}",
        f"/api/v1/devices/{w['device']['id']}",
        f"/api/v1/functions/{w['function']['id']}",
        f"/api/v1/integrations/{w['integration']['id']}",
    ):
        assert api.call("DELETE", path, token=t).status == 204
    assert _search(api, t, "chill").body["items"] == []
    assert _search(api, t, w["eui"]).body["items"] == []


def test_given_another_users_resources_then_they_never_match(api, user_with_things):
    bob = api.register()
    assert _search(api, bob["token"], "room").body["items"] == []


def test_given_a_long_query_then_it_matches_beyond_the_token_length(api):
    user = api.register()
    name = "North warehouse freezer aisle seven probe"
    api.call("POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": new_eui(), "name": name})
    api.call(
        "POST",
        "/api/v1/devices",
        token=user["token"],
        json_body={"dev_eui": new_eui(), "name": "North warehouse freezer aisle eight probe"},
    )
    hits = _search(api, user["token"], "warehouse freezer aisle seven").body["items"]
    assert [h["name"] for h in hits] == [name]


def test_given_limit_then_only_the_best_are_returned(api, user_with_things):
    assert len(_search(api, user_with_things["token"], "room", limit=2).body["items"]) == 2


@pytest.mark.parametrize("query", [{"query": ""}, {"query": "!!!"}, {}, {"query": "x" * 300}])
def test_given_empty_or_missing_query_then_422(api, query):
    user = api.register()
    reply = api.call("GET", "/api/v1/search", token=user["token"], query=query)
    assert reply.status == 422, reply.body
    assert reply.body["detail"][0]["loc"] == ["query", "query"]


def test_given_no_token_then_search_is_401(api):
    assert api.call("GET", "/api/v1/search", query={"query": "x"}).status == 401
