"""The staff routes under /api/admin/customers: customers and their instalments, lock and unlock, the lock state
and each customer's command trail. Admins only (a device-manager login with the admin role)."""

from __future__ import annotations

import re
from datetime import datetime

from fleetgate.core.auth import Principal
from fleetgate.core.errors import Conflict, Forbidden
from fleetgate.core.ids import iso, utc_now
from fleetgate.financing import commands, repository
from fleetgate.financing.customers import Customer, Emi, new_customer_id, pending_view
from fleetgate.financing.errors import (
    CustomerNotFound,
    ImeiTaken,
    InstalmentNotFound,
    InvalidRequest,
    NoFcmToken,
    invalid_customer_id,
)
from fleetgate.financing.schemas import (
    CUSTOMER_ID_PATTERN,
    MONTH_PATTERN,
    CustomerOut,
)
from fleetgate.financing.staff_schemas import (
    AuditPage,
    CustomerCreate,
    CustomerPage,
    CustomerUpdate,
    Deleted,
    Instalment,
    InstalmentUpdate,
    InstalmentUpdated,
    LockCommandIssued,
    LockRequest,
    LockStatus,
)

_MONTH = re.compile(MONTH_PATTERN)


def _admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("Admin access required")


def _get(who: Principal, customer_id: str) -> Customer:
    _admin(who)
    if not CUSTOMER_ID_PATTERN.match(customer_id):
        raise invalid_customer_id()
    customer = repository.get(customer_id, consistent=True)
    if customer is None:
        raise CustomerNotFound(by_imei=False)
    return customer


def _emis(instalments: list[Instalment]) -> tuple[Emi, ...]:
    return tuple(
        Emi(month=i.month, due_date=i.due_date, amount=i.amount, paid=i.paid, paid_date=i.paid_date if i.paid else None)
        for i in instalments
    )


def _settle(customer: Customer, now: datetime) -> Customer:
    """Nothing overdue any more and the phone is locked (or a lock is on its way): issue the unlock. Returns the
    customer as stored after it."""
    if customer.overdue(now.date()):
        return customer
    pending = customer.pending_command(now)
    locking = pending is not None and pending.action == "LOCK_DEVICE"
    unlocking = pending is not None and pending.action == "UNLOCK_DEVICE"
    if locking or (customer.is_locked and not unlocking):
        return customer._replace(command=commands.issue(customer, "UNLOCK_DEVICE", source="payment", now=now))
    return customer


def create(who: Principal, request: CustomerCreate) -> CustomerOut:
    _admin(who)
    now = utc_now()
    at = iso(now)
    customer = Customer(
        id=new_customer_id(),
        full_name=request.full_name.strip(),
        mobile_number=request.mobile_number,
        imei1=request.imei1,
        imei2=request.imei2,
        emis=_emis(request.emi_details.emi_months),
        created_at=at,
        updated_at=at,
    )
    taken = repository.create(customer)
    if taken:
        raise ImeiTaken(
            "IMEI is already registered to another customer", field="imei1" if customer.imei1 in taken else "imei2"
        )
    return customer.view(now)


def list_customers(who: Principal, *, limit: int, cursor: str | None) -> CustomerPage:
    _admin(who)
    now = utc_now()
    page = repository.list_page(limit=limit, cursor=cursor)
    return CustomerPage(items=[c.view(now) for c in page.items], next_cursor=page.next_cursor)


def get(who: Principal, customer_id: str) -> CustomerOut:
    return _get(who, customer_id).view(utc_now())


def update(who: Principal, customer_id: str, request: CustomerUpdate) -> CustomerOut:
    current = _get(who, customer_id)
    now = utc_now()
    given = request.model_fields_set
    updated = current._replace(
        full_name=request.full_name.strip() if request.full_name else current.full_name,
        mobile_number=request.mobile_number or current.mobile_number,
        imei1=request.imei1 or current.imei1,
        imei2=request.imei2 if "imei2" in given else current.imei2,
        emis=_emis(request.emi_details.emi_months) if request.emi_details else current.emis,
        updated_at=iso(now),
    )
    if updated.imei2 is not None and updated.imei2 == updated.imei1:
        raise InvalidRequest("IMEI2 must differ from IMEI1", field="imei2")
    taken = repository.update_profile(current, updated)
    if taken is None:
        raise Conflict("The customer was changed meanwhile: read it again and retry")
    if taken:
        raise ImeiTaken(
            "IMEI is already registered to another customer", field="imei1" if updated.imei1 in taken else "imei2"
        )
    return _settle(updated, now).view(now)


def delete(who: Principal, customer_id: str) -> Deleted:
    """The customer and their IMEI claims go; their command trail stays (an audit record of locks)."""
    repository.delete(_get(who, customer_id))
    return Deleted(customer_id=customer_id)


def set_instalment(who: Principal, customer_id: str, month: str, request: InstalmentUpdate) -> InstalmentUpdated:
    """Mark one instalment paid (``paidDate`` defaults to today) or unpaid. Paying the last overdue one of a
    locked phone issues its unlock."""
    current = _get(who, customer_id)
    if not _MONTH.match(month) or all(e.month != month for e in current.emis):
        raise InstalmentNotFound("No instalment for this month")
    now = utc_now()
    paid_date = (request.paid_date or now.date()) if request.paid else None
    emis = tuple(e._replace(paid=request.paid, paid_date=paid_date) if e.month == month else e for e in current.emis)
    updated = current._replace(emis=emis, updated_at=iso(now))
    if not repository.save_emis(current, emis, updated.updated_at):
        raise Conflict("The customer was changed meanwhile: read it again and retry")
    settled = _settle(updated, now)
    unlock = settled.command.id if settled.command is not None and settled.command is not updated.command else None
    return InstalmentUpdated(customer=settled.view(now), unlock_command_id=unlock)


def lock(who: Principal, customer_id: str, request: LockRequest) -> LockCommandIssued:
    customer = _get(who, customer_id)
    if not customer.fcm_token:
        raise NoFcmToken(
            "Cannot send a lock command: the customer's device has no FCM token",
            extra={
                "reason": "FCM refused the device's last token; the app must register again"
                if customer.needs_reregistration
                else "The device has not registered an FCM token yet (PUT /api/customer/device/fcm-token)"
            },
        )
    action = "LOCK_DEVICE" if request.is_locked else "UNLOCK_DEVICE"
    command = commands.issue(customer, action, source="staff", now=utc_now())
    return LockCommandIssued(
        customer_id=customer.id,
        customer_name=customer.full_name,
        current_lock_status=customer.is_locked,
        requested_lock_status=request.is_locked,
        command_id=command.id,
    )


def lock_status(who: Principal, customer_id: str) -> LockStatus:
    customer = _get(who, customer_id)
    pending = customer.pending_command(utc_now())
    return LockStatus(
        customer_id=customer.id,
        customer_name=customer.full_name,
        mobile_number=customer.mobile_number,
        is_locked=customer.is_locked,
        has_fcm_token=bool(customer.fcm_token),
        pending_command=pending_view(pending) if pending else None,
        last_updated=customer.updated_at,
    )


def command_trail(who: Principal, customer_id: str, *, limit: int, cursor: str | None) -> AuditPage:
    customer = _get(who, customer_id)
    page = repository.log_page(customer.id, limit=limit, cursor=cursor)
    return AuditPage(customer_id=customer.id, items=page.items, next_cursor=page.next_cursor)
