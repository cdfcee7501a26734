"""What residents see in the app: their units' meters, readings, wallets and transactions.

Every route checks the caller's account (see accounts) and that the caller owns the unit or rents it under an
active lease: someone else's unit is 403, a missing one 404. A unit's meters, wallet and residents come from
ONE Query of its partition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleetgate.core.auth import Principal
from fleetgate.core.ids import iso
from fleetgate.estates import repository
from fleetgate.estates.errors import access_denied, not_found
from fleetgate.estates.mobile_schemas import (
    MeterDetail,
    MeterResponse,
    MetersResponse,
    ReadingsMeter,
    ReadingsResponse,
    TransactionsResponse,
    WalletResponse,
)
from fleetgate.estates.records import Meter, MobileUser, UnitView, today
from fleetgate.estates.schemas import (
    MeterSummary,
    ReadingOut,
    TransactionOut,
    WalletOut,
)
from fleetgate.estates.service import accounts

MAX_READINGS = 500
MAX_TRANSACTIONS = 200


def _since(days: int) -> str:
    return iso(datetime.now(UTC) - timedelta(days=days))


def _resident_unit(account: MobileUser, unit_id: int) -> UnitView:
    view = repository.unit_view(unit_id)
    if view is None:
        raise not_found("Unit", unit_id)
    if account.person_id not in view.residents(today()):
        raise access_denied()
    return view


def _resident_meter(who: Principal, meter_id: int) -> tuple[UnitView, Meter]:
    account, ref = repository.account_and_meter_ref(accounts.account_id(who), meter_id)
    account = accounts.check(who, account)
    if ref is None:
        raise not_found("Meter", meter_id)
    view = _resident_unit(account, ref.unit_id)
    meter = view.meter(meter_id)
    if meter is None:
        raise not_found("Meter", meter_id)
    return view, meter


def unit_meters(who: Principal, unit_id: int) -> MetersResponse:
    view = _resident_unit(accounts.authenticate(who), unit_id)
    return MetersResponse(meters=[MeterSummary.of(m) for m in sorted(view.meters, key=lambda m: m.id)])


def meter(who: Principal, meter_id: int) -> MeterResponse:
    view, found = _resident_meter(who, meter_id)
    return MeterResponse(meter=MeterDetail.of(found, view.unit))


def readings(who: Principal, meter_id: int, *, days: int, limit: int) -> ReadingsResponse:
    """The meter's readings of the last ``days`` days, newest first, at most ``limit`` (capped)."""
    _, found = _resident_meter(who, meter_id)
    items = repository.readings_since(found.id, _since(days), limit=min(limit, MAX_READINGS))
    return ReadingsResponse(
        readings=[ReadingOut.of(r) for r in items],
        meter=ReadingsMeter(id=found.id, serial_number=found.serial_number, utility_type=found.utility_type),
    )


def wallet(who: Principal, unit_id: int) -> WalletResponse:
    view = _resident_unit(accounts.authenticate(who), unit_id)
    if view.wallet is None:
        raise not_found("Wallet", unit_id)
    return WalletResponse(wallet=WalletOut.of(view.wallet))


def transactions(
    who: Principal, unit_id: int, *, days: int, limit: int, transaction_type: str | None
) -> TransactionsResponse:
    """The wallet's transactions of the last ``days`` days, newest first, at most ``limit`` (capped), of one type
    when asked."""
    view = _resident_unit(accounts.authenticate(who), unit_id)
    items = repository.ledger_since(
        view.unit.id, _since(days), limit=min(limit, MAX_TRANSACTIONS), transaction_type=transaction_type
    )
    return TransactionsResponse(transactions=[TransactionOut.of(t) for t in items])
