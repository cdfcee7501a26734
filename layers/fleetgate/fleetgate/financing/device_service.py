"""The customer-device routes: the phone registers its FCM token (and PIN, location), answers lock commands,
reads its status and reports its location. No JWT: the phone is known by its IMEI.

Every call counts against two rate limits first (per source address, then per IMEI), so the routes cannot be
used to enumerate IMEIs or flood the tables. The PIN is stored as an argon2id hash and never returned.
"""

from __future__ import annotations

from fleetgate.core.ids import iso, utc_now
from fleetgate.core.secrets import hash_secret
from fleetgate.financing import commands, repository, settings
from fleetgate.financing.customers import Customer
from fleetgate.financing.device_schemas import (
    FcmTokenData,
    FcmTokenRequest,
    LocationData,
    LocationRequest,
    LocationUpdated,
    LockResponseData,
    LockResponseRequest,
    StatusData,
)
from fleetgate.financing.errors import CustomerNotFound, LocationNotFound, invalid_imei
from fleetgate.financing.schemas import IMEI_PATTERN, Location
from fleetgate.ratelimit import service as ratelimit

RATE_LIMITED = "Too many requests, please try again later."  # express-rate-limit's message, as the sample's


def _limit(source_ip: str, imei: str) -> None:
    """Count the call against the source address's limit, then (a well-formed IMEI: path IMEIs are checked here,
    after the address counted) against the IMEI's. A 429 past either."""
    cfg = settings.device_limits()
    per_ip = ratelimit.Limit("customer-device:ip", cfg.per_ip, cfg.window_seconds)
    ratelimit.hit(per_ip, source_ip, message=RATE_LIMITED)
    if not IMEI_PATTERN.match(imei):
        raise invalid_imei()
    per_imei = ratelimit.Limit("customer-device:imei", cfg.per_imei, cfg.window_seconds)
    ratelimit.hit(per_imei, imei, message=RATE_LIMITED)


def _customer(imei: str) -> Customer:
    customer_id = repository.customer_id_for(imei)
    customer = repository.get(customer_id) if customer_id else None
    if customer is None:
        raise CustomerNotFound()
    return customer


def register_token(request: FcmTokenRequest, source_ip: str) -> FcmTokenData:
    _limit(source_ip, request.imei1)
    customer = _customer(request.imei1)
    now = utc_now()
    at = iso(now)
    pin_hash = hash_secret(request.device_pin) if request.device_pin else None
    where = (request.latitude, request.longitude) if request.latitude is not None else None
    if not repository.register_device(
        customer.id,
        fcm_token=request.fcm_token,
        pin_hash=pin_hash,
        location=where,  # type: ignore[arg-type]
        at=at,
    ):
        raise CustomerNotFound()
    commands.token_registered(customer, request.fcm_token, now)
    location = (
        Location(latitude=where[0], longitude=where[1], last_updated=at) if where else customer.location()  # type: ignore[arg-type]
    )
    return FcmTokenData(
        customer_id=customer.id,
        customer_name=customer.full_name,
        is_locked=customer.is_locked,
        location=location,
        updated_at=at,
    )


def lock_response(request: LockResponseRequest, source_ip: str) -> LockResponseData:
    _limit(source_ip, request.imei1)
    customer = _customer(request.imei1)
    processed = commands.record_response(
        customer, request.action, request.lock_success, request.error_message, utc_now()
    )
    locked = request.action == "LOCK_DEVICE" if processed and request.lock_success else customer.is_locked
    return LockResponseData(
        customer_id=customer.id,
        customer_name=customer.full_name,
        current_lock_status=locked,
        response_processed=processed,
    )


def status(imei: str, source_ip: str) -> StatusData:
    _limit(source_ip, imei)
    customer = _customer(imei)
    pending = len(customer.overdue(utc_now().date()))
    return StatusData(
        customer_id=customer.id,
        customer_name=customer.full_name,
        mobile_number=customer.mobile_number,
        is_locked=customer.is_locked,
        has_pending_emis=pending > 0,
        pending_emi_count=pending,
        registered_at=customer.created_at,
        last_updated=customer.updated_at,
    )


def location(imei: str, source_ip: str) -> LocationData:
    _limit(source_ip, imei)
    customer = _customer(imei)
    where = customer.location()
    if where is None:
        raise LocationNotFound()
    return LocationData(
        customer_id=customer.id,
        customer_name=customer.full_name,
        mobile_number=customer.mobile_number,
        location=where,
    )


def update_location(request: LocationRequest, source_ip: str) -> LocationUpdated:
    _limit(source_ip, request.imei1)
    customer_id = repository.customer_id_for(request.imei1)
    at = iso(utc_now())
    customer = repository.set_location(customer_id, request.latitude, request.longitude, at) if customer_id else None
    if customer is None:
        raise CustomerNotFound()
    return LocationUpdated(
        customer_id=customer.id,
        customer_name=customer.full_name,
        location=Location(latitude=request.latitude, longitude=request.longitude, last_updated=at),
    )
