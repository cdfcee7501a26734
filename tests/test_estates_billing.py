"""Billing: tariffs and their prices, readings with consumption and cost, debits in one transaction, exactly once,
top-ups idempotent by reference, low-balance alerts once per crossing, and readings from the device platform
(``billing.record_device_reading``, which the flow engine's meter node calls)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fleetgate.core import settings
from fleetgate.estates.errors import NoMeterLinked, NotANumber
from fleetgate.estates.records import Tariff, Tier
from fleetgate.estates.service import billing
from tests.estates_support import Staff, owner_with_meter
from tests.support import Sink


# ---------------------------------------------------------------- prices (plain values)
def _tiers(*tiers: tuple[float, float | None, float]) -> Tariff:
    return Tariff(
        "estate",
        1,
        "electricity",
        None,
        tuple(Tier(Decimal(str(a)), None if b is None else Decimal(str(b)), Decimal(str(r))) for a, b, r in tiers),
        "",
    )


@pytest.mark.parametrize(
    "consumption, tariff, markup, cents",
    [
        ("80.5", Tariff("estate", 1, "electricity", Decimal("1.5"), (), ""), "0", 12075),
        ("80.5", _tiers((0, 50, 1.5), (50, None, 2)), "10", 14960),  # (75 + 61) x 1.1
        ("50", _tiers((0, 50, 1.5), (50, None, 2)), "0", 7500),  # exactly at a boundary
        ("120", _tiers((0, 50, 1), (50, 100, 2)), "0", 19000),  # past a bounded last tier: still its rate
        ("1", Tariff("estate", 1, "water", Decimal("0.005"), (), ""), "0", 1),  # half a cent rounds up
        ("1", Tariff("estate", 1, "water", Decimal("0.004"), (), ""), "0", 0),
        ("0", _tiers((0, None, 3)), "25", 0),
    ],
)
def test_given_a_consumption_and_a_tariff_when_pricing_then_tiers_markup_and_half_up_cents(
    consumption, tariff, markup, cents
):
    assert billing.price(Decimal(consumption), tariff, Decimal(markup)) == cents


# ---------------------------------------------------------------- readings through the portal
def _balance(world) -> float:
    return world["resident"].get(f"/api/mobile/units/{world['unit']['id']}/wallet")["wallet"]["balance"]


def _transactions(world) -> list[dict]:
    return world["resident"].get(f"/api/mobile/units/{world['unit']['id']}/transactions", days=3650)["transactions"]


def test_given_a_meters_first_reading_then_it_is_the_baseline_and_charges_nothing(api):
    world = owner_with_meter(api)
    staff: Staff = world["staff"]
    staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 2})

    reply = staff.call(
        "POST",
        f"/api/admin/meters/{world['meter']['id']}/readings",
        {"reading_value": 1000, "reading_date": "2024-01-14"},
    )

    assert reply.status == 201
    assert reply.body == {
        "message": "Reading recorded successfully",
        "reading": {
            "id": 1,
            "meter_id": world["meter"]["id"],
            "reading_value": 1000.0,
            "reading_date": "2024-01-14T00:00:00",
            "consumption": 0.0,
            "cost": 0.0,
            "status": "baseline",
            "transaction_id": None,
        },
    }
    assert _balance(world) == 0.0 and _transactions(world) == []


def test_given_estate_and_unit_tariffs_when_readings_arrive_then_the_units_tariff_wins_and_the_markup_applies(api):
    world = owner_with_meter(api)
    staff, meter, unit = world["staff"], world["meter"]["id"], world["unit"]["id"]
    staff.put(f"/api/admin/estates/{world['estate']['id']}", {"electricity_markup_percent": 10})
    staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 5})
    staff.reading(meter, 1000, "2024-01-14T10:00:00")
    charged_by_estate = staff.reading(meter, 1010, "2024-01-15T10:00:00")
    staff.tariff(
        "units",
        unit,
        "electricity",
        {"tiers": [{"from": 0, "to": 50, "rate": 1.5}, {"from": 50, "to": None, "rate": 2}]},
    )

    charged_by_unit = staff.reading(meter, 1090.5, "2024-01-16T10:00:00")

    assert (charged_by_estate["consumption"], charged_by_estate["cost"], charged_by_estate["status"]) == (
        10.0,
        55.0,
        "charged",
    )
    assert (charged_by_unit["consumption"], charged_by_unit["cost"]) == (80.5, 149.6)
    assert _balance(world) == -204.6  # balances may go negative
    debits = _transactions(world)
    assert [(t["amount"], t["balance_after"]) for t in debits] == [(149.6, -204.6), (55.0, -55.0)]
    assert charged_by_unit["transaction_id"] == debits[0]["id"]


def test_given_a_water_meter_then_the_water_markup_and_tariff_apply(api):
    world = owner_with_meter(api)
    staff = world["staff"]
    estate = world["estate"]["id"]
    staff.put(f"/api/admin/estates/{estate}", {"electricity_markup_percent": 50, "water_markup_percent": 20})
    staff.tariff("estates", estate, "water", {"flat_rate": 30})
    water = staff.meter(world["unit"]["id"], "water")
    staff.reading(water["id"], 10.25, "2024-01-14T10:00:00")

    reading = staff.reading(water["id"], 12.75, "2024-01-15T10:00:00")

    assert (reading["consumption"], reading["cost"]) == (2.5, 90.0)
    assert _transactions(world)[0]["description"] == "Water usage"


def test_given_a_lower_reading_then_it_is_flagged_not_charged_and_the_next_one_counts_from_it(api):
    world = owner_with_meter(api)
    staff, meter = world["staff"], world["meter"]["id"]
    staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 1})
    staff.reading(meter, 5000, "2024-01-14T10:00:00")

    lower = staff.reading(meter, 12, "2024-01-15T10:00:00")  # the meter was replaced
    after = staff.reading(meter, 20, "2024-01-16T10:00:00")

    assert (lower["status"], lower["consumption"], lower["cost"], lower["transaction_id"]) == (
        "lower_than_previous",
        0.0,
        0.0,
        None,
    )
    assert (after["consumption"], after["cost"]) == (8.0, 8.0)
    listed = world["resident"].get(f"/api/mobile/meters/{meter}/readings", days=3650)["readings"]
    assert [(r["reading_value"], r["consumption"], r["cost"]) for r in listed] == [
        (20.0, 8.0, 8.0),
        (12.0, 0.0, 0.0),
        (5000.0, 0.0, 0.0),
    ]


def test_given_no_tariff_when_a_reading_arrives_then_it_is_stored_with_its_consumption_and_not_charged(api):
    world = owner_with_meter(api)
    staff, meter = world["staff"], world["meter"]["id"]
    staff.reading(meter, 100, "2024-01-14T10:00:00")

    reading = staff.reading(meter, 150, "2024-01-15T10:00:00")

    assert (reading["status"], reading["consumption"], reading["cost"]) == ("no_tariff", 50.0, 0.0)
    assert _transactions(world) == []


def test_given_the_same_reading_twice_then_the_second_answers_200_with_the_first_and_charges_nothing(api):
    world = owner_with_meter(api)
    staff, meter = world["staff"], world["meter"]["id"]
    staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 1})
    staff.reading(meter, 100, "2024-01-14T10:00:00")
    first = staff.reading(meter, 150, "2024-01-15T10:00:00")

    again = staff.call(
        "POST",
        f"/api/admin/meters/{meter}/readings",
        {"reading_value": 150, "reading_date": "2024-01-15T12:00:00+02:00"},
    )
    clash = staff.call(
        "POST", f"/api/admin/meters/{meter}/readings", {"reading_value": 151, "reading_date": "2024-01-15T10:00:00Z"}
    )

    assert again.status == 200 and again.body["reading"] == first
    assert again.body["message"] == "This reading was recorded already: nothing charged"
    assert (clash.status, clash.body["error"]) == (409, "Reading exists")
    assert [t["amount"] for t in _transactions(world)] == [50.0]
    assert _balance(world) == -50.0


@pytest.mark.parametrize(
    "body, error",
    [
        ({"reading_value": -1}, "Invalid request"),
        ({"reading_value": "lots"}, "Invalid request"),
        ({}, "Missing required fields"),
        ({"reading_value": 1, "reading_date": "2999-01-01T00:00:00"}, "Invalid reading date"),
    ],
)
def test_given_an_invalid_reading_then_400_and_nothing_recorded(api, body, error):
    world = owner_with_meter(api)

    reply = world["staff"].call("POST", f"/api/admin/meters/{world['meter']['id']}/readings", body)

    assert reply.status == 400 and reply.body["error"] == error
    assert world["resident"].get(f"/api/mobile/meters/{world['meter']['id']}/readings")["readings"] == []


def test_given_a_missing_meter_when_posting_a_reading_then_404(api):
    reply = Staff(api).call("POST", "/api/admin/meters/31/readings", {"reading_value": 1})

    assert (reply.status, reply.body) == (404, {"error": "Meter not found", "message": "Meter with ID 31 not found"})


# ---------------------------------------------------------------- top-ups
def test_given_a_top_up_reference_used_twice_then_200_with_the_same_transaction_and_nothing_credited(api):
    world = owner_with_meter(api)
    staff, unit = world["staff"], world["unit"]["id"]

    first = staff.post(
        f"/api/admin/units/{unit}/wallet/topups", {"amount": 250.5, "reference": "EFT-2024-001", "description": "EFT"}
    )
    again = staff.call("POST", f"/api/admin/units/{unit}/wallet/topups", {"amount": 999, "reference": "EFT-2024-001"})

    assert first["message"] == "Wallet topped up successfully"
    assert first["transaction"] | {"transaction_date": ""} == {
        "id": first["transaction"]["id"],
        "unit_id": unit,
        "transaction_type": "credit",
        "amount": 250.5,
        "description": "EFT",
        "transaction_date": "",
        "balance_after": 250.5,
        "reference": "EFT-2024-001",
    }
    assert again.status == 200 and again.body["transaction"] == first["transaction"]
    assert _balance(world) == 250.5 and len(_transactions(world)) == 1


@pytest.mark.parametrize(
    "body, error",
    [
        ({"amount": 0, "reference": "r"}, "Invalid request"),
        ({"amount": 10.001, "reference": "r"}, "Invalid request"),
        ({"amount": 10}, "Missing required fields"),
        ({"amount": 10, "reference": "bad\nref"}, "Invalid request"),
    ],
)
def test_given_an_invalid_top_up_then_400_and_nothing_credited(api, body, error):
    world = owner_with_meter(api)

    reply = world["staff"].call("POST", f"/api/admin/units/{world['unit']['id']}/wallet/topups", body)

    assert reply.status == 400 and reply.body["error"] == error
    assert _balance(world) == 0.0


def test_given_a_missing_unit_when_topping_up_then_404(api):
    reply = Staff(api).call("POST", "/api/admin/units/12/wallet/topups", {"amount": 1, "reference": "r"})

    assert (reply.status, reply.body) == (404, {"error": "Unit not found", "message": "Unit with ID 12 not found"})


# ---------------------------------------------------------------- low-balance alerts
def test_given_a_threshold_when_the_balance_crosses_it_then_the_residents_are_alerted_once_per_crossing(
    api, monkeypatch
):
    with Sink() as provider:
        monkeypatch.setenv("SMS_PROVIDER_URL", provider.url)
        settings.reset()
        world = owner_with_meter(api)
        staff, unit, meter = world["staff"], world["unit"]["id"], world["meter"]["id"]
        tenant = staff.person()
        staff.tenant(unit, tenant["id"])
        gone = staff.person()
        staff.tenant(unit, gone["id"])
        staff.call("DELETE", f"/api/admin/units/{unit}/tenants/{gone['id']}", status=204)
        provider.requests.clear()  # the temporary passwords
        staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 1})
        staff.put(f"/api/admin/units/{unit}/wallet", {"low_balance_threshold": 100})
        staff.top_up(unit, 150)
        staff.reading(meter, 0, "2024-01-10T00:00:00")

        staff.reading(meter, 60, "2024-01-11T00:00:00")  # 150 → 90: crosses
        crossed = list(provider.requests)
        staff.reading(meter, 70, "2024-01-12T00:00:00")  # 90 → 80: still below, no new alert
        still_below = len(provider.requests)
        staff.top_up(unit, 50)  # 80 → 130: re-armed
        staff.reading(meter, 100, "2024-01-13T00:00:00")  # 130 → 100: not below
        staff.reading(meter, 101, "2024-01-14T00:00:00")  # 100 → 99: crosses again
        recrossed = provider.requests[len(crossed) :]

    assert sorted(r["body"]["to"] for r in crossed) == sorted([world["person"]["phone"], tenant["phone"]])
    assert "R90.00, below R100.00" in crossed[0]["body"]["message"]
    assert still_below == len(crossed) == 2
    assert len(recrossed) == 2 and "R99.00" in recrossed[0]["body"]["message"]
    notices = staff.call("GET", f"/api/admin/persons/{tenant['id']}/notifications", status=200).body["notifications"]
    assert [(n["kind"], n["status"]) for n in notices] == [
        ("low_balance", "sent"),
        ("low_balance", "sent"),
        ("temporary_password", "sent"),
    ]


def test_given_no_sms_provider_when_the_balance_crosses_then_the_alert_is_recorded_as_not_sent(api):
    world = owner_with_meter(api)
    staff, meter = world["staff"], world["meter"]["id"]
    staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 1})
    staff.reading(meter, 0, "2024-01-10T00:00:00")

    staff.reading(meter, 5, "2024-01-11T00:00:00")  # 0 → -5: below the default threshold of 0

    notices = staff.call("GET", f"/api/admin/persons/{world['person']['id']}/notifications", status=200).body
    assert [(n["kind"], n["status"]) for n in notices["notifications"]] == [
        ("low_balance", "not_sent"),
        ("temporary_password", "not_sent"),
    ]


# ---------------------------------------------------------------- readings from the device platform
def test_given_a_meter_linked_to_a_device_when_the_platform_records_readings_then_they_are_billed_once_per_key(api):
    world = owner_with_meter(api)
    staff = world["staff"]
    meter = staff.meter(world["unit"]["id"], dev_eui="70B3D57ED0000042")
    staff.tariff("estates", world["estate"]["id"], "electricity", {"flat_rate": 2})
    at = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)

    baseline = billing.record_device_reading("70b3d57ed0000042", 1000, "run-1#meter", at)
    charged = billing.record_device_reading("70:B3:D5:7E:D0:00:00:42", 1012.5, "run-2#meter", "2024-01-15T11:30:00Z")
    rerun = billing.record_device_reading("70b3d57ed0000042", 1012.5, "run-2#meter", "2024-01-15T11:30:00Z")

    assert (baseline.status, baseline.cost, baseline.duplicate) == ("baseline", 0.0, False)
    assert charged.as_dict() | {"reading_id": 0, "transaction_id": 0} == {
        "reading_id": 0,
        "meter_id": meter["id"],
        "unit_id": world["unit"]["id"],
        "reading_value": 1012.5,
        "consumption": 12.5,
        "cost": 25.0,
        "status": "charged",
        "transaction_id": 0,
        "duplicate": False,
    }
    assert rerun.duplicate is True and rerun.reading_id == charged.reading_id
    assert [t["amount"] for t in _transactions(world)] == [25.0]
    readings = world["resident"].get(f"/api/mobile/meters/{meter['id']}/readings", days=3650)["readings"]
    assert [(r["reading_date"], r["consumption"], r["cost"]) for r in readings] == [
        ("2024-01-15T11:30:00", 12.5, 25.0),
        ("2024-01-15T10:30:00", 0.0, 0.0),
    ]


def test_given_a_device_without_a_meter_when_the_platform_records_a_reading_then_no_meter_linked(api):
    owner_with_meter(api)

    with pytest.raises(NoMeterLinked, match="No meter is linked to device 00000000000000ff"):
        billing.record_device_reading("00000000000000FF", 1, "run#m", datetime.now(UTC))
    with pytest.raises(NoMeterLinked):
        billing.record_device_reading("not-an-eui", 1, "run#m", datetime.now(UTC))


@pytest.mark.parametrize("value", ["12.5", None, True, float("nan"), float("inf"), -1, {"kwh": 1}])
def test_given_a_value_that_is_not_a_usable_number_when_the_platform_records_it_then_not_a_number(api, value):
    world = owner_with_meter(api)
    world["staff"].meter(world["unit"]["id"], dev_eui="aa" * 8)

    with pytest.raises(NotANumber):
        billing.record_device_reading("aa" * 8, value, "run#m", datetime.now(UTC))
