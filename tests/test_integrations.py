"""Integration routes (device-manager Integration Management): HTTP against a fake sink on 127.0.0.1, MQTT against
a real mosquitto broker on loopback, the outbound guard, masked secrets and history."""

import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest

from localcloud.net import free_port
from tests.support import Sink, lane_unavailable, mosquitto_binary


def _integration(api, token, **body):
    reply = api.call("POST", "/api/v1/integrations", token=token, json_body={"name": "Sink", **body})
    assert reply.status == 201, reply.body
    return reply.body


def _http(api, token, url, **config):
    return _integration(api, token, type="http", config={"url": url, **config})


@pytest.fixture
def no_private_destinations(monkeypatch):
    """A deployment with the default setting: public destinations only."""
    from fleetgate.core import settings

    monkeypatch.setenv("OUTBOUND_ALLOW", "")
    settings.reset()
    yield
    monkeypatch.undo()
    settings.reset()


# ------------------------------------------------------------------ HTTP
def test_given_http_integration_when_testing_then_sample_payload_reaches_the_sink(api):
    user = api.register()
    with Sink(status=201, body=b'{"received": true}') as sink:
        integration = _http(
            api,
            user["token"],
            sink.url + "/hook",
            method="PUT",
            headers={"X-Source": "fleetgate", "Authorization": "Bearer real-secret"},
        )
        reply = api.call("POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={})
    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["success"], body["status_code"], body["error"]) == (True, 201, None)
    assert body["response_excerpt"] == '{"received": true}' and body["latency_ms"] > 0
    [request] = sink.requests
    assert (request["method"], request["path"]) == ("PUT", "/hook")
    assert request["headers"]["authorization"] == "Bearer real-secret" and request["headers"]["x-source"] == "fleetgate"
    assert request["body"]["test"] is True and "data" in request["body"]
    assert reply.ddb_calls == ["GetItem"]  # a test send writes no history


def test_given_custom_payload_and_failing_sink_then_outcome_reports_the_status(api):
    user = api.register()
    with Sink(status=503, body=b"overloaded " * 200) as sink:
        integration = _http(api, user["token"], sink.url)
        reply = api.call(
            "POST",
            f"/api/v1/integrations/{integration['id']}/test",
            token=user["token"],
            json_body={"payload": {"temperature": 4.2}},
        )
        assert sink.requests[0]["body"] == {"temperature": 4.2}
    assert (reply.body["success"], reply.body["status_code"]) == (False, 503)
    assert reply.body["error"].startswith("HTTP 503")
    assert len(reply.body["response_excerpt"]) <= 1003


def test_given_unreachable_sink_then_outcome_has_an_error_not_a_500(api):
    user = api.register()
    integration = _http(api, user["token"], f"http://127.0.0.1:{free_port()}/", timeout_seconds=2)
    reply = api.call("POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={})
    assert reply.status == 200
    assert reply.body["success"] is False and reply.body["status_code"] is None and reply.body["error"]


def test_given_secrets_then_get_masks_them_and_update_with_the_mask_keeps_them(api):
    user = api.register()
    with Sink() as sink:
        url = sink.url + "/in?api_key=k123&site=7"
        integration = _http(
            api,
            user["token"],
            url,
            headers={"Authorization": "Bearer abc.def", "X-Api-Key": "k-42", "Accept": "text/plain"},
        )
        shown = integration["config"]
        assert shown["headers"] == {"Authorization": "Bearer ********", "X-Api-Key": "********", "Accept": "text/plain"}
        assert "k123" not in shown["url"] and "site=7" in shown["url"]
        fetched = api.call("GET", f"/api/v1/integrations/{integration['id']}", token=user["token"]).body
        listed = api.call("GET", "/api/v1/integrations", token=user["token"]).body["items"][0]
        assert fetched["config"] == shown == listed["config"]
        for text in (str(fetched), str(listed)):
            assert "abc.def" not in text and "k-42" not in text
        # send the masked config back with one change: the secrets stay
        updated = api.call(
            "PUT",
            f"/api/v1/integrations/{integration['id']}",
            token=user["token"],
            json_body={"config": {**shown, "timeout_seconds": 5}},
        )
        assert updated.status == 200 and updated.body["config"]["timeout_seconds"] == 5
        api.call("POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={})
        request = sink.requests[-1]
        assert request["headers"]["authorization"] == "Bearer abc.def" and request["headers"]["x-api-key"] == "k-42"
        assert request["path"] == "/in?api_key=k123&site=7"
        # a new value replaces the secret
        api.call(
            "PUT",
            f"/api/v1/integrations/{integration['id']}",
            token=user["token"],
            json_body={"config": {**shown, "headers": {"Authorization": "Bearer new"}}},
        )
        api.call("POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={})
        assert sink.requests[-1]["headers"]["authorization"] == "Bearer new"


def test_given_a_password_in_the_url_then_it_is_masked_and_kept_on_update(api):
    user = api.register()
    integration = _http(api, user["token"], "https://svc:url-pass@example.com/in")
    assert integration["config"]["url"] == "https://svc:********@example.com/in"
    path = f"/api/v1/integrations/{integration['id']}"
    api.call("PUT", path, token=user["token"], json_body={"config": {**integration["config"], "method": "PATCH"}})
    from fleetgate.integrations import repository

    assert repository.get(integration["id"]).config.url == "https://svc:url-pass@example.com/in"


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"type": "http", "config": {"url": "ftp://example.com/x"}}, ["body", "config", "http", "url"]),
        (
            {"type": "http", "config": {"url": "https://example.com", "timeout_seconds": 60}},
            ["body", "config", "http", "timeout_seconds"],
        ),
        (
            {"type": "http", "config": {"url": "https://example.com", "headers": {"Bad Header": "x"}}},
            ["body", "config", "http", "headers"],
        ),
        (
            {"type": "http", "config": {"url": "https://example.com", "method": "TRACE"}},
            ["body", "config", "http", "method"],
        ),
        (
            {"type": "mqtt", "config": {"host": "broker.example.com", "topic": "sensors/#"}},
            ["body", "config", "mqtt", "topic"],
        ),
        (
            {"type": "mqtt", "config": {"host": "broker.example.com", "topic": "t", "qos": 3}},
            ["body", "config", "mqtt", "qos"],
        ),
        ({"type": "mqtt", "config": {"host": "bad host!", "topic": "t"}}, ["body", "config", "mqtt", "host"]),
        ({"type": "mqtt", "config": {"topic": "t"}}, ["body", "config", "mqtt", "host"]),
        ({"type": "smtp", "config": {}}, ["body", "type"]),
    ],
)
def test_given_invalid_integration_when_creating_then_422_naming_the_field(api, body, loc):
    user = api.register()
    reply = api.call("POST", "/api/v1/integrations", token=user["token"], json_body={"name": "x", **body})
    assert reply.status == 422, reply.body
    assert loc in [e["loc"][: len(loc)] for e in reply.body["detail"]], reply.body


def test_given_update_with_invalid_config_then_422_and_nothing_changes(api):
    user = api.register()
    integration = _http(api, user["token"], "https://example.com/in")
    path = f"/api/v1/integrations/{integration['id']}"
    bad = api.call("PUT", path, token=user["token"], json_body={"config": {"url": "nope"}})
    assert bad.status == 422 and bad.body["detail"][0]["loc"] == ["body", "config", "url"]
    switch = api.call("PUT", path, token=user["token"], json_body={"type": "mqtt"})
    assert switch.status == 422 and switch.body["detail"][0]["loc"] == ["body", "config"]
    assert api.call("GET", path, token=user["token"]).body == integration
    moved = api.call(
        "PUT",
        path,
        token=user["token"],
        json_body={"type": "mqtt", "config": {"host": "broker.example.com", "topic": "a/b"}},
    )
    assert moved.status == 200 and moved.body["type"] == "mqtt" and moved.body["config"]["port"] == 1883


# ------------------------------------------------------------------ the outbound guard
def test_given_default_setting_when_sink_is_on_loopback_then_the_send_is_refused(api, no_private_destinations):
    user = api.register()
    with Sink() as sink:
        for url in (
            sink.url,
            sink.url.replace("127.0.0.1", "localhost"),
            sink.url.replace("127.0.0.1", "[::ffff:127.0.0.1]"),
        ):
            integration = _http(api, user["token"], url)
            reply = api.call(
                "POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={}
            )
            assert reply.status == 200
            assert reply.body["success"] is False and "loopback" in reply.body["error"], (url, reply.body)
        assert sink.requests == []  # nothing reached it


def test_given_loopback_allowed_then_metadata_address_is_still_refused(api):
    from fleetgate.core import settings

    user = api.register()
    for allow in ("loopback", "loopback,private,link-local"):
        import os

        os.environ["OUTBOUND_ALLOW"] = allow
        settings.reset()
        try:
            integration = _http(api, user["token"], "http://169.254.169.254/latest/meta-data/iam/")
            reply = api.call(
                "POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={}
            )
        finally:
            os.environ["OUTBOUND_ALLOW"] = "loopback"
            settings.reset()
        assert reply.body["success"] is False and "metadata" in reply.body["error"], reply.body


def test_given_default_setting_then_mqtt_to_loopback_is_refused_before_connecting(api, no_private_destinations):
    user = api.register()
    integration = _integration(
        api, user["token"], type="mqtt", config={"host": "127.0.0.1", "port": free_port(), "topic": "a/b"}
    )
    reply = api.call("POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={})
    assert reply.body["success"] is False and "loopback" in reply.body["error"]


@pytest.mark.parametrize(
    "address, allow, refused",
    [
        ("8.8.8.8", "", False),
        ("127.0.0.1", "", True),
        ("127.0.0.1", "loopback", False),
        ("::1", "", True),
        ("::ffff:127.0.0.1", "", True),
        ("0.0.0.0", "", True),
        ("10.1.2.3", "", True),
        ("10.1.2.3", "loopback", True),
        ("10.1.2.3", "private", False),
        ("172.16.5.4", "", True),
        ("192.168.1.1", "", True),
        ("100.64.0.1", "", True),
        ("fd12::1", "", True),
        ("169.254.10.10", "", True),
        ("169.254.10.10", "link-local", False),
        ("169.254.169.254", "", True),
        ("169.254.169.254", "loopback,private,link-local", True),
        ("169.254.169.254", "169.254.169.254/32", False),
        ("169.254.170.2", "link-local", True),
        ("fd00:ec2::254", "private", True),
        ("64:ff9b::a9fe:a9fe", "link-local", True),  # NAT64 form of the metadata address
        ("224.0.0.1", "", True),
        ("10.9.8.7", "10.9.0.0/16", False),
    ],
)
def test_given_an_address_and_a_setting_then_the_guard_refuses_exactly_the_non_public_ones(address, allow, refused):
    import ipaddress

    from fleetgate.integrations.outbound import refusal

    reason = refusal(ipaddress.ip_address(address), [p for p in allow.split(",") if p])
    assert (reason is not None) == refused, reason


# ------------------------------------------------------------------ MQTT against a real broker
@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory):
    binary = mosquitto_binary()
    if binary is None:
        lane_unavailable("mosquitto is not installed: apt-get install -y mosquitto (the MQTT lane needs a real broker)")
    port = free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mosquitto exited: {proc.stderr.read().decode(errors='replace')[-500:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("mosquitto did not listen within 10 s")
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class Subscriber:
    def __init__(self, port, topic):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, msg: self.messages.append((msg.topic, msg.payload, msg.retain))
        subscribed = []
        self.client.on_subscribe = lambda *a: subscribed.append(True)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        deadline = time.monotonic() + 5
        while not subscribed and time.monotonic() < deadline:
            time.sleep(0.01)

    def wait(self, count, seconds=5):
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_given_mqtt_integration_when_testing_then_the_broker_delivers_the_message(api, mosquitto, qos):
    import json

    user = api.register()
    topic = f"fleetgate/test/{uuid.uuid4().hex[:8]}"
    sub = Subscriber(mosquitto, topic)
    try:
        integration = _integration(
            api,
            user["token"],
            type="mqtt",
            config={
                "host": "127.0.0.1",
                "port": mosquitto,
                "topic": topic,
                "qos": qos,
                "username": "fleet",
                "password": "broker-secret",
            },
        )
        assert integration["config"]["password"] == "********"
        reply = api.call(
            "POST",
            f"/api/v1/integrations/{integration['id']}/test",
            token=user["token"],
            json_body={"payload": {"temperature": 7.5, "qos": qos}},
        )
        assert reply.status == 200, reply.body
        assert reply.body["success"] is True, reply.body
        assert topic in reply.body["response_excerpt"] and reply.body["status_code"] is None
        [(got_topic, payload, _)] = sub.wait(1)
        assert got_topic == topic and json.loads(payload) == {"temperature": 7.5, "qos": qos}
    finally:
        sub.close()


def test_given_retained_mqtt_message_then_a_later_subscriber_gets_it(api, mosquitto):
    import json

    user = api.register()
    topic = f"fleetgate/retained/{uuid.uuid4().hex[:8]}"
    integration = _integration(
        api,
        user["token"],
        type="mqtt",
        config={"host": "localhost", "port": mosquitto, "topic": topic, "qos": 1, "retain": True},
    )
    reply = api.call("POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={})
    assert reply.body["success"] is True, reply.body
    sub = Subscriber(mosquitto, topic)
    try:
        [(_, payload, retained)] = sub.wait(1)
        assert retained is True and json.loads(payload)["test"] is True
    finally:
        sub.close()


def test_given_no_broker_on_the_port_then_mqtt_outcome_is_an_error(api):
    user = api.register()
    integration = _integration(
        api,
        user["token"],
        type="mqtt",
        config={"host": "127.0.0.1", "port": free_port(), "topic": "a/b", "timeout_seconds": 2},
    )
    reply = api.call("POST", f"/api/v1/integrations/{integration['id']}/test", token=user["token"], json_body={})
    assert reply.status == 200 and reply.body["success"] is False and reply.body["error"]


def test_given_no_mosquitto_then_the_lane_skips_unless_every_lane_is_required(monkeypatch):
    monkeypatch.delenv("FLEETGATE_REQUIRE_ALL_LANES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y mosquitto"):
        lane_unavailable("mosquitto is not installed: apt-get install -y mosquitto")
    monkeypatch.setenv("FLEETGATE_REQUIRE_ALL_LANES", "1")
    with pytest.raises(pytest.fail.Exception, match="must run"):
        lane_unavailable("mosquitto is not installed: apt-get install -y mosquitto")


# ------------------------------------------------------------------ access and history
def test_given_no_token_then_every_integration_route_is_401(api):
    for method, path in (
        ("GET", "/api/v1/integrations"),
        ("POST", "/api/v1/integrations"),
        ("GET", "/api/v1/integrations/x"),
        ("PUT", "/api/v1/integrations/x"),
        ("DELETE", "/api/v1/integrations/x"),
        ("GET", "/api/v1/integrations/history"),
        ("GET", "/api/v1/integrations/x/history"),
        ("GET", "/api/v1/integrations/x/history/y"),
        ("POST", "/api/v1/integrations/x/test"),
    ):
        reply = api.call(method, path, json_body={} if method in ("POST", "PUT") else None)
        assert reply.status == 401, (method, path)


def test_given_another_users_integration_then_every_route_answers_404(api):
    alice, bob = api.register(), api.register()
    with Sink() as sink:
        integration = _http(api, alice["token"], sink.url)
        for iid in (integration["id"], "missing"):
            base = f"/api/v1/integrations/{iid}"
            for method, suffix, body in (
                ("GET", "", None),
                ("PUT", "", {"name": "x"}),
                ("DELETE", "", None),
                ("GET", "/history", None),
                ("GET", "/history/20261122T080000000Z-abc", None),
                ("POST", "/test", {}),
            ):
                reply = api.call(method, base + suffix, token=bob["token"], json_body=body)
                assert (reply.status, reply.body) == (404, {"detail": "Integration not found"}), (iid, method, suffix)
        assert sink.requests == []


def test_given_integration_when_deleting_then_204_and_gone(api):
    user = api.register()
    integration = _http(api, user["token"], "https://example.com/x")
    assert api.call("DELETE", f"/api/v1/integrations/{integration['id']}", token=user["token"]).status == 204
    assert api.call("GET", f"/api/v1/integrations/{integration['id']}", token=user["token"]).status == 404
    assert api.call("DELETE", f"/api/v1/integrations/{integration['id']}", token=user["token"]).status == 404


def test_given_recorded_calls_then_history_lists_newest_first_and_detail_returns_one_with_secrets_masked(api):
    from fleetgate.history import service as history
    from fleetgate.integrations import service as integrations

    alice, admin = api.register(), api.register(admin=True)
    integration = _http(api, alice["token"], "https://example.com/in", headers={"Authorization": "Bearer top"})
    stored = integrations.repository.get(integration["id"])
    request = integrations.masked_request("http", stored.config.model_dump())
    records = []
    for minute, status in ((1, "success"), (2, "error")):
        records.append(
            history.record_integration_call(
                integration_id=integration["id"],
                owner_id=integration["owner_id"],
                status=status,
                started=datetime.now(UTC).replace(minute=minute),
                duration_ms=12.5,
                request=request,
                response={"status_code": 200 if status == "success" else 500},
                error=None if status == "success" else "HTTP 500",
            )
        )
    base = f"/api/v1/integrations/{integration['id']}/history"
    listed = api.call("GET", base, token=alice["token"])
    assert [r["status"] for r in listed.body["items"]] == ["error", "success"]
    assert (
        "top" not in str(listed.body)
        and listed.body["items"][0]["request"]["headers"]["Authorization"] == "Bearer ********"
    )
    detail = api.call("GET", f"{base}/{records[0].id}", token=alice["token"])
    assert (detail.status, detail.body["id"], detail.body["response"]) == (200, records[0].id, {"status_code": 200})
    missing = api.call("GET", f"{base}/20200101T000000000Z-000000000000", token=alice["token"])
    assert (missing.status, missing.body) == (404, {"detail": "History record not found"})
    mine = api.call("GET", "/api/v1/integrations/history", token=alice["token"])
    assert {r["integration_id"] for r in mine.body["items"]} == {integration["id"]}
    everyone = api.call("GET", "/api/v1/integrations/history", token=admin["token"], query={"limit": 200})
    assert integration["id"] in {r["integration_id"] for r in everyone.body["items"]}
