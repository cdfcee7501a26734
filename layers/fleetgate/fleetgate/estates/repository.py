"""Estates, units, wallets, meters, people, accounts, readings and the ledger in DynamoDB. The only module of this
context that knows DynamoDB.

ESTATES_TABLE, one item kind per ``kind`` (a PynamoDB discriminator), keyed (``pk``, ``sk``):
- ``counters``/``ids``: one attribute per kind of integer id (estate, unit, person, mobile_user, meter, reading,
  transaction). A create takes its ids with ONE UpdateItem (``ADD``, returning the new values): ids are 1, 2, 3 ...
  per kind, unique across instances, far below 2^53 (keys pad them to 12 digits).
- ``estate#<id>``: the estate (``estate``) and its tariffs (``tariff#<utility>``): one Query prices a reading.
- ``unit#<id>``: the unit (``unit``), its wallet (``wallet``), its tariff overrides, its meters (``meter#<id>``),
  owners (``owner#<person>``) and tenants (``tenant#<person>``): ONE Query answers "does this resident have
  access, and what are the unit's meters / wallet", and gives billing the meter, wallet and tariffs at once.
- ``person#<id>``: the person; ``mobile_user#<id>``: their app account.
- claims (``sk = "claim"``), each the key of a unique value and a pointer: ``phone#<E.164>`` (person, account),
  ``unit_number#<estate>#<number>``, ``serial#<serial>``, ``dev_eui#<eui>`` (meter, unit), ``meter#<id>`` (its
  unit), ``topup#<unit>#<reference>`` (the top-up's transaction, for idempotent retries).
- ``notifications#<person>``: what the notifier sent or did not send, newest first, expiring after 90 days.
The sparse GSI ``by_list`` (``list_key``, ``list_sk``) lists estates (``estates``), an estate's units
(``estate#<id>#units``, by unit number) and a person's units (``person#<id>``, owner and tenant items).

METER_READINGS_TABLE: (``meter_id``, ``key``): a reading is keyed by its idempotency key, so a second copy fails
its put; GSI ``by_date`` (``meter_id``, ``date_sk`` = "<reading date>#<id>") lists them newest first.

WALLET_TRANSACTIONS_TABLE: (``unit_id``, ``sk`` = "<date>#<id>"): the ledger, newest first; GSI ``by_type``
(``unit_id``, ``type_sk`` = "<type>#<date>#<id>") lists credits or debits only.

A reading's charge is ONE TransactWriteItems: the reading (absent), the meter's position (``reading_seq`` as
read), the wallet's balance (``version`` as read) and the debit record. A top-up is one too: its reference claim
(absent), the wallet and the credit record. Concurrent writers of one wallet or meter fail their condition and
retry from a fresh read (see billing); the same reading or reference twice fails on its key and charges nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.constants import NUMBER
from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.core.repository import BaseModel, Transaction, get_item, is_conditional_failure, meta
from fleetgate.core.settings import cached, table_name
from fleetgate.estates.records import (
    Estate,
    EstateView,
    LedgerEntry,
    Meter,
    MeterRef,
    MeterState,
    MobileUser,
    Notification,
    Ownership,
    Person,
    PhoneClaim,
    Reading,
    Tariff,
    Tenancy,
    Tier,
    Unit,
    UnitView,
    Wallet,
)

NOTIFICATION_DAYS = 90
CLAIM = "claim"


class Retry(Exception):
    """A write lost a race (another writer changed the wallet or meter first, or DynamoDB cancelled the transaction
    for a conflicting one): read again and retry."""


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB number read back as a Decimal (NumberAttribute's floats would round money and meter values)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


# ---------------------------------------------------------------- item kinds (attributes of each, as mixins)
class _Item(BaseModel):
    class Meta:
        abstract = True

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    list_key = UnicodeAttribute(null=True)  # by_list
    list_sk = UnicodeAttribute(null=True)


class _Stamped:
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class _CounterFields:
    estate = NumberAttribute(null=True)
    unit = NumberAttribute(null=True)
    person = NumberAttribute(null=True)
    mobile_user = NumberAttribute(null=True)
    meter = NumberAttribute(null=True)
    reading = NumberAttribute(null=True)
    transaction = NumberAttribute(null=True)


class _EstateFields(_Stamped):
    id = NumberAttribute()
    name = UnicodeAttribute()
    address = UnicodeAttribute(null=True)
    electricity_markup_percent = DecimalAttribute()
    water_markup_percent = DecimalAttribute()


class _TariffFields:
    scope = UnicodeAttribute()
    scope_id = NumberAttribute()
    utility_type = UnicodeAttribute()
    flat_rate = DecimalAttribute(null=True)
    tiers = JSONAttribute(null=True)  # [{"from": "0", "to": "50" | null, "rate": "1.5"}]
    updated_at = UnicodeAttribute()


class _UnitFields(_Stamped):
    id = NumberAttribute()
    estate_id = NumberAttribute()
    unit_number = UnicodeAttribute()


class _WalletFields:
    unit_id = NumberAttribute()
    balance_cents = NumberAttribute()
    low_balance_threshold_cents = NumberAttribute()
    low_alerted = BooleanAttribute()
    status = UnicodeAttribute()
    version = NumberAttribute()
    last_transaction_date = UnicodeAttribute(null=True)


class _MeterFields(_Stamped):
    id = NumberAttribute()
    unit_id = NumberAttribute()
    serial_number = UnicodeAttribute()
    meter_type = UnicodeAttribute()
    utility_type = UnicodeAttribute()
    device_type = UnicodeAttribute(null=True)
    communication_type = UnicodeAttribute(null=True)
    dev_eui = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    current_reading = DecimalAttribute(null=True)
    last_reading_date = UnicodeAttribute(null=True)
    reading_seq = NumberAttribute()


class _OwnerFields:
    unit_id = NumberAttribute()
    estate_id = NumberAttribute()
    person_id = NumberAttribute()
    ownership_percentage = DecimalAttribute()
    is_primary = BooleanAttribute()
    created_at = UnicodeAttribute()


class _TenantFields:
    unit_id = NumberAttribute()
    estate_id = NumberAttribute()
    person_id = NumberAttribute()
    monthly_rent = DecimalAttribute()
    lease_start_date = UnicodeAttribute()
    lease_end_date = UnicodeAttribute()
    created_at = UnicodeAttribute()
    ended_at = UnicodeAttribute(null=True)


class _PersonFields(_Stamped):
    id = NumberAttribute()
    first_name = UnicodeAttribute()
    last_name = UnicodeAttribute()
    phone = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    mobile_user_id = NumberAttribute(null=True)


class _AccountFields(_Stamped):
    id = NumberAttribute()
    person_id = NumberAttribute()
    phone_number = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    password_must_change = BooleanAttribute()
    is_active = BooleanAttribute()
    token_version = NumberAttribute()
    last_login = UnicodeAttribute(null=True)
    kept_token = UnicodeAttribute(null=True)


class _ClaimFields:
    person_id = NumberAttribute(null=True)
    mobile_user_id = NumberAttribute(null=True)
    unit_id = NumberAttribute(null=True)
    meter_id = NumberAttribute(null=True)
    transaction = JSONAttribute(null=True)  # a top-up's transaction


class _NotificationFields:
    person_id = NumberAttribute()
    notice = UnicodeAttribute()  # temporary_password | low_balance
    phone = UnicodeAttribute()
    status = UnicodeAttribute()
    detail = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute()


class _ReadingItem(BaseModel):
    class Meta:
        abstract = True

    meter_id = NumberAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    date_sk = UnicodeAttribute()  # by_date
    id = NumberAttribute()
    unit_id = NumberAttribute()
    reading_value = DecimalAttribute()
    reading_date = UnicodeAttribute()
    consumption = DecimalAttribute()
    cost_cents = NumberAttribute()
    status = UnicodeAttribute()
    transaction_id = NumberAttribute(null=True)
    created_at = UnicodeAttribute()


class _LedgerItem(BaseModel):
    class Meta:
        abstract = True

    unit_id = NumberAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # "<transaction date>#<id>"
    type_sk = UnicodeAttribute()  # by_type
    id = NumberAttribute()
    transaction_type = UnicodeAttribute()
    amount_cents = NumberAttribute()
    description = UnicodeAttribute()
    transaction_date = UnicodeAttribute()
    balance_after_cents = NumberAttribute()
    reference = UnicodeAttribute(null=True)
    reading_id = NumberAttribute(null=True)


def _index(name: str, hash_attr: str, range_attr: str, hash_type: type[Attribute]) -> GlobalSecondaryIndex:
    attrs: dict[str, Any] = {
        "Meta": type("Meta", (), {"index_name": name, "projection": AllProjection()}),
        hash_attr: hash_type(hash_key=True),
        range_attr: UnicodeAttribute(range_key=True),
    }
    return type(f"{name}_index", (GlobalSecondaryIndex,), attrs)()


class _Models(NamedTuple):
    Item: type[Model]
    Counter: type[Model]
    Estate: type[Model]
    Tariff: type[Model]
    Unit: type[Model]
    Wallet: type[Model]
    Meter: type[Model]
    Owner: type[Model]
    Tenant: type[Model]
    Person: type[Model]
    Account: type[Model]
    Claim: type[Model]
    Notification: type[Model]
    Reading: type[Model]
    Ledger: type[Model]


@cached
def _m() -> _Models:
    """The model classes, built on first use from the table names (one family per settings reset)."""
    Item = type(
        "EstateItem",
        (_Item,),
        {
            "Meta": meta(table_name("ESTATES_TABLE")),
            "kind": DiscriminatorAttribute(),
            "by_list": _index("by_list", "list_key", "list_sk", UnicodeAttribute),
        },
    )

    def kind(name: str, fields: type, discriminator: str) -> type[Model]:
        return type(name, (Item, fields), {}, discriminator=discriminator)  # type: ignore[call-arg]

    return _Models(
        Item=Item,
        Counter=kind("CounterItem", _CounterFields, "counter"),
        Estate=kind("EstateRecordItem", _EstateFields, "estate"),
        Tariff=kind("TariffItem", _TariffFields, "tariff"),
        Unit=kind("UnitItem", _UnitFields, "unit"),
        Wallet=kind("WalletItem", _WalletFields, "wallet"),
        Meter=kind("MeterItem", _MeterFields, "meter"),
        Owner=kind("OwnerItem", _OwnerFields, "owner"),
        Tenant=kind("TenantItem", _TenantFields, "tenant"),
        Person=kind("PersonItem", _PersonFields, "person"),
        Account=kind("AccountItem", _AccountFields, "mobile_user"),
        Claim=kind("ClaimItem", _ClaimFields, "claim"),
        Notification=kind("NotificationItem", _NotificationFields, "notification"),
        Reading=type(
            "ReadingItem",
            (_ReadingItem,),
            {
                "Meta": meta(table_name("METER_READINGS_TABLE")),
                "by_date": _index("by_date", "meter_id", "date_sk", NumberAttribute),
            },
        ),
        Ledger=type(
            "LedgerItem",
            (_LedgerItem,),
            {
                "Meta": meta(table_name("WALLET_TRANSACTIONS_TABLE")),
                "by_type": _index("by_type", "unit_id", "type_sk", NumberAttribute),
            },
        ),
    )


# ---------------------------------------------------------------- keys
def _pad(n: int) -> str:
    return f"{n:012d}"


def estate_pk(estate_id: int) -> str:
    return f"estate#{estate_id}"


def unit_pk(unit_id: int) -> str:
    return f"unit#{unit_id}"


def person_pk(person_id: int) -> str:
    return f"person#{person_id}"


def account_pk(user_id: int) -> str:
    return f"mobile_user#{user_id}"


def _tariff_sk(utility: str) -> str:
    return f"tariff#{utility}"


def _unit_number_claim(estate_id: int, unit_number: str) -> str:
    return f"unit_number#{estate_id}#{unit_number.strip().lower()}"


def _phone_claim(phone: str) -> str:
    return f"phone#{phone}"


def _serial_claim(serial: str) -> str:
    return f"serial#{serial.strip().upper()}"


def _eui_claim(dev_eui: str) -> str:
    return f"dev_eui#{dev_eui}"


def _meter_claim(meter_id: int) -> str:
    return f"meter#{meter_id}"


def _topup_claim(unit_id: int, reference: str) -> str:
    return f"topup#{unit_id}#{reference}"


# ---------------------------------------------------------------- conversions
T = TypeVar("T")


def _as(record: type[T], item: Any) -> T:
    """A record from an item: their field and attribute names are the same (numbers come back as int or Decimal)."""
    return record(**{name: getattr(item, name) for name in record._fields})  # type: ignore[attr-defined]


def _tariff(i: Any) -> Tariff:
    tiers = tuple(
        Tier(Decimal(t["from"]), Decimal(t["to"]) if t["to"] is not None else None, Decimal(t["rate"]))
        for t in (i.tiers or [])
    )
    return Tariff(i.scope, i.scope_id, i.utility_type, i.flat_rate, tiers, i.updated_at)


# ---------------------------------------------------------------- ids
def next_ids(*kinds: str) -> dict[str, int]:
    """One new id of each kind (``estate``, ``unit``, ...), in ONE UpdateItem of the counters item."""
    Counter = _m().Counter
    item = Counter(pk="counters", sk="ids")
    item.update(actions=[getattr(Counter, k).add(1) for k in kinds])
    return {k: int(getattr(item, k)) for k in kinds}


# ---------------------------------------------------------------- transactions
def _run(tx: Transaction) -> set[str]:
    """Commit; the names whose condition failed. A cancellation for a conflicting transaction is :class:`Retry`."""
    try:
        return tx.run()
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if any(r is not None and r.code == "TransactionConflict" for r in reasons):
            raise Retry() from None
        raise


def _new_tx() -> Transaction:
    m = _m()
    for model in (m.Reading, m.Ledger):
        model._get_connection()  # every table of a transaction registered with the shared connection
    return Transaction(m.Item)


# ---------------------------------------------------------------- pages (ascending, by the index's sort key)
def _list_page(key: str, record: type[T], *, limit: int, cursor: str | None) -> Page[T]:
    scope = f"estates:{key}"
    results = _m().Item.by_list.query(
        key, limit=limit, page_size=limit, last_evaluated_key=decode_cursor(cursor, scope)
    )
    items = [_as(record, i) for i in results]
    last = results.last_evaluated_key if len(items) >= limit else None
    return Page(items=items, next_cursor=encode_cursor(last, scope))


# ---------------------------------------------------------------- estates and tariffs
def create_estate(estate: Estate) -> None:
    M = _m().Estate
    M(
        pk=estate_pk(estate.id),
        sk="estate",
        list_key="estates",
        list_sk=_pad(estate.id),
        **estate._asdict(),
    ).save(condition=M.pk.does_not_exist())


def get_estate(estate_id: int) -> Estate | None:
    item = get_item(_m().Estate, estate_pk(estate_id), "estate")
    return _as(Estate, item) if item is not None else None


def estate_view(estate_id: int) -> EstateView | None:
    """The estate and its tariffs: one Query."""
    m = _m()
    estate, tariffs = None, {}
    for item in m.Item.query(estate_pk(estate_id)):
        if isinstance(item, m.Estate):
            estate = _as(Estate, item)
        elif isinstance(item, m.Tariff):
            tariffs[item.utility_type] = _tariff(item)
    return EstateView(estate, tariffs) if estate is not None else None


def list_estates(*, limit: int, cursor: str | None) -> Page[Estate]:
    return _list_page("estates", Estate, limit=limit, cursor=cursor)


def update_estate(estate_id: int, changes: dict[str, Any], updated_at: str) -> Estate | None:
    M = _m().Estate
    item = M(pk=estate_pk(estate_id), sk="estate")
    actions = [getattr(M, k).set(v) if v is not None else getattr(M, k).remove() for k, v in changes.items()]
    try:
        item.update(actions=[*actions, M.updated_at.set(updated_at)], condition=M.pk.exists())
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    return _as(Estate, item)


def estate_has_units(estate_id: int) -> bool:
    return any(True for _ in _m().Item.by_list.query(f"estate#{estate_id}#units", limit=1, page_size=1))


def delete_estate(view: EstateView) -> bool:
    m = _m()
    tx = _new_tx()
    tx.delete("estate", m.Estate(pk=estate_pk(view.estate.id), sk="estate"), condition=m.Estate.pk.exists())
    for utility in view.tariffs:
        tx.delete(f"tariff:{utility}", m.Tariff(pk=estate_pk(view.estate.id), sk=_tariff_sk(utility)))
    return not _run(tx)


def put_tariff(tariff: Tariff) -> bool:
    """Store a tariff of an existing estate or unit (False when it does not exist)."""
    m = _m()
    parent_pk, parent_sk = (
        (estate_pk(tariff.scope_id), "estate") if tariff.scope == "estate" else (unit_pk(tariff.scope_id), "unit")
    )
    tiers = [
        {"from": str(t.start), "to": None if t.end is None else str(t.end), "rate": str(t.rate)} for t in tariff.tiers
    ]
    tx = _new_tx()
    tx.check("parent", m.Item, parent_pk, parent_sk, m.Item.pk.exists())
    tx.save(
        "tariff",
        m.Tariff(
            pk=parent_pk,
            sk=_tariff_sk(tariff.utility_type),
            scope=tariff.scope,
            scope_id=tariff.scope_id,
            utility_type=tariff.utility_type,
            flat_rate=tariff.flat_rate,
            tiers=tiers or None,
            updated_at=tariff.updated_at,
        ),
    )
    return not _run(tx)


# ---------------------------------------------------------------- units and wallets
def _unit_item(unit: Unit) -> Any:
    return _m().Unit(
        pk=unit_pk(unit.id),
        sk="unit",
        list_key=f"estate#{unit.estate_id}#units",
        list_sk=f"{unit.unit_number.lower()}#{_pad(unit.id)}",
        **unit._asdict(),
    )


def create_unit(unit: Unit, wallet: Wallet) -> set[str]:
    """The unit, its wallet and its number's claim; failed names: ``estate`` (missing), ``number`` (taken)."""
    m = _m()
    tx = _new_tx()
    tx.check("estate", m.Item, estate_pk(unit.estate_id), "estate", m.Item.pk.exists())
    tx.save("unit", _unit_item(unit), condition=m.Unit.pk.does_not_exist())
    tx.save("wallet", m.Wallet(pk=unit_pk(unit.id), sk="wallet", **wallet._asdict()))
    tx.save(
        "number",
        m.Claim(pk=_unit_number_claim(unit.estate_id, unit.unit_number), sk=CLAIM, unit_id=unit.id),
        condition=m.Claim.pk.does_not_exist(),
    )
    return _run(tx)


def unit_view(unit_id: int, *, consistent: bool = False) -> UnitView | None:
    """Everything of the unit in ONE Query of its partition; None when there is no such unit."""
    m = _m()
    unit, wallet = None, None
    tariffs: dict[str, Tariff] = {}
    meters, owners, tenants = [], [], []
    for item in m.Item.query(unit_pk(unit_id), consistent_read=consistent):
        if isinstance(item, m.Unit):
            unit = _as(Unit, item)
        elif isinstance(item, m.Wallet):
            wallet = _as(Wallet, item)
        elif isinstance(item, m.Tariff):
            tariffs[item.utility_type] = _tariff(item)
        elif isinstance(item, m.Meter):
            meters.append(_as(Meter, item))
        elif isinstance(item, m.Owner):
            owners.append(_as(Ownership, item))
        elif isinstance(item, m.Tenant):
            tenants.append(_as(Tenancy, item))
    if unit is None:
        return None
    return UnitView(unit, wallet, tariffs, meters, owners, tenants)


def get_unit(unit_id: int) -> Unit | None:
    item = get_item(_m().Unit, unit_pk(unit_id), "unit")
    return _as(Unit, item) if item is not None else None


def list_units(estate_id: int, *, limit: int, cursor: str | None) -> Page[Unit]:
    return _list_page(f"estate#{estate_id}#units", Unit, limit=limit, cursor=cursor)


def renumber_unit(unit: Unit, unit_number: str, updated_at: str) -> tuple[Unit | None, set[str]]:
    """Give the unit a new number, moving its claim when the number changes beyond case. Returns the unit (None
    when gone) and the failed names (``number``: taken)."""
    m = _m()
    renumbered = unit._replace(unit_number=unit_number, updated_at=updated_at)
    target = m.Unit(pk=unit_pk(unit.id), sk="unit")
    actions = [
        m.Unit.unit_number.set(unit_number),
        m.Unit.list_sk.set(_unit_item(renumbered).list_sk),
        m.Unit.updated_at.set(updated_at),
    ]
    old_claim, new_claim = (
        _unit_number_claim(unit.estate_id, unit.unit_number),
        _unit_number_claim(unit.estate_id, unit_number),
    )
    if old_claim == new_claim:
        try:
            target.update(actions=actions, condition=m.Unit.pk.exists())
        except UpdateError as exc:
            if is_conditional_failure(exc):
                return None, set()
            raise
        return renumbered, set()
    tx = _new_tx()
    tx.update("unit", target, actions=actions, condition=m.Unit.pk.exists())
    tx.delete("old_number", m.Claim(pk=old_claim, sk=CLAIM))
    tx.save("number", m.Claim(pk=new_claim, sk=CLAIM, unit_id=unit.id), condition=m.Claim.pk.does_not_exist())
    failed = _run(tx)
    return (None if "unit" in failed else renumbered), failed


def delete_unit(view: UnitView) -> bool:
    """The unit with its wallet (unchanged since read), tariffs, ended tenancies and number claim."""
    m = _m()
    pk = unit_pk(view.unit.id)
    tx = _new_tx()
    tx.delete("unit", m.Unit(pk=pk, sk="unit"), condition=m.Unit.pk.exists())
    if view.wallet is not None:
        tx.delete("wallet", m.Wallet(pk=pk, sk="wallet"), condition=m.Wallet.version == view.wallet.version)
    for utility in view.tariffs:
        tx.delete(f"tariff:{utility}", m.Tariff(pk=pk, sk=_tariff_sk(utility)))
    for tenancy in view.tenants:
        tx.delete(f"tenant:{tenancy.person_id}", m.Tenant(pk=pk, sk=f"tenant#{_pad(tenancy.person_id)}"))
    tx.delete("number", m.Claim(pk=_unit_number_claim(view.unit.estate_id, view.unit.unit_number), sk=CLAIM))
    return not _run(tx)


def get_wallet(unit_id: int) -> Wallet | None:
    item = _consistent(_m().Wallet, unit_pk(unit_id), "wallet")
    return _as(Wallet, item) if item is not None else None


def _consistent(model: type[Model], pk: str, sk: str) -> Any:
    try:
        return model.get(pk, sk, consistent_read=True)
    except model.DoesNotExist:
        return None


def set_low_balance_threshold(unit_id: int, cents: int) -> Wallet | None:
    """Set the threshold and re-arm the alert (the next debit below it alerts); the version moves, so a debit
    that read the old threshold retries with the new one. None when there is no such wallet."""
    M = _m().Wallet
    item = M(pk=unit_pk(unit_id), sk="wallet")
    try:
        item.update(
            actions=[M.low_balance_threshold_cents.set(cents), M.low_alerted.set(False), M.version.add(1)],
            condition=M.pk.exists(),
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    return _as(Wallet, item)


# ---------------------------------------------------------------- people and their app accounts
def create_person(person: Person) -> set[str]:
    """The person and their phone's claim; failed names: ``phone`` (another person has it)."""
    m = _m()
    tx = _new_tx()
    tx.save(
        "person",
        m.Person(pk=person_pk(person.id), sk="person", **person._asdict()),
        condition=m.Person.pk.does_not_exist(),
    )
    tx.save(
        "phone",
        m.Claim(pk=_phone_claim(person.phone), sk=CLAIM, person_id=person.id, mobile_user_id=person.mobile_user_id),
        condition=m.Claim.pk.does_not_exist(),
    )
    return _run(tx)


def get_person(person_id: int) -> Person | None:
    item = _consistent(_m().Person, person_pk(person_id), "person")
    return _as(Person, item) if item is not None else None


def get_persons(person_ids: Iterable[int]) -> list[Person]:
    keys = [(person_pk(pid), "person") for pid in dict.fromkeys(person_ids)]
    return [_as(Person, i) for i in _m().Item.batch_get(keys)] if keys else []


def update_person(person: Person, changes: dict[str, Any], updated_at: str) -> tuple[Person | None, set[str]]:
    """Apply ``changes``; a new phone moves its claim (and the account's phone). Returns the person (None when gone)
    and the failed names (``phone``: taken)."""
    m = _m()
    M = m.Person
    actions = [getattr(M, k).set(v) if v is not None else getattr(M, k).remove() for k, v in changes.items()]
    actions.append(M.updated_at.set(updated_at))
    new_phone = changes.get("phone")
    if new_phone is None or new_phone == person.phone:
        item = M(pk=person_pk(person.id), sk="person")
        try:
            item.update(actions=actions, condition=M.pk.exists())
        except UpdateError as exc:
            if is_conditional_failure(exc):
                return None, set()
            raise
        return _as(Person, item), set()
    tx = _new_tx()
    tx.update("person", M(pk=person_pk(person.id), sk="person"), actions=actions, condition=M.pk.exists())
    tx.delete("old_phone", m.Claim(pk=_phone_claim(person.phone), sk=CLAIM), condition=m.Claim.person_id == person.id)
    tx.save(
        "phone",
        m.Claim(pk=_phone_claim(new_phone), sk=CLAIM, person_id=person.id, mobile_user_id=person.mobile_user_id),
        condition=m.Claim.pk.does_not_exist(),
    )
    if person.mobile_user_id is not None:
        A = m.Account
        tx.update(
            "account",
            A(pk=account_pk(person.mobile_user_id), sk="mobile_user"),
            actions=[A.phone_number.set(new_phone), A.updated_at.set(updated_at)],
            condition=A.pk.exists(),
        )
    failed = _run(tx)
    if failed:
        return (None if failed - {"phone"} else person), failed
    return person._replace(**changes, updated_at=updated_at), set()


def phone_claim(phone: str) -> PhoneClaim | None:
    item = _consistent(_m().Claim, _phone_claim(phone), CLAIM)
    if item is None:
        return None
    user_id = int(item.mobile_user_id) if item.mobile_user_id is not None else None
    return PhoneClaim(phone, int(item.person_id), user_id)


def get_account(user_id: int) -> MobileUser | None:
    item = _consistent(_m().Account, account_pk(user_id), "mobile_user")
    return _as(MobileUser, item) if item is not None else None


def account_and_person(user_id: int, person_id: int) -> tuple[MobileUser | None, Person | None]:
    """Both in ONE BatchGetItem (strongly consistent)."""
    m = _m()
    account, person = None, None
    for item in m.Item.batch_get([(account_pk(user_id), "mobile_user"), (person_pk(person_id), "person")], True):
        if isinstance(item, m.Account):
            account = _as(MobileUser, item)
        elif isinstance(item, m.Person):
            person = _as(Person, item)
    return account, person


def account_and_meter_ref(user_id: int, meter_id: int) -> tuple[MobileUser | None, MeterRef | None]:
    """A resident's account and where a meter is, in ONE BatchGetItem (strongly consistent)."""
    m = _m()
    account, ref = None, None
    for item in m.Item.batch_get([(account_pk(user_id), "mobile_user"), (_meter_claim(meter_id), CLAIM)], True):
        if isinstance(item, m.Account):
            account = _as(MobileUser, item)
        elif isinstance(item, m.Claim):
            ref = MeterRef(meter_id, int(item.unit_id))
    return account, ref


def _account_update(user_id: int, actions: list[Any], condition: Any) -> MobileUser | None:
    A = _m().Account
    item = A(pk=account_pk(user_id), sk="mobile_user")
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    return _as(MobileUser, item)


def record_login(user_id: int, at: str, new_hash: str | None = None) -> MobileUser | None:
    A = _m().Account
    actions = [A.last_login.set(at)] + ([A.password_hash.set(new_hash)] if new_hash else [])
    return _account_update(user_id, actions, A.pk.exists())


def change_password(
    user_id: int, expected_version: int, password_hash: str, at: str, kept_token: str
) -> MobileUser | None:
    """The new hash, no temporary password any more, and the next token version (ending every earlier token but
    ``kept_token``, the one that made the change). None when the account changed since it was read."""
    A = _m().Account
    return _account_update(
        user_id,
        [
            A.password_hash.set(password_hash),
            A.password_must_change.set(False),
            A.token_version.set(expected_version + 1),
            A.kept_token.set(kept_token) if kept_token else A.kept_token.remove(),
            A.updated_at.set(at),
        ],
        A.token_version == expected_version,
    )


def set_account_active(user_id: int, is_active: bool, at: str) -> MobileUser | None:
    A = _m().Account
    return _account_update(user_id, [A.is_active.set(is_active), A.updated_at.set(at)], A.pk.exists())


# ---------------------------------------------------------------- owners and tenants
def _membership_item(membership: Ownership | Tenancy) -> Any:
    m = _m()
    role = "owner" if isinstance(membership, Ownership) else "tenant"
    model = m.Owner if role == "owner" else m.Tenant
    return model(
        pk=unit_pk(membership.unit_id),
        sk=f"{role}#{_pad(membership.person_id)}",
        list_key=person_pk(membership.person_id),
        list_sk=f"{_pad(membership.unit_id)}#{role}",
        **membership._asdict(),
    )


def add_membership(membership: Ownership | Tenancy, person: Person, account: MobileUser | None) -> set[str]:
    """An owner or tenant of an existing unit, with the person's new app account when given. Failed names:
    ``unit`` (gone), ``membership`` (already an owner, or a tenant whose tenancy has not ended), ``person``
    (gone, or another request opened an account first)."""
    m = _m()
    tx = _new_tx()
    tx.check("unit", m.Item, unit_pk(membership.unit_id), "unit", m.Item.pk.exists())
    item = _membership_item(membership)
    fresh = type(item).pk.does_not_exist()
    tx.save(
        "membership", item, condition=fresh if isinstance(membership, Ownership) else fresh | m.Tenant.ended_at.exists()
    )
    if account is None:
        tx.check("person", m.Item, person_pk(person.id), "person", m.Item.pk.exists())
    else:
        tx.save("account", m.Account(pk=account_pk(account.id), sk="mobile_user", **account._asdict()))
        P = m.Person
        tx.update(
            "person",
            P(pk=person_pk(person.id), sk="person"),
            actions=[P.mobile_user_id.set(account.id)],
            condition=P.pk.exists() & P.mobile_user_id.does_not_exist(),
        )
        tx.update(
            "phone",
            m.Claim(pk=_phone_claim(account.phone_number), sk=CLAIM),
            actions=[m.Claim.mobile_user_id.set(account.id)],
            condition=m.Claim.person_id == person.id,
        )
    return _run(tx)


def end_tenancy(unit_id: int, person_id: int, at: str) -> bool:
    T = _m().Tenant
    try:
        T(pk=unit_pk(unit_id), sk=f"tenant#{_pad(person_id)}").update(
            actions=[T.ended_at.set(at)], condition=T.pk.exists() & T.ended_at.does_not_exist()
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def remove_owner(unit_id: int, person_id: int) -> bool:
    O = _m().Owner  # noqa: E741
    try:
        O(pk=unit_pk(unit_id), sk=f"owner#{_pad(person_id)}").delete(condition=O.pk.exists())
    except DeleteError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def memberships_of(person_id: int) -> list[Ownership | Tenancy]:
    """A person's owner and tenant items (every tenancy, ended ones included), by unit."""
    m = _m()
    out: list[Ownership | Tenancy] = []
    for item in m.Item.by_list.query(person_pk(person_id)):
        if isinstance(item, m.Owner):
            out.append(_as(Ownership, item))
        elif isinstance(item, m.Tenant):
            out.append(_as(Tenancy, item))
    return out


def units_and_estates(unit_ids: Sequence[int], estate_ids: Sequence[int]) -> tuple[dict[int, Unit], dict[int, Estate]]:
    """Units and estates by id, in ONE BatchGetItem (per 100 keys)."""
    m = _m()
    keys = [(unit_pk(u), "unit") for u in dict.fromkeys(unit_ids)] + [
        (estate_pk(e), "estate") for e in dict.fromkeys(estate_ids)
    ]
    units, estates = {}, {}
    for item in m.Item.batch_get(keys) if keys else []:
        if isinstance(item, m.Unit):
            units[int(item.id)] = _as(Unit, item)
        elif isinstance(item, m.Estate):
            estates[int(item.id)] = _as(Estate, item)
    return units, estates


# ---------------------------------------------------------------- meters
def _meter_item(meter: Meter) -> Any:
    return _m().Meter(pk=unit_pk(meter.unit_id), sk=f"meter#{_pad(meter.id)}", **meter._asdict())


def create_meter(meter: Meter) -> set[str]:
    """The meter in its unit, where it is (``meter#<id>``) and its unique serial and dev_eui. Failed names:
    ``unit`` (gone), ``serial``, ``dev_eui`` (taken)."""
    m = _m()
    tx = _new_tx()
    tx.check("unit", m.Item, unit_pk(meter.unit_id), "unit", m.Item.pk.exists())
    tx.save("meter", _meter_item(meter), condition=m.Meter.pk.does_not_exist())
    tx.save("ref", m.Claim(pk=_meter_claim(meter.id), sk=CLAIM, unit_id=meter.unit_id))
    tx.save(
        "serial",
        m.Claim(pk=_serial_claim(meter.serial_number), sk=CLAIM, meter_id=meter.id, unit_id=meter.unit_id),
        condition=m.Claim.pk.does_not_exist(),
    )
    if meter.dev_eui:
        tx.save(
            "dev_eui",
            m.Claim(pk=_eui_claim(meter.dev_eui), sk=CLAIM, meter_id=meter.id, unit_id=meter.unit_id),
            condition=m.Claim.pk.does_not_exist(),
        )
    return _run(tx)


def meter_ref(meter_id: int) -> MeterRef | None:
    item = get_item(_m().Claim, _meter_claim(meter_id), CLAIM)
    return MeterRef(meter_id, int(item.unit_id)) if item is not None else None


def device_ref(dev_eui: str) -> MeterRef | None:
    """The meter linked to a device-manager device (by its DevEUI)."""
    item = get_item(_m().Claim, _eui_claim(dev_eui), CLAIM)
    return MeterRef(int(item.meter_id), int(item.unit_id)) if item is not None else None


def meter_state(ref: MeterRef) -> MeterState | None:
    """The unit, meter, wallet and unit tariffs a reading is priced with: ONE BatchGetItem, strongly consistent
    (the meter's position and the wallet's balance are what the billing transaction is conditioned on)."""
    m = _m()
    pk = unit_pk(ref.unit_id)
    keys = [(pk, "unit"), (pk, "wallet"), (pk, f"meter#{_pad(ref.meter_id)}")] + [
        (pk, _tariff_sk(utility)) for utility in ("electricity", "water")
    ]
    unit, meter, wallet, tariffs = None, None, None, {}
    for item in m.Item.batch_get(keys, consistent_read=True):
        if isinstance(item, m.Unit):
            unit = _as(Unit, item)
        elif isinstance(item, m.Meter):
            meter = _as(Meter, item)
        elif isinstance(item, m.Wallet):
            wallet = _as(Wallet, item)
        elif isinstance(item, m.Tariff):
            tariffs[item.utility_type] = _tariff(item)
    if unit is None or meter is None:
        return None
    return MeterState(unit, meter, wallet, tariffs)


def get_meter(ref: MeterRef) -> Meter | None:
    item = _consistent(_m().Meter, unit_pk(ref.unit_id), f"meter#{_pad(ref.meter_id)}")
    return _as(Meter, item) if item is not None else None


def update_meter(meter: Meter, changes: dict[str, Any], updated_at: str) -> tuple[Meter | None, set[str]]:
    """Apply ``changes``; a new serial or dev_eui moves its claim. Returns the meter (None when gone) and the failed
    names (``serial``, ``dev_eui``: taken)."""
    m = _m()
    M = m.Meter
    target = M(pk=unit_pk(meter.unit_id), sk=f"meter#{_pad(meter.id)}")
    actions = [getattr(M, k).set(v) if v is not None else getattr(M, k).remove() for k, v in changes.items()]
    actions.append(M.updated_at.set(updated_at))
    serial = changes.get("serial_number")
    moves_serial = serial is not None and _serial_claim(serial) != _serial_claim(meter.serial_number)
    moves_eui = "dev_eui" in changes and changes["dev_eui"] != meter.dev_eui
    if not (moves_serial or moves_eui):
        try:
            target.update(actions=actions, condition=M.pk.exists())
        except UpdateError as exc:
            if is_conditional_failure(exc):
                return None, set()
            raise
        return _as(Meter, target), set()
    tx = _new_tx()
    tx.update("meter", target, actions=actions, condition=M.pk.exists())
    if moves_serial:
        tx.delete("old_serial", m.Claim(pk=_serial_claim(meter.serial_number), sk=CLAIM))
        tx.save(
            "serial",
            m.Claim(pk=_serial_claim(serial), sk=CLAIM, meter_id=meter.id, unit_id=meter.unit_id),
            condition=m.Claim.pk.does_not_exist(),
        )
    if moves_eui:
        if meter.dev_eui:
            tx.delete("old_dev_eui", m.Claim(pk=_eui_claim(meter.dev_eui), sk=CLAIM))
        if changes["dev_eui"]:
            tx.save(
                "dev_eui",
                m.Claim(pk=_eui_claim(changes["dev_eui"]), sk=CLAIM, meter_id=meter.id, unit_id=meter.unit_id),
                condition=m.Claim.pk.does_not_exist(),
            )
    failed = _run(tx)
    if failed:
        return (None if "meter" in failed else meter), failed
    return meter._replace(**changes, updated_at=updated_at), set()


def delete_meter(meter: Meter) -> bool:
    """The meter and its claims (its readings stay in the readings table, as history)."""
    m = _m()
    tx = _new_tx()
    tx.delete("meter", _meter_item(meter), condition=m.Meter.pk.exists())
    tx.delete("ref", m.Claim(pk=_meter_claim(meter.id), sk=CLAIM))
    tx.delete("serial", m.Claim(pk=_serial_claim(meter.serial_number), sk=CLAIM))
    if meter.dev_eui:
        tx.delete("dev_eui", m.Claim(pk=_eui_claim(meter.dev_eui), sk=CLAIM))
    return not _run(tx)


# ---------------------------------------------------------------- readings, the wallet and its ledger
def _wallet_actions(before: Wallet, after: Wallet) -> list[Any]:
    W = _m().Wallet
    actions = [
        W.balance_cents.set(after.balance_cents),
        W.version.set(before.version + 1),
        W.low_alerted.set(after.low_alerted),
    ]
    if after.last_transaction_date:
        actions.append(W.last_transaction_date.set(after.last_transaction_date))
    return actions


def _ledger_item(entry: LedgerEntry) -> Any:
    sk = f"{entry.transaction_date}#{_pad(entry.id)}"
    return _m().Ledger(sk=sk, type_sk=f"{entry.transaction_type}#{sk}", **entry._asdict())


def bill(reading: Reading, meter: Meter, wallet: tuple[Wallet, Wallet] | None, entry: LedgerEntry | None) -> set[str]:
    """Store a reading, move its meter on and, when it costs something, debit the wallet (``(before, after)``)
    with its ledger entry: ONE TransactWriteItems. Failed names: ``reading`` (this key is recorded already),
    ``meter`` / ``wallet`` (changed since read: :class:`Retry`)."""
    m = _m()
    R, M = m.Reading, m.Meter
    tx = _new_tx()
    tx.save(
        "reading",
        R(date_sk=f"{reading.reading_date}#{_pad(reading.id)}", **reading._asdict()),
        condition=R.key.does_not_exist(),
    )
    tx.update(
        "meter",
        M(pk=unit_pk(meter.unit_id), sk=f"meter#{_pad(meter.id)}"),
        actions=[
            M.current_reading.set(reading.reading_value),
            M.last_reading_date.set(reading.reading_date),
            M.reading_seq.set(meter.reading_seq + 1),
            M.updated_at.set(reading.created_at),
        ],
        condition=M.reading_seq == meter.reading_seq,
    )
    if wallet is not None and entry is not None:
        before, after = wallet
        W = m.Wallet
        tx.update(
            "wallet",
            W(pk=unit_pk(before.unit_id), sk="wallet"),
            actions=_wallet_actions(before, after),
            condition=W.version == before.version,
        )
        tx.save("entry", _ledger_item(entry))
    failed = _run(tx)
    if "reading" not in failed and failed & {"meter", "wallet"}:
        raise Retry()
    return failed


def get_reading(meter_id: int, key: str) -> Reading | None:
    item = _consistent(_m().Reading, meter_id, key)  # type: ignore[arg-type]
    return _as(Reading, item) if item is not None else None


def readings_since(meter_id: int, since: str, *, limit: int) -> list[Reading]:
    """A meter's readings dated ``since`` or later, newest first."""
    R = _m().Reading
    results = R.by_date.query(meter_id, R.date_sk >= since, scan_index_forward=False, limit=limit, page_size=limit)
    return [_as(Reading, i) for i in results]


def credit(wallet: tuple[Wallet, Wallet], entry: LedgerEntry) -> set[str]:
    """A top-up: its reference's claim (holding the entry), the wallet and the ledger entry, in ONE
    TransactWriteItems. Failed names: ``reference`` (used already); a changed wallet is :class:`Retry`."""
    m = _m()
    before, after = wallet
    W = m.Wallet
    tx = _new_tx()
    tx.save(
        "reference",
        m.Claim(pk=_topup_claim(entry.unit_id, entry.reference or ""), sk=CLAIM, transaction=entry._asdict()),
        condition=m.Claim.pk.does_not_exist(),
    )
    tx.update(
        "wallet",
        W(pk=unit_pk(before.unit_id), sk="wallet"),
        actions=_wallet_actions(before, after),
        condition=W.version == before.version,
    )
    tx.save("entry", _ledger_item(entry))
    failed = _run(tx)
    if "wallet" in failed and "reference" not in failed:
        raise Retry()
    return failed


def topup_entry(unit_id: int, reference: str) -> LedgerEntry | None:
    item = _consistent(_m().Claim, _topup_claim(unit_id, reference), CLAIM)
    return LedgerEntry(**item.transaction) if item is not None and item.transaction else None


def ledger_since(unit_id: int, since: str, *, limit: int, transaction_type: str | None = None) -> list[LedgerEntry]:
    """A wallet's transactions dated ``since`` or later, newest first; of one type through ``by_type``."""
    L = _m().Ledger
    if transaction_type:
        results = L.by_type.query(
            unit_id,
            L.type_sk.between(f"{transaction_type}#{since}", f"{transaction_type}#~"),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
        )
    else:
        results = L.query(unit_id, L.sk >= since, scan_index_forward=False, limit=limit, page_size=limit)
    return [_as(LedgerEntry, i) for i in results]


# ---------------------------------------------------------------- notifications
def put_notification(notification: Notification) -> None:
    m = _m()
    at = datetime.now(UTC)
    m.Notification(
        pk=f"notifications#{notification.person_id}",
        sk=f"{notification.created_at}#{at.strftime('%f')}",
        person_id=notification.person_id,
        notice=notification.kind,
        phone=notification.phone,
        status=notification.status,
        detail=notification.detail,
        created_at=notification.created_at,
        expires_at=at + timedelta(days=NOTIFICATION_DAYS),
    ).save()


def notifications_of(person_id: int, *, limit: int) -> list[Notification]:
    m = _m()
    results = m.Item.query(f"notifications#{person_id}", scan_index_forward=False, limit=limit, page_size=limit)
    return [
        Notification(int(i.person_id), i.notice, i.phone, i.status, i.detail, i.created_at)
        for i in results
        if isinstance(i, m.Notification)
    ]
