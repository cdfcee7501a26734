"""The HTTP front door over real sockets: API Gateway v2 events, responses, 404/500 and Function URLs."""

from __future__ import annotations

import base64
import json
import threading

import httpx
import pytest

from localcloud.lambdas import Functions
from localcloud.server import Gateway, make_server


@pytest.fixture
def http(fixture_stack):
    """The fixture template's API on a free port, served in a thread."""
    server = make_server(Gateway(Functions(fixture_stack)), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=10) as client:
            yield client
    finally:
        server.shutdown()
        server.server_close()


def test_given_a_get_with_path_params_query_and_cookies_when_served_then_the_event_has_them_as_api_gateway_builds_them(
    http, tag
):
    reply = http.get(
        f"/echo/{tag}",
        params=[("a", "1"), ("a", "2"), ("empty", "")],
        headers={"Cookie": "session=s1; theme=dark", "X-Custom": "yes"},
    )

    assert reply.status_code == 200
    event = reply.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /echo/{name}"
    assert event["rawPath"] == f"/echo/{tag}"
    assert event["pathParameters"] == {"name": tag}
    assert event["rawQueryString"] == "a=1&a=2&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "empty": ""}
    assert event["cookies"] == ["session=s1", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "yes"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["requestId"]
    assert event["isBase64Encoded"] is False and "body" not in event


def test_given_a_binary_body_when_served_then_the_event_body_is_base64(http, tag):
    raw = b"\x00\x01\xfe\xff" + tag.encode()

    event = http.post(f"/echo/{tag}", content=raw, headers={"Content-Type": "application/octet-stream"}).json()

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_given_a_json_body_when_served_then_the_event_body_is_text(http, tag):
    event = http.post(f"/echo/{tag}", json={"tag": tag}).json()

    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"tag": tag}
    assert event["requestContext"]["http"]["method"] == "POST"


def test_given_a_handler_result_with_cookies_and_headers_when_served_then_they_are_written_back(http, tag):
    reply = http.get(f"/echo/{tag}")

    assert reply.headers["x-echo"] == "1"
    assert reply.headers.get_list("set-cookie") == ["session=abc; Path=/; HttpOnly", "theme=dark"]
    assert reply.headers["content-length"] == str(len(reply.content))


def test_given_no_matching_route_when_served_then_404_like_api_gateway(http):
    reply = http.get("/nowhere")

    assert (reply.status_code, reply.json()) == (404, {"message": "Not Found"})


def test_given_a_handler_that_raises_when_served_then_500_without_the_traceback_which_is_logged(http, caplog):
    reply = http.get("/boom")

    assert (reply.status_code, reply.json()) == (500, {"message": "Internal Server Error"})
    assert "kaboom" not in reply.text
    assert "kaboom" in caplog.text and "Traceback" in caplog.text


def test_given_a_function_url_when_called_then_the_function_gets_a_default_route_v2_event(http, tag):
    reply = http.post(f"/lambda-url/EchoFunction/uplink?event=up&tag={tag}", json={"devEui": tag})

    event = reply.json()
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/uplink"
    assert event["queryStringParameters"] == {"event": "up", "tag": tag}
    assert json.loads(event["body"]) == {"devEui": tag}
    assert event["requestContext"]["domainName"] == "echofunction.lambda-url.us-east-1.on.aws"
    assert "pathParameters" not in event


def test_given_a_function_without_url_when_its_url_is_called_then_404(http):
    assert http.get("/lambda-url/TickerFunction/").status_code == 404


def test_given_a_function_url_root_with_a_query_when_called_then_the_path_is_slash_and_the_query_kept(http, tag):
    event = http.get(f"/lambda-url/EchoFunction?tag={tag}").json()

    assert (event["rawPath"], event["rawQueryString"]) == ("/", f"tag={tag}")
