"""The staff portal: estates, units, people, owners and tenants, meters, app accounts. Every function needs the
admin role.

Adding an owner or a tenant opens the person's app account when they have none: a temporary password, shown
once in the answer and sent by SMS when a provider is configured (see notifier), stored only as a hash.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from fleetgate.core.auth import Principal
from fleetgate.core.ids import now_iso
from fleetgate.core.secrets import hash_secret
from fleetgate.estates import repository
from fleetgate.estates.errors import bad_request, conflict, not_found
from fleetgate.estates.portal_schemas import (
    EstateCreate,
    EstateCreated,
    EstateDetail,
    EstateOut,
    EstatesPage,
    EstateUpdate,
    MembershipAdded,
    MeterCreate,
    MeterSaved,
    MeterUpdate,
    MobileUserCreation,
    MobileUserSaved,
    MobileUserUpdate,
    NotificationOut,
    NotificationsResponse,
    OwnerAdd,
    OwnerOut,
    PersonCreate,
    PersonDetail,
    PersonSaved,
    PersonUpdate,
    StaffMeter,
    StaffMeterDetail,
    StaffMobileUser,
    StaffPerson,
    StaffWallet,
    TariffOut,
    TenantAdd,
    TenantOut,
    UnitCreate,
    UnitCreated,
    UnitDetail,
    UnitOut,
    UnitsPage,
    UnitUpdate,
)
from fleetgate.estates.records import Estate, Meter, MobileUser, Ownership, Person, Tenancy, Unit, Wallet, today
from fleetgate.estates.service import notifier, passwords, phones
from fleetgate.estates.service.staff import requires_staff

DEFAULT_THRESHOLD_CENTS = 0  # a new wallet alerts its residents when its balance goes below zero


def changes(request: BaseModel, required: tuple[str, ...]) -> dict[str, Any]:
    """The fields a partial update sets; null is refused for fields that cannot be empty."""
    out = request.model_dump(exclude_unset=True)
    for name in required:
        if name in out and out[name] is None:
            raise bad_request("Invalid request", f"{name} cannot be null", name)
    return out


# ---------------------------------------------------------------- estates
@requires_staff
def create_estate(who: Principal, request: EstateCreate) -> EstateCreated:
    now = now_iso()
    estate = Estate(id=repository.next_ids("estate")["estate"], created_at=now, updated_at=now, **request.model_dump())
    repository.create_estate(estate)
    return EstateCreated(message="Estate created successfully", estate=EstateOut.of(estate))


@requires_staff
def list_estates(who: Principal, *, limit: int, cursor: str | None) -> EstatesPage:
    page = repository.list_estates(limit=limit, cursor=cursor)
    return EstatesPage(estates=[EstateOut.of(e) for e in page.items], next_cursor=page.next_cursor)


@requires_staff
def get_estate(who: Principal, estate_id: int) -> EstateDetail:
    view = repository.estate_view(estate_id)
    if view is None:
        raise not_found("Estate", estate_id)
    return EstateDetail(estate=EstateOut.of(view.estate), tariffs=[TariffOut.of(t) for t in view.tariffs.values()])


@requires_staff
def update_estate(who: Principal, estate_id: int, request: EstateUpdate) -> EstateCreated:
    wanted = changes(request, ("name", "electricity_markup_percent", "water_markup_percent"))
    estate = repository.update_estate(estate_id, wanted, now_iso())
    if estate is None:
        raise not_found("Estate", estate_id)
    return EstateCreated(message="Estate updated successfully", estate=EstateOut.of(estate))


@requires_staff
def delete_estate(who: Principal, estate_id: int) -> None:
    view = repository.estate_view(estate_id)
    if view is None:
        raise not_found("Estate", estate_id)
    if repository.estate_has_units(estate_id):
        raise conflict("Estate has units", f"Estate {estate_id} still has units: delete them first")
    if not repository.delete_estate(view):
        raise not_found("Estate", estate_id)


# ---------------------------------------------------------------- units
@requires_staff
def create_unit(who: Principal, estate_id: int, request: UnitCreate) -> UnitCreated:
    now = now_iso()
    unit = Unit(repository.next_ids("unit")["unit"], estate_id, request.unit_number, now, now)
    wallet = Wallet(unit.id, 0, DEFAULT_THRESHOLD_CENTS, False, "active", 0, None)
    failed = repository.create_unit(unit, wallet)
    if "estate" in failed:
        raise not_found("Estate", estate_id)
    if failed:
        raise _number_taken(estate_id, request.unit_number)
    return UnitCreated(message="Unit created successfully", unit=UnitOut.of(unit))


def _number_taken(estate_id: int, unit_number: str) -> Exception:
    return conflict("Unit number taken", f"Estate {estate_id} already has a unit {unit_number}")


@requires_staff
def list_units(who: Principal, estate_id: int, *, limit: int, cursor: str | None) -> UnitsPage:
    page = repository.list_units(estate_id, limit=limit, cursor=cursor)
    if not page.items and not cursor and repository.get_estate(estate_id) is None:
        raise not_found("Estate", estate_id)
    return UnitsPage(units=[UnitOut.of(u) for u in page.items], next_cursor=page.next_cursor)


@requires_staff
def get_unit(who: Principal, unit_id: int) -> UnitDetail:
    view = repository.unit_view(unit_id)
    if view is None:
        raise not_found("Unit", unit_id)
    day = today()
    return UnitDetail(
        unit=UnitOut.of(view.unit),
        wallet=StaffWallet.of(view.wallet) if view.wallet else None,
        owners=[OwnerOut.of(o) for o in view.owners],
        tenants=[TenantOut.of(t, day) for t in view.tenants],
        meters=[StaffMeter.of(m) for m in sorted(view.meters, key=lambda m: m.id)],
        tariffs=[TariffOut.of(t) for t in view.tariffs.values()],
    )


@requires_staff
def update_unit(who: Principal, unit_id: int, request: UnitUpdate) -> UnitCreated:
    unit = repository.get_unit(unit_id)
    if unit is None:
        raise not_found("Unit", unit_id)
    if request.unit_number != unit.unit_number:
        renumbered, failed = repository.renumber_unit(unit, request.unit_number, now_iso())
        if "number" in failed:
            raise _number_taken(unit.estate_id, request.unit_number)
        if renumbered is None:
            raise not_found("Unit", unit_id)
        unit = renumbered
    return UnitCreated(message="Unit updated successfully", unit=UnitOut.of(unit))


@requires_staff
def delete_unit(who: Principal, unit_id: int) -> None:
    view = repository.unit_view(unit_id, consistent=True)
    if view is None:
        raise not_found("Unit", unit_id)
    tenants = [t for t in view.tenants if t.status(today()) in ("active", "upcoming")]
    if view.owners or tenants or view.meters:
        raise conflict("Unit in use", f"Unit {unit_id} still has owners, tenants or meters: remove them first")
    if view.wallet is not None and view.wallet.balance_cents != 0:
        raise conflict("Unit in use", f"Unit {unit_id}'s wallet holds a balance: settle it first")
    if not repository.delete_unit(view):
        raise conflict("Unit changed", f"Unit {unit_id} changed meanwhile: try again")


# ---------------------------------------------------------------- people
@requires_staff
def create_person(who: Principal, request: PersonCreate) -> PersonSaved:
    phone = phones.normalize(request.phone, "phone")
    now = now_iso()
    person = Person(
        id=repository.next_ids("person")["person"],
        first_name=request.first_name,
        last_name=request.last_name,
        phone=phone,
        email=request.email,
        mobile_user_id=None,
        created_at=now,
        updated_at=now,
    )
    if repository.create_person(person):
        raise _phone_taken(phone)
    return PersonSaved(message="Person created successfully", person=StaffPerson.of(person))


def _phone_taken(phone: str) -> Exception:
    return conflict("Phone number taken", f"Another person already has the phone number {phone}")


def _person(person_id: int) -> Person:
    person = repository.get_person(person_id)
    if person is None:
        raise not_found("Person", person_id)
    return person


@requires_staff
def get_person(who: Principal, person_id: int) -> PersonDetail:
    return PersonDetail(person=StaffPerson.of(_person(person_id)))


@requires_staff
def update_person(who: Principal, person_id: int, request: PersonUpdate) -> PersonSaved:
    wanted = changes(request, ("first_name", "last_name", "phone"))
    if wanted.get("phone") is not None:
        wanted["phone"] = phones.normalize(wanted["phone"], "phone")
    person = _person(person_id)
    updated, failed = repository.update_person(person, wanted, now_iso())
    if "phone" in failed:
        raise _phone_taken(wanted["phone"])
    if updated is None:
        raise not_found("Person", person_id)
    return PersonSaved(message="Person updated successfully", person=StaffPerson.of(updated))


@requires_staff
def person_notifications(who: Principal, person_id: int, *, limit: int) -> NotificationsResponse:
    found = repository.notifications_of(person_id, limit=limit)
    if not found:
        _person(person_id)  # 404 for nobody; an empty list for someone never notified
    return NotificationsResponse(notifications=[NotificationOut.of(n) for n in found])


# ---------------------------------------------------------------- owners and tenants
@requires_staff
def add_owner(who: Principal, unit_id: int, request: OwnerAdd) -> MembershipAdded:
    view = repository.unit_view(unit_id)
    if view is None:
        raise not_found("Unit", unit_id)
    person = _person(request.person_id)
    if any(o.person_id == person.id for o in view.owners):
        raise conflict("Already an owner", f"Person {person.id} already owns unit {unit_id}")
    total = sum((o.ownership_percentage for o in view.owners), Decimal(0)) + request.ownership_percentage
    if total > 100:
        raise bad_request("Invalid ownership", f"Unit {unit_id}'s ownership would come to {total}%")
    has_primary = any(o.is_primary for o in view.owners)
    is_primary = request.is_primary if request.is_primary is not None else not has_primary
    if is_primary and has_primary:
        raise conflict("Primary owner exists", f"Unit {unit_id} already has a primary owner")
    ownership = Ownership(unit_id, view.unit.estate_id, person.id, request.ownership_percentage, is_primary, now_iso())
    return _add_member(ownership, person, "owner")


@requires_staff
def add_tenant(who: Principal, unit_id: int, request: TenantAdd) -> MembershipAdded:
    if request.lease_end_date < request.lease_start_date:
        raise bad_request("Invalid lease", "lease_end_date cannot be before lease_start_date", "lease_end_date")
    view = repository.unit_view(unit_id)
    if view is None:
        raise not_found("Unit", unit_id)
    person = _person(request.person_id)
    tenancy = Tenancy(
        unit_id=unit_id,
        estate_id=view.unit.estate_id,
        person_id=person.id,
        monthly_rent=request.monthly_rent,
        lease_start_date=request.lease_start_date.isoformat(),
        lease_end_date=request.lease_end_date.isoformat(),
        created_at=now_iso(),
    )
    return _add_member(tenancy, person, "tenant")


def _add_member(membership: Ownership | Tenancy, person: Person, role: str) -> MembershipAdded:
    """Store the owner or tenant, with a new app account when the person has none; then deliver its temporary
    password (SMS, or recorded as not sent)."""
    account, temporary = new_account(person) if person.mobile_user_id is None else (None, None)
    failed = repository.add_membership(membership, person, account)
    if "unit" in failed:
        raise not_found("Unit", membership.unit_id)
    if "membership" in failed:
        raise conflict(f"Already a {role}", f"Person {person.id} is already a {role} of unit {membership.unit_id}")
    if failed:  # the person is gone, or another request opened their account first
        raise conflict("Person changed", f"Person {person.id} changed meanwhile: try again")
    if account is None or temporary is None:
        created = MobileUserCreation(
            mobile_user_created=False,
            phone_number=person.phone,
            temporary_password=None,
            message="This person already has a mobile app account.",
        )
    else:
        sent = notifier.send_sms(
            person.id,
            person.phone,
            "temporary_password",
            f"Your estate app account is ready. Log in with {person.phone} and the temporary password {temporary}, "
            "then choose your own password.",
        )
        message = (
            f"Mobile app account created. The temporary password was sent by SMS to {person.phone}."
            if sent.status == "sent"
            else f"Mobile app account created. Please provide the temporary password to the {role}."
        )
        created = MobileUserCreation(
            mobile_user_created=True, phone_number=person.phone, temporary_password=temporary, message=message
        )
    return MembershipAdded(message=f"{role.capitalize()} added successfully", mobile_user=created)


@requires_staff
def remove_owner(who: Principal, unit_id: int, person_id: int) -> None:
    if not repository.remove_owner(unit_id, person_id):
        raise not_found("Owner", person_id)


@requires_staff
def end_tenancy(who: Principal, unit_id: int, person_id: int) -> None:
    if not repository.end_tenancy(unit_id, person_id, now_iso()):
        raise not_found("Tenancy", person_id)


# ---------------------------------------------------------------- meters
@requires_staff
def create_meter(who: Principal, unit_id: int, request: MeterCreate) -> MeterSaved:
    now = now_iso()
    meter = Meter(
        id=repository.next_ids("meter")["meter"],
        unit_id=unit_id,
        serial_number=request.serial_number,
        meter_type=request.meter_type,
        utility_type=request.utility_type,
        device_type=request.device_type,
        communication_type=request.communication_type,
        dev_eui=request.dev_eui,
        status="active",
        current_reading=None,
        last_reading_date=None,
        reading_seq=0,
        created_at=now,
        updated_at=now,
    )
    failed = repository.create_meter(meter)
    if "unit" in failed:
        raise not_found("Unit", unit_id)
    _raise_if_taken(failed, request.serial_number, request.dev_eui)
    return MeterSaved(message="Meter created successfully", meter=StaffMeter.of(meter))


def _raise_if_taken(failed: set[str], serial: str | None, dev_eui: str | None) -> None:
    if "serial" in failed:
        raise conflict("Serial number taken", f"Another meter has the serial number {serial}")
    if "dev_eui" in failed:
        raise conflict("Device already linked", f"Another meter is linked to device {dev_eui}")


def _meter(meter_id: int) -> Meter:
    ref = repository.meter_ref(meter_id)
    meter = repository.get_meter(ref) if ref is not None else None
    if meter is None:
        raise not_found("Meter", meter_id)
    return meter


@requires_staff
def get_meter(who: Principal, meter_id: int) -> StaffMeterDetail:
    return StaffMeterDetail(meter=StaffMeter.of(_meter(meter_id)))


@requires_staff
def update_meter(who: Principal, meter_id: int, request: MeterUpdate) -> MeterSaved:
    wanted = changes(request, ("serial_number", "meter_type", "status"))
    meter = _meter(meter_id)
    updated, failed = repository.update_meter(meter, wanted, now_iso())
    _raise_if_taken(failed, wanted.get("serial_number"), wanted.get("dev_eui"))
    if updated is None:
        raise not_found("Meter", meter_id)
    return MeterSaved(message="Meter updated successfully", meter=StaffMeter.of(updated))


@requires_staff
def delete_meter(who: Principal, meter_id: int) -> None:
    if not repository.delete_meter(_meter(meter_id)):
        raise not_found("Meter", meter_id)


# ---------------------------------------------------------------- app accounts
@requires_staff
def set_account_active(who: Principal, user_id: int, request: MobileUserUpdate) -> MobileUserSaved:
    account = repository.set_account_active(user_id, request.is_active, now_iso())
    if account is None:
        raise not_found("Mobile user", user_id)
    state = "activated" if account.is_active else "deactivated"
    return MobileUserSaved(message=f"Mobile user {state} successfully", mobile_user=StaffMobileUser.of(account))


def new_account(person: Person) -> tuple[MobileUser, str]:
    """A new account for ``person`` with a temporary password (returned once, stored only as a hash); the caller
    stores it with the owner or tenant it comes with (one transaction)."""
    temporary = passwords.temporary()
    now = now_iso()
    user_id = repository.next_ids("mobile_user")["mobile_user"]
    account = MobileUser(
        id=user_id,
        person_id=person.id,
        phone_number=person.phone,
        password_hash=hash_secret(temporary),
        password_must_change=True,
        is_active=True,
        token_version=0,
        last_login=None,
        created_at=now,
        updated_at=now,
    )
    return account, temporary
