"""The staff portal's billing routes: tariffs, staff-entered readings, wallet top-ups and thresholds (see billing for
the rules: pricing, charging a reading, the wallet's moves)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from fleetgate.core.auth import Principal
from fleetgate.core.ids import iso, now_iso
from fleetgate.estates import repository
from fleetgate.estates.errors import bad_request, conflict, not_found
from fleetgate.estates.portal_schemas import (
    ReadingCreate,
    StaffReading,
    StaffTransaction,
    StaffWallet,
    TariffOut,
    TariffPut,
    TariffSaved,
    TopupCreate,
    WalletSaved,
    WalletUpdate,
)
from fleetgate.estates.records import LedgerEntry, Tariff, Tier
from fleetgate.estates.repository import Retry
from fleetgate.estates.service.billing import FUTURE_TOLERANCE, attempts, busy, cents, moved, pause, record, utc
from fleetgate.estates.service.staff import requires_staff


def _tariff(scope: Literal["estate", "unit"], scope_id: int, utility: str, request: TariffPut) -> Tariff:
    if (request.flat_rate is None) == (request.tiers is None):
        raise bad_request("Invalid tariff", "Give either flat_rate or tiers (not both)")
    tiers = tuple(Tier(t.start, t.to, t.rate) for t in request.tiers or [])
    expected = Decimal(0)
    for n, tier in enumerate(tiers):
        if tier.start != expected:
            raise bad_request("Invalid tariff", f"Tier {n + 1} must start at {expected} (where the previous one ends)")
        if tier.end is None and n != len(tiers) - 1:
            raise bad_request("Invalid tariff", "Only the last tier may have no upper bound (to: null)")
        if tier.end is not None and tier.end <= tier.start:
            raise bad_request("Invalid tariff", f"Tier {n + 1} must end after it starts")
        expected = tier.end if tier.end is not None else expected
    return Tariff(scope, scope_id, utility, request.flat_rate, tiers, now_iso())  # type: ignore[arg-type]


@requires_staff
def set_tariff(
    who: Principal, scope: Literal["estate", "unit"], scope_id: int, utility: str, request: TariffPut
) -> TariffSaved:
    """An estate's tariff for a utility, or a unit's (which overrides its estate's)."""
    tariff = _tariff(scope, scope_id, utility, request)
    if not repository.put_tariff(tariff):
        raise not_found(scope.capitalize(), scope_id)
    return TariffSaved(message="Tariff saved successfully", tariff=TariffOut.of(tariff))


# ---------------------------------------------------------------- readings
@requires_staff
def record_reading(who: Principal, meter_id: int, request: ReadingCreate) -> tuple[StaffReading, bool]:
    """A staff-entered reading; ``(reading, created)``. The same meter and date again is the same reading (200)
    when the value matches, a conflict when it does not."""
    ref = repository.meter_ref(meter_id)
    if ref is None:
        raise not_found("Meter", meter_id)
    now = datetime.now(UTC)
    at = utc(request.reading_date) if request.reading_date is not None else now
    if at > now + FUTURE_TOLERANCE:
        raise bad_request("Invalid reading date", "reading_date cannot be in the future", "reading_date")
    # Dated readings are keyed by their date (entered twice = the same reading); undated ones are always new.
    key = f"staff#{iso(at)}" if request.reading_date is not None else f"staff#{iso(at)}#{uuid.uuid4().hex}"
    reading, created = record(ref, request.reading_value, iso(at), key)
    if not created and reading.reading_value != request.reading_value:
        raise conflict(
            "Reading exists",
            f"Meter {meter_id} already has a reading of {reading.reading_value} at {reading.reading_date[:19]}",
        )
    return StaffReading.of(reading), created


# ---------------------------------------------------------------- the wallet
@requires_staff
def top_up(who: Principal, unit_id: int, request: TopupCreate) -> tuple[StaffTransaction, bool]:
    """Credit the wallet: ``(transaction, created)``. The same reference again answers the first transaction and
    credits nothing."""
    amount = cents(request.amount)
    transaction_id = repository.next_ids("transaction")["transaction"]  # before the wallet is read: see _record
    for attempt in attempts():
        wallet = repository.get_wallet(unit_id)
        if wallet is None:
            raise not_found("Unit", unit_id)
        now = now_iso()
        after = moved(wallet, amount, now)
        entry = LedgerEntry(
            id=transaction_id,
            unit_id=unit_id,
            transaction_type="credit",
            amount_cents=amount,
            description=request.description or "Wallet top-up",
            transaction_date=now,
            balance_after_cents=after.balance_cents,
            reference=request.reference,
        )
        try:
            failed = repository.credit((wallet, after), entry)
        except Retry:
            pause(attempt)
            continue
        if failed:
            first = repository.topup_entry(unit_id, request.reference)
            if first is None:  # pragma: no cover - a reference's claim is never deleted
                raise conflict("Reference used", f"Reference {request.reference} was used already")
            return StaffTransaction.of(first), False
        return StaffTransaction.of(entry), True
    raise busy()


@requires_staff
def set_low_balance_threshold(who: Principal, unit_id: int, request: WalletUpdate) -> WalletSaved:
    wallet = repository.set_low_balance_threshold(unit_id, cents(request.low_balance_threshold))
    if wallet is None:
        raise not_found("Unit", unit_id)
    return WalletSaved(message="Wallet updated successfully", wallet=StaffWallet.of(wallet))
