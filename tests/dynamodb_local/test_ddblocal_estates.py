"""Estates billing on DynamoDB Local (AWS's own engine): the one-transaction debit and credit, exactly once per
reading key and top-up reference, and 200+ concurrent debits and credits of ONE wallet that lose nothing.

Bounded: 50 meters, 220 operations on 8 threads (10-20 s here: DynamoDB Local commits a transaction in 10-25 ms
and one wallet's writes are serial by nature); every write retries for at most billing.RETRY_SECONDS and the test
waits for each operation at most 60 s.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fleetgate.core.auth import Principal
from fleetgate.estates import repository
from fleetgate.estates.portal_schemas import (
    EstateCreate,
    MeterCreate,
    ReadingCreate,
    TariffPut,
    TopupCreate,
    UnitCreate,
)
from fleetgate.estates.service import billing_staff, portal

pytestmark = pytest.mark.dynamodb_local

STAFF = Principal(user_id="staff", role="admin")


def _unit_with_meters(meters: int) -> tuple[int, list[int]]:
    estate = portal.create_estate(STAFF, EstateCreate(name=f"Concurrent {uuid.uuid4().hex[:6]}")).estate.id
    billing_staff.set_tariff(STAFF, "estate", estate, "electricity", TariffPut(flat_rate=Decimal(1)))
    unit = portal.create_unit(STAFF, estate, UnitCreate(unit_number="1")).unit.id
    ids = [
        portal.create_meter(
            STAFF,
            unit,
            MeterCreate(serial_number=f"C-{uuid.uuid4().hex[:10]}", meter_type="prepaid", utility_type="electricity"),
        ).meter.id
        for _ in range(meters)
    ]
    return unit, ids


def _reading(meter: int, value: int, at: datetime) -> tuple:
    return billing_staff.record_reading(STAFF, meter, ReadingCreate(reading_value=Decimal(value), reading_date=at))


def test_given_a_reading_and_a_top_up_when_each_arrives_twice_then_each_is_applied_once(owner):
    unit, [meter] = _unit_with_meters(1)
    at = datetime(2024, 1, 1, tzinfo=UTC)
    _reading(meter, 100, at)

    first, created = _reading(meter, 130, at + timedelta(days=1))
    again, created_again = _reading(meter, 130, at + timedelta(days=1))
    credit, credited = billing_staff.top_up(STAFF, unit, TopupCreate(amount=Decimal("40.5"), reference="R-1"))
    repeat, credited_again = billing_staff.top_up(STAFF, unit, TopupCreate(amount=Decimal("40.5"), reference="R-1"))

    assert (created, created_again, credited, credited_again) == (True, False, True, False)
    assert again == first and repeat == credit
    wallet = repository.get_wallet(unit)
    assert (wallet.balance_cents, wallet.version) == (1050, 2)
    ledger = repository.ledger_since(unit, "2000", limit=10)
    assert [(e.transaction_type, e.amount_cents, e.balance_after_cents) for e in ledger] == [
        ("credit", 4050, 1050),
        ("debit", 3000, -3000),
    ]
    assert [e.id for e in repository.ledger_since(unit, "2000", limit=10, transaction_type="debit")] == [
        first.transaction_id
    ]
    assert [r.reading_value for r in repository.readings_since(meter, "2000", limit=10)] == [130, 100]


def test_given_200_concurrent_debits_and_credits_on_one_wallet_then_the_balance_is_exact_and_the_ledger_sums_to_it(
    owner,
):
    unit, meters = _unit_with_meters(50)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for meter in meters:
        _reading(meter, 1000, base)  # the baselines
    # Two readings per meter (at most two per meter: with a flat rate the charge is then the same in any arrival
    # order), the last ten sent twice; 100 top-ups, the last ten sent twice.
    readings = [(m, 1000 + 3 * (i + 1) + n, base + timedelta(days=1 + n)) for i, m in enumerate(meters) for n in (0, 1)]
    topups = [(Decimal(f"{5 + i % 7}.25"), f"TOP-{i}") for i in range(100)]
    work = [("read", r) for r in readings + readings[-10:]] + [("top", t) for t in topups + topups[-10:]]
    work.sort(key=lambda _: uuid.uuid4())

    def run(item):
        kind, args = item
        if kind == "read":
            return _reading(*args)
        amount, reference = args
        return billing_staff.top_up(STAFF, unit, TopupCreate(amount=amount, reference=reference))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(run, item) for item in work]]

    assert len(work) == 220 and sum(1 for _, created in results if created) == 200  # 20 duplicates: no effect
    credits = sum(int(amount * 100) for amount, _ in topups)
    debits = sum(3 * (i + 1) + 1 for i in range(len(meters))) * 100  # each meter's highest reading minus its baseline
    wallet = repository.get_wallet(unit)
    ledger = repository.ledger_since(unit, "2000", limit=500)
    assert wallet.balance_cents == credits - debits
    assert sum(e.amount_cents if e.transaction_type == "credit" else -e.amount_cents for e in ledger) == (
        wallet.balance_cents
    )
    assert wallet.version == len(ledger)  # every balance change is one ledger entry: no update was lost
    assert len({e.id for e in ledger}) == len(ledger) and sum(e.transaction_type == "credit" for e in ledger) == 100
    # the entries chain from 0 to the final balance: each one starts from a balance another one left (or from 0)
    signed_of = {e.id: e.amount_cents if e.transaction_type == "credit" else -e.amount_cents for e in ledger}
    befores = Counter(e.balance_after_cents - signed_of[e.id] for e in ledger)
    afters = Counter(e.balance_after_cents for e in ledger)
    assert befores == afters - Counter([wallet.balance_cents]) + Counter([0])
    stored = [r for m in meters for r in repository.readings_since(m, "2000", limit=10)]
    assert len(stored) == 150 and len({(r.meter_id, r.key) for r in stored}) == 150
