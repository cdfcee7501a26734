"""Estates end to end: a real local cloud process over real HTTP. Staff (an admin made with ``create-admin``, signed
in through the device-manager login) set up an estate, a unit, an owner, a meter and a tariff, top the wallet up and
post readings; the resident logs in with the temporary password, changes it, logs in again and sees the reading
with its consumption and cost, the debit among the transactions and the wallet's balance."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ok, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def staff(local_cloud, http) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:10]
    email, password = f"staff-{tag}@example.com", f"staff-pw-{tag}"
    made = run_cli("create-admin", email, f"staff_{tag}", password, "--data-dir", str(local_cloud.data_dir))
    assert made.returncode == 0, made.stderr
    login = http.post("/api/v1/auth/login", data={"username": email, "password": password})
    assert login.status_code == 200, login.text
    yield {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_given_an_estate_set_up_by_staff_when_the_resident_uses_the_app_then_readings_debits_and_balance_show(
    http, staff
):
    phone_digits = f"{uuid.uuid4().int % 10**7:07d}"
    estate = ok(
        http.post(
            "/api/admin/estates", json={"name": "Sunset Estate", "electricity_markup_percent": 10}, headers=staff
        ),
        201,
    )["estate"]
    unit = ok(http.post(f"/api/admin/estates/{estate['id']}/units", json={"unit_number": "101"}, headers=staff), 201)
    unit_id = unit["unit"]["id"]
    person = ok(
        http.post(
            "/api/admin/persons",
            json={"first_name": "John", "last_name": "Doe", "phone": f"082 {phone_digits[:3]} {phone_digits[3:]}"},
            headers=staff,
        ),
        201,
    )["person"]
    owner = ok(http.post(f"/api/admin/units/{unit_id}/owners", json={"person_id": person["id"]}, headers=staff), 201)
    meter = ok(
        http.post(
            f"/api/admin/units/{unit_id}/meters",
            json={
                "serial_number": f"MTR-{phone_digits}",
                "meter_type": "prepaid",
                "utility_type": "electricity",
                "communication_type": "LoRa",
            },
            headers=staff,
        ),
        201,
    )["meter"]
    ok(
        http.put(
            f"/api/admin/estates/{estate['id']}/tariffs/electricity",
            json={"tiers": [{"from": 0, "to": 50, "rate": 1.5}, {"from": 50, "to": None, "rate": 2}]},
            headers=staff,
        )
    )
    ok(
        http.post(
            f"/api/admin/units/{unit_id}/wallet/topups", json={"amount": 500, "reference": "EFT-1"}, headers=staff
        ),
        201,
    )
    for value, date in ((1000, "2024-01-14T10:30:00"), (1080.5, "2024-01-15T10:30:00")):
        ok(
            http.post(
                f"/api/admin/meters/{meter['id']}/readings",
                json={"reading_value": value, "reading_date": date},
                headers=staff,
            ),
            201,
        )

    # the resident, as the document's Testing Guide goes: log in with the temporary password, change it, and go on
    # with the same token; a token from another login before the change ends with it
    temporary = owner["mobile_user"]["temporary_password"]
    first = ok(http.post("/api/mobile/auth/login", json={"phone_number": person["phone"], "password": temporary}))
    other = ok(http.post("/api/mobile/auth/login", json={"phone_number": person["phone"], "password": temporary}))
    assert first["password_must_change"] is True
    me = {"Authorization": f"Bearer {first['token']}"}
    changed = ok(
        http.post(
            "/api/mobile/auth/change-password",
            json={"current_password": temporary, "new_password": "MyNewPass123"},
            headers=me,
        )
    )
    assert changed == {"message": "Password changed successfully"}
    stale = http.get("/api/mobile/auth/units", headers={"Authorization": f"Bearer {other['token']}"})
    assert (stale.status_code, stale.json()) == (
        401,
        {"error": "Invalid or expired token", "message": "Please login again"},
    )
    again = ok(
        http.post(
            "/api/mobile/auth/login", json={"phone_number": "0" + person["phone"][3:], "password": "MyNewPass123"}
        )
    )
    assert again["password_must_change"] is False

    units = ok(http.get("/api/mobile/auth/units", headers=me))["units"]
    meters = ok(http.get(f"/api/mobile/units/{unit_id}/meters", headers=me))["meters"]
    readings = ok(http.get(f"/api/mobile/meters/{meter['id']}/readings", params={"days": 3650}, headers=me))
    transactions = ok(http.get(f"/api/mobile/units/{unit_id}/transactions", headers=me))["transactions"]
    debits = ok(http.get(f"/api/mobile/units/{unit_id}/transactions", params={"type": "debit"}, headers=me))
    wallet = ok(http.get(f"/api/mobile/units/{unit_id}/wallet", headers=me))["wallet"]

    assert [(u["unit_id"], u["estate_name"], u["role"]) for u in units] == [(unit_id, "Sunset Estate", "owner")]
    assert (meters[0]["current_reading"], meters[0]["last_reading_date"]) == (1080.5, "2024-01-15T10:30:00")
    newest = readings["readings"][0]
    assert (newest["reading_value"], newest["consumption"], newest["cost"]) == (1080.5, 80.5, 149.6)  # (75 + 61) x 1.1
    assert [(t["transaction_type"], t["amount"], t["balance_after"]) for t in transactions] == [
        ("debit", 149.6, 350.4),
        ("credit", 500.0, 500.0),
    ]
    assert [t["description"] for t in debits["transactions"]] == ["Electricity usage"]
    assert (wallet["unit_id"], wallet["balance"]) == (unit_id, 350.4)
    other = http.get("/api/mobile/units/999999/wallet", headers=me)
    assert (other.status_code, other.json()["error"]) == (404, "Unit not found")
