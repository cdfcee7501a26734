"""Schemathesis over the merged OpenAPI document (the local cloud's /openapi.json), every operation, as a user and
as an admin, with the partner upstreams configured against fakes. Checks: no 5xx, every response's status
documented for its operation, every body valid against the documented schema.

Bounded for CI: ``FUZZ_EXAMPLES`` examples per operation and caller (default 8) and ``FUZZ_SECONDS`` in total
(default 300: past it, the remaining examples are generated but not sent). ``make fuzz`` runs the longer
profile (100 examples, 30 minutes). The requests go through the same in-process gateway as the local cloud
(``localcloud.server.Gateway``), over WSGI, on the ``aws`` fixture's moto.
"""

from __future__ import annotations

import os
import time
from http import HTTPStatus
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from fleetgate.core import settings as fleetgate_settings
from tests.fakes import FakeMobivisor
from tests.support import STACK

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
BUDGET_SECONDS = float(os.environ.get("FUZZ_SECONDS", "300"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
_STARTED: list[float] = []
SENT: dict[str, Any] = {"operations": set(), "requests": 0, "skipped": 0, "statuses": {}}


def wsgi(gateway: Any):
    """The local cloud's gateway as a WSGI app (schemathesis calls it in-process)."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        if "?" not in target and environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        headers = [(k[5:].replace("_", "-").lower(), v) for k, v in environ.items() if k.startswith("HTTP_")]
        if environ.get("CONTENT_TYPE"):
            headers.append(("content-type", environ["CONTENT_TYPE"]))
        response = gateway.handle(environ["REQUEST_METHOD"], target, headers, body)
        reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else "Unknown"
        start_response(f"{response.status} {reason}", list(response.headers.items()))
        return [response.body]

    return app


@pytest.fixture
def fuzz_apps(api, microshare, monkeypatch):
    """Each HTTP API of the template (logical id) as a WSGI app: the local cloud's gateway for it."""
    from localcloud.docs import ApiDocs
    from localcloud.server import Gateway

    with FakeMobivisor("t") as mobivisor:
        monkeypatch.setenv("MOBIVISOR_API_URL", mobivisor.url)
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", "t")
        fleetgate_settings.reset()
        f = api.functions
        yield {name: wsgi(Gateway(f, ApiDocs(f, api=name), api=name)) for name in f.apis}


def _document(api: str) -> dict[str, Any]:
    """The merged document of one HTTP API, built at collection (it imports the function modules; no AWS call)."""
    from localcloud.docs import ApiDocs
    from localcloud.lambdas import Functions

    return ApiDocs(Functions(STACK), api=api).openapi()


# Loaded eagerly: schemathesis' lazy loader (from_fixture) does not run under pytest 9.
schema = schemathesis.openapi.from_dict(_document("FleetgateApi"))
microshare_schema = schemathesis.openapi.from_dict(_document("MicroshareApi"))


@pytest.fixture
def tokens(api):
    """A plain user's token and an admin's: every example is sent as both."""
    return [api.register()["token"], api.register(admin=True)["token"]]


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _send(case: Any, app: Any, tokens: list[str]) -> None:
    if not _STARTED:
        _STARTED.append(time.monotonic())
    if time.monotonic() - _STARTED[0] > BUDGET_SECONDS:
        SENT["skipped"] += 1
        return
    SENT["operations"].add(
        f"{case.operation.method.upper()} {case.operation.schema.raw_schema['info']['title']} {case.operation.path}"
    )
    for token in tokens:
        SENT["requests"] += 1
        response = case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        SENT["statuses"][response.status_code] = SENT["statuses"].get(response.status_code, 0) + 1


@schema.parametrize()
@FUZZ_SETTINGS
def test_given_generated_requests_when_sent_then_no_5xx_and_answers_match_the_document(case, fuzz_apps, tokens):
    _send(case, fuzz_apps["FleetgateApi"], tokens)


@microshare_schema.parametrize()
@FUZZ_SETTINGS
def test_given_generated_requests_to_the_microshare_api_then_no_5xx_and_answers_match_its_document(
    case, fuzz_apps, tokens
):
    _send(case, fuzz_apps["MicroshareApi"], tokens)


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    """One line at the end: operations, requests sent, their statuses (the figure the README quotes)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not SENT["requests"]:
        return
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(SENT["statuses"].items()))
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(
            f"schemathesis: {len(SENT['operations'])} operations, {SENT['requests']} requests "
            f"({EXAMPLES} examples per operation, as a user and as an admin), statuses {{{statuses}}}, "
            f"{SENT['skipped']} examples past the {BUDGET_SECONDS:.0f} s budget not sent"
        )
