"""Billing: tariffs, readings with their consumption and cost, the wallet's debits and top-ups, low-balance alerts.

- A reading is priced with the unit's tariff for its utility, else the estate's: flat, or progressive tiers over
  the consumption since the meter's previous reading; then the estate's markup for that utility; rounded to
  cents (half up). A meter's first reading is its baseline (consumption 0, cost 0); a reading lower than the
  previous one (meter replaced, rolled over) is stored, flagged ``lower_than_previous`` and not charged, and
  becomes the position the next reading counts from. Without a tariff a reading is stored, not charged.
- Recording a reading that costs something is ONE DynamoDB transaction: the reading, the meter's new position,
  the wallet's balance and the debit with its ``balance_after`` (see the repository). Each write is conditioned
  on what it read, so concurrent readings and top-ups of one wallet retry from a fresh read instead of losing
  an update; the same reading twice (same key) fails on its key and charges nothing.
- Balances may go negative. A debit that takes the balance below the wallet's threshold alerts the unit's
  residents once; a credit that brings it back to the threshold or above re-arms the alert.
- Readings come from staff (``billing_staff.record_reading``) or from the device platform: ``record_device_reading``
  is what the flow engine's ``meter`` node calls with a run id + node id as the idempotency key.

The staff routes (tariffs, staff readings, top-ups, thresholds) are in ``billing_staff``, with the portal's schemas:
the flow worker imports this module and none of them.
"""

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from fleetgate.core.ids import iso, normalize_dev_eui, now_iso
from fleetgate.estates import repository
from fleetgate.estates.errors import NoMeterLinked, NotANumber, conflict, not_found
from fleetgate.estates.records import LedgerEntry, Meter, MeterRef, Reading, Tariff, Unit, Wallet, today
from fleetgate.estates.repository import Retry
from fleetgate.estates.service import notifier

RETRY_SECONDS = 8.0  # a write of a wallet or meter that lost a race is retried from a fresh read for this long
CENT = Decimal("0.01")
MAX_READING = Decimal(10**12)
FUTURE_TOLERANCE = timedelta(minutes=5)


# ---------------------------------------------------------------- money and pricing
def cents(amount: Decimal) -> int:
    return int((amount / CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def price(consumption: Decimal, tariff: Tariff, markup_percent: Decimal) -> int:
    """What ``consumption`` costs, in cents: flat rate or progressive tiers, plus the markup, rounded half up."""
    if tariff.tiers:
        base = sum(
            (max(Decimal(0), min(consumption, t.end if t.end is not None else consumption) - t.start) * t.rate)
            for t in tariff.tiers
        )
        last = tariff.tiers[-1]
        if last.end is not None and consumption > last.end:  # beyond a bounded last tier: still its rate
            base += (consumption - last.end) * last.rate
    else:
        base = consumption * (tariff.flat_rate or Decimal(0))
    return cents(Decimal(base) * (1 + markup_percent / 100))


# ---------------------------------------------------------------- readings
class RecordedReading(NamedTuple):
    """What recording a device's reading did (for the flow engine's trace). A NamedTuple, not a frozen dataclass
    (cheaper to define at import): the trace takes ``as_dict()``, never the tuple itself."""

    reading_id: int
    meter_id: int
    unit_id: int
    reading_value: float
    consumption: float
    cost: float
    status: str  # baseline | charged | lower_than_previous | no_tariff
    transaction_id: int | None
    duplicate: bool  # this key was recorded before: nothing was written or charged this time

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


def record_device_reading(dev_eui: str, value: Any, reading_key: str, at: datetime | str) -> RecordedReading:
    """Record a reading of the meter linked to a device-manager device (the flow engine's ``meter`` node).

    ``reading_key`` is the idempotency key (run id + node id): a re-run with the same key records and charges
    nothing and answers ``duplicate=True``. Raises :class:`NoMeterLinked` when no meter is linked to ``dev_eui``
    and :class:`NotANumber` when ``value`` is not a finite number of at least 0 (a string, a bool, null, ...).
    """
    number = _reading_value(value)
    try:
        eui = normalize_dev_eui(dev_eui)
    except (ValueError, TypeError, AttributeError):
        raise NoMeterLinked(f"No meter is linked to device {dev_eui!r}") from None
    ref = repository.device_ref(eui)
    if ref is None:
        raise NoMeterLinked(f"No meter is linked to device {eui}")
    when = utc(datetime.fromisoformat(at) if isinstance(at, str) else at)
    reading, created = record(ref, number, iso(when), f"flow#{reading_key}")
    return RecordedReading(
        reading_id=reading.id,
        meter_id=reading.meter_id,
        unit_id=reading.unit_id,
        reading_value=float(reading.reading_value),
        consumption=float(reading.consumption),
        cost=reading.cost_cents / 100,
        status=reading.status,
        transaction_id=reading.transaction_id,
        duplicate=not created,
    )


def _reading_value(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise NotANumber(f"The reading must be a number, not {type(value).__name__}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise NotANumber("The reading must be a number") from None
    if not number.is_finite() or number < 0 or number > MAX_READING:
        raise NotANumber(f"The reading must be a finite number from 0 to {MAX_READING}, not {value}")
    exponent = number.as_tuple().exponent
    return number.quantize(Decimal("0.000001")) if isinstance(exponent, int) and exponent < -6 else number


def utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _assess(meter: Meter, value: Decimal) -> tuple[str, Decimal]:
    if meter.current_reading is None:
        return "baseline", Decimal(0)
    if value < meter.current_reading:
        return "lower_than_previous", Decimal(0)
    return "charged", value - meter.current_reading


def record(ref: MeterRef, value: Decimal, at: str, key: str) -> tuple[Reading, bool]:
    """Store, price and charge one reading: ``(reading, created)``; ``created`` is False for a key recorded before.

    Its ids are taken first, and the estate (markup, tariffs) is read once: what happens between reading the wallet
    and committing is as short as it can be (one BatchGetItem, one transaction), so concurrent writers of one
    wallet rarely retry. An uncharged reading leaves its transaction id unused."""
    ids = repository.next_ids("reading", "transaction")
    estate = None
    for attempt in attempts():
        state = repository.meter_state(ref)
        if state is None:
            raise not_found("Meter", ref.meter_id)
        meter = state.meter
        status, consumption = _assess(meter, value)
        cost = 0
        if status == "charged" and consumption > 0:
            estate = estate or repository.estate_view(state.unit.estate_id)
            utility = meter.utility_type
            tariff = state.tariffs.get(utility) or (estate.tariffs.get(utility) if estate else None)
            if tariff is None or estate is None:
                status = "no_tariff"
            else:
                cost = price(consumption, tariff, estate.estate.markup_percent(utility))
        now = now_iso()
        reading = Reading(
            id=ids["reading"],
            meter_id=meter.id,
            unit_id=meter.unit_id,
            key=key,
            reading_value=value,
            reading_date=at,
            consumption=consumption,
            cost_cents=cost,
            status=status,  # type: ignore[arg-type]
            transaction_id=ids["transaction"] if cost > 0 else None,
            created_at=now,
        )
        debit, entry = None, None
        if cost > 0:
            if state.wallet is None:
                raise not_found("Wallet", meter.unit_id)
            debit = (state.wallet, moved(state.wallet, -cost, now))
            entry = LedgerEntry(
                id=ids["transaction"],
                unit_id=meter.unit_id,
                transaction_type="debit",
                amount_cents=cost,
                description=f"{meter.utility_type.capitalize()} usage",
                transaction_date=now,
                balance_after_cents=debit[1].balance_cents,
                reading_id=reading.id,
            )
        try:
            failed = repository.bill(reading, meter, debit, entry)
        except Retry:
            pause(attempt)
            continue
        if "reading" in failed:
            existing = repository.get_reading(meter.id, key)
            if existing is None:  # pragma: no cover - a key's reading is never deleted
                raise conflict("Reading exists", "This reading was recorded already")
            return existing, False
        if debit is not None and debit[1].low_alerted and not debit[0].low_alerted:
            _alert_low_balance(state.unit, debit[1])
        return reading, True
    raise busy()


def attempts() -> Iterator[int]:
    """Attempt numbers until RETRY_SECONDS have passed (at least one). Bounded by time, not count: under heavy
    contention on one wallet every writer gets through, each after a jittered, growing pause."""
    deadline = time.monotonic() + RETRY_SECONDS
    attempt = 0
    while attempt == 0 or time.monotonic() < deadline:
        yield attempt
        attempt += 1


def pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 5)))  # jitter, growing to 64 ms at most


def busy() -> Exception:
    return conflict("Busy", "The wallet is being changed by many requests at once: try again")


def moved(wallet: Wallet, delta_cents: int, now: str) -> Wallet:
    """The wallet after a credit (``delta`` > 0) or debit (< 0). A debit that leaves it below its threshold marks
    the crossing (the alert goes out once); a credit back to the threshold or above re-arms it."""
    balance = wallet.balance_cents + delta_cents
    below = balance < wallet.low_balance_threshold_cents
    low_alerted = (wallet.low_alerted or below) if delta_cents < 0 else (wallet.low_alerted and below)
    return wallet._replace(balance_cents=balance, low_alerted=low_alerted, last_transaction_date=now)


def _alert_low_balance(unit: Unit, wallet: Wallet) -> None:
    """Tell the unit's residents (owners, tenants under an active lease) by the notifier."""
    text = (
        f"Unit {unit.unit_number}: your prepaid balance is R{wallet.balance_cents / 100:.2f}, below "
        f"R{wallet.low_balance_threshold_cents / 100:.2f}. Please top up."
    )
    view = repository.unit_view(unit.id)
    residents = view.residents(today()) if view is not None else []
    for person in repository.get_persons(residents):
        notifier.send_sms(person.id, person.phone, "low_balance", text)
