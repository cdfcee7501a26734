"""The estates sample events in events/ (``make invoke``) run against their functions: the staff ones with an
admin token (``ARGS="--role admin"``), the mobile login with a resident's credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.estates_support import NEW_PASSWORD, owner_with_meter

EVENTS = sorted((Path(__file__).resolve().parent.parent / "events").glob("*.json"))
ESTATES_EVENTS = [p for p in EVENTS if p.name.startswith(("mobile-", "estates-"))]


def test_given_the_estates_functions_then_each_has_a_sample_event():
    functions = {json.loads(p.read_text())["routeKey"].split(" ", 1)[1].split("/")[2] for p in ESTATES_EVENTS}
    assert functions == {"mobile", "admin"}


@pytest.mark.parametrize("path", ESTATES_EVENTS, ids=lambda p: p.name)
def test_given_an_estates_sample_event_with_real_credentials_then_its_function_answers_it(api, path):
    world = owner_with_meter(api)
    event = json.loads(path.read_text().replace("{{token}}", world["staff"].token))
    if event["routeKey"] == "POST /api/mobile/auth/login":
        event["body"] = json.dumps({"phone_number": world["person"]["phone"], "password": NEW_PASSWORD})
    route = {r.route_key: r for r in api.functions.stack.routes()}[event["routeKey"]]

    result = api.functions.invoke(route.function, event)

    assert result["statusCode"] in (200, 201), result
    assert set(json.loads(result["body"])) & {"token", "estates", "estate"}
