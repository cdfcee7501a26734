"""The financing tables. The only module of this context that knows DynamoDB.

- **Customers** (``FINANCING_CUSTOMERS_TABLE``, key ``id``): the customer, their instalments, the device's
  registration (FCM token, PIN hash, location), the lock state and the pending command (``cmd_*``: the outbox
  head, one per customer, so a newer command replaces an older one in the same write). Two KEYS_ONLY indexes:
  ``by_kind`` (every customer, newest first, for the staff list) and ``by_next_due``, sparse: only customers
  with an unpaid instalment carry ``due_shard`` and ``next_due`` (its earliest due date), so enforcement finds
  the overdue ones with a Query per shard, never a scan. Location updates touch neither index.
- **IMEIs** (``FINANCING_IMEIS_TABLE``, key ``imei``): one claim per IMEI → customer id, written in the
  customer's transaction, so an IMEI belongs to one customer at most and a phone is found with one GetItem.
- **Command log** (``FINANCING_COMMAND_LOG_TABLE``, key ``(customer_id, sk)``, sk ``"<time>#<random>"``): the
  audit trail, append-only: commands issued, delivery attempts with FCM's answer, lock-responses, commands'
  ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import KeysOnlyProjection
from pynamodb.models import Model

from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    BaseModel,
    Transaction,
    batch_get,
    get_item,
    gsi,
    is_conditional_failure,
    meta,
    query_page,
)
from fleetgate.core.settings import cached, table_name
from fleetgate.financing.customers import Command, Customer, Emi
from fleetgate.financing.schemas import AuditEntry

KIND = "customer"
DUE_SHARDS = 4  # partitions of the by_next_due index (customers spread by id)


class EmiMap(MapAttribute):
    month = UnicodeAttribute()
    due_date = UnicodeAttribute()
    amount = NumberAttribute()
    paid = BooleanAttribute(default=False)
    paid_date = UnicodeAttribute(null=True)


class CustomerItem(BaseModel):
    class Meta:
        abstract = True

    id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    created_key = UnicodeAttribute()  # "<created_at>#<id>"
    full_name = UnicodeAttribute()
    mobile_number = UnicodeAttribute()
    imei1 = UnicodeAttribute()
    imei2 = UnicodeAttribute(null=True)
    emis = ListAttribute(of=EmiMap, default=list)
    due_shard = UnicodeAttribute(null=True)  # sparse index: set only while an instalment is unpaid
    next_due = UnicodeAttribute(null=True)
    is_locked = BooleanAttribute(default=False)
    fcm_token = UnicodeAttribute(null=True)
    pin_hash = UnicodeAttribute(null=True)
    needs_reregistration = BooleanAttribute(default=False)
    latitude = NumberAttribute(null=True)
    longitude = NumberAttribute(null=True)
    location_at = UnicodeAttribute(null=True)
    cmd_id = UnicodeAttribute(null=True)
    cmd_action = UnicodeAttribute(null=True)
    cmd_source = UnicodeAttribute(null=True)
    cmd_created_at = UnicodeAttribute(null=True)
    cmd_expires_at = UnicodeAttribute(null=True)
    cmd_attempts = NumberAttribute(null=True)
    cmd_last_attempt_at = UnicodeAttribute(null=True)
    cmd_last_error = UnicodeAttribute(null=True)
    notified_day = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class ImeiItem(BaseModel):
    class Meta:
        abstract = True

    imei = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()


class LogItem(BaseModel):
    class Meta:
        abstract = True

    customer_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entry = JSONAttribute()


@cached
def _customers() -> type[CustomerItem]:
    return type(
        "FinancingCustomerModel",
        (CustomerItem,),
        {
            "Meta": meta(table_name("FINANCING_CUSTOMERS_TABLE")),
            "by_kind": gsi("by_kind", "kind", "created_key", KeysOnlyProjection)(),
            "by_next_due": gsi("by_next_due", "due_shard", "next_due", KeysOnlyProjection)(),
        },
    )


@cached
def _imeis() -> type[ImeiItem]:
    return type("FinancingImeiModel", (ImeiItem,), {"Meta": meta(table_name("FINANCING_IMEIS_TABLE"))})


@cached
def _log() -> type[LogItem]:
    return type("FinancingLogModel", (LogItem,), {"Meta": meta(table_name("FINANCING_COMMAND_LOG_TABLE"))})


# ------------------------------------------------------------------ conversions
def _shard(customer_id: str) -> str:
    return f"due#{int(customer_id[-2:], 16) % DUE_SHARDS}"


def _emi(item: EmiMap) -> Emi:
    return Emi(
        month=item.month,
        due_date=date.fromisoformat(item.due_date),
        amount=float(item.amount),
        paid=bool(item.paid),
        paid_date=date.fromisoformat(item.paid_date) if item.paid_date else None,
    )


def _emi_map(emi: Emi) -> EmiMap:
    return EmiMap(
        month=emi.month,
        due_date=emi.due_date.isoformat(),
        amount=emi.amount,
        paid=emi.paid,
        paid_date=emi.paid_date.isoformat() if emi.paid_date else None,
    )


def _customer(item: CustomerItem) -> Customer:
    command = None
    if item.cmd_id:
        command = Command(
            id=item.cmd_id,
            action=item.cmd_action,  # type: ignore[arg-type]
            source=item.cmd_source or "staff",
            created_at=item.cmd_created_at or "",
            expires_at=item.cmd_expires_at or "",
            attempts=int(item.cmd_attempts or 0),
            last_attempt_at=item.cmd_last_attempt_at,
            last_error=item.cmd_last_error,
        )
    return Customer(
        id=item.id,
        full_name=item.full_name,
        mobile_number=item.mobile_number,
        imei1=item.imei1,
        imei2=item.imei2,
        emis=tuple(_emi(e) for e in item.emis or []),
        created_at=item.created_at,
        updated_at=item.updated_at,
        is_locked=bool(item.is_locked),
        fcm_token=item.fcm_token,
        pin_hash=item.pin_hash,
        needs_reregistration=bool(item.needs_reregistration),
        latitude=float(item.latitude) if item.latitude is not None else None,
        longitude=float(item.longitude) if item.longitude is not None else None,
        location_at=item.location_at,
        command=command,
        notified_day=item.notified_day,
    )


def _emi_actions(Customers: type[CustomerItem], customer_id: str, emis: Sequence[Emi]) -> list[Any]:
    """Write the instalments and keep the sparse due index in step with them."""
    actions: list[Any] = [Customers.emis.set([_emi_map(e) for e in emis])]
    next_due = min((e.due_date for e in emis if not e.paid), default=None)
    if next_due is None:
        actions += [Customers.due_shard.remove(), Customers.next_due.remove()]
    else:
        actions += [Customers.due_shard.set(_shard(customer_id)), Customers.next_due.set(next_due.isoformat())]
    return actions


def _command_actions(Customers: type[CustomerItem], command: Command | None) -> list[Any]:
    if command is None:
        return [
            getattr(Customers, f"cmd_{n}").remove()
            for n in ("id", "action", "source", "created_at", "expires_at", "attempts", "last_attempt_at", "last_error")
        ]
    return [
        Customers.cmd_id.set(command.id),
        Customers.cmd_action.set(command.action),
        Customers.cmd_source.set(command.source),
        Customers.cmd_created_at.set(command.created_at),
        Customers.cmd_expires_at.set(command.expires_at),
        Customers.cmd_attempts.set(command.attempts),
        Customers.cmd_last_attempt_at.remove(),
        Customers.cmd_last_error.remove(),
    ]


def _update(item: Model, actions: list[Any], condition: Any) -> bool:
    """One conditional UpdateItem; False when the condition failed."""
    try:
        item.update(actions=actions, condition=condition)
    except Exception as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


# ------------------------------------------------------------------ customers
def create(customer: Customer) -> set[str]:
    """Store a new customer with claims on their IMEIs, in one transaction. Returns the IMEIs already held."""
    Customers, Imeis = _customers(), _imeis()
    item = Customers(
        id=customer.id,
        created_key=f"{customer.created_at}#{customer.id}",
        full_name=customer.full_name,
        mobile_number=customer.mobile_number,
        imei1=customer.imei1,
        imei2=customer.imei2,
        emis=[_emi_map(e) for e in customer.emis],
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )
    next_due = customer.next_unpaid_due()
    if next_due is not None:
        item.due_shard, item.next_due = _shard(customer.id), next_due.isoformat()
    tx = Transaction(Customers)
    tx.save("customer", item, condition=Customers.id.does_not_exist())
    for imei in sorted(customer.imeis):
        tx.save(imei, Imeis(imei, customer_id=customer.id), condition=Imeis.imei.does_not_exist())
    return tx.run() - {"customer"}


def get(customer_id: str, *, consistent: bool = False) -> Customer | None:
    Customers = _customers()
    try:
        return _customer(Customers.get(customer_id, consistent_read=consistent))
    except Customers.DoesNotExist:
        return None


def customer_id_for(imei: str) -> str | None:
    claim = get_item(_imeis(), imei)
    return claim.customer_id if claim is not None else None


def get_many(customer_ids: Sequence[str]) -> list[Customer]:
    found = {i.id: _customer(i) for i in batch_get(_customers(), list(dict.fromkeys(customer_ids)))}
    return [found[c] for c in customer_ids if c in found]


def list_page(*, limit: int, cursor: str | None) -> Page[Customer]:
    Customers = _customers()
    keys = query_page(
        Customers.by_kind.query,  # type: ignore[attr-defined]
        lambda m: m.id,
        limit=limit,
        cursor=cursor,
        scope="financing-customers",
        hash_key=KIND,
    )
    return Page(items=get_many(keys.items), next_cursor=keys.next_cursor)


def overdue_ids(today: date) -> list[str]:
    """Customers whose earliest unpaid instalment is due on or before ``today`` (one Query per shard)."""
    Customers = _customers()
    out: list[str] = []
    for shard in range(DUE_SHARDS):
        out.extend(
            m.id
            for m in Customers.by_next_due.query(  # type: ignore[attr-defined]
                f"due#{shard}", Customers.next_due <= today.isoformat()
            )
        )
    return out


def update_profile(current: Customer, updated: Customer) -> set[str] | None:
    """Write name, mobile number, IMEIs and instalments as they are in ``updated``, if nobody changed the customer
    since ``current`` was read. Returns the IMEIs already held by someone else (empty: done), or None when the
    customer changed or vanished meanwhile."""
    Customers, Imeis = _customers(), _imeis()
    item = Customers(current.id)
    actions = [
        Customers.full_name.set(updated.full_name),
        Customers.mobile_number.set(updated.mobile_number),
        Customers.imei1.set(updated.imei1),
        Customers.imei2.set(updated.imei2) if updated.imei2 else Customers.imei2.remove(),
        Customers.updated_at.set(updated.updated_at),
        *_emi_actions(Customers, current.id, updated.emis),
    ]
    unchanged = Customers.updated_at == current.updated_at
    added, removed = updated.imeis - current.imeis, current.imeis - updated.imeis
    if not added and not removed:
        return set() if _update(item, actions, unchanged) else None
    tx = Transaction(Customers)
    tx.update("customer", item, actions, condition=unchanged)
    for imei in sorted(added):
        tx.save(imei, Imeis(imei, customer_id=current.id), condition=Imeis.imei.does_not_exist())
    for imei in sorted(removed):
        tx.delete(f"release {imei}", Imeis(imei), condition=Imeis.customer_id == current.id)
    failed = tx.run()
    if "customer" in failed:
        return None
    return {name for name in failed if not name.startswith("release ")}


def save_emis(current: Customer, emis: Sequence[Emi], updated_at: str) -> bool:
    """Replace the instalments if the customer is unchanged since ``current`` was read (False otherwise)."""
    Customers = _customers()
    actions = [*_emi_actions(Customers, current.id, emis), Customers.updated_at.set(updated_at)]
    return _update(Customers(current.id), actions, Customers.updated_at == current.updated_at)


def delete(customer: Customer) -> None:
    Customers, Imeis = _customers(), _imeis()
    tx = Transaction(Customers)
    tx.delete("customer", Customers(customer.id))
    for imei in sorted(customer.imeis):
        tx.delete(imei, Imeis(imei), condition=Imeis.customer_id == customer.id)
    tx.run()


# ------------------------------------------------------------------ the device's registration
def register_device(
    customer_id: str,
    *,
    fcm_token: str,
    pin_hash: str | None,
    location: tuple[float, float] | None,
    at: str,
) -> bool:
    """Store the device's FCM token (and PIN hash, location when given); False when the customer is gone."""
    Customers = _customers()
    actions = [
        Customers.fcm_token.set(fcm_token),
        Customers.needs_reregistration.set(False),
        Customers.updated_at.set(at),
    ]
    if pin_hash is not None:
        actions.append(Customers.pin_hash.set(pin_hash))
    if location is not None:
        actions += [
            Customers.latitude.set(location[0]),
            Customers.longitude.set(location[1]),
            Customers.location_at.set(at),
        ]
    return _update(Customers(customer_id), actions, Customers.id.exists())


def set_location(customer_id: str, latitude: float, longitude: float, at: str) -> Customer | None:
    """Store the device's location; the customer as stored after it (one UpdateItem), None when gone."""
    Customers = _customers()
    item = Customers(customer_id)
    actions = [Customers.latitude.set(latitude), Customers.longitude.set(longitude), Customers.location_at.set(at)]
    return _customer(item) if _update(item, actions, Customers.id.exists()) else None


def set_lock_state(customer_id: str, *, is_locked: bool, acknowledged: str | None, at: str) -> bool:
    """The phone confirmed a lock or unlock: record it, and end the command it acknowledges (if still pending)."""
    Customers = _customers()
    actions = [Customers.is_locked.set(is_locked), Customers.updated_at.set(at)]
    condition = Customers.id.exists()
    if acknowledged is not None:
        actions += _command_actions(Customers, None)
        condition = condition & (Customers.cmd_id == acknowledged)
    return _update(Customers(customer_id), actions, condition)


# ------------------------------------------------------------------ the pending command (outbox head)
def put_command(customer_id: str, command: Command) -> bool:
    """Make ``command`` the customer's pending command, replacing any older one; False when the customer is gone."""
    Customers = _customers()
    return _update(Customers(customer_id), _command_actions(Customers, command), Customers.id.exists())


def claim_attempt(customer_id: str, command_id: str, attempt: int, at: str) -> bool:
    """Claim send number ``attempt`` of the pending command: only one message (and one copy of it) wins."""
    Customers = _customers()
    condition = (Customers.cmd_id == command_id) & (Customers.cmd_attempts == attempt - 1)
    actions = [
        Customers.cmd_attempts.set(attempt),
        Customers.cmd_last_attempt_at.set(at),
        Customers.cmd_last_error.remove(),
    ]
    return _update(Customers(customer_id), actions, condition)


def release_attempt(customer_id: str, command_id: str, attempt: int) -> None:
    """Undo :func:`claim_attempt` (the next send could not be queued: the message is redelivered and claims again)."""
    Customers = _customers()
    condition = (Customers.cmd_id == command_id) & (Customers.cmd_attempts == attempt)
    _update(Customers(customer_id), [Customers.cmd_attempts.set(attempt - 1)], condition)


def note_attempt_error(customer_id: str, command_id: str, error: str) -> None:
    Customers = _customers()
    _update(Customers(customer_id), [Customers.cmd_last_error.set(error)], Customers.cmd_id == command_id)


def end_command(customer_id: str, command_id: str, *, drop_token: bool = False, at: str) -> bool:
    """End the pending command (failed, expired); ``drop_token``: FCM refused the token, the app must register
    again. False when the command is no longer the pending one."""
    Customers = _customers()
    actions = [*_command_actions(Customers, None), Customers.updated_at.set(at)]
    if drop_token:
        actions += [Customers.fcm_token.remove(), Customers.needs_reregistration.set(True)]
    return _update(Customers(customer_id), actions, Customers.cmd_id == command_id)


def drop_token(customer_id: str, fcm_token: str, at: str) -> bool:
    """FCM refused ``fcm_token`` (for a reminder): forget it, unless the phone registered another meanwhile."""
    Customers = _customers()
    actions = [Customers.fcm_token.remove(), Customers.needs_reregistration.set(True), Customers.updated_at.set(at)]
    return _update(Customers(customer_id), actions, Customers.fcm_token == fcm_token)


def mark_notified(customer_id: str, day: str) -> bool:
    """Claim ``day``'s notice for the customer (at most one per day); False when already claimed."""
    Customers = _customers()
    condition = Customers.id.exists() & (Customers.notified_day.does_not_exist() | (Customers.notified_day != day))
    return _update(Customers(customer_id), [Customers.notified_day.set(day)], condition)


# ------------------------------------------------------------------ the audit trail
def append_log(customer_id: str, entries: Sequence[AuditEntry]) -> None:
    """Append entries (one PutItem, or one BatchWriteItem for several)."""
    Log = _log()
    items = [  # entries written together keep their order (same time, rising index)
        Log(customer_id, f"{e.at}#{i:02d}{secrets.token_hex(4)}", entry=e.model_dump(exclude_none=True))
        for i, e in enumerate(entries)
    ]
    if len(items) == 1:
        items[0].save()
        return
    with Log.batch_write() as batch:
        for item in items:
            batch.save(item)


def log_page(customer_id: str, *, limit: int, cursor: str | None) -> Page[AuditEntry]:
    return query_page(
        _log().query,
        lambda m: AuditEntry.model_validate(m.entry),
        limit=limit,
        cursor=cursor,
        scope=f"financing-log:{customer_id}",
        hash_key=customer_id,
    )
