"""ERP side of the Microshare sync: uploaded (JSON/CSV) and Odoo (XML-RPC) inspection points, mapping to
location[3], gap analysis and an idempotent sync of pending devices. Fake Microshare and fake Odoo on loopback."""

from __future__ import annotations

import json
import socket

import pytest

from fleetgate.core import settings
from tests.fakes import DEFAULT_ID, FakeOdoo, odoo_product
from tests.support import token_for

P = "/api/v1"

POINTS = [  # three mapped (ERP-001, ERP-002, ACME-01), two unmapped with a cluster, one whose customer has none
    {"id": "1", "reference": "ERP-001", "customer": "Golden Crust", "site": "Manchester", "area": "Flour Store"},
    {"id": "2", "reference": "ERP-002", "customer": "Golden Crust", "site": "Manchester", "area": "Bakery"},
    {"id": "3", "reference": "ACME-01", "customer": "Acme", "site": "Leeds", "area": "Kitchen"},
    {"id": "4", "reference": "ERP-010", "name": "Golden Crust - Loading Bay"},
    {
        "id": "5",
        "reference": "ACME-05",
        "customer": "Acme",
        "site": "Leeds",
        "area": "Yard",
        "placement": "External",
        "configuration": "Kill/Trap",
    },
    {"id": "6", "reference": "ZED-1", "customer": "Zed", "site": "Oslo", "area": "Hall"},
]


@pytest.fixture
def api(api):
    """The Microshare API (its own HTTP API, the contract's paths); ``api.on("FleetgateApi")`` is the main one."""
    return api.on("MicroshareApi")


@pytest.fixture
def user(api):
    return token_for("user", ("microshare:read", "microshare:write"))


@pytest.fixture
def uploaded(api, microshare, user):
    reply = api.call("POST", f"{P}/erp/inspection-points", token=user["token"], json_body=POINTS)
    assert reply.status == 200, reply.body
    return reply.body


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ upload adapter
def test_given_json_points_when_uploading_then_stored_and_discovered_with_name_split(api, microshare, user, uploaded):
    assert (uploaded["adapter"], uploaded["received"], uploaded["stored"], uploaded["removed"]) == ("upload", 6, 6, 0)
    reply = api.call("GET", f"{P}/erp/discovery", token=user["token"])
    assert reply.status == 200 and (reply.body["adapter"], reply.body["count"]) == ("upload", 6)
    by_id = {p["id"]: p for p in reply.body["items"]}
    assert by_id["4"] == {
        "id": "4",
        "reference": "ERP-010",
        "name": "Golden Crust - Loading Bay",
        "customer": "Golden Crust",
        "site": "Golden Crust",
        "area": "Loading Bay",
        "placement": "Internal",
        "configuration": "Bait/Lured",
        "source": "upload",
    }
    assert (by_id["5"]["placement"], by_id["5"]["configuration"]) == ("External", "Kill/Trap")
    status = api.call("GET", f"{P}/erp/status", token=user["token"])
    assert status.body == {
        "adapter": "upload",
        "configured": True,
        "connected": True,
        "inspection_points": 6,
        "last_upload_at": uploaded["uploaded_at"],
        "error": None,
    }


def test_given_csv_when_uploading_then_it_replaces_the_previous_upload(api, microshare, user, uploaded):
    csv_body = (
        "\ufeffid,default_code,name,customer,site,area,barcode\n"
        "10,ERP-100,Golden Crust - Mill,,,,123\n"
        "11,ERP-101,,Acme,Leeds,Cellar,\n"
    )
    reply = api.call(
        "POST",
        f"{P}/erp/inspection-points",
        token=user["token"],
        raw=csv_body,
        headers={"content-type": "text/csv; charset=utf-8"},
    )
    assert reply.status == 200 and (reply.body["stored"], reply.body["removed"]) == (2, 6)
    points = api.call("GET", f"{P}/erp/discovery", token=user["token"]).body["items"]
    assert sorted((p["id"], p["reference"], p["customer"], p["area"]) for p in points) == [
        ("10", "ERP-100", "Golden Crust", "Mill"),
        ("11", "ERP-101", "Acme", "Cellar"),
    ]


def test_given_invalid_rows_when_uploading_then_422_listing_each_and_nothing_replaced(api, microshare, user, uploaded):
    bad = [
        {"id": "1", "customer": "A", "site": "B", "area": "C"},  # no reference
        {"id": "2", "reference": "R-2"},  # no place
        {"id": "2", "reference": "R-3", "name": "A - B"},  # duplicate id
        "not an object",
    ]
    reply = api.call("POST", f"{P}/erp/inspection-points", token=user["token"], json_body=bad)
    assert reply.status == 422
    assert [e["loc"] for e in reply.body["detail"]] == [
        ["body", 0, "reference"],
        ["body", 1],
        ["body", 2, "id"],
        ["body", 3],
    ]
    assert api.call("GET", f"{P}/erp/discovery", token=user["token"]).body["count"] == 6


@pytest.mark.parametrize(
    "raw, content_type, status",
    [
        ("", "application/json", 422),
        ("{not json", "application/json", 422),
        (json.dumps({"points": []}), "application/json", 422),
        ("id,reference\n1,R", "application/xml", 415),
    ],
)
def test_given_unusable_upload_when_uploading_then_clear_4xx(api, microshare, user, raw, content_type, status):
    reply = api.call(
        "POST", f"{P}/erp/inspection-points", token=user["token"], raw=raw, headers={"content-type": content_type}
    )
    assert reply.status == status and isinstance(reply.body["detail"], (str, list))


def test_given_odoo_adapter_when_uploading_then_409(api, microshare, user, monkeypatch):
    monkeypatch.setenv("ERP_ADAPTER", "odoo")
    settings.reset()
    reply = api.call("POST", f"{P}/erp/inspection-points", token=user["token"], json_body=POINTS)
    assert reply.status == 409 and "odoo" in reply.body["detail"]


# ------------------------------------------------------------------ mapping and gap analysis
def test_given_points_and_devices_when_mapping_then_matches_on_location_3_with_coverage(
    api, microshare, user, uploaded
):
    reply = api.call("GET", f"{P}/erp/mapping", token=user["token"])
    assert reply.status == 200
    body = reply.body
    assert (body["total_points"], body["mapped"], body["unmapped"], body["coverage_percent"]) == (6, 3, 3, 50.0)
    assert {m["point"]["reference"]: m["device"]["guid"] for m in body["mappings"]} == {
        "ERP-001": "g-1",
        "ERP-002": "g-2",
        "ACME-01": "a-1",
    }
    assert [p["id"] for p in body["unmapped_points"]] == ["4", "5", "6"]
    assert body["unmatched_devices"] == 2  # ERP-003 and ACME-02 have no inspection point
    unmapped = api.call("GET", f"{P}/erp/unmapped", token=user["token"])
    assert (unmapped.body["count"], [p["reference"] for p in unmapped.body["items"]]) == (
        3,
        ["ERP-010", "ACME-05", "ZED-1"],
    )


def test_given_no_points_when_mapping_then_zero_coverage(api, microshare, user):
    reply = api.call("GET", f"{P}/erp/mapping", token=user["token"])
    assert reply.status == 200 and (reply.body["total_points"], reply.body["coverage_percent"]) == (0, 0.0)


# ------------------------------------------------------------------ sync
def test_given_dry_run_when_syncing_then_the_plan_and_nothing_written(api, microshare, user, uploaded):
    reply = api.call("POST", f"{P}/erp/sync", token=user["token"], query={"dry_run": "true"})
    assert reply.status == 200
    assert (reply.body["dry_run"], reply.body["created"], reply.body["already_mapped"]) == (True, 0, 3)
    assert {i["point_id"]: (i["outcome"], i["cluster_id"]) for i in reply.body["items"]} == {
        "4": ("would_create", "trap-golden"),
        "5": ("would_create", "trap-acme"),
        "6": ("skipped", None),
    }
    assert microshare.count("put") == 0


def test_given_unmapped_points_when_syncing_twice_then_pending_devices_once(api, microshare, user, uploaded):
    first = api.call("POST", f"{P}/erp/sync", token=user["token"])
    assert first.status == 200
    body = first.body
    assert (body["created"], body["already_mapped"], body["skipped"]) == (2, 3, 1)
    assert (body["coverage_before"], body["coverage_after"]) == (50.0, 83.3)
    created = {i["point_id"]: i["device"] for i in body["items"] if i["outcome"] == "created"}
    assert created["5"]["cluster_id"] == "trap-acme"
    acme = {d["guid"]: d for d in microshare.devices_in("trap-acme")}["erp-sync-5"]
    assert acme == {
        "id": DEFAULT_ID,
        "status": "pending",
        "guid": "erp-sync-5",
        "meta": {"location": ["Acme", "Leeds", "Yard", "ACME-05", "External", "Kill/Trap"]},
    }
    golden = {d["guid"]: d for d in microshare.devices_in("trap-golden")}["erp-sync-4"]
    assert golden["meta"]["location"] == [
        "Golden Crust",
        "Golden Crust",
        "Loading Bay",
        "ERP-010",
        "Internal",
        "Bait/Lured",
    ]
    skipped = [i for i in body["items"] if i["outcome"] == "skipped"]
    assert skipped[0]["point_id"] == "6" and "Zed" in skipped[0]["reason"]
    puts = microshare.count("put")

    again = api.call("POST", f"{P}/erp/sync", token=user["token"])
    assert (again.status, again.body["created"], again.body["already_mapped"]) == (200, 0, 5)
    assert microshare.count("put") == puts  # nothing written the second time
    mapping = api.call("GET", f"{P}/erp/mapping", token=user["token"]).body
    assert (mapping["mapped"], mapping["coverage_percent"]) == (5, 83.3)


def test_given_a_synced_device_not_yet_in_the_cache_when_syncing_then_the_fresh_cluster_prevents_a_duplicate(
    api, microshare, user, uploaded
):
    api.call("GET", f"{P}/devices", token=user["token"])  # cache now predates the device below
    microshare.clusters["trap-acme"]["data"]["devices"].append(
        {
            "id": DEFAULT_ID,
            "status": "pending",
            "guid": "erp-sync-5",
            "meta": {"location": ["Acme", "Leeds", "Yard", "OLD-REF", "Internal", "Bait/Lured"]},
        }
    )
    reply = api.call("POST", f"{P}/erp/sync", token=user["token"])
    assert reply.status == 200
    outcome = {i["point_id"]: i["outcome"] for i in reply.body["items"]}
    assert outcome["5"] == "skipped" and outcome["4"] == "created"
    assert [d["guid"] for d in microshare.devices_in("trap-acme")].count("erp-sync-5") == 1


# ------------------------------------------------------------------ Odoo adapter
@pytest.fixture
def odoo(microshare, monkeypatch):
    fake = FakeOdoo(
        products=[
            odoo_product(101, "Golden Crust - Flour Store", "ERP-001"),
            odoo_product(102, "Golden Crust - Loading Bay", "ERP-010"),
            odoo_product(103, "Acme - Yard", "ACME-05"),
            odoo_product(104, "Spare bait box", False),  # no reference: not an inspection point
            odoo_product(105, "Office chair", "CHAIR-1", category=9),  # another category
            odoo_product(106, "Acme - Old Store", "ACME-99", active=False),
            odoo_product(107, "Standalone", "SOLO-1"),
        ]
    ).start()
    monkeypatch.setenv("ERP_ADAPTER", "odoo")
    monkeypatch.setenv("ODOO_URL", fake.url + "/")
    monkeypatch.setenv("ODOO_DATABASE", fake.database)
    monkeypatch.setenv("ODOO_USERNAME", fake.username)
    monkeypatch.setenv("ODOO_PASSWORD", fake.password)
    monkeypatch.setenv("ODOO_CATEGORY_ID", "4")
    monkeypatch.setenv("ODOO_TIMEOUT", "0.5")
    settings.reset()
    yield fake
    fake.stop()


def test_given_odoo_when_discovering_then_products_of_the_category_with_a_reference(api, odoo, user):
    reply = api.call("GET", f"{P}/erp/discovery", token=user["token"])
    assert reply.status == 200 and reply.body["adapter"] == "odoo"
    assert [(p["id"], p["reference"], p["customer"], p["site"], p["area"]) for p in reply.body["items"]] == [
        ("101", "ERP-001", "Golden Crust", "Golden Crust", "Flour Store"),
        ("102", "ERP-010", "Golden Crust", "Golden Crust", "Loading Bay"),
        ("103", "ACME-05", "Acme", "Acme", "Yard"),
        ("107", "SOLO-1", "Standalone", "Standalone", "Standalone"),
    ]
    assert all(p["source"] == "odoo" for p in reply.body["items"])
    assert ("authenticate", odoo.database, odoo.username) in odoo.calls


def test_given_odoo_when_mapping_and_syncing_then_the_same_rules_apply(api, odoo, microshare, user):
    mapping = api.call("GET", f"{P}/erp/mapping", token=user["token"]).body
    assert (mapping["total_points"], mapping["mapped"], mapping["coverage_percent"]) == (4, 1, 25.0)
    sync = api.call("POST", f"{P}/erp/sync", token=user["token"]).body
    assert sync["created"] == 2 and sync["skipped"] == 1  # SOLO-1: no cluster serves "Standalone"
    assert "erp-sync-103" in [d["guid"] for d in microshare.devices_in("trap-acme")]
    assert api.call("POST", f"{P}/erp/sync", token=user["token"]).body["created"] == 0


def test_given_many_products_when_reading_odoo_then_all_pages_are_read(api, odoo, user, monkeypatch):
    from fleetgate.microshare import erp

    monkeypatch.setattr(erp, "ODOO_PAGE", 2)
    reply = api.call("GET", f"{P}/erp/discovery", token=user["token"])
    assert reply.body["count"] == 4
    assert [c for c in odoo.calls if c[0] == "execute_kw"] == [("execute_kw", "product.product", "search_read")] * 3


def test_given_odoo_when_asking_erp_status_then_connected_with_a_count(api, odoo, user):
    reply = api.call("GET", f"{P}/erp/status", token=user["token"])
    assert reply.body == {
        "adapter": "odoo",
        "configured": True,
        "connected": True,
        "inspection_points": 4,
        "last_upload_at": None,
        "error": None,
    }


def test_given_wrong_odoo_password_when_reading_then_502_and_status_says_so(api, odoo, user, monkeypatch):
    monkeypatch.setenv("ODOO_PASSWORD", "wrong")
    settings.reset()
    reply = api.call("GET", f"{P}/erp/discovery", token=user["token"])
    assert (reply.status, reply.body) == (502, {"detail": "Odoo rejected the configured credentials"})
    status = api.call("GET", f"{P}/erp/status", token=user["token"]).body
    assert (status["connected"], status["error"]) == (False, "Odoo rejected the configured credentials")


def test_given_odoo_down_slow_or_unconfigured_when_reading_then_502_504_500(api, odoo, user, monkeypatch):
    monkeypatch.setenv("ODOO_URL", f"http://127.0.0.1:{_closed_port()}")
    settings.reset()
    down = api.call("GET", f"{P}/erp/mapping", token=user["token"])
    assert (down.status, down.body) == (502, {"detail": "Could not connect to Odoo"})

    monkeypatch.setenv("ODOO_URL", odoo.url)
    settings.reset()
    odoo.delay = 1.0
    slow = api.call("GET", f"{P}/erp/unmapped", token=user["token"])
    assert (slow.status, slow.body) == (504, {"detail": "Odoo did not respond in time"})
    odoo.delay = 0

    monkeypatch.setenv("ODOO_DATABASE", "")
    settings.reset()
    missing = api.call("GET", f"{P}/erp/discovery", token=user["token"])
    assert (missing.status, missing.body) == (500, {"detail": "Odoo database is not configured"})


def test_given_unknown_adapter_when_reading_then_500(api, microshare, user, monkeypatch):
    monkeypatch.setenv("ERP_ADAPTER", "sap")
    settings.reset()
    reply = api.call("GET", f"{P}/erp/discovery", token=user["token"])
    assert (reply.status, reply.body) == (500, {"detail": "ERP_ADAPTER must be upload or odoo, not 'sap'"})
