"""The sample events in events/ (for `make invoke` / `sam local invoke`) are real API Gateway v2 or EventBridge
events for routes and schedules that exist, and the Mobivisor and Microshare ones run against the fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetgate.core import settings
from localcloud.apigw import LambdaContext, decode_response
from localcloud.template import stack as load_stack
from tests.fakes import FakeMobivisor
from tests.support import token_for

EVENTS = sorted((Path(__file__).resolve().parent.parent / "events").glob("*.json"))


def _load(path: Path, token: str = "") -> dict:
    return json.loads(path.read_text().replace("{{token}}", token))


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.name)
def test_each_sample_event_names_a_route_or_schedule_of_the_template(path):
    stack = load_stack()
    event = json.loads(path.read_text())
    if event.get("source") == "aws.events":
        assert event["detail-type"] == "Scheduled Event"
        assert any(fn.schedules for fn in stack.functions.values())
        return
    if "Records" in event:  # an SQS batch or a DynamoDB stream batch (run in test_engine_events / test_search_stream)
        sources = {r["eventSource"] for r in event["Records"]}
        assert sources in ({"aws:sqs"}, {"aws:dynamodb"})
        kind = "sqs_sources" if sources == {"aws:sqs"} else "stream_sources"
        assert any(getattr(fn, kind) for fn in stack.functions.values())
        return
    if event.get("routeKey") == "$default":  # a Lambda Function URL request (run in tests/test_engine_events.py)
        assert event["version"] == "2.0" and any(fn.function_url for fn in stack.functions.values())
        return
    route_keys = {r.route_key for r in stack.routes()}
    assert event["version"] == "2.0" and event["routeKey"] in route_keys
    assert event["requestContext"]["routeKey"] == event["routeKey"]
    assert event["rawPath"] == event["requestContext"]["http"]["path"]
    auth = event["headers"].get("authorization")
    assert auth in (None, "Bearer {{token}}")


UPSTREAM = ("mobivisor-", "microshare-", "health")
ESTATES = ("mobile-", "estates-")  # residents' and staff tokens: run in tests/test_estates_events.py
FINANCING = ("customer-device-", "admin-customers-")  # run with their customers in tests/test_financing_events.py


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in EVENTS
        if not p.name.startswith(UPSTREAM + ESTATES + FINANCING)
        and json.loads(p.read_text()).get("version") == "2.0"
        and json.loads(p.read_text()).get("routeKey") != "$default"
    ],
    ids=lambda p: p.name,
)
def test_given_a_device_manager_sample_event_with_a_real_token_then_its_function_answers_without_error(api, path):
    event = json.loads(path.read_text())
    route = {r.route_key: r for r in api.functions.stack.routes(api.functions.main_api)}[event["routeKey"]]
    user = api.register(admin=event["rawPath"].startswith("/api/v1/users"))  # user management is for admins
    event["headers"] = {k: v.replace("{{token}}", user["token"]) for k, v in event["headers"].items()}
    if event["routeKey"] == "POST /api/v1/auth/login":
        event["body"] = f"username={user['email']}&password={user['password'].replace(' ', '+')}"
    result = api.functions.invoke(route.function, event)
    assert result["statusCode"] < 500, result
    if event["routeKey"] == "POST /api/v1/flows":  # the sample's example ids exist in no account: 422 naming the node
        assert result["statusCode"] == 422 and "node 'freezer'" in result["body"], result
    elif not route.params:
        assert result["statusCode"] in (200, 201, 409), result  # 409: the sample EUI/name may exist already


@pytest.mark.parametrize("path", [p for p in EVENTS if p.name.startswith(UPSTREAM)], ids=lambda p: p.name)
def test_given_fake_upstreams_when_invoking_each_sample_event_then_its_function_answers(
    api, microshare, monkeypatch, path
):
    with FakeMobivisor("t") as mobivisor:
        monkeypatch.setenv("MOBIVISOR_API_URL", mobivisor.url)
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", "t")
        settings.reset()
        event = _load(path, token_for("admin")["token"])
        if event.get("source") == "aws.events":
            result = api.functions.handler("MicroshareRefreshFunction")(event, LambdaContext("refresh"))
            assert result["clusters"] == 3
            return
        http_api = "MicroshareApi" if path.name.startswith("microshare-") else None  # the Microshare API's own
        route, _ = api.functions.match(event["requestContext"]["http"]["method"], event["rawPath"], http_api)
        response = decode_response(api.functions.invoke(route.function, event))
        # the sample ids and credentials are illustrative: a clear 4xx is fine, a 5xx is not
        assert response.status < 500, (path.name, response.status, response.body[:300])
