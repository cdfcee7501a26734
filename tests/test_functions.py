"""Function routes (device-manager Function Management) and the JavaScript sandbox, via real API Gateway v2 events."""

from datetime import UTC, datetime

import pytest

GOOD = (
    "function decodeUplink(message) {\n"
    "  console.log('decoding', message.bytes);\n"
    "  return {celsius: message.raw / 10};\n"
    "}"
)


def _function(api, token, **overrides):
    body = {"name": "Decoder", "code": GOOD, **overrides}
    reply = api.call("POST", "/api/v1/functions", token=token, json_body=body)
    assert reply.status == 201, reply.body
    return reply.body


def test_given_valid_code_when_creating_then_201_with_entry_point_and_version_1(api):
    user = api.register()
    fn = _function(api, user["token"], timeout_ms=250)
    assert (fn["entry_point"], fn["version"], fn["timeout_ms"]) == ("decodeUplink", 1, 250)
    fetched = api.call("GET", f"/api/v1/functions/{fn['id']}", token=user["token"])
    assert (fetched.status, fetched.body) == (200, fn)
    listed = api.call("GET", "/api/v1/functions", token=user["token"])
    assert [f["id"] for f in listed.body["items"]] == [fn["id"]]


@pytest.mark.parametrize(
    "code, entry",
    [
        ("function processData(m) { return m }\nfunction helper() {}", "processData"),
        ("function helper(x) { return x }\nfunction process(m) { return helper(m) }", "process"),
        ("const onlyOne = (m) => ({n: m.n + 1});", "onlyOne"),
        ("function processTemperature(data) { data.f = data.c * 9 / 5 + 32; return data }", "processTemperature"),
    ],
)
def test_given_each_entry_point_convention_when_saving_then_it_is_detected(api, code, entry):
    user = api.register()
    assert _function(api, user["token"], code=code)["entry_point"] == entry


@pytest.mark.parametrize(
    "code, needle, line",
    [
        ("function process(m) {\n  return m +;\n}", "SyntaxError", 2),
        ("import fs from 'fs'\nfunction process(m) { return m }", "modules are not supported", 1),
        ("function a() {}\nfunction b() {}", "no entry point", None),
        ("var x = 1;", "no entry point", None),
        ("while (true) {}", "time limit exceeded", None),
        ("\n\nthrow new Error('broken at load');", "broken at load", 3),
    ],
)
def test_given_code_that_does_not_load_when_saving_then_422_with_the_js_error_and_line(api, code, needle, line):
    user = api.register()
    reply = api.call("POST", "/api/v1/functions", token=user["token"], json_body={"name": "bad", "code": code})
    assert reply.status == 422, reply.body
    error = reply.body["detail"][0]
    assert error["loc"] == ["body", "code"] and error["type"] == "javascript_error"
    assert needle in error["msg"]
    assert error.get("ctx", {}).get("line") == line
    if line:
        assert f"(line {line})" in error["msg"]
    assert api.call("GET", "/api/v1/functions", token=user["token"]).body["items"] == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "code": ""}, "code"),
        ({"name": "", "code": GOOD}, "name"),
        ({"name": "x", "code": GOOD, "timeout_ms": 1001}, "timeout_ms"),
        ({"name": "x", "code": GOOD, "timeout_ms": 0}, "timeout_ms"),
        ({"name": "x", "code": GOOD, "owner_id": "me"}, "owner_id"),
    ],
)
def test_given_invalid_body_when_creating_then_422_naming_the_field(api, body, field):
    user = api.register()
    reply = api.call("POST", "/api/v1/functions", token=user["token"], json_body=body)
    assert reply.status == 422
    assert ["body", field] in [e["loc"][:2] for e in reply.body["detail"]]


def test_given_updates_then_code_changes_make_versions_and_every_version_is_kept(api):
    user = api.register()
    fn = _function(api, user["token"])
    path = f"/api/v1/functions/{fn['id']}"
    renamed = api.call("PUT", path, token=user["token"], json_body={"name": "Renamed"})
    assert (renamed.status, renamed.body["version"]) == (200, 1)  # a rename is not a new version
    v2 = api.call("PUT", path, token=user["token"], json_body={"code": "function process(m) { return {v: 2} }"})
    v3 = api.call("PUT", path, token=user["token"], json_body={"timeout_ms": 500})
    assert (v2.body["version"], v2.body["entry_point"], v3.body["version"]) == (2, "process", 3)
    versions = api.call("GET", f"{path}/versions", token=user["token"])
    assert [v["version"] for v in versions.body["items"]] == [3, 2, 1]
    assert versions.body["items"][2]["code"] == GOOD and versions.body["items"][0]["timeout_ms"] == 500
    paged = api.call("GET", f"{path}/versions", token=user["token"], query={"limit": 2})
    rest = api.call("GET", f"{path}/versions", token=user["token"], query={"cursor": paged.body["next_cursor"]})
    assert [v["version"] for v in paged.body["items"] + rest.body["items"]] == [3, 2, 1]
    broken = api.call("PUT", path, token=user["token"], json_body={"code": "function ("})
    assert broken.status == 422
    assert api.call("GET", path, token=user["token"]).body["version"] == 3  # nothing saved


def test_given_function_when_testing_then_output_logs_and_duration_without_history(api):
    user = api.register()
    fn = _function(api, user["token"])
    reply = api.call(
        "POST",
        f"/api/v1/functions/{fn['id']}/test",
        token=user["token"],
        json_body={"payload": {"raw": 215, "bytes": "AQI="}},
    )
    assert reply.status == 200, reply.body
    assert reply.body["success"] is True and reply.body["output"] == {"celsius": 21.5}
    assert reply.body["logs"] == ["decoding AQI="] and reply.body["duration_ms"] > 0 and reply.body["version"] == 1
    assert reply.ddb_calls == ["GetItem"]  # no history written
    assert api.call("GET", f"/api/v1/functions/{fn['id']}/history", token=user["token"]).body["items"] == []


def test_given_non_object_result_then_it_is_wrapped_in_data(api):
    user = api.register()
    fn = _function(api, user["token"], code="function process(m) { return [m.a, 'x'] }")
    reply = api.call("POST", f"/api/v1/functions/{fn['id']}/test", token=user["token"], json_body={"payload": {"a": 1}})
    assert reply.body["output"] == {"data": [1, "x"]}


def test_given_pinned_version_when_testing_then_that_version_runs(api):
    user = api.register()
    fn = _function(api, user["token"], code="function process(m) { return {v: 1} }")
    api.call(
        "PUT",
        f"/api/v1/functions/{fn['id']}",
        token=user["token"],
        json_body={"code": "function process(m) { return {v: 2} }"},
    )
    test = f"/api/v1/functions/{fn['id']}/test"
    assert api.call("POST", test, token=user["token"], json_body={}).body["output"] == {"v": 2}
    assert api.call("POST", test, token=user["token"], json_body={"version": 1}).body["output"] == {"v": 1}
    missing = api.call("POST", test, token=user["token"], json_body={"version": 7})
    assert (missing.status, missing.body) == (404, {"detail": "Function version 7 not found"})


HOSTILE = [
    ("infinite loop", "function process(m) { while (true) {} }", "time limit exceeded"),
    (
        "memory bomb",
        "function process(m) { var a = []; while (true) a.push('x'.repeat(1 << 16)); }",
        "memory limit exceeded",
    ),
    ("deep recursion", "function process(m) { function f(n) { return f(n + 1) + 1 } return f(0) }", "stack overflow"),
    ("require", "function process(m) { return require('fs').readFileSync('/etc/passwd') }", "'require' is not defined"),
    ("process", "function processData(m) { return {env: process.env} }", "'process' is not defined"),
    ("fetch", "function process(m) { return fetch('http://169.254.169.254/') }", "'fetch' is not defined"),
    ("import", "function process(m) { return import('os') }", "returned a Promise"),
    ("bigint result", "function process(m) { return {n: 10n} }", "not JSON-serialisable"),
    ("cyclic result", "function process(m) { var a = {}; a.self = a; return a }", "not JSON-serialisable"),
    ("function result", "function process(m) { return function () {} }", "not JSON-serialisable"),
    ("no result", "function process(m) { m.x = 1 }", "returned nothing"),
    ("thrown error", "function process(m) {\n\n  throw new RangeError('bad reading') }", "RangeError: bad reading"),
]


@pytest.mark.parametrize("case, code, needle", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_given_hostile_or_broken_code_when_running_then_clear_error_and_next_run_works(api, case, code, needle):
    user = api.register()
    bad = _function(api, user["token"], code=code)
    good = _function(api, user["token"], code="function process(m) { return {ok: m.n + 1} }")
    reply = api.call("POST", f"/api/v1/functions/{bad['id']}/test", token=user["token"], json_body={"payload": {}})
    assert reply.status == 200, reply.body
    assert reply.body["success"] is False and reply.body["output"] is None
    assert needle in reply.body["error"], reply.body
    assert reply.body["duration_ms"] < 1000
    if case == "thrown error":
        assert reply.body["error_line"] == 3
    after = api.call(
        "POST", f"/api/v1/functions/{good['id']}/test", token=user["token"], json_body={"payload": {"n": 1}}
    )
    assert (after.body["success"], after.body["output"]) == (True, {"ok": 2})
    again = api.call("POST", f"/api/v1/functions/{bad['id']}/test", token=user["token"], json_body={"payload": {}})
    assert again.body["error"] == reply.body["error"]  # a fresh context each time: same outcome


def test_given_a_script_that_pollutes_globals_then_the_next_execution_does_not_see_it(api):
    user = api.register()
    fn = _function(
        api,
        user["token"],
        code=(
            "function process(m) { globalThis.counter = (globalThis.counter || 0) + 1;"
            " Object.prototype.polluted = true; return {counter: globalThis.counter, seen: ({}).polluted === true} }"
        ),
    )
    path = f"/api/v1/functions/{fn['id']}/test"
    first = api.call("POST", path, token=user["token"], json_body={}).body
    second = api.call("POST", path, token=user["token"], json_body={}).body
    assert first["output"] == second["output"] == {"counter": 1, "seen": True}


def test_given_console_flood_then_logs_are_bounded(api):
    user = api.register()
    fn = _function(
        api,
        user["token"],
        code=(
            "function process(m) { for (var i = 0; i < 500; i++) console.log('line', i, 'x'.repeat(5000)); return {} }"
        ),
    )
    body = api.call("POST", f"/api/v1/functions/{fn['id']}/test", token=user["token"], json_body={}).body
    assert body["success"] is True
    assert len(body["logs"]) == 101 and body["logs"][-1] == "... 400 more line(s) dropped"
    assert all(len(line) <= 1003 for line in body["logs"])


def test_given_no_token_then_every_function_route_is_401(api):
    for method, path in (
        ("GET", "/api/v1/functions"),
        ("POST", "/api/v1/functions"),
        ("GET", "/api/v1/functions/x"),
        ("PUT", "/api/v1/functions/x"),
        ("DELETE", "/api/v1/functions/x"),
        ("GET", "/api/v1/functions/history"),
        ("GET", "/api/v1/functions/x/history"),
        ("GET", "/api/v1/functions/x/versions"),
        ("POST", "/api/v1/functions/x/test"),
    ):
        reply = api.call(method, path, json_body={} if method in ("POST", "PUT") else None)
        assert (reply.status, reply.body) == (401, {"detail": "Not authenticated"}), (method, path)


def test_given_another_users_function_then_every_route_answers_404_like_a_missing_one(api):
    alice, bob = api.register(), api.register()
    fn = _function(api, alice["token"])
    for fid in (fn["id"], "no-such-function"):
        base = f"/api/v1/functions/{fid}"
        for method, suffix, body in (
            ("GET", "", None),
            ("PUT", "", {"name": "x"}),
            ("DELETE", "", None),
            ("GET", "/history", None),
            ("GET", "/versions", None),
            ("POST", "/test", {"payload": {}}),
        ):
            reply = api.call(method, base + suffix, token=bob["token"], json_body=body)
            assert (reply.status, reply.body) == (404, {"detail": "Function not found"}), (fid, method, suffix)
    assert api.call("GET", "/api/v1/functions", token=bob["token"]).body["items"] == []
    assert api.call("GET", f"/api/v1/functions/{fn['id']}", token=alice["token"]).body["name"] == "Decoder"


def test_given_function_when_deleting_then_204_and_versions_gone(api):
    user = api.register()
    fn = _function(api, user["token"])
    api.call(
        "PUT", f"/api/v1/functions/{fn['id']}", token=user["token"], json_body={"code": "function process(m){return m}"}
    )
    assert api.call("DELETE", f"/api/v1/functions/{fn['id']}", token=user["token"]).status == 204
    assert api.call("GET", f"/api/v1/functions/{fn['id']}", token=user["token"]).status == 404
    from fleetgate.functions import repository

    assert repository.get_version(fn["id"], 1) is None and repository.get_version(fn["id"], 2) is None


def test_given_recorded_runs_then_history_routes_show_them_newest_first_per_user_and_for_admins(api):
    from fleetgate.history import service as history

    alice, bob, admin = api.register(), api.register(), api.register(admin=True)
    mine, theirs = _function(api, alice["token"]), _function(api, bob["token"])
    for minute, fn in ((1, mine), (2, mine), (3, theirs)):
        history.record_function_run(
            function_id=fn["id"],
            owner_id=fn["owner_id"],
            status="success",
            started=datetime.now(UTC).replace(minute=minute),
            duration_ms=1.5,
            input={"raw": minute},
            output={"celsius": minute / 10},
            logs=["hi"],
            version=1,
        )
    history.record_function_run(
        function_id=mine["id"],
        owner_id=mine["owner_id"],
        status="error",
        started=datetime.now(UTC).replace(minute=4),
        duration_ms=100,
        input={},
        error="time limit exceeded",
    )
    own = api.call("GET", f"/api/v1/functions/{mine['id']}/history", token=alice["token"])
    assert [r["status"] for r in own.body["items"]] == ["error", "success", "success"]
    assert own.body["items"][1]["input"] == {"raw": 2} and own.body["items"][1]["logs"] == ["hi"]
    assert own.body["items"][0]["error"] == "time limit exceeded"
    page = api.call("GET", f"/api/v1/functions/{mine['id']}/history", token=alice["token"], query={"limit": 2})
    rest = api.call(
        "GET",
        f"/api/v1/functions/{mine['id']}/history",
        token=alice["token"],
        query={"cursor": page.body["next_cursor"]},
    )
    assert len(page.body["items"]) == 2 and len(rest.body["items"]) == 1
    alice_all = api.call("GET", "/api/v1/functions/history", token=alice["token"])
    assert {r["function_id"] for r in alice_all.body["items"]} == {mine["id"]}
    admin_all = api.call("GET", "/api/v1/functions/history", token=admin["token"], query={"limit": 200})
    assert {mine["id"], theirs["id"]} <= {r["function_id"] for r in admin_all.body["items"]}


def test_given_history_record_then_it_expires_after_the_retention(api):
    from fleetgate.core.settings import history_retention_days
    from fleetgate.history import repository

    user = api.register()
    fn = _function(api, user["token"])
    started = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    rec = repository.record(
        "function", fn["id"], fn["owner_id"], status="success", started=started, duration_ms=1, details={"input": {}}
    )
    item = repository._executions().get("2026-11-22", rec["id"])
    days = history_retention_days()
    assert int(item.expires_at.timestamp()) == int(started.timestamp()) + days * 86400


def test_given_a_run_whose_logs_exceed_the_record_limit_then_history_still_reads_with_a_note_of_what_was_cut(api):
    from fleetgate.history import service as history

    user = api.register()
    fn = _function(api, user["token"])
    lines = [f"{i:03d} " + "x" * 996 for i in range(100)]  # the sandbox's own caps: 100 lines of 1000 characters
    history.record_function_run(
        function_id=fn["id"],
        owner_id=fn["owner_id"],
        status="success",
        started=datetime.now(UTC),
        duration_ms=3.0,
        input={"raw": 1},
        output={"celsius": 0.1},
        logs=lines,
    )
    reply = api.call("GET", f"/api/v1/functions/{fn['id']}/history", token=user["token"])
    assert reply.status == 200, reply.body
    logs = reply.body["items"][0]["logs"]
    assert logs[0] == lines[0] and len(logs) < len(lines)
    assert logs[-1] == f"... {len(lines) - len(logs) + 1} more line(s) not kept"
