"""Helpers for the estates tests: a staff member (a device-manager admin) who sets estates up through the portal
routes, and residents who log in to the mobile routes. Every call goes through real API Gateway v2 events."""

from __future__ import annotations

import uuid
from typing import Any

NEW_PASSWORD = "MyNewPass123"


def new_phone() -> str:
    """A unique, valid South African mobile number in E.164 (+2782 and 7 digits)."""
    return f"+2782{uuid.uuid4().int % 10**7:07d}"


def national(e164: str) -> str:
    """+27821234567 → 082 123-4567 (the national form, with the separators people type)."""
    digits = "0" + e164[3:]
    return f"{digits[:3]} {digits[3:6]}-{digits[6:]}"


class Staff:
    """A portal user with the admin role."""

    def __init__(self, api: Any):
        self.api = api
        self.token = api.register(admin=True)["token"]

    def call(self, method: str, path: str, body: Any = None, *, status: int | None = None, **kwargs: Any) -> Any:
        reply = self.api.call(method, path, token=self.token, json_body=body, **kwargs)
        if status is not None:
            assert reply.status == status, (method, path, reply.status, reply.body)
        return reply

    def post(self, path: str, body: Any, status: int = 201) -> Any:
        return self.call("POST", path, body, status=status).body

    def put(self, path: str, body: Any, status: int = 200) -> Any:
        return self.call("PUT", path, body, status=status).body

    # -------------------------------------------------------------- set-up steps
    def estate(self, name: str = "Sunset Estate", **fields: Any) -> dict:
        return self.post("/api/admin/estates", {"name": name, **fields})["estate"]

    def unit(self, estate_id: int, unit_number: str | None = None) -> dict:
        number = unit_number or uuid.uuid4().hex[:6]
        return self.post(f"/api/admin/estates/{estate_id}/units", {"unit_number": number})["unit"]

    def person(self, phone: str | None = None, **fields: Any) -> dict:
        body = {"first_name": "John", "last_name": "Doe", "phone": phone or new_phone(), **fields}
        return self.post("/api/admin/persons", body)["person"]

    def owner(self, unit_id: int, person_id: int, **fields: Any) -> dict:
        return self.post(f"/api/admin/units/{unit_id}/owners", {"person_id": person_id, **fields})

    def tenant(
        self, unit_id: int, person_id: int, start: str = "2020-01-01", end: str = "2099-12-31", **fields: Any
    ) -> dict:
        body = {
            "person_id": person_id,
            "monthly_rent": 8500,
            "lease_start_date": start,
            "lease_end_date": end,
            **fields,
        }
        return self.post(f"/api/admin/units/{unit_id}/tenants", body)

    def meter(self, unit_id: int, utility: str = "electricity", **fields: Any) -> dict:
        body = {
            "serial_number": f"MTR-{uuid.uuid4().hex[:8]}",
            "meter_type": "prepaid",
            "utility_type": utility,
            **fields,
        }
        return self.post(f"/api/admin/units/{unit_id}/meters", body)["meter"]

    def tariff(self, scope: str, scope_id: int, utility: str, body: dict) -> dict:
        return self.put(f"/api/admin/{scope}/{scope_id}/tariffs/{utility}", body)["tariff"]

    def reading(self, meter_id: int, value: float, date: str | None = None, status: int = 201) -> dict:
        body = {"reading_value": value, **({"reading_date": date} if date else {})}
        return self.post(f"/api/admin/meters/{meter_id}/readings", body, status)["reading"]

    def top_up(self, unit_id: int, amount: float, reference: str | None = None, status: int = 201) -> dict:
        body = {"amount": amount, "reference": reference or f"PAY-{uuid.uuid4().hex[:8]}"}
        return self.post(f"/api/admin/units/{unit_id}/wallet/topups", body, status)["transaction"]


class Resident:
    """A person with an app account, logged in (after changing the temporary password)."""

    def __init__(self, api: Any, phone: str, password: str):
        self.api, self.phone, self.password = api, phone, password
        self.login_body = self.login()
        self.token = self.login_body["token"]

    def login(self, password: str | None = None) -> dict:
        reply = self.api.call(
            "POST",
            "/api/mobile/auth/login",
            json_body={"phone_number": self.phone, "password": password or self.password},
        )
        assert reply.status == 200, reply.body
        return reply.body

    def get(self, path: str, status: int = 200, **query: Any) -> Any:
        reply = self.api.call("GET", path, token=self.token, query=query or None)
        assert reply.status == status, (path, reply.status, reply.body)
        return reply.body


def owner_with_meter(api: Any, staff: Staff | None = None, *, change_password: bool = True) -> dict:
    """An estate with a unit, an owner who can log in, and an electricity meter: the ids, the staff and the
    resident (logged in with the new password, or with the temporary one)."""
    staff = staff or Staff(api)
    estate = staff.estate()
    unit = staff.unit(estate["id"], "101")
    person = staff.person()
    created = staff.owner(unit["id"], person["id"])
    temporary = created["mobile_user"]["temporary_password"]
    meter = staff.meter(unit["id"])
    resident = Resident(api, person["phone"], temporary)
    if change_password:
        reply = api.call(
            "POST", "/api/mobile/auth/change-password", token=resident.token, json_body={"new_password": NEW_PASSWORD}
        )
        assert reply.status == 200, reply.body
        resident.password = NEW_PASSWORD  # the token that made the change goes on
    return {
        "staff": staff,
        "estate": estate,
        "unit": unit,
        "person": person,
        "meter": meter,
        "resident": resident,
        "temporary": temporary,
    }
