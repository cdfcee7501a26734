"""Mobile app routes (../shared/specs/mobile-app-api.md): residents log in with their phone number and see their
units' meters, readings, wallet and transactions. Only mobile tokens: a device-manager token is 401 here."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from fleetgate.core.api import ErrorStyle, make_resolver
from fleetgate.core.auth import principal_from_headers
from fleetgate.core.observability import http_handler
from fleetgate.estates.mobile_schemas import (
    ChangePasswordRequest,
    ChangePasswordResponse,
    LoginRequest,
    LoginResponse,
    MeterResponse,
    MetersResponse,
    ReadingsResponse,
    TransactionsResponse,
    UnitsResponse,
    UserResponse,
    WalletResponse,
)
from fleetgate.estates.schemas import (
    error_responses,
)
from fleetgate.estates.service import accounts, resident

app = make_resolver(
    ErrorStyle.MOBILE,
    authenticate=principal_from_headers,
    public_paths=["/api/mobile/auth/login"],
    accept_audience=accounts.AUDIENCE,
    only_audience=True,
)

TAGS = ["Mobile"]
READ = error_responses(400, 401, 403, 404)
Days = Annotated[int, Query(ge=1, le=3650, description="Days of history (default 30)")]
ReadingsLimit = Annotated[
    int, Query(ge=1, description=f"Most readings returned (default 100, capped at {resident.MAX_READINGS})")
]
TransactionsLimit = Annotated[
    int, Query(ge=1, description=f"Most transactions returned (default 50, capped at {resident.MAX_TRANSACTIONS})")
]
TransactionType = Annotated[Literal["credit", "debit"] | None, Query(alias="type", description="credit or debit only")]


@app.post(
    "/api/mobile/auth/login",
    tags=TAGS,
    summary="Log in with a phone number and password",
    responses=error_responses(400, 401, 403, 429),
)
def login(payload: LoginRequest) -> LoginResponse:
    return accounts.login(payload)


@app.post(
    "/api/mobile/auth/change-password",
    tags=TAGS,
    summary="Change the password (ends the temporary password and every earlier token)",
    responses=error_responses(400, 401, 403),
)
def change_password(payload: ChangePasswordRequest) -> ChangePasswordResponse:
    return accounts.change_password(app.principal, payload)


@app.get("/api/mobile/auth/user", tags=TAGS, summary="The current user and person", responses=error_responses(401, 403))
def current_user() -> UserResponse:
    return accounts.profile(app.principal)


@app.get(
    "/api/mobile/auth/units", tags=TAGS, summary="The units the user owns or rents", responses=error_responses(401, 403)
)
def user_units() -> UnitsResponse:
    return accounts.units(app.principal)


@app.get("/api/mobile/units/<unit_id>/meters", tags=TAGS, summary="A unit's meters", responses=READ)
def unit_meters(unit_id: int) -> MetersResponse:
    return resident.unit_meters(app.principal, unit_id)


@app.get("/api/mobile/meters/<meter_id>", tags=TAGS, summary="A meter", responses=READ)
def meter(meter_id: int) -> MeterResponse:
    return resident.meter(app.principal, meter_id)


@app.get(
    "/api/mobile/meters/<meter_id>/readings",
    tags=TAGS,
    summary="A meter's readings with consumption and cost, newest first",
    responses=READ,
)
def meter_readings(meter_id: int, days: Days = 30, limit: ReadingsLimit = 100) -> ReadingsResponse:
    return resident.readings(app.principal, meter_id, days=days, limit=limit)


@app.get("/api/mobile/units/<unit_id>/wallet", tags=TAGS, summary="A unit's wallet and balance", responses=READ)
def unit_wallet(unit_id: int) -> WalletResponse:
    return resident.wallet(app.principal, unit_id)


@app.get(
    "/api/mobile/units/<unit_id>/transactions",
    tags=TAGS,
    summary="A unit's wallet transactions, newest first",
    responses=READ,
)
def unit_transactions(
    unit_id: int, days: Days = 30, limit: TransactionsLimit = 50, transaction_type: TransactionType = None
) -> TransactionsResponse:
    return resident.transactions(app.principal, unit_id, days=days, limit=limit, transaction_type=transaction_type)


lambda_handler = http_handler(app.resolve)
