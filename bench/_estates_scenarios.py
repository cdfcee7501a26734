"""bench scenarios of the estates routes (the mobile API and the staff portal), kept apart from routes.py's own list.

``seed_estates(client)`` builds an estate with a unit, an owner who has logged in and changed the temporary password,
a meter with a tariff and readings, and a funded wallet, through the routes themselves. ``estates_scenarios(client,
world, Scenario, Req)`` returns a scenario per route (routes.py passes its own classes in); ``estates_event_targets``
gives cold_start.py the two functions' representative events (a resident's login, the staff's estate list).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _benchlib import register_user

NEW_PASSWORD = "BenchPass123"


def _uniq() -> str:
    return uuid.uuid4().hex[:10]


def _phone() -> str:
    return f"+2782{uuid.uuid4().int % 10**7:07d}"


class _Portal:
    def __init__(self, client: Any, token: str):
        self.client, self.token = client, token

    def post(self, path: str, body: Any, expect: int = 201) -> Any:
        return self.client.ok("POST", path, expect, token=self.token, json_body=body)

    def put(self, path: str, body: Any) -> Any:
        return self.client.ok("PUT", path, 200, token=self.token, json_body=body)

    def unit(self, estate: int) -> int:
        return self.post(f"/api/admin/estates/{estate}/units", {"unit_number": _uniq()})["unit"]["id"]

    def person(self) -> dict:
        return self.post("/api/admin/persons", {"first_name": "Bench", "last_name": "Resident", "phone": _phone()})[
            "person"
        ]

    def meter(self, unit: int) -> int:
        body = {"serial_number": f"B-{_uniq()}", "meter_type": "prepaid", "utility_type": "electricity"}
        return self.post(f"/api/admin/units/{unit}/meters", body)["meter"]["id"]

    def resident(self, estate: int) -> dict:
        """A new unit with an owner who has logged in and chosen a password."""
        unit = self.unit(estate)
        person = self.person()
        temporary = self.post(f"/api/admin/units/{unit}/owners", {"person_id": person["id"]})["mobile_user"][
            "temporary_password"
        ]
        login = self.client.ok(
            "POST", "/api/mobile/auth/login", 200, json_body={"phone_number": person["phone"], "password": temporary}
        )
        self.client.ok(
            "POST",
            "/api/mobile/auth/change-password",
            200,
            token=login["token"],
            json_body={"new_password": NEW_PASSWORD},
        )
        return {
            "unit": unit,
            "person": person,
            "token": login["token"],  # the token that changed the password goes on
            "password": NEW_PASSWORD,
            "user_id": login["user"]["id"],
        }


def seed_estates(client: Any) -> dict[str, Any]:
    admin = register_user(client, admin=True)
    portal = _Portal(client, admin["token"])
    estate = portal.post("/api/admin/estates", {"name": "Bench Estate", "electricity_markup_percent": 10})["estate"][
        "id"
    ]
    portal.put(
        f"/api/admin/estates/{estate}/tariffs/electricity",
        {"tiers": [{"from": 0, "to": 50, "rate": 1.5}, {"from": 50, "to": None, "rate": 2}]},
    )
    resident = portal.resident(estate)
    meter = portal.meter(resident["unit"])
    portal.post(f"/api/admin/units/{resident['unit']}/wallet/topups", {"amount": 1_000_000, "reference": "seed"})
    start = datetime.now(UTC) - timedelta(days=20)
    for day in range(20):  # a reading a day: 20 readings and 19 debits to list
        at = (start + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%S")
        portal.post(f"/api/admin/meters/{meter}/readings", {"reading_value": 1000 + 12.5 * day, "reading_date": at})
    return {
        "admin": admin["token"],
        "portal": portal,
        "estate": estate,
        "resident": resident,
        "meter": meter,
        "password_changer": portal.resident(estate),
        "toggled": portal.resident(estate),
    }


def estates_scenarios(client: Any, Scenario: Any, Req: Any) -> list[Any]:
    e = seed_estates(client)
    portal: _Portal = e["portal"]
    ta, estate, meter = e["admin"], e["estate"], e["meter"]
    resident, changer, toggled = e["resident"], e["password_changer"], e["toggled"]
    unit, tm = resident["unit"], resident["token"]
    a, m = "/api/admin", "/api/mobile"
    reading_start = datetime.now(UTC) - timedelta(days=1)

    def renumbered(i: int) -> Any:
        return Req(f"{a}/units/{unit}", ta, json_body={"unit_number": f"R-{i % 2}"})

    def change_password(i: int) -> Any:
        new = "BenchPass456" if changer["password"] == NEW_PASSWORD else NEW_PASSWORD
        return Req(
            f"{m}/auth/change-password",
            changer["token"],
            json_body={"current_password": changer["password"], "new_password": new},
            ctx={"new": new},
        )

    def changed(req: Any, resp: Any) -> None:
        changer["password"] = req.ctx["new"]

    def doomed(kind: str) -> Any:
        def make(_: int) -> Any:
            if kind == "estates":
                target = portal.post(f"{a}/estates", {"name": f"doomed {_uniq()}"})["estate"]["id"]
                return Req(f"{a}/estates/{target}", ta)
            if kind == "units":
                return Req(f"{a}/units/{portal.unit(estate)}", ta)
            return Req(f"{a}/meters/{portal.meter(unit)}", ta)

        return make

    def membership(role: str) -> Any:
        def make(_: int) -> Any:
            body: dict[str, Any] = {"person_id": portal.person()["id"]}
            if role == "tenants":
                body |= {"monthly_rent": 8500, "lease_start_date": "2024-01-01", "lease_end_date": "2099-12-31"}
            return Req(f"{a}/units/{portal.unit(estate)}/{role}", ta, json_body=body)

        return make

    def ended(role: str) -> Any:
        def make(_: int) -> Any:
            target, person = portal.unit(estate), portal.person()["id"]
            body: dict[str, Any] = {"person_id": person}
            if role == "tenants":
                body |= {"monthly_rent": 1, "lease_start_date": "2024-01-01", "lease_end_date": "2099-12-31"}
            portal.post(f"{a}/units/{target}/{role}", body)
            return Req(f"{a}/units/{target}/{role}/{person}", ta)

        return make

    def reading(i: int) -> Any:
        at = (reading_start + timedelta(seconds=i + 10)).strftime("%Y-%m-%dT%H:%M:%S")
        return Req(f"{a}/meters/{meter}/readings", ta, json_body={"reading_value": 5000 + i, "reading_date": at})

    person_id = resident["person"]["id"]
    return [
        Scenario(
            "POST",
            f"{m}/auth/login",
            lambda i: Req(
                f"{m}/auth/login", json_body={"phone_number": resident["person"]["phone"], "password": NEW_PASSWORD}
            ),
        ),
        Scenario("POST", f"{m}/auth/change-password", change_password, after=changed),
        Scenario("GET", f"{m}/auth/user", lambda i: Req(f"{m}/auth/user", tm)),
        Scenario("GET", f"{m}/auth/units", lambda i: Req(f"{m}/auth/units", tm)),
        Scenario("GET", f"{m}/units/{{unit_id}}/meters", lambda i: Req(f"{m}/units/{unit}/meters", tm)),
        Scenario("GET", f"{m}/meters/{{meter_id}}", lambda i: Req(f"{m}/meters/{meter}", tm)),
        Scenario("GET", f"{m}/meters/{{meter_id}}/readings", lambda i: Req(f"{m}/meters/{meter}/readings", tm)),
        Scenario("GET", f"{m}/units/{{unit_id}}/wallet", lambda i: Req(f"{m}/units/{unit}/wallet", tm)),
        Scenario("GET", f"{m}/units/{{unit_id}}/transactions", lambda i: Req(f"{m}/units/{unit}/transactions", tm)),
        Scenario(
            "GET",
            f"{m}/units/{{unit_id}}/transactions",
            lambda i: Req(f"{m}/units/{unit}/transactions?type=credit", tm),
            variant="type=credit",
        ),
        Scenario(
            "POST",
            f"{a}/estates",
            lambda i: Req(f"{a}/estates", ta, json_body={"name": f"Estate {_uniq()}"}),
            201,
        ),
        Scenario("GET", f"{a}/estates", lambda i: Req(f"{a}/estates", ta)),
        Scenario("GET", f"{a}/estates/{{estate_id}}", lambda i: Req(f"{a}/estates/{estate}", ta)),
        Scenario(
            "PUT",
            f"{a}/estates/{{estate_id}}",
            lambda i: Req(f"{a}/estates/{estate}", ta, json_body={"water_markup_percent": i % 5}),
        ),
        Scenario("DELETE", f"{a}/estates/{{estate_id}}", doomed("estates"), 204),
        Scenario(
            "PUT",
            f"{a}/estates/{{estate_id}}/tariffs/{{utility_type}}",
            lambda i: Req(f"{a}/estates/{estate}/tariffs/water", ta, json_body={"flat_rate": 20 + i % 3}),
        ),
        Scenario(
            "POST",
            f"{a}/estates/{{estate_id}}/units",
            lambda i: Req(f"{a}/estates/{estate}/units", ta, json_body={"unit_number": _uniq()}),
            201,
        ),
        Scenario("GET", f"{a}/estates/{{estate_id}}/units", lambda i: Req(f"{a}/estates/{estate}/units", ta)),
        Scenario("GET", f"{a}/units/{{unit_id}}", lambda i: Req(f"{a}/units/{unit}", ta)),
        Scenario("PUT", f"{a}/units/{{unit_id}}", renumbered),
        Scenario("DELETE", f"{a}/units/{{unit_id}}", doomed("units"), 204),
        Scenario(
            "PUT",
            f"{a}/units/{{unit_id}}/tariffs/{{utility_type}}",
            lambda i: Req(f"{a}/units/{unit}/tariffs/water", ta, json_body={"flat_rate": 25 + i % 3}),
        ),
        Scenario("POST", f"{a}/units/{{unit_id}}/owners", membership("owners"), 201),
        Scenario("DELETE", f"{a}/units/{{unit_id}}/owners/{{person_id}}", ended("owners"), 204),
        Scenario("POST", f"{a}/units/{{unit_id}}/tenants", membership("tenants"), 201),
        Scenario("DELETE", f"{a}/units/{{unit_id}}/tenants/{{person_id}}", ended("tenants"), 204),
        Scenario(
            "POST",
            f"{a}/units/{{unit_id}}/meters",
            lambda i: Req(
                f"{a}/units/{unit}/meters",
                ta,
                json_body={"serial_number": f"N-{_uniq()}", "meter_type": "prepaid", "utility_type": "water"},
            ),
            201,
            after=lambda req, resp: portal.client.ok(
                "DELETE", f"{a}/meters/{resp.json()['meter']['id']}", 204, token=ta
            ),
        ),
        Scenario(
            "POST",
            f"{a}/units/{{unit_id}}/wallet/topups",
            lambda i: Req(f"{a}/units/{unit}/wallet/topups", ta, json_body={"amount": 10, "reference": _uniq()}),
            201,
        ),
        Scenario(
            "PUT",
            f"{a}/units/{{unit_id}}/wallet",
            lambda i: Req(f"{a}/units/{unit}/wallet", ta, json_body={"low_balance_threshold": i % 3}),
        ),
        Scenario(
            "POST",
            f"{a}/persons",
            lambda i: Req(f"{a}/persons", ta, json_body={"first_name": "N", "last_name": "P", "phone": _phone()}),
            201,
        ),
        Scenario("GET", f"{a}/persons/{{person_id}}", lambda i: Req(f"{a}/persons/{person_id}", ta)),
        Scenario(
            "PUT",
            f"{a}/persons/{{person_id}}",
            lambda i: Req(f"{a}/persons/{person_id}", ta, json_body={"first_name": f"Bench {i % 2}"}),
        ),
        Scenario(
            "GET",
            f"{a}/persons/{{person_id}}/notifications",
            lambda i: Req(f"{a}/persons/{person_id}/notifications", ta),
        ),
        Scenario(
            "PUT",
            f"{a}/mobile-users/{{user_id}}",
            lambda i: Req(f"{a}/mobile-users/{toggled['user_id']}", ta, json_body={"is_active": i % 2 == 0}),
        ),
        Scenario("GET", f"{a}/meters/{{meter_id}}", lambda i: Req(f"{a}/meters/{meter}", ta)),
        Scenario(
            "PUT",
            f"{a}/meters/{{meter_id}}",
            lambda i: Req(f"{a}/meters/{meter}", ta, json_body={"device_type": f"Smart {i % 2}"}),
        ),
        Scenario("DELETE", f"{a}/meters/{{meter_id}}", doomed("meters"), 204),
        Scenario("POST", f"{a}/meters/{{meter_id}}/readings", reading, 201),
    ]


def estates_event_targets(client: Any, routes: dict[tuple[str, str], Any]) -> dict[str, tuple[str, dict, dict]]:
    """cold_start.py's events for the estates functions: a resident logs in; staff list estates."""
    from localcloud.apigw import http_event

    e = seed_estates(client)
    phone = e["resident"]["person"]["phone"]
    return {
        "MobileFunction": (
            "POST /api/mobile/auth/login (a resident)",
            http_event(
                "POST",
                "/api/mobile/auth/login",
                body=json.dumps({"phone_number": phone, "password": NEW_PASSWORD}),
                headers={"content-type": "application/json", "accept": "application/json"},
                route=routes[("POST", "/api/mobile/auth/login")],
            ),
            {"expect_status": 200},
        ),
        "EstatesAdminFunction": (
            "GET /api/admin/estates?limit=20 (staff)",
            http_event(
                "GET",
                "/api/admin/estates?limit=20",
                headers={"authorization": f"Bearer {e['admin']}", "accept": "application/json"},
                route=routes[("GET", "/api/admin/estates")],
            ),
            {"expect_status": 200},
        ),
    }
