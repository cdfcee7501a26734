"""The mobile app routes (../shared/specs/mobile-app-api.md) through real API Gateway v2 events: shapes, ids,
timestamps, every error with its body, tokens of their own family, the login lock, password changes."""

from __future__ import annotations

import re
import time

import jwt
import pytest

from fleetgate.core import settings
from fleetgate.core.auth import issue_token
from tests.estates_support import NEW_PASSWORD, Resident, Staff, national, new_phone, owner_with_meter
from tests.support import token_for

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
INVALID_TOKEN = {"error": "Invalid or expired token", "message": "Please login again"}
ACCESS_DENIED = {"error": "Access denied", "message": "You do not have access to this unit"}
BAD_LOGIN = {"error": "Invalid credentials", "message": "Invalid phone number or password"}
INACTIVE = {"error": "Account inactive", "message": "This account is inactive: please contact the estate office"}


def _login(api, phone, password):
    return api.call("POST", "/api/mobile/auth/login", json_body={"phone_number": phone, "password": password})


# ---------------------------------------------------------------- login
def test_given_an_owner_with_a_temporary_password_when_logging_in_then_the_documents_shape_with_a_30_day_token(api):
    world = owner_with_meter(api, change_password=False)
    person, unit, estate = world["person"], world["unit"], world["estate"]

    body = _login(api, person["phone"], world["temporary"]).body

    assert set(body) == {"token", "user", "person", "units", "password_must_change"}
    assert body["password_must_change"] is True and body["user"]["password_must_change"] is True
    user = body["user"]
    assert set(user) == {
        "id",
        "person_id",
        "phone_number",
        "password_must_change",
        "last_login",
        "is_active",
        "created_at",
    }
    assert (user["person_id"], user["phone_number"], user["is_active"]) == (person["id"], person["phone"], True)
    assert isinstance(user["id"], int) and TIMESTAMP.match(user["last_login"]) and TIMESTAMP.match(user["created_at"])
    assert body["person"] == {
        "id": person["id"],
        "first_name": "John",
        "last_name": "Doe",
        "full_name": "John Doe",
        "phone": person["phone"],
        "email": None,
    }
    assert body["units"] == [
        {
            "unit_id": unit["id"],
            "unit_number": "101",
            "estate_id": estate["id"],
            "estate_name": "Sunset Estate",
            "role": "owner",
            "is_primary": True,
            "ownership_percentage": 100.0,
        }
    ]
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 30 * 24 * 3600 and claims["aud"] == "mobile"


@pytest.mark.parametrize("form", ["national", "spaced", "bracketed", "e164"])
def test_given_a_number_in_any_accepted_form_when_logging_in_then_it_is_the_same_account(api, form):
    world = owner_with_meter(api)
    e164 = world["person"]["phone"]
    typed = {
        "national": "0" + e164[3:],
        "spaced": national(e164),
        "bracketed": f"(0{e164[3:5]}) {e164[5:8]} {e164[8:]}",
        "e164": e164,
    }[form]

    reply = _login(api, typed, NEW_PASSWORD)

    assert reply.status == 200, reply.body
    assert reply.body["user"]["phone_number"] == e164


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "phone_number and password are required"),
        ({"phone_number": "+27821234567"}, "password is required"),
        ({"password": "x"}, "phone_number is required"),
        ({"phone_number": "", "password": ""}, "phone_number and password are required"),
        ({"phone_number": "  ", "password": "Secret123"}, "phone_number and password are required"),
    ],
)
def test_given_missing_credentials_when_logging_in_then_400_missing_required_fields(api, body, message):
    reply = api.call("POST", "/api/mobile/auth/login", json_body=body)

    assert (reply.status, reply.body) == (400, {"error": "Missing required fields", "message": message})


@pytest.mark.parametrize("phone", ["abc", "12345", "+27 12 345 678", "082-CALL-NOW", "+1 555 0100"])
def test_given_a_number_that_is_not_a_phone_number_when_logging_in_then_400_invalid_phone_number(api, phone):
    reply = _login(api, phone, "Secret123")

    assert reply.status == 400
    assert reply.body["error"] == "Invalid phone number" and "E.164" in reply.body["message"]


def test_given_a_body_that_is_not_json_when_logging_in_then_400_in_the_family_envelope(api):
    reply = api.call("POST", "/api/mobile/auth/login", raw="{nope", headers={"content-type": "application/json"})

    assert reply.status == 400 and set(reply.body) == {"error", "message"}


def test_given_wrong_password_unknown_number_or_no_account_when_logging_in_then_the_same_401(api):
    world = owner_with_meter(api)
    staff: Staff = world["staff"]
    no_account = staff.person()

    for phone, password in [
        (world["person"]["phone"], "Wrong1234"),
        (new_phone(), NEW_PASSWORD),
        (no_account["phone"], NEW_PASSWORD),
    ]:
        reply = _login(api, phone, password)
        assert (reply.status, reply.body) == (401, BAD_LOGIN), phone


def test_given_a_deactivated_account_when_logging_in_or_calling_then_403_and_reactivation_restores_it(api):
    world = owner_with_meter(api)
    staff, resident = world["staff"], world["resident"]
    user_id = resident.login_body["user"]["id"]

    staff.put(f"/api/admin/mobile-users/{user_id}", {"is_active": False})

    assert (_login(api, resident.phone, NEW_PASSWORD).status, _login(api, resident.phone, NEW_PASSWORD).body) == (
        403,
        INACTIVE,
    )
    assert _login(api, resident.phone, "Wrong1234").status == 401  # a wrong password never learns the state
    assert api.call("GET", "/api/mobile/auth/units", token=resident.token).body == INACTIVE
    staff.put(f"/api/admin/mobile-users/{user_id}", {"is_active": True})
    assert api.call("GET", "/api/mobile/auth/units", token=resident.token).status == 200


def test_given_repeated_failures_for_a_number_when_logging_in_then_it_is_locked_with_retry_after(api):
    world = owner_with_meter(api)
    phone = world["person"]["phone"]

    statuses = [_login(api, phone, f"Wrong{n}pass").status for n in range(5)]
    locked = _login(api, phone, NEW_PASSWORD)  # even the right password, while locked

    assert statuses == [401] * 5
    assert locked.status == 429 and locked.body["error"] == "Too many login attempts"
    assert 1 <= int(locked.headers["retry-after"]) <= 900
    assert f"{locked.headers['retry-after']} seconds" in locked.body["message"]
    assert _login(api, national(phone), NEW_PASSWORD).status == 429  # the same number, typed another way
    other = owner_with_meter(api, world["staff"])
    assert _login(api, other["person"]["phone"], NEW_PASSWORD).status == 200  # other numbers are not locked


def test_given_a_short_lock_window_when_it_passes_then_the_number_logs_in_again(api, monkeypatch):
    monkeypatch.setenv("MOBILE_LOGIN_MAX_FAILURES", "2")
    monkeypatch.setenv("MOBILE_LOGIN_LOCK_SECONDS", "2")
    settings.reset()
    world = owner_with_meter(api)
    phone = world["person"]["phone"]
    _login(api, phone, "Wrong1pass"), _login(api, phone, "Wrong2pass")
    assert _login(api, phone, NEW_PASSWORD).status == 429

    deadline = time.monotonic() + 5
    while _login(api, phone, NEW_PASSWORD).status == 429 and time.monotonic() < deadline:
        time.sleep(0.25)

    assert _login(api, phone, NEW_PASSWORD).status == 200


def test_given_failures_then_a_success_when_failing_again_then_counting_starts_over(api, monkeypatch):
    monkeypatch.setenv("MOBILE_LOGIN_MAX_FAILURES", "3")
    settings.reset()
    world = owner_with_meter(api)
    phone = world["person"]["phone"]

    first = [_login(api, phone, f"Wrong{n}pass").status for n in range(2)] + [_login(api, phone, NEW_PASSWORD).status]
    again = [_login(api, phone, f"Wrong{n}pass").status for n in range(3)]

    assert first == [401, 401, 200]
    assert again == [401, 401, 401]
    assert _login(api, phone, NEW_PASSWORD).status == 429


# ---------------------------------------------------------------- tokens of their own family
def test_given_tokens_of_other_families_or_none_when_calling_mobile_routes_then_401_with_the_documents_body(api):
    world = owner_with_meter(api)
    staff_token = world["staff"].token
    microshare = issue_token("microshare:x", "user", audience="microshare")[0]
    expired = jwt.encode(
        {"sub": "1", "role": "user", "aud": "mobile", "ver": 0, "iss": "fleetgate", "iat": 1, "exp": 2},
        "test-secret-" + "x" * 32,
        algorithm="HS256",
    )
    unit = world["unit"]["id"]

    for token in [None, "garbage", staff_token, token_for("admin")["token"], microshare, expired]:
        for path in ["/api/mobile/auth/user", f"/api/mobile/units/{unit}/wallet"]:
            reply = api.call("GET", path, token=token)
            assert (reply.status, reply.body) == (401, INVALID_TOKEN), (token, path)
            assert reply.headers.get("www-authenticate") == "Bearer"


def test_given_a_mobile_token_when_calling_device_manager_or_staff_routes_then_401(api):
    world = owner_with_meter(api)
    token = world["resident"].token

    devices = api.call("GET", "/api/v1/devices", token=token)
    portal = api.call("GET", "/api/admin/estates", token=token)

    assert devices.status == 401 and "detail" in devices.body
    assert (portal.status, portal.body) == (401, INVALID_TOKEN)


# ---------------------------------------------------------------- passwords
def test_given_a_temporary_password_when_changing_without_the_current_one_then_other_earlier_tokens_stop_working(
    api,
):
    world = owner_with_meter(api, change_password=False)
    resident = world["resident"]
    changing = resident.token
    elsewhere = _login(api, resident.phone, world["temporary"]).body["token"]  # another phone, or a stolen token

    reply = api.call(
        "POST", "/api/mobile/auth/change-password", token=changing, json_body={"new_password": "MyNewPass123"}
    )

    assert (reply.status, reply.body) == (200, {"message": "Password changed successfully"})  # the contract's body
    assert (api.call("GET", "/api/mobile/auth/user", token=elsewhere).body) == INVALID_TOKEN
    user = api.call("GET", "/api/mobile/auth/user", token=changing).body["user"]  # the document's flow goes on
    assert user["password_must_change"] is False
    assert _login(api, resident.phone, world["temporary"]).status == 401  # the temporary password is over
    relogin = _login(api, resident.phone, "MyNewPass123").body
    assert relogin["password_must_change"] is False


def test_given_the_documents_flow_when_changing_with_the_current_password_then_200(api):
    world = owner_with_meter(api, change_password=False)

    reply = api.call(
        "POST",
        "/api/mobile/auth/change-password",
        token=world["resident"].token,
        json_body={"current_password": world["temporary"], "new_password": "MyNewPass123"},
    )

    assert reply.status == 200, reply.body


def test_given_a_chosen_password_when_changing_without_or_with_a_wrong_current_one_then_400_or_401(api):
    world = owner_with_meter(api)
    token = world["resident"].token
    path = "/api/mobile/auth/change-password"

    missing = api.call("POST", path, token=token, json_body={"new_password": "Another1Pass"})
    wrong = api.call(
        "POST", path, token=token, json_body={"current_password": "Nope1234", "new_password": "Another1Pass"}
    )

    assert (missing.status, missing.body) == (
        400,
        {"error": "Missing required fields", "message": "current_password is required"},
    )
    assert (wrong.status, wrong.body) == (
        401,
        {"error": "Invalid credentials", "message": "Current password is incorrect"},
    )
    assert api.call("GET", "/api/mobile/auth/user", token=token).status == 200  # nothing changed


@pytest.mark.parametrize("new", ["Short1A", "alllower123", "ALLUPPER123", "NoDigitsHere", NEW_PASSWORD])
def test_given_a_password_breaking_the_rules_or_unchanged_when_changing_then_400(api, new):
    world = owner_with_meter(api)

    reply = api.call(
        "POST",
        "/api/mobile/auth/change-password",
        token=world["resident"].token,
        json_body={"current_password": NEW_PASSWORD, "new_password": new},
    )

    assert reply.status == 400 and reply.body["error"] == "Invalid password"
    assert _login(api, world["resident"].phone, NEW_PASSWORD).status == 200


def test_given_no_new_password_when_changing_then_400_missing_required_fields(api):
    world = owner_with_meter(api)

    reply = api.call("POST", "/api/mobile/auth/change-password", token=world["resident"].token, json_body={})

    assert (reply.status, reply.body) == (
        400,
        {"error": "Missing required fields", "message": "new_password is required"},
    )


# ---------------------------------------------------------------- the user and their units
def test_given_an_owner_and_a_tenant_when_listing_units_then_owned_and_actively_rented_units_with_their_fields(api):
    staff = Staff(api)
    world = owner_with_meter(api, staff)
    resident: Resident = world["resident"]
    riverside = staff.estate("Riverside Apartments")
    rented = staff.unit(riverside["id"], "205")
    upcoming = staff.unit(riverside["id"], "206")
    expired = staff.unit(riverside["id"], "207")
    ended = staff.unit(riverside["id"], "208")
    pid = world["person"]["id"]
    created = staff.tenant(rented["id"], pid, "2024-01-01", "2099-12-31")
    staff.tenant(upcoming["id"], pid, "2098-01-01", "2099-12-31")
    staff.tenant(expired["id"], pid, "2020-01-01", "2020-12-31")
    staff.tenant(ended["id"], pid)
    staff.call("DELETE", f"/api/admin/units/{ended['id']}/tenants/{pid}", status=204)

    units = resident.get("/api/mobile/auth/units")["units"]

    assert created["mobile_user"] == {
        "mobile_user_created": False,
        "phone_number": world["person"]["phone"],
        "temporary_password": None,
        "message": "This person already has a mobile app account.",
    }
    assert [u["role"] for u in units] == ["owner", "tenant"]
    assert units[1] == {
        "unit_id": rented["id"],
        "unit_number": "205",
        "estate_id": riverside["id"],
        "estate_name": "Riverside Apartments",
        "role": "tenant",
        "is_primary": False,
        "monthly_rent": 8500.0,
        "lease_start_date": "2024-01-01",
        "lease_end_date": "2099-12-31",
    }
    for unit in (upcoming, expired, ended):
        assert resident.get(f"/api/mobile/units/{unit['id']}/meters", 403) == ACCESS_DENIED
    assert resident.get(f"/api/mobile/units/{rented['id']}/wallet")["wallet"]["unit_id"] == rented["id"]


def test_given_a_logged_in_resident_when_getting_the_user_then_the_documents_shape(api):
    world = owner_with_meter(api)

    body = world["resident"].get("/api/mobile/auth/user")

    assert set(body["user"]) == {"id", "person_id", "phone_number", "password_must_change", "last_login", "is_active"}
    assert body["person"]["full_name"] == "John Doe"


# ---------------------------------------------------------------- meters, readings, wallet, transactions
def test_given_a_units_meters_when_the_resident_reads_them_then_the_documents_shapes(api):
    world = owner_with_meter(api)
    staff, resident, unit, meter = world["staff"], world["resident"], world["unit"], world["meter"]
    staff.put(f"/api/admin/meters/{meter['id']}", {"device_type": "Smart Meter", "communication_type": "LoRa"})
    staff.reading(meter["id"], 1250.5, "2024-01-15T10:30:00")

    meters = resident.get(f"/api/mobile/units/{unit['id']}/meters")["meters"]
    detail = resident.get(f"/api/mobile/meters/{meter['id']}")["meter"]

    assert meters == [
        {
            "id": meter["id"],
            "serial_number": meter["serial_number"],
            "meter_type": "prepaid",
            "utility_type": "electricity",
            "current_reading": 1250.5,
            "last_reading_date": "2024-01-15T10:30:00",
            "status": "active",
            "device_type": "Smart Meter",
            "communication_type": "LoRa",
        }
    ]
    assert detail == {**meters[0], "unit_id": unit["id"], "unit_number": "101"}


def test_given_readings_when_listing_them_then_newest_first_with_consumption_and_cost_filtered_by_days_and_limit(api):
    world = owner_with_meter(api)
    staff, resident, meter = world["staff"], world["resident"], world["meter"]
    staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 1})
    path = f"/api/mobile/meters/{meter['id']}/readings"
    now = time.time()

    def day(days_ago: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - days_ago * 86400))

    staff.reading(meter["id"], 1000, day(40))
    staff.reading(meter["id"], 1100, day(10))
    staff.reading(meter["id"], 1250.5, day(1))

    default = resident.get(path)
    week = resident.get(path, days=7)
    one = resident.get(path, days=60, limit=1)
    capped = resident.get(path, days=60, limit=10_000)

    assert [r["reading_value"] for r in default["readings"]] == [1250.5, 1100.0]
    assert default["readings"][0] | {"id": 0} == {
        "id": 0,
        "reading_value": 1250.5,
        "reading_date": day(1),
        "cost": 150.5,
        "consumption": 150.5,
    }
    assert default["meter"] == {
        "id": meter["id"],
        "serial_number": meter["serial_number"],
        "utility_type": "electricity",
    }
    assert [r["reading_value"] for r in week["readings"]] == [1250.5]
    assert [r["reading_value"] for r in one["readings"]] == [1250.5]
    assert [r["reading_value"] for r in capped["readings"]] == [1250.5, 1100.0, 1000.0]
    assert capped["readings"][2]["cost"] == 0.0 and capped["readings"][2]["consumption"] == 0.0  # the baseline


@pytest.mark.parametrize("query", [{"days": 0}, {"days": "week"}, {"limit": 0}, {"limit": "all"}])
def test_given_invalid_filters_when_listing_readings_then_400(api, query):
    world = owner_with_meter(api)

    reply = api.call(
        "GET", f"/api/mobile/meters/{world['meter']['id']}/readings", token=world["resident"].token, query=query
    )

    assert (
        reply.status == 400 and reply.body["error"] == "Invalid request" and next(iter(query)) in reply.body["message"]
    )


def test_given_credits_and_debits_when_listing_transactions_then_newest_first_with_balance_after_and_type_filter(api):
    world = owner_with_meter(api)
    staff, resident, unit, meter = world["staff"], world["resident"], world["unit"]["id"], world["meter"]["id"]
    staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 1.25})
    staff.top_up(unit, 500)
    staff.reading(meter, 1000, "2024-01-14T10:30:00")
    staff.reading(meter, 1100.4, "2024-01-15T10:30:00")
    staff.top_up(unit, 20.25)
    path = f"/api/mobile/units/{unit}/transactions"

    every = resident.get(path)["transactions"]
    credits = resident.get(path, type="credit")["transactions"]
    debits = resident.get(path, type="debit")["transactions"]
    last = resident.get(path, limit=1)["transactions"]

    assert [(t["transaction_type"], t["amount"], t["balance_after"]) for t in every] == [
        ("credit", 20.25, 394.75),
        ("debit", 125.5, 374.5),
        ("credit", 500.0, 500.0),
    ]
    assert every[1]["description"] == "Electricity usage" and TIMESTAMP.match(every[1]["transaction_date"])
    assert set(every[0]) == {"id", "transaction_type", "amount", "description", "transaction_date", "balance_after"}
    assert [t["amount"] for t in credits] == [20.25, 500.0] and [t["amount"] for t in debits] == [125.5]
    assert last == every[:1]
    assert resident.get(f"/api/mobile/units/{unit}/wallet")["wallet"] == {
        "id": unit,
        "unit_id": unit,
        "balance": 394.75,
        "status": "active",
        "last_transaction_date": every[0]["transaction_date"],
    }


def test_given_an_unknown_transaction_type_when_listing_then_400(api):
    world = owner_with_meter(api)

    reply = api.call(
        "GET",
        f"/api/mobile/units/{world['unit']['id']}/transactions",
        token=world["resident"].token,
        query={"type": "refund"},
    )

    assert reply.status == 400 and reply.body["message"].startswith("type")


def test_given_someone_elses_unit_or_meter_when_the_resident_asks_then_403_with_the_documents_body(api):
    staff = Staff(api)
    mine, theirs = owner_with_meter(api, staff), owner_with_meter(api, staff)
    resident: Resident = mine["resident"]
    unit, meter = theirs["unit"]["id"], theirs["meter"]["id"]

    for path in [
        f"/api/mobile/units/{unit}/meters",
        f"/api/mobile/units/{unit}/wallet",
        f"/api/mobile/units/{unit}/transactions",
        f"/api/mobile/meters/{meter}",
        f"/api/mobile/meters/{meter}/readings",
    ]:
        assert resident.get(path, 403) == ACCESS_DENIED, path


def test_given_a_missing_unit_or_meter_when_the_resident_asks_then_404_naming_it(api):
    world = owner_with_meter(api)
    resident: Resident = world["resident"]

    for path in ["/api/mobile/units/999/meters", "/api/mobile/units/999/wallet", "/api/mobile/units/999/transactions"]:
        assert resident.get(path, 404) == {"error": "Unit not found", "message": "Unit with ID 999 not found"}
    for path in ["/api/mobile/meters/999", "/api/mobile/meters/999/readings"]:
        assert resident.get(path, 404) == {"error": "Meter not found", "message": "Meter with ID 999 not found"}
    bad = api.call("GET", "/api/mobile/units/ten/wallet", token=resident.token)
    assert bad.status == 400 and bad.body["error"] == "Invalid request"
