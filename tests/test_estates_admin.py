"""The staff portal (/api/admin) through real API Gateway v2 events: admin role only, the paths and bodies the
issue fixes, every error with its body, app accounts opened for owners and tenants, the notifier."""

from __future__ import annotations

import json
import re

import pytest

from fleetgate.core import settings
from tests.estates_support import NEW_PASSWORD, Resident, Staff, new_phone, owner_with_meter
from tests.support import STACK, Sink

ADMIN_ROUTES = sorted((r.method, r.path) for r in STACK.routes() if r.path.startswith("/api/admin/"))
ESTATES_ADMIN_ROUTES = [r for r in ADMIN_ROUTES if not r[1].startswith("/api/admin/customers")]

# a valid body per write route, so a refusal can only be about who calls
BODIES = {
    ("POST", "/api/admin/estates"): {"name": "x"},
    ("PUT", "/api/admin/estates/{estate_id}"): {"name": "x"},
    ("PUT", "/api/admin/estates/{estate_id}/tariffs/{utility_type}"): {"flat_rate": 1},
    ("POST", "/api/admin/estates/{estate_id}/units"): {"unit_number": "1"},
    ("PUT", "/api/admin/units/{unit_id}"): {"unit_number": "1"},
    ("PUT", "/api/admin/units/{unit_id}/tariffs/{utility_type}"): {"flat_rate": 1},
    ("POST", "/api/admin/units/{unit_id}/owners"): {"person_id": 1},
    ("POST", "/api/admin/units/{unit_id}/tenants"): {
        "person_id": 1,
        "monthly_rent": 1,
        "lease_start_date": "2024-01-01",
        "lease_end_date": "2024-12-31",
    },
    ("POST", "/api/admin/units/{unit_id}/meters"): {
        "serial_number": "s",
        "meter_type": "prepaid",
        "utility_type": "water",
    },
    ("POST", "/api/admin/units/{unit_id}/wallet/topups"): {"amount": 1, "reference": "r"},
    ("PUT", "/api/admin/units/{unit_id}/wallet"): {"low_balance_threshold": 1},
    ("POST", "/api/admin/persons"): {"first_name": "a", "last_name": "b", "phone": "+27821234567"},
    ("PUT", "/api/admin/persons/{person_id}"): {"first_name": "a"},
    ("PUT", "/api/admin/mobile-users/{user_id}"): {"is_active": True},
    ("PUT", "/api/admin/meters/{meter_id}"): {"status": "active"},
    ("POST", "/api/admin/meters/{meter_id}/readings"): {"reading_value": 1},
}


def _path(template: str) -> str:
    return re.sub(r"\{utility_type\}", "water", re.sub(r"\{\w+_id\}", "1", template))


@pytest.mark.parametrize("route", ESTATES_ADMIN_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_given_each_portal_route_when_called_without_a_token_or_without_the_admin_role_then_401_or_403(api, route):
    method, template = route
    user = api.register()
    body = BODIES.get(route)

    anonymous = api.call(method, _path(template), json_body=body)
    member = api.call(method, _path(template), token=user["token"], json_body=body)

    assert (anonymous.status, anonymous.body) == (
        401,
        {"error": "Invalid or expired token", "message": "Please login again"},
    )
    assert (member.status, member.body) == (
        403,
        {"error": "Access denied", "message": "This route needs the admin role"},
    )
    assert member.ddb_calls == []  # refused before anything is read


# ---------------------------------------------------------------- estates
def test_given_an_estate_when_created_read_updated_listed_and_deleted_then_each_answer_has_its_shape(api):
    staff = Staff(api)

    created = staff.post(
        "/api/admin/estates", {"name": "Sunset Estate", "address": "1 Main Rd", "electricity_markup_percent": 12.5}
    )
    estate = created["estate"]
    updated = staff.put(f"/api/admin/estates/{estate['id']}", {"water_markup_percent": 5, "address": None})
    detail = staff.call("GET", f"/api/admin/estates/{estate['id']}", status=200).body

    assert created["message"] == "Estate created successfully"
    assert estate | {"created_at": "", "updated_at": ""} == {
        "id": 1,
        "name": "Sunset Estate",
        "address": "1 Main Rd",
        "electricity_markup_percent": 12.5,
        "water_markup_percent": 0.0,
        "created_at": "",
        "updated_at": "",
    }
    assert updated["estate"]["water_markup_percent"] == 5.0 and updated["estate"]["address"] is None
    assert detail == {"estate": updated["estate"], "tariffs": []}
    assert staff.call("DELETE", f"/api/admin/estates/{estate['id']}", status=204).body is None
    assert staff.call("GET", f"/api/admin/estates/{estate['id']}", status=404).body == {
        "error": "Estate not found",
        "message": f"Estate with ID {estate['id']} not found",
    }


def test_given_several_estates_when_listing_by_pages_then_each_once_and_a_forged_cursor_is_400(api):
    staff = Staff(api)
    ids = [staff.estate(f"Estate {n}")["id"] for n in range(3)]

    first = staff.call("GET", "/api/admin/estates", status=200, query={"limit": 2}).body
    second = staff.call(
        "GET", "/api/admin/estates", status=200, query={"limit": 2, "cursor": first["next_cursor"]}
    ).body
    forged = staff.call("GET", "/api/admin/estates", query={"cursor": first["next_cursor"][:-2] + "xx"})

    assert [e["id"] for e in first["estates"] + second["estates"]] == ids and second["next_cursor"] is None
    assert (forged.status, forged.body) == (400, {"error": "Validation Error", "message": "Invalid cursor"})


@pytest.mark.parametrize(
    "body, expected",
    [
        ({}, {"error": "Missing required fields", "message": "name is required"}),
        ({"name": "x", "electricity_markup_percent": -1}, None),
        ({"name": "x", "colour": "red"}, None),
        ({"name": "   "}, None),
    ],
)
def test_given_an_invalid_estate_when_creating_then_400_and_nothing_stored(api, body, expected):
    staff = Staff(api)

    reply = staff.call("POST", "/api/admin/estates", body)

    assert reply.status == 400
    assert reply.body == expected if expected else reply.body["error"] == "Invalid request"
    assert staff.call("GET", "/api/admin/estates", status=200).body["estates"] == []


def test_given_an_estate_with_units_when_deleting_then_409_and_it_stays(api):
    staff = Staff(api)
    estate = staff.estate()
    staff.unit(estate["id"])

    reply = staff.call("DELETE", f"/api/admin/estates/{estate['id']}")

    assert (reply.status, reply.body["error"]) == (409, "Estate has units")
    assert staff.call("GET", f"/api/admin/estates/{estate['id']}", status=200)


def test_given_a_null_name_when_updating_an_estate_then_400(api):
    staff = Staff(api)
    estate = staff.estate()

    reply = staff.call("PUT", f"/api/admin/estates/{estate['id']}", {"name": None})

    assert (reply.status, reply.body) == (400, {"error": "Invalid request", "message": "name cannot be null"})


# ---------------------------------------------------------------- units
def test_given_units_when_created_listed_renumbered_and_deleted_then_numbers_stay_unique_per_estate(api):
    staff = Staff(api)
    estate, other = staff.estate(), staff.estate("Other")
    unit = staff.post(f"/api/admin/estates/{estate['id']}/units", {"unit_number": "101"})
    staff.unit(estate["id"], "099")
    staff.unit(other["id"], "101")  # another estate may have a 101

    clash = staff.call("POST", f"/api/admin/estates/{estate['id']}/units", {"unit_number": "101"})
    listed = staff.call("GET", f"/api/admin/estates/{estate['id']}/units", status=200).body
    renamed = staff.put(f"/api/admin/units/{unit['unit']['id']}", {"unit_number": "101A"})
    recased = staff.put(f"/api/admin/units/{unit['unit']['id']}", {"unit_number": "101a"})
    taken = staff.call("PUT", f"/api/admin/units/{unit['unit']['id']}", {"unit_number": "099"})

    assert unit["message"] == "Unit created successfully" and unit["unit"]["estate_id"] == estate["id"]
    assert (clash.status, clash.body) == (
        409,
        {"error": "Unit number taken", "message": f"Estate {estate['id']} already has a unit 101"},
    )
    assert [u["unit_number"] for u in listed["units"]] == ["099", "101"]
    assert renamed["unit"]["unit_number"] == "101A" and recased["unit"]["unit_number"] == "101a"
    assert taken.status == 409
    staff.post(f"/api/admin/estates/{estate['id']}/units", {"unit_number": "101"})  # the old number is free again
    staff.call("DELETE", f"/api/admin/units/{unit['unit']['id']}", status=204)
    assert staff.call("GET", f"/api/admin/units/{unit['unit']['id']}", status=404).body["error"] == "Unit not found"


def test_given_a_missing_estate_when_adding_or_listing_units_then_404(api):
    staff = Staff(api)

    assert staff.call("POST", "/api/admin/estates/77/units", {"unit_number": "1"}, status=404).body == {
        "error": "Estate not found",
        "message": "Estate with ID 77 not found",
    }
    assert staff.call("GET", "/api/admin/estates/77/units", status=404).body["error"] == "Estate not found"
    # an empty cursor is no cursor: still the first page of a missing estate
    assert staff.call("GET", "/api/admin/estates/77/units", status=404, query={"cursor": ""}).body["error"] == (
        "Estate not found"
    )
    empty = staff.estate()
    assert staff.call("GET", f"/api/admin/estates/{empty['id']}/units", status=200).body == {
        "units": [],
        "next_cursor": None,
    }


def test_given_a_unit_in_use_when_deleting_then_409_until_it_is_empty_and_settled(api):
    world = owner_with_meter(api)
    staff, unit, meter, person = world["staff"], world["unit"]["id"], world["meter"]["id"], world["person"]["id"]

    assert staff.call("DELETE", f"/api/admin/units/{unit}", status=409).body["error"] == "Unit in use"
    staff.call("DELETE", f"/api/admin/units/{unit}/owners/{person}", status=204)
    staff.call("DELETE", f"/api/admin/meters/{meter}", status=204)
    staff.top_up(unit, 10)
    assert "balance" in staff.call("DELETE", f"/api/admin/units/{unit}", status=409).body["message"]


def test_given_a_unit_when_reading_it_then_wallet_owners_tenants_meters_and_tariffs(api):
    world = owner_with_meter(api)
    staff, unit = world["staff"], world["unit"]["id"]
    tenant = staff.person()
    staff.tenant(unit, tenant["id"], "2024-01-01", "2099-12-31")
    staff.tariff("units", unit, "electricity", {"flat_rate": 3})

    detail = staff.call("GET", f"/api/admin/units/{unit}", status=200).body

    assert detail["wallet"] | {"last_transaction_date": None} == {
        "id": unit,
        "unit_id": unit,
        "balance": 0.0,
        "status": "active",
        "low_balance_threshold": 0.0,
        "last_transaction_date": None,
    }
    assert [o["person_id"] for o in detail["owners"]] == [world["person"]["id"]]
    assert detail["tenants"][0] | {"person_id": 0} == {
        "person_id": 0,
        "monthly_rent": 8500.0,
        "lease_start_date": "2024-01-01",
        "lease_end_date": "2099-12-31",
        "status": "active",
        "ended_at": None,
    }
    assert [m["id"] for m in detail["meters"]] == [world["meter"]["id"]]
    assert detail["tariffs"][0]["scope"] == "unit" and detail["tariffs"][0]["unit_id"] == unit


# ---------------------------------------------------------------- people and accounts
def test_given_a_person_when_created_with_a_national_number_then_stored_as_e164_and_unique(api):
    staff = Staff(api)

    person = staff.post(
        "/api/admin/persons", {"first_name": "Jane", "last_name": "Smith", "phone": "082 765-4321", "email": "j@x.co"}
    )["person"]
    again = staff.call("POST", "/api/admin/persons", {"first_name": "J", "last_name": "S", "phone": "+27827654321"})

    assert person | {"created_at": "", "updated_at": ""} == {
        "id": 1,
        "first_name": "Jane",
        "last_name": "Smith",
        "full_name": "Jane Smith",
        "phone": "+27827654321",
        "email": "j@x.co",
        "mobile_user_id": None,
        "created_at": "",
        "updated_at": "",
    }
    assert (again.status, again.body) == (
        409,
        {"error": "Phone number taken", "message": "Another person already has the phone number +27827654321"},
    )
    assert staff.call("GET", "/api/admin/persons/1", status=200).body == {"person": person}
    assert staff.call("GET", "/api/admin/persons/2", status=404).body == {
        "error": "Person not found",
        "message": "Person with ID 2 not found",
    }


@pytest.mark.parametrize(
    "body, error",
    [
        ({"first_name": "a", "last_name": "b", "phone": "not a number"}, "Invalid phone number"),
        ({"first_name": "a", "last_name": "b", "phone": "+27821234567", "email": "nope"}, "Invalid request"),
        ({"first_name": "a", "phone": "+27821234567"}, "Missing required fields"),
    ],
)
def test_given_an_invalid_person_when_creating_then_400(api, body, error):
    reply = Staff(api).call("POST", "/api/admin/persons", body)

    assert reply.status == 400 and reply.body["error"] == error


def test_given_a_resident_when_staff_change_their_phone_then_they_log_in_with_the_new_number_only(api):
    world = owner_with_meter(api)
    staff, person = world["staff"], world["person"]
    new = new_phone()

    updated = staff.put(f"/api/admin/persons/{person['id']}", {"phone": new})["person"]

    assert updated["phone"] == new and updated["mobile_user_id"] is not None
    old_login = api.call(
        "POST", "/api/mobile/auth/login", json_body={"phone_number": person["phone"], "password": NEW_PASSWORD}
    )
    assert old_login.status == 401
    body = Resident(api, new, NEW_PASSWORD).login_body
    assert body["user"]["phone_number"] == new and body["person"]["phone"] == new
    staff.person(person["phone"])  # the old number is free again
    taken = staff.call("PUT", f"/api/admin/persons/{person['id']}", {"phone": person["phone"]})
    assert taken.status == 409


def test_given_an_owner_added_when_the_person_has_no_account_then_the_documents_body_with_a_temporary_password(api):
    staff = Staff(api)
    unit = staff.unit(staff.estate()["id"])
    person = staff.person()

    created = staff.owner(unit["id"], person["id"], ownership_percentage=60)
    second_unit = staff.unit(staff.estate()["id"])
    again = staff.owner(second_unit["id"], person["id"])

    temporary = created["mobile_user"]["temporary_password"]
    assert created == {
        "message": "Owner added successfully",
        "mobile_user": {
            "mobile_user_created": True,
            "phone_number": person["phone"],
            "temporary_password": temporary,
            "message": "Mobile app account created. Please provide the temporary password to the owner.",
        },
    }
    assert re.fullmatch(r"[A-Za-z0-9]{8}", temporary)
    assert any(c.isupper() for c in temporary) and any(c.islower() for c in temporary)
    assert any(c.isdigit() for c in temporary)
    assert again["mobile_user"]["mobile_user_created"] is False and again["mobile_user"]["temporary_password"] is None
    notices = staff.call("GET", f"/api/admin/persons/{person['id']}/notifications", status=200).body["notifications"]
    assert [(n["kind"], n["status"], n["detail"]) for n in notices] == [
        ("temporary_password", "not_sent", "No SMS provider is configured")
    ]
    assert temporary not in json.dumps(notices)
    login = Resident(api, person["phone"], temporary).login_body
    assert [u["unit_id"] for u in login["units"]] == [unit["id"], second_unit["id"]]
    assert (
        staff.call("GET", f"/api/admin/persons/{person['id']}", status=200).body["person"]["mobile_user_id"]
        == (login["user"]["id"])
    )


def test_given_owner_rules_when_adding_owners_then_duplicates_overflow_and_second_primaries_are_refused(api):
    staff = Staff(api)
    unit = staff.unit(staff.estate()["id"])["id"]
    first, second, third = staff.person(), staff.person(), staff.person()
    staff.owner(unit, first["id"], ownership_percentage=60)

    duplicate = staff.call("POST", f"/api/admin/units/{unit}/owners", {"person_id": first["id"]})
    overflow = staff.call(
        "POST", f"/api/admin/units/{unit}/owners", {"person_id": second["id"], "ownership_percentage": 50}
    )
    primary = staff.call(
        "POST",
        f"/api/admin/units/{unit}/owners",
        {"person_id": second["id"], "ownership_percentage": 40, "is_primary": True},
    )
    staff.owner(unit, second["id"], ownership_percentage=40)
    nobody = staff.call("POST", f"/api/admin/units/{unit}/owners", {"person_id": 999})
    no_unit = staff.call("POST", "/api/admin/units/999/owners", {"person_id": third["id"]})

    assert (duplicate.status, duplicate.body["error"]) == (409, "Already an owner")
    assert (overflow.status, overflow.body) == (
        400,
        {"error": "Invalid ownership", "message": f"Unit {unit}'s ownership would come to 110%"},
    )
    assert (primary.status, primary.body["error"]) == (409, "Primary owner exists")
    owners = staff.call("GET", f"/api/admin/units/{unit}", status=200).body["owners"]
    assert [(o["ownership_percentage"], o["is_primary"]) for o in owners] == [(60.0, True), (40.0, False)]
    assert (nobody.status, nobody.body["error"]) == (404, "Person not found")
    assert (no_unit.status, no_unit.body["error"]) == (404, "Unit not found")
    staff.call("DELETE", f"/api/admin/units/{unit}/owners/{second['id']}", status=204)
    assert staff.call("DELETE", f"/api/admin/units/{unit}/owners/{second['id']}", status=404).body["error"] == (
        "Owner not found"
    )


def test_given_tenancies_when_added_ended_and_added_again_then_each_answer_and_the_lease_dates_are_checked(api):
    staff = Staff(api)
    unit = staff.unit(staff.estate()["id"])["id"]
    person = staff.person()

    added = staff.tenant(unit, person["id"])
    twice = staff.call(
        "POST",
        f"/api/admin/units/{unit}/tenants",
        {
            "person_id": person["id"],
            "monthly_rent": 1,
            "lease_start_date": "2024-01-01",
            "lease_end_date": "2099-01-01",
        },
    )
    staff.call("DELETE", f"/api/admin/units/{unit}/tenants/{person['id']}", status=204)
    ended_again = staff.call("DELETE", f"/api/admin/units/{unit}/tenants/{person['id']}")
    readded = staff.tenant(unit, person["id"])
    backwards = staff.call(
        "POST",
        f"/api/admin/units/{unit}/tenants",
        {
            "person_id": person["id"],
            "monthly_rent": 1,
            "lease_start_date": "2024-02-01",
            "lease_end_date": "2024-01-01",
        },
    )
    missing_rent = staff.call(
        "POST",
        f"/api/admin/units/{unit}/tenants",
        {"person_id": person["id"], "lease_start_date": "2024-01-01", "lease_end_date": "2024-02-01"},
    )

    assert added["message"] == "Tenant added successfully" and added["mobile_user"]["mobile_user_created"] is True
    assert added["mobile_user"]["message"].endswith("to the tenant.")
    assert (twice.status, twice.body["error"]) == (409, "Already a tenant")
    assert (ended_again.status, ended_again.body["error"]) == (404, "Tenancy not found")
    assert readded["mobile_user"]["mobile_user_created"] is False
    assert (backwards.status, backwards.body["error"]) == (400, "Invalid lease")
    assert (missing_rent.status, missing_rent.body) == (
        400,
        {"error": "Missing required fields", "message": "monthly_rent is required"},
    )


def test_given_an_unknown_app_account_when_staff_change_it_then_404(api):
    reply = Staff(api).call("PUT", "/api/admin/mobile-users/42", {"is_active": False})

    assert (reply.status, reply.body) == (
        404,
        {"error": "Mobile user not found", "message": "Mobile user with ID 42 not found"},
    )


def test_given_an_account_when_deactivated_then_the_answer_shows_it(api):
    world = owner_with_meter(api)
    user_id = world["resident"].login_body["user"]["id"]

    body = world["staff"].put(f"/api/admin/mobile-users/{user_id}", {"is_active": False})

    assert body["message"] == "Mobile user deactivated successfully"
    assert body["mobile_user"]["is_active"] is False and body["mobile_user"]["id"] == user_id


# ---------------------------------------------------------------- the notifier with an SMS provider
def test_given_an_sms_provider_when_an_account_is_opened_then_the_password_goes_by_sms_and_never_into_logs(
    api, monkeypatch, capsys
):
    with Sink() as provider:
        monkeypatch.setenv("SMS_PROVIDER_URL", provider.url + "/messages")
        monkeypatch.setenv("SMS_API_KEY", "sms-key-123")
        settings.reset()
        staff = Staff(api)
        unit = staff.unit(staff.estate()["id"])
        person = staff.person()

        created = staff.owner(unit["id"], person["id"])

    temporary = created["mobile_user"]["temporary_password"]
    assert created["mobile_user"]["message"] == (
        f"Mobile app account created. The temporary password was sent by SMS to {person['phone']}."
    )
    [request] = provider.requests
    assert (request["method"], request["path"]) == ("POST", "/messages")
    assert request["headers"]["authorization"] == "Bearer sms-key-123"
    assert request["body"]["to"] == person["phone"] and temporary in request["body"]["message"]
    notices = staff.call("GET", f"/api/admin/persons/{person['id']}/notifications", status=200).body["notifications"]
    assert [(n["kind"], n["status"]) for n in notices] == [("temporary_password", "sent")]
    assert temporary not in capsys.readouterr().out


def test_given_a_failing_sms_provider_when_an_account_is_opened_then_it_is_recorded_as_failed_and_shown_once(
    api, monkeypatch
):
    with Sink(status=503, body=b'{"error": "down"}') as provider:
        monkeypatch.setenv("SMS_PROVIDER_URL", provider.url)
        settings.reset()
        staff = Staff(api)
        unit = staff.unit(staff.estate()["id"])
        person = staff.person()

        created = staff.owner(unit["id"], person["id"])

    assert created["mobile_user"]["temporary_password"]
    assert created["mobile_user"]["message"].endswith("Please provide the temporary password to the owner.")
    notices = staff.call("GET", f"/api/admin/persons/{person['id']}/notifications", status=200).body["notifications"]
    assert [(n["status"], n["detail"]) for n in notices] == [("failed", "The SMS provider answered HTTP 503")]


def test_given_an_unknown_person_when_listing_notifications_then_404(api):
    assert Staff(api).call("GET", "/api/admin/persons/5/notifications", status=404).body["error"] == "Person not found"


# ---------------------------------------------------------------- meters
def test_given_meters_when_created_then_serials_and_devices_are_unique_and_the_eui_is_normalised(api):
    staff = Staff(api)
    unit = staff.unit(staff.estate()["id"])["id"]

    created = staff.post(
        f"/api/admin/units/{unit}/meters",
        {
            "serial_number": "MTR001",
            "meter_type": "prepaid",
            "utility_type": "electricity",
            "device_type": "Smart Meter",
            "communication_type": "LoRa",
            "dev_eui": "70:B3:D5:7E:D0:00:00:01",
        },
    )
    serial = staff.call(
        "POST",
        f"/api/admin/units/{unit}/meters",
        {"serial_number": "mtr001", "meter_type": "prepaid", "utility_type": "water"},
    )
    device = staff.call(
        "POST",
        f"/api/admin/units/{unit}/meters",
        {"serial_number": "M2", "meter_type": "prepaid", "utility_type": "water", "dev_eui": "70b3d57ed0000001"},
    )

    meter = created["meter"]
    assert created["message"] == "Meter created successfully"
    assert meter | {"created_at": "", "updated_at": ""} == {
        "id": 1,
        "unit_id": unit,
        "serial_number": "MTR001",
        "meter_type": "prepaid",
        "utility_type": "electricity",
        "device_type": "Smart Meter",
        "communication_type": "LoRa",
        "dev_eui": "70b3d57ed0000001",
        "status": "active",
        "current_reading": None,
        "last_reading_date": None,
        "created_at": "",
        "updated_at": "",
    }
    assert (serial.status, serial.body) == (
        409,
        {"error": "Serial number taken", "message": "Another meter has the serial number mtr001"},
    )
    assert (device.status, device.body["error"]) == (409, "Device already linked")
    assert staff.call("GET", f"/api/admin/meters/{meter['id']}", status=200).body == {"meter": meter}


@pytest.mark.parametrize(
    "body",
    [
        {"serial_number": "S", "meter_type": "prepaid", "utility_type": "gas"},
        {"serial_number": "S", "meter_type": "smart", "utility_type": "water"},
        {"serial_number": "S", "meter_type": "prepaid", "utility_type": "water", "dev_eui": "xyz"},
    ],
)
def test_given_an_invalid_meter_when_creating_then_400(api, body):
    staff = Staff(api)
    unit = staff.unit(staff.estate()["id"])["id"]

    reply = staff.call("POST", f"/api/admin/units/{unit}/meters", body)

    assert reply.status == 400 and reply.body["error"] == "Invalid request"


def test_given_a_meter_when_updated_and_deleted_then_its_serial_and_device_move_and_free_up(api):
    staff = Staff(api)
    unit = staff.unit(staff.estate()["id"])["id"]
    meter = staff.meter(unit, serial_number="OLD-1", dev_eui="aa" * 8)

    moved = staff.put(
        f"/api/admin/meters/{meter['id']}", {"serial_number": "NEW-1", "dev_eui": None, "status": "faulty"}
    )
    staff.meter(unit, serial_number="OLD-1", dev_eui="aa" * 8)  # both are free again
    staff.call("DELETE", f"/api/admin/meters/{meter['id']}", status=204)

    assert (moved["meter"]["serial_number"], moved["meter"]["dev_eui"], moved["meter"]["status"]) == (
        "NEW-1",
        None,
        "faulty",
    )
    assert staff.call("GET", f"/api/admin/meters/{meter['id']}", status=404).body == {
        "error": "Meter not found",
        "message": f"Meter with ID {meter['id']} not found",
    }
    staff.meter(unit, serial_number="NEW-1")
    assert (
        staff.call("PUT", "/api/admin/meters/99", {"status": "active"}, status=404).body["error"] == "Meter not found"
    )
    assert (
        staff.call("POST", "/api/admin/units/99/meters", BODIES[("POST", "/api/admin/units/{unit_id}/meters")]).status
        == 404
    )


# ---------------------------------------------------------------- tariffs and wallets
@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "Give either flat_rate or tiers (not both)"),
        ({"flat_rate": 1, "tiers": [{"from": 0, "to": None, "rate": 1}]}, "Give either flat_rate or tiers (not both)"),
        ({"tiers": [{"from": 5, "to": None, "rate": 1}]}, "Tier 1 must start at 0 (where the previous one ends)"),
        (
            {"tiers": [{"from": 0, "to": 50, "rate": 1}, {"from": 60, "to": None, "rate": 2}]},
            "Tier 2 must start at 50 (where the previous one ends)",
        ),
        (
            {"tiers": [{"from": 0, "to": None, "rate": 1}, {"from": 0, "to": None, "rate": 2}]},
            "Only the last tier may have no upper bound (to: null)",
        ),
        ({"tiers": [{"from": 0, "to": 0, "rate": 1}]}, "Tier 1 must end after it starts"),
    ],
)
def test_given_an_invalid_tariff_when_setting_it_then_400_saying_why(api, body, message):
    staff = Staff(api)
    estate = staff.estate()

    reply = staff.call("PUT", f"/api/admin/estates/{estate['id']}/tariffs/electricity", body)

    assert (reply.status, reply.body) == (400, {"error": "Invalid tariff", "message": message})


def test_given_tariffs_when_set_for_an_estate_and_a_unit_then_both_are_shown_and_missing_targets_are_404(api):
    staff = Staff(api)
    estate = staff.estate()
    unit = staff.unit(estate["id"])

    tiered = staff.put(
        f"/api/admin/estates/{estate['id']}/tariffs/electricity",
        {"tiers": [{"from": 0, "to": 50, "rate": 1.5}, {"from": 50, "to": None, "rate": 2.25}]},
    )
    flat = staff.tariff("units", unit["id"], "water", {"flat_rate": 30.5})

    assert tiered["message"] == "Tariff saved successfully"
    assert tiered["tariff"] | {"updated_at": ""} == {
        "utility_type": "electricity",
        "scope": "estate",
        "estate_id": estate["id"],
        "unit_id": None,
        "type": "tiered",
        "flat_rate": None,
        "tiers": [{"from": 0.0, "to": 50.0, "rate": 1.5}, {"from": 50.0, "to": None, "rate": 2.25}],
        "updated_at": "",
    }
    assert (flat["type"], flat["flat_rate"], flat["tiers"], flat["unit_id"]) == ("flat", 30.5, None, unit["id"])
    assert staff.call("GET", f"/api/admin/estates/{estate['id']}", status=200).body["tariffs"] == [tiered["tariff"]]
    assert staff.call("PUT", "/api/admin/estates/9/tariffs/water", {"flat_rate": 1}, status=404).body["error"] == (
        "Estate not found"
    )
    assert staff.call("PUT", "/api/admin/units/9/tariffs/water", {"flat_rate": 1}, status=404).body["error"] == (
        "Unit not found"
    )
    assert staff.call("PUT", f"/api/admin/units/{unit['id']}/tariffs/gas", {"flat_rate": 1}).status == 400


def test_given_a_wallet_when_setting_its_threshold_then_200_with_the_wallet_and_404_for_a_missing_unit(api):
    staff = Staff(api)
    unit = staff.unit(staff.estate()["id"])["id"]

    body = staff.put(f"/api/admin/units/{unit}/wallet", {"low_balance_threshold": 75.5})

    assert body["message"] == "Wallet updated successfully" and body["wallet"]["low_balance_threshold"] == 75.5
    assert staff.call("PUT", "/api/admin/units/77/wallet", {"low_balance_threshold": 1}, status=404).body == {
        "error": "Unit not found",
        "message": "Unit with ID 77 not found",
    }
    assert staff.call("PUT", f"/api/admin/units/{unit}/wallet", {"low_balance_threshold": 1.234}).status == 400
