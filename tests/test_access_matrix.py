"""The access matrix: user A, user B, an admin and an anonymous caller against every route, with A's ids.

Columns: (A, B, admin, anonymous). A and B are plain users with no partner permissions; every id in a path is
A's. Deletes get a fresh resource of A per caller (so each cell deletes something that exists). A route of
template.yaml without a row here fails the test: a new route must say who may call it.

- someone else's resource is 404 (never 403: ids cannot be probed); lists show each caller their own;
- partner routes (Mobivisor, Microshare) need their permissions: 403 for plain users, the admin holds all;
- user management is for admins (403); ingest authenticates by A's X-API-Key, whoever sends it;
- public routes (register, logins, health) answer everyone;
- the estates portal and the financed-phone staff routes are for admins; ``None`` in their admin cell: the caller
  gets past the access check (neither 401 nor 403) whatever the placeholder ids and empty bodies then answer;
- the mobile routes take only mobile tokens: every device-manager token is 401 there; the phones' device routes
  take no token at all, so every caller gets the same answer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from fleetgate.core import settings
from tests.fakes import FakeMobivisor
from tests.flow_support import v4_up
from tests.support import STACK, Sink, new_eui, route_path

A, B, ADMIN, ANON = "A", "B", "admin", "anonymous"
CALLERS = (A, B, ADMIN, ANON)
OWNED = (200, 404, 200, 401)  # A's own resource
LIST = (200, 200, 200, 401)  # each caller's own list
ADMIN_ONLY = (403, 403, 200, 401)
PARTNER = (403, 403, 200, 401)
PUBLIC = (200, 200, 200, 200)
STAFF = (403, 403, None, 401)  # estates portal and financing staff routes
MOBILE_ONLY = (401, 401, 401, 401)  # a device-manager token is no mobile token
MS = "MicroshareApi:/api/v1"  # the Microshare API's routes (tests.support.route_path)
ROD = ["Acme", "Leeds", "Hall", "ACME-77", "Internal", "Bait/Lured"]

MATRIX: dict[tuple[str, str], tuple[int | None, ...]] = {
    ("POST", "/api/v1/auth/register"): (201, 201, 201, 201),
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/password"): (200, 401, 401, 401),  # each caller's own password: only A's is right
    ("GET", "/api/v1/users"): ADMIN_ONLY,
    ("POST", "/api/v1/users"): (403, 403, 201, 401),
    ("GET", "/api/v1/users/{user_id}"): ADMIN_ONLY,
    ("PUT", "/api/v1/users/{user_id}"): ADMIN_ONLY,
    ("DELETE", "/api/v1/users/{user_id}"): (403, 403, 204, 401),  # a fresh user per caller
    ("GET", "/api/v1/devices"): LIST,
    ("POST", "/api/v1/devices"): (201, 201, 201, 401),
    ("GET", "/api/v1/devices/history"): LIST,
    ("GET", "/api/v1/devices/{device_id}"): OWNED,
    ("PUT", "/api/v1/devices/{device_id}"): OWNED,
    ("DELETE", "/api/v1/devices/{device_id}"): (204, 404, 204, 401),
    ("GET", "/api/v1/devices/{device_id}/history"): OWNED,
    ("GET", "/api/v1/devices/{device_id}/labels"): OWNED,
    ("PUT", "/api/v1/devices/{device_id}/labels"): OWNED,
    ("GET", "/api/v1/labels"): LIST,
    ("POST", "/api/v1/labels"): (201, 201, 201, 401),
    ("GET", "/api/v1/labels/{label_id}"): OWNED,
    ("PUT", "/api/v1/labels/{label_id}"): OWNED,
    ("DELETE", "/api/v1/labels/{label_id}"): (204, 404, 204, 401),
    ("POST", "/api/v1/labels/{label_id}/devices/{device_id}"): (201, 404, 200, 401),  # 200: already a member
    ("DELETE", "/api/v1/labels/{label_id}/devices/{device_id}"): (204, 404, 204, 401),
    ("GET", "/api/v1/functions"): LIST,
    ("POST", "/api/v1/functions"): (201, 201, 201, 401),
    ("GET", "/api/v1/functions/history"): LIST,
    ("GET", "/api/v1/functions/{function_id}"): OWNED,
    ("PUT", "/api/v1/functions/{function_id}"): OWNED,
    ("DELETE", "/api/v1/functions/{function_id}"): (204, 404, 204, 401),
    ("GET", "/api/v1/functions/{function_id}/history"): OWNED,
    ("GET", "/api/v1/functions/{function_id}/versions"): OWNED,
    ("POST", "/api/v1/functions/{function_id}/test"): OWNED,
    ("GET", "/api/v1/integrations"): LIST,
    ("POST", "/api/v1/integrations"): (201, 201, 201, 401),
    ("GET", "/api/v1/integrations/history"): LIST,
    ("GET", "/api/v1/integrations/{integration_id}"): OWNED,
    ("PUT", "/api/v1/integrations/{integration_id}"): OWNED,
    ("DELETE", "/api/v1/integrations/{integration_id}"): (204, 404, 204, 401),
    ("GET", "/api/v1/integrations/{integration_id}/history"): OWNED,
    ("GET", "/api/v1/integrations/{integration_id}/history/{history_id}"): OWNED,
    ("POST", "/api/v1/integrations/{integration_id}/test"): OWNED,
    ("GET", "/api/v1/flows"): LIST,
    ("POST", "/api/v1/flows"): (201, 422, 422, 401),  # names A's label: a flow references only its owner's
    ("GET", "/api/v1/flows/history"): LIST,
    ("GET", "/api/v1/flows/{flow_id}"): OWNED,
    ("PUT", "/api/v1/flows/{flow_id}"): OWNED,
    ("DELETE", "/api/v1/flows/{flow_id}"): (204, 404, 204, 401),
    ("GET", "/api/v1/flows/{flow_id}/history"): OWNED,
    ("GET", "/api/v1/flows/{flow_id}/history/{history_id}"): OWNED,
    ("GET", "/api/v1/flows/{flow_id}/dead-letters"): OWNED,
    ("POST", "/api/v1/flows/{flow_id}/dead-letters/replay"): (202, 404, 202, 401),
    ("GET", "/api/v1/storages"): LIST,
    ("POST", "/api/v1/storages"): (201, 201, 201, 401),
    ("GET", "/api/v1/storages/{storage_id}"): OWNED,
    ("PUT", "/api/v1/storages/{storage_id}"): OWNED,
    ("DELETE", "/api/v1/storages/{storage_id}"): (204, 404, 204, 401),
    ("GET", "/api/v1/storages/{storage_id}/data"): OWNED,
    ("GET", "/api/v1/search"): LIST,
    ("GET", "/api/v1/ingest/keys"): LIST,
    ("POST", "/api/v1/ingest/keys"): (201, 201, 201, 401),
    ("DELETE", "/api/v1/ingest/keys/{key_id}"): (204, 404, 204, 401),
    ("POST", "/api/v1/ingest/chirpstack"): (202, 202, 202, 202),  # A's X-API-Key, whoever sends it
    ("GET", "/api/v1/mobivisor/devices"): PARTNER,
    ("GET", "/api/v1/mobivisor/devices/{device_id}"): PARTNER,
    ("DELETE", "/api/v1/mobivisor/devices/{device_id}"): PARTNER,
    ("POST", f"{MS}/auth/login"): PUBLIC,  # the deployment's own Microshare account
    ("GET", f"{MS}/auth/status"): PARTNER,
    ("GET", "MicroshareApi:/health"): PUBLIC,
    ("GET", "MicroshareApi:/health/microshare"): PUBLIC,
    ("GET", f"{MS}/status"): PARTNER,
    ("GET", f"{MS}/devices/clusters"): PARTNER,
    ("GET", f"{MS}/devices/clusters/{{cluster_id}}"): PARTNER,
    ("GET", f"{MS}/devices/discovery"): PARTNER,
    ("GET", f"{MS}/devices/cache/stats"): PARTNER,
    ("POST", f"{MS}/devices/cache/clear"): PARTNER,
    ("GET", f"{MS}/devices/performance/benchmark"): PARTNER,
    ("GET", f"{MS}/devices"): PARTNER,
    ("POST", f"{MS}/devices"): (403, 403, 201, 401),
    ("GET", f"{MS}/devices/{{device_id}}"): PARTNER,
    ("PUT", f"{MS}/devices/{{device_id}}"): PARTNER,
    ("DELETE", f"{MS}/devices/{{device_id}}"): (403, 403, 204, 401),
    ("GET", f"{MS}/erp/status"): PARTNER,
    ("POST", f"{MS}/erp/inspection-points"): PARTNER,
    ("GET", f"{MS}/erp/discovery"): PARTNER,
    ("GET", f"{MS}/erp/mapping"): PARTNER,
    ("GET", f"{MS}/erp/unmapped"): PARTNER,
    ("POST", f"{MS}/erp/sync"): PARTNER,
    ("GET", "/health"): PUBLIC,
    ("POST", "/api/mobile/auth/login"): (400, 400, 400, 400),  # no body: the contract's 400, for anyone
    ("POST", "/api/mobile/auth/change-password"): MOBILE_ONLY,
    ("GET", "/api/mobile/auth/user"): MOBILE_ONLY,
    ("GET", "/api/mobile/auth/units"): MOBILE_ONLY,
    ("GET", "/api/mobile/units/{unit_id}/meters"): MOBILE_ONLY,
    ("GET", "/api/mobile/units/{unit_id}/wallet"): MOBILE_ONLY,
    ("GET", "/api/mobile/units/{unit_id}/transactions"): MOBILE_ONLY,
    ("GET", "/api/mobile/meters/{meter_id}"): MOBILE_ONLY,
    ("GET", "/api/mobile/meters/{meter_id}/readings"): MOBILE_ONLY,
    ("PUT", "/api/customer/device/fcm-token"): (400, 400, 400, 400),  # no body: invalid, whoever sends it
    ("POST", "/api/customer/device/lock-response"): (400, 400, 400, 400),
    ("POST", "/api/customer/device/location"): (400, 400, 400, 400),
    ("GET", "/api/customer/device/status/{imei1}"): (404, 404, 404, 404),  # no such phone, whoever asks
    ("GET", "/api/customer/device/location/{imei1}"): (404, 404, 404, 404),
    **{
        (method, path): STAFF
        for method, path in [
            ("GET", "/api/admin/estates"),
            ("POST", "/api/admin/estates"),
            ("GET", "/api/admin/estates/{estate_id}"),
            ("PUT", "/api/admin/estates/{estate_id}"),
            ("DELETE", "/api/admin/estates/{estate_id}"),
            ("PUT", "/api/admin/estates/{estate_id}/tariffs/{utility_type}"),
            ("GET", "/api/admin/estates/{estate_id}/units"),
            ("POST", "/api/admin/estates/{estate_id}/units"),
            ("GET", "/api/admin/units/{unit_id}"),
            ("PUT", "/api/admin/units/{unit_id}"),
            ("DELETE", "/api/admin/units/{unit_id}"),
            ("POST", "/api/admin/units/{unit_id}/meters"),
            ("POST", "/api/admin/units/{unit_id}/owners"),
            ("DELETE", "/api/admin/units/{unit_id}/owners/{person_id}"),
            ("POST", "/api/admin/units/{unit_id}/tenants"),
            ("DELETE", "/api/admin/units/{unit_id}/tenants/{person_id}"),
            ("PUT", "/api/admin/units/{unit_id}/tariffs/{utility_type}"),
            ("PUT", "/api/admin/units/{unit_id}/wallet"),
            ("POST", "/api/admin/units/{unit_id}/wallet/topups"),
            ("GET", "/api/admin/meters/{meter_id}"),
            ("PUT", "/api/admin/meters/{meter_id}"),
            ("DELETE", "/api/admin/meters/{meter_id}"),
            ("POST", "/api/admin/meters/{meter_id}/readings"),
            ("PUT", "/api/admin/mobile-users/{user_id}"),
            ("POST", "/api/admin/persons"),
            ("GET", "/api/admin/persons/{person_id}"),
            ("PUT", "/api/admin/persons/{person_id}"),
            ("GET", "/api/admin/persons/{person_id}/notifications"),
            ("GET", "/api/admin/customers"),
            ("POST", "/api/admin/customers"),
            ("GET", "/api/admin/customers/{customer_id}"),
            ("PUT", "/api/admin/customers/{customer_id}"),
            ("DELETE", "/api/admin/customers/{customer_id}"),
            ("GET", "/api/admin/customers/{customer_id}/commands"),
            ("PUT", "/api/admin/customers/{customer_id}/emis/{month}"),
            ("PUT", "/api/admin/customers/{customer_id}/lock"),
            ("GET", "/api/admin/customers/{customer_id}/lock-status"),
        ]
    },
}


def _matches(got: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    """``None``: past the access check (not 401 or 403); anything else exactly."""
    return all(w == g if w is not None else g not in (401, 403) for g, w in zip(got, want, strict=True))


def test_every_template_route_has_a_row():
    assert {(r.method, route_path(r)) for r in STACK.routes()} == set(MATRIX)


class World:
    """A's resources, and factories of fresh ones for the cells that delete."""

    def __init__(self, api, microshare) -> None:
        self.api, self.microshare = api, microshare
        self.a = api.register(password="only A knows this one")
        self.b, self.admin = api.register(), api.register(admin=True)
        self.tokens = {A: self.a["token"], B: self.b["token"], ADMIN: self.admin["token"], ANON: None}
        self.a_id = self._user_id(self.a["email"])
        self.sink = Sink().__enter__()
        self.ids: dict[str, str] = {}
        for kind in ("device", "label", "function", "integration", "storage", "key"):
            self.ids[kind] = self.make(kind)
        self.ids["flow"] = self.make("flow")
        self.ids["ingest_key"] = self.ingest_key
        self._history()

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any):
        return self.api.call(method, path, token=token or self.a["token"], **kwargs)

    def _user_id(self, email: str) -> str:
        listed = self.api.call("GET", "/api/v1/users", token=self.admin["token"], query={"limit": 200}).body
        return next(u["id"] for u in listed["items"] if u["email"] == email)

    def make(self, kind: str) -> str:
        """A new resource of A's; its id."""
        if kind == "device":
            return self.call("POST", "/api/v1/devices", json_body={"dev_eui": new_eui(), "name": "d"}).body["id"]
        if kind == "label":
            return self.call("POST", "/api/v1/labels", json_body={"name": f"l-{uuid.uuid4().hex[:8]}"}).body["id"]
        if kind == "function":
            body = {"name": "fn", "code": "function process(m) { return m }"}
            return self.call("POST", "/api/v1/functions", json_body=body).body["id"]
        if kind == "integration":
            body = {"name": "in", "type": "http", "config": {"url": self.sink.url}}
            return self.call("POST", "/api/v1/integrations", json_body=body).body["id"]
        if kind == "storage":
            return self.call("POST", "/api/v1/storages", json_body={"name": "st"}).body["id"]
        if kind == "key":
            created = self.call("POST", "/api/v1/ingest/keys", json_body={"name": "cs"}).body
            self.ingest_key = created["key"]
            return created["id"]
        if kind == "flow":
            return self.call("POST", "/api/v1/flows", json_body=self.flow_body()).body["id"]
        if kind == "membership":  # the label–device pair of A's that a DELETE removes
            self.call("POST", f"/api/v1/labels/{self.ids['label']}/devices/{self.ids['device']}")
            return self.ids["label"]
        if kind == "user":
            tag = uuid.uuid4().hex[:10]
            body = {"email": f"gone-{tag}@example.com", "username": f"gone_{tag}", "password": "password123"}
            return self.api.call("POST", "/api/v1/users", token=self.admin["token"], json_body=body).body["id"]
        if kind == "microshare_device":
            created = self.api.call(
                "POST", f"{MS}/devices", token=self.admin["token"], json_body={"meta": {"location": ROD}}
            )
            return created.body["guid"]
        raise AssertionError(kind)

    def flow_body(self) -> dict[str, Any]:
        return {
            "name": "fl",
            "nodes": [
                {"id": "d", "type": "device", "device_id": self.ids["device"]},
                {"id": "l", "type": "label", "label_id": self.ids["label"]},
                {"id": "i", "type": "integration", "integration_id": self.ids["integration"]},
            ],
            "edges": [{"source": "d", "target": "i"}],
        }

    def _history(self) -> None:
        from fleetgate.core.ids import now_iso
        from fleetgate.engine import repository as engine
        from fleetgate.engine.schemas import DeadLetter
        from fleetgate.history import service as history

        now = datetime.now(UTC)
        self.ids["integration_history"] = history.record_integration_call(
            integration_id=self.ids["integration"],
            owner_id=self.a_id,
            status="success",
            started=now,
            duration_ms=3,
            request={"method": "POST"},
        ).id
        self.ids["flow_history"] = history.record_flow_run(
            flow_id=self.ids["flow"],
            owner_id=self.a_id,
            status="success",
            started=now,
            duration_ms=5,
            trigger={"device_id": self.ids["device"]},
        ).id
        engine.put_dead_letter(
            DeadLetter(
                id="20261122T000000000Z-000000000001",
                flow_id=self.ids["flow"],
                run_id="r",
                node_id="i",
                node_type="integration",
                attempts=5,
                last_error="HTTP 500",
                failed_at=now_iso(),
                status="pending",
                message={"data": {"t": 1}},
            ),
            self.a_id,
        )


_FRESH = {
    "/api/v1/devices/{device_id}": "device",
    "/api/v1/labels/{label_id}": "label",
    "/api/v1/functions/{function_id}": "function",
    "/api/v1/integrations/{integration_id}": "integration",
    "/api/v1/flows/{flow_id}": "flow",
    "/api/v1/storages/{storage_id}": "storage",
    "/api/v1/ingest/keys/{key_id}": "key",
    "/api/v1/users/{user_id}": "user",
    "/api/v1/labels/{label_id}/devices/{device_id}": "membership",
    f"{MS}/devices/{{device_id}}": "microshare_device",
}


def _request(world: World, method: str, template: str, caller: str) -> dict[str, Any]:
    """The request of one cell: its path with A's ids (fresh ones for deletes), body, form, query, headers."""
    ids = dict(world.ids)
    ids["user"] = world.a_id
    ids["history"] = ids["integration_history" if "/integrations/" in template else "flow_history"]
    ids["cluster"] = "trap-acme"
    # estates and financing: placeholder ids (their cells only check who gets past the access check)
    ids.update(estate="1", unit="1", meter="1", person="1", customer="0123456789abcdef01234567")
    if template.startswith("/api/admin/mobile-users"):
        ids["user"] = "1"
    if template.startswith("/api/v1/mobivisor"):
        ids["device"] = "123"
    elif template.startswith(MS):
        ids["device"] = "a-1"
    if method == "DELETE" and template in _FRESH:
        fresh = world.make(_FRESH[template])
        key = {"membership": "label", "microshare_device": "device", "user": "user"}.get(_FRESH[template])
        ids[key or _FRESH[template]] = fresh
    path = template.replace("{utility_type}", "electricity").replace("{month}", "1").replace("{imei1}", IMEI)
    for name, value in ids.items():
        path = path.replace(f"{{{name}_id}}", value)
    tag = uuid.uuid4().hex[:10]
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/auth/register"): {
            "email": f"r-{tag}@example.com",
            "username": f"r_{tag}",
            "password": "password123",
        },
        ("POST", "/api/v1/auth/password"): {"current_password": world.a["password"], "new_password": "a new one!"},
        ("POST", "/api/v1/users"): {"email": f"n-{tag}@example.com", "username": f"n_{tag}", "password": "password1"},
        ("PUT", "/api/v1/users/{user_id}"): {"permissions": []},
        ("POST", "/api/v1/devices"): {"dev_eui": new_eui(), "name": "n"},
        ("PUT", "/api/v1/devices/{device_id}"): {"name": "renamed"},
        ("PUT", "/api/v1/devices/{device_id}/labels"): {"label_ids": [world.ids["label"]]},
        ("POST", "/api/v1/labels"): {"name": f"l-{tag}"},
        ("PUT", "/api/v1/labels/{label_id}"): {"description": "d"},
        ("POST", "/api/v1/functions"): {"name": "g", "code": "function process(m) { return m }"},
        ("PUT", "/api/v1/functions/{function_id}"): {"name": "renamed"},
        ("POST", "/api/v1/functions/{function_id}/test"): {"payload": {"a": 1}},
        ("POST", "/api/v1/integrations"): {"name": "j", "type": "http", "config": {"url": world.sink.url}},
        ("PUT", "/api/v1/integrations/{integration_id}"): {"name": "renamed"},
        ("POST", "/api/v1/integrations/{integration_id}/test"): {},
        ("POST", "/api/v1/flows"): {
            "name": "g",
            "nodes": [{"id": "l", "type": "label", "label_id": world.ids["label"]}],
        },
        ("PUT", "/api/v1/flows/{flow_id}"): {"description": "d"},
        ("POST", "/api/v1/storages"): {"name": "more"},
        ("PUT", "/api/v1/storages/{storage_id}"): {"retention_days": 9},
        ("POST", "/api/v1/ingest/keys"): {"name": "another"},
        ("POST", f"{MS}/auth/login"): {"username": world.microshare.username, "password": world.microshare.password},
        ("POST", f"{MS}/devices"): {"meta": {"location": ROD}},
        ("PUT", f"{MS}/devices/{{device_id}}"): {"status": "active"},
        ("POST", f"{MS}/erp/inspection-points"): [{"id": "p1", "reference": "ACME-01", "name": "Acme - Hall"}],
    }
    request: dict[str, Any] = {"path": path, "json_body": bodies.get((method, template))}
    if template == "/api/v1/auth/login":
        request = {"path": path, "form": {"username": world.a["email"], "password": world.a["password"]}}
    elif template == "/api/v1/search":
        request["query"] = {"query": "renamed"}
    elif template == "/api/v1/ingest/chirpstack":
        request = {
            "path": path,
            "json_body": {**v4_up(_dev_eui(world)), "deduplicationId": str(uuid.uuid4())},
            "headers": {"x-api-key": world.ingest_key},
        }
    elif template.endswith("/benchmark"):
        request["query"] = {"iterations": 1}
    return request


IMEI = "490154203237518"  # valid, and no customer's


def _dev_eui(world: World) -> str:
    return world.call("GET", f"/api/v1/devices/{world.ids['device']}").body["dev_eui"]


@pytest.fixture
def upstreams(api, microshare, monkeypatch):
    with FakeMobivisor("t") as mobivisor:
        monkeypatch.setenv("MOBIVISOR_API_URL", mobivisor.url)
        monkeypatch.setenv("MOBIVISOR_API_TOKEN", "t")
        settings.reset()
        yield microshare


def test_given_every_route_when_each_caller_calls_it_with_a_s_ids_then_the_expected_status(api, upstreams):
    world = World(api, upstreams)
    seen: dict[tuple[str, str], tuple[int, ...]] = {}
    last = ("POST", "/api/v1/auth/password")  # revokes A's tokens: after everything else
    order = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3}  # deletes after the reads of the same ids
    for method, template in [*sorted((k for k in MATRIX if k != last), key=lambda k: (order[k[0]], k[1])), last]:
        statuses = []
        for caller in CALLERS:
            request = _request(world, method, template, caller)
            path = request.pop("path")
            reply = api.call(method, path, token=world.tokens[caller], **request)
            statuses.append(reply.status)
            assert reply.status < 500, (method, template, caller, reply.body)
        seen[(method, template)] = tuple(statuses)
    wrong = {k: (v, MATRIX[k]) for k, v in seen.items() if not _matches(v, MATRIX[k])}
    assert not wrong, "\n".join(f"{m} {p}: got {got}, expected {want}" for (m, p), (got, want) in sorted(wrong.items()))
    assert len(seen) * len(CALLERS) == len(MATRIX) * 4
    world.sink.__exit__()
