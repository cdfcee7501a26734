"""Every estates route's DynamoDB calls are exactly the budgeted ones (tests/budgets/estates.py), and none scans."""

from tests.budgets.estates import EXPECTED
from tests.estates_support import Resident, Staff, new_phone, owner_with_meter


def test_given_each_estates_route_when_called_then_its_dynamodb_calls_are_exactly_the_budgeted_ones(api):
    world = owner_with_meter(api)
    staff: Staff = world["staff"]
    resident: Resident = world["resident"]
    unit, meter, estate = world["unit"]["id"], world["meter"]["id"], world["estate"]["id"]
    staff.tariff("estates", estate, "electricity", {"flat_rate": 2})
    staff.top_up(unit, 500)
    staff.reading(meter, 1000, "2024-01-14T10:30:00")  # the baseline: the budgeted reading below is charged
    other = staff.person()
    doomed_estate = staff.estate("Doomed")
    doomed_unit = staff.unit(estate)
    doomed_meter = staff.meter(unit)
    user_id = resident.login_body["user"]["id"]
    mobile = resident.token
    seen = {}

    def call(method, template, path, *, token=staff.token, body=None, query=None, ok=(200, 201, 204)):
        reply = api.call(method, path, token=token, json_body=body, query=query)
        assert reply.status in ok, (method, template, reply.status, reply.body)
        seen[(method, template)] = reply.ddb_calls
        return reply

    second_session = call(
        "POST",
        "/api/mobile/auth/login",
        "/api/mobile/auth/login",
        token=None,
        body={"phone_number": resident.phone, "password": resident.password},
    ).body["token"]
    for template, path in [
        ("/api/mobile/auth/user", "/api/mobile/auth/user"),
        ("/api/mobile/auth/units", "/api/mobile/auth/units"),
        ("/api/mobile/units/{unit_id}/meters", f"/api/mobile/units/{unit}/meters"),
        ("/api/mobile/meters/{meter_id}", f"/api/mobile/meters/{meter}"),
        ("/api/mobile/meters/{meter_id}/readings", f"/api/mobile/meters/{meter}/readings"),
        ("/api/mobile/units/{unit_id}/wallet", f"/api/mobile/units/{unit}/wallet"),
        ("/api/mobile/units/{unit_id}/transactions", f"/api/mobile/units/{unit}/transactions"),
    ]:
        call("GET", template, path, token=mobile)
    call(
        "POST",
        "/api/mobile/auth/change-password",
        "/api/mobile/auth/change-password",
        token=mobile,
        body={"current_password": resident.password, "new_password": "Another1Pass"},
    )

    a = "/api/admin"
    call("POST", f"{a}/estates", f"{a}/estates", body={"name": "Riverside"})
    call("GET", f"{a}/estates", f"{a}/estates")
    call("GET", f"{a}/estates/{{estate_id}}", f"{a}/estates/{estate}")
    call("PUT", f"{a}/estates/{{estate_id}}", f"{a}/estates/{estate}", body={"water_markup_percent": 5})
    call(
        "PUT",
        f"{a}/estates/{{estate_id}}/tariffs/{{utility_type}}",
        f"{a}/estates/{estate}/tariffs/water",
        body={"flat_rate": 30},
    )
    call("POST", f"{a}/estates/{{estate_id}}/units", f"{a}/estates/{estate}/units", body={"unit_number": "102"})
    call("GET", f"{a}/estates/{{estate_id}}/units", f"{a}/estates/{estate}/units")
    call("GET", f"{a}/units/{{unit_id}}", f"{a}/units/{unit}")
    call("PUT", f"{a}/units/{{unit_id}}", f"{a}/units/{doomed_unit['id']}", body={"unit_number": "999"})
    call(
        "PUT",
        f"{a}/units/{{unit_id}}/tariffs/{{utility_type}}",
        f"{a}/units/{unit}/tariffs/water",
        body={"flat_rate": 25},
    )
    call(
        "POST",
        f"{a}/units/{{unit_id}}/owners",
        f"{a}/units/{doomed_unit['id']}/owners",
        body={"person_id": other["id"]},
    )
    tenant = staff.person(new_phone())
    call(
        "POST",
        f"{a}/units/{{unit_id}}/tenants",
        f"{a}/units/{unit}/tenants",
        body={
            "person_id": tenant["id"],
            "monthly_rent": 8500,
            "lease_start_date": "2024-01-01",
            "lease_end_date": "2099-12-31",
        },
    )
    call(
        "POST",
        f"{a}/units/{{unit_id}}/meters",
        f"{a}/units/{unit}/meters",
        body={"serial_number": "W-1", "meter_type": "prepaid", "utility_type": "water"},
    )
    call(
        "POST",
        f"{a}/units/{{unit_id}}/wallet/topups",
        f"{a}/units/{unit}/wallet/topups",
        body={"amount": 100, "reference": "EFT-77"},
    )
    call("PUT", f"{a}/units/{{unit_id}}/wallet", f"{a}/units/{unit}/wallet", body={"low_balance_threshold": 50})
    call("POST", f"{a}/persons", f"{a}/persons", body={"first_name": "Ann", "last_name": "Lee", "phone": new_phone()})
    call("GET", f"{a}/persons/{{person_id}}", f"{a}/persons/{other['id']}")
    call("PUT", f"{a}/persons/{{person_id}}", f"{a}/persons/{other['id']}", body={"first_name": "Anne"})
    call("GET", f"{a}/persons/{{person_id}}/notifications", f"{a}/persons/{other['id']}/notifications")
    call("PUT", f"{a}/mobile-users/{{user_id}}", f"{a}/mobile-users/{user_id}", body={"is_active": True})
    call("GET", f"{a}/meters/{{meter_id}}", f"{a}/meters/{meter}")
    call("PUT", f"{a}/meters/{{meter_id}}", f"{a}/meters/{meter}", body={"device_type": "Smart Meter"})
    call(
        "POST",
        f"{a}/meters/{{meter_id}}/readings",
        f"{a}/meters/{meter}/readings",
        body={"reading_value": 1100, "reading_date": "2024-01-15T10:30:00"},
    )
    # the password change ended the other session's token; the one that made the change goes on
    assert api.call("GET", f"/api/mobile/units/{unit}/wallet", token=second_session).status == 401
    assert api.call("GET", f"/api/mobile/units/{unit}/wallet", token=mobile).status == 200
    # deletes last
    call("DELETE", f"{a}/units/{{unit_id}}/owners/{{person_id}}", f"{a}/units/{doomed_unit['id']}/owners/{other['id']}")
    call("DELETE", f"{a}/units/{{unit_id}}/tenants/{{person_id}}", f"{a}/units/{unit}/tenants/{tenant['id']}")
    call("DELETE", f"{a}/meters/{{meter_id}}", f"{a}/meters/{doomed_meter['id']}")
    call("DELETE", f"{a}/units/{{unit_id}}", f"{a}/units/{doomed_unit['id']}")
    call("DELETE", f"{a}/estates/{{estate_id}}", f"{a}/estates/{doomed_estate['id']}")
    assert seen == EXPECTED
