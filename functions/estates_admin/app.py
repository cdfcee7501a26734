"""Staff portal routes for prepaid-utility estates (/api/admin): estates, units, people, owners and tenants, meters,
tariffs, readings and wallets. Staff sign in through POST /api/v1/auth/login; every route needs the admin role.
Errors are the mobile family's ``{"error", "message"}``."""

from typing import Literal

from aws_lambda_powertools.event_handler import Response, content_types

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.auth import ADMIN
from fleetgate.core.observability import http_handler
from fleetgate.estates.portal_schemas import (
    EstateCreate,
    EstateCreated,
    EstateDetail,
    EstatesPage,
    EstateUpdate,
    MembershipAdded,
    MeterCreate,
    MeterSaved,
    MeterUpdate,
    MobileUserSaved,
    MobileUserUpdate,
    NotificationsResponse,
    OwnerAdd,
    PersonCreate,
    PersonDetail,
    PersonSaved,
    PersonUpdate,
    ReadingCreate,
    ReadingSaved,
    StaffMeterDetail,
    TariffPut,
    TariffSaved,
    TenantAdd,
    TopupCreate,
    TransactionSaved,
    UnitCreate,
    UnitCreated,
    UnitDetail,
    UnitsPage,
    UnitUpdate,
    WalletSaved,
    WalletUpdate,
)
from fleetgate.estates.schemas import (
    error_responses,
)
from fleetgate.estates.service import billing_staff, portal
from fleetgate.users.authentication import authenticate

app = make_resolver(
    ErrorStyle.MOBILE, authenticate=authenticate, permission=ADMIN
)  # staff: 403 before the body is read

TAGS = ["Admin: estates"]
READ = error_responses(400, 401, 403, 404)
WRITE = error_responses(400, 401, 403, 404, 409)
Utility = Literal["electricity", "water"]


def _created(description: str, *codes: int) -> dict:
    return {201: {"description": description}, **error_responses(*codes)}


def _deleted(*codes: int) -> dict:
    return {204: {"description": "Deleted"}, **error_responses(*codes)}


def _json(status: int, body: object) -> Response:
    return Response(status, content_types.APPLICATION_JSON, body)


# ---------------------------------------------------------------- estates
@app.post(
    "/api/admin/estates", tags=TAGS, summary="Create an estate", responses=_created("Estate created", 400, 401, 403)
)
def create_estate(payload: EstateCreate) -> Response[EstateCreated]:
    return _json(201, portal.create_estate(app.principal, payload))


@app.get("/api/admin/estates", tags=TAGS, summary="List estates", responses=error_responses(400, 401, 403))
def list_estates(limit: Limit = 50, cursor: Cursor = None) -> EstatesPage:
    return portal.list_estates(app.principal, limit=limit, cursor=cursor)


@app.get("/api/admin/estates/<estate_id>", tags=TAGS, summary="An estate and its tariffs", responses=READ)
def get_estate(estate_id: int) -> EstateDetail:
    return portal.get_estate(app.principal, estate_id)


@app.put(
    "/api/admin/estates/<estate_id>", tags=TAGS, summary="Update an estate (markups, name, address)", responses=READ
)
def update_estate(estate_id: int, payload: EstateUpdate) -> EstateCreated:
    return portal.update_estate(app.principal, estate_id, payload)


@app.delete(
    "/api/admin/estates/<estate_id>",
    tags=TAGS,
    summary="Delete an estate without units",
    responses=_deleted(400, 401, 403, 404, 409),
)
def delete_estate(estate_id: int) -> Response[None]:
    portal.delete_estate(app.principal, estate_id)
    return Response(204)


@app.put(
    "/api/admin/estates/<estate_id>/tariffs/<utility_type>",
    tags=TAGS,
    summary="Set an estate's tariff for a utility (flat rate or progressive tiers)",
    responses=READ,
)
def put_estate_tariff(estate_id: int, utility_type: Utility, payload: TariffPut) -> TariffSaved:
    return billing_staff.set_tariff(app.principal, "estate", estate_id, utility_type, payload)


# ---------------------------------------------------------------- units
@app.post(
    "/api/admin/estates/<estate_id>/units",
    tags=TAGS,
    summary="Create a unit (and its wallet, balance 0)",
    responses=_created("Unit created", 400, 401, 403, 404, 409),
)
def create_unit(estate_id: int, payload: UnitCreate) -> Response[UnitCreated]:
    return _json(201, portal.create_unit(app.principal, estate_id, payload))


@app.get("/api/admin/estates/<estate_id>/units", tags=TAGS, summary="An estate's units, by unit number", responses=READ)
def list_units(estate_id: int, limit: Limit = 50, cursor: Cursor = None) -> UnitsPage:
    return portal.list_units(app.principal, estate_id, limit=limit, cursor=cursor)


@app.get(
    "/api/admin/units/<unit_id>",
    tags=TAGS,
    summary="A unit with its wallet, owners, tenants, meters and tariffs",
    responses=READ,
)
def get_unit(unit_id: int) -> UnitDetail:
    return portal.get_unit(app.principal, unit_id)


@app.put("/api/admin/units/<unit_id>", tags=TAGS, summary="Renumber a unit", responses=WRITE)
def update_unit(unit_id: int, payload: UnitUpdate) -> UnitCreated:
    return portal.update_unit(app.principal, unit_id, payload)


@app.delete(
    "/api/admin/units/<unit_id>",
    tags=TAGS,
    summary="Delete a unit without owners, tenants, meters or balance",
    responses=_deleted(400, 401, 403, 404, 409),
)
def delete_unit(unit_id: int) -> Response[None]:
    portal.delete_unit(app.principal, unit_id)
    return Response(204)


@app.put(
    "/api/admin/units/<unit_id>/tariffs/<utility_type>",
    tags=TAGS,
    summary="Override the estate's tariff for one unit",
    responses=READ,
)
def put_unit_tariff(unit_id: int, utility_type: Utility, payload: TariffPut) -> TariffSaved:
    return billing_staff.set_tariff(app.principal, "unit", unit_id, utility_type, payload)


@app.post(
    "/api/admin/units/<unit_id>/owners",
    tags=TAGS,
    summary="Add an owner (opens their app account when they have none)",
    responses=_created("Owner added", 400, 401, 403, 404, 409),
)
def add_owner(unit_id: int, payload: OwnerAdd) -> Response[MembershipAdded]:
    return _json(201, portal.add_owner(app.principal, unit_id, payload))


@app.delete(
    "/api/admin/units/<unit_id>/owners/<person_id>",
    tags=TAGS,
    summary="Remove an owner",
    responses=_deleted(400, 401, 403, 404),
)
def remove_owner(unit_id: int, person_id: int) -> Response[None]:
    portal.remove_owner(app.principal, unit_id, person_id)
    return Response(204)


@app.post(
    "/api/admin/units/<unit_id>/tenants",
    tags=TAGS,
    summary="Add a tenant (opens their app account when they have none)",
    responses=_created("Tenant added", 400, 401, 403, 404, 409),
)
def add_tenant(unit_id: int, payload: TenantAdd) -> Response[MembershipAdded]:
    return _json(201, portal.add_tenant(app.principal, unit_id, payload))


@app.delete(
    "/api/admin/units/<unit_id>/tenants/<person_id>",
    tags=TAGS,
    summary="End a tenancy",
    responses=_deleted(400, 401, 403, 404),
)
def end_tenancy(unit_id: int, person_id: int) -> Response[None]:
    portal.end_tenancy(app.principal, unit_id, person_id)
    return Response(204)


@app.post(
    "/api/admin/units/<unit_id>/meters",
    tags=TAGS,
    summary="Add a meter (dev_eui links it to a device-manager device)",
    responses=_created("Meter created", 400, 401, 403, 404, 409),
)
def create_meter(unit_id: int, payload: MeterCreate) -> Response[MeterSaved]:
    return _json(201, portal.create_meter(app.principal, unit_id, payload))


@app.post(
    "/api/admin/units/<unit_id>/wallet/topups",
    tags=TAGS,
    summary="Top up a unit's wallet (idempotent by reference)",
    responses={
        200: {"description": "This reference was used already: its transaction, nothing credited"},
        **_created("Wallet credited", 400, 401, 403, 404, 409),
    },
)
def top_up(unit_id: int, payload: TopupCreate) -> Response[TransactionSaved]:
    transaction, created = billing_staff.top_up(app.principal, unit_id, payload)
    message = "Wallet topped up successfully" if created else "This reference was used already: nothing credited"
    return _json(201 if created else 200, TransactionSaved(message=message, transaction=transaction))


@app.put(
    "/api/admin/units/<unit_id>/wallet",
    tags=TAGS,
    summary="Set a wallet's low-balance threshold",
    responses=READ,
)
def update_wallet(unit_id: int, payload: WalletUpdate) -> WalletSaved:
    return billing_staff.set_low_balance_threshold(app.principal, unit_id, payload)


# ---------------------------------------------------------------- people and their app accounts
@app.post(
    "/api/admin/persons",
    tags=TAGS,
    summary="Create a person",
    responses=_created("Person created", 400, 401, 403, 409),
)
def create_person(payload: PersonCreate) -> Response[PersonSaved]:
    return _json(201, portal.create_person(app.principal, payload))


@app.get("/api/admin/persons/<person_id>", tags=TAGS, summary="A person", responses=READ)
def get_person(person_id: int) -> PersonDetail:
    return portal.get_person(app.principal, person_id)


@app.put("/api/admin/persons/<person_id>", tags=TAGS, summary="Update a person", responses=WRITE)
def update_person(person_id: int, payload: PersonUpdate) -> PersonSaved:
    return portal.update_person(app.principal, person_id, payload)


@app.get(
    "/api/admin/persons/<person_id>/notifications",
    tags=TAGS,
    summary="What was sent to a person by SMS (or recorded as not sent), newest first",
    responses=READ,
)
def person_notifications(person_id: int, limit: Limit = 50) -> NotificationsResponse:
    return portal.person_notifications(app.principal, person_id, limit=limit)


@app.put(
    "/api/admin/mobile-users/<user_id>",
    tags=TAGS,
    summary="Deactivate or reactivate a resident's app account",
    responses=READ,
)
def update_mobile_user(user_id: int, payload: MobileUserUpdate) -> MobileUserSaved:
    return portal.set_account_active(app.principal, user_id, payload)


# ---------------------------------------------------------------- meters and readings
@app.get("/api/admin/meters/<meter_id>", tags=TAGS, summary="A meter", responses=READ)
def get_meter(meter_id: int) -> StaffMeterDetail:
    return portal.get_meter(app.principal, meter_id)


@app.put("/api/admin/meters/<meter_id>", tags=TAGS, summary="Update a meter", responses=WRITE)
def update_meter(meter_id: int, payload: MeterUpdate) -> MeterSaved:
    return portal.update_meter(app.principal, meter_id, payload)


@app.delete(
    "/api/admin/meters/<meter_id>",
    tags=TAGS,
    summary="Delete a meter (its readings stay as history)",
    responses=_deleted(400, 401, 403, 404),
)
def delete_meter(meter_id: int) -> Response[None]:
    portal.delete_meter(app.principal, meter_id)
    return Response(204)


@app.post(
    "/api/admin/meters/<meter_id>/readings",
    tags=TAGS,
    summary="Record a reading: priced and debited from the unit's wallet",
    responses={
        200: {"description": "This meter has this reading (same date and value) already: nothing charged"},
        **_created("Reading recorded", 400, 401, 403, 404, 409),
    },
)
def record_reading(meter_id: int, payload: ReadingCreate) -> Response[ReadingSaved]:
    reading, created = billing_staff.record_reading(app.principal, meter_id, payload)
    message = "Reading recorded successfully" if created else "This reading was recorded already: nothing charged"
    return _json(201 if created else 200, ReadingSaved(message=message, reading=reading))


lambda_handler = http_handler(app.resolve)
