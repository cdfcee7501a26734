"""Residents' app accounts: login, the per-request account check, password changes, opening and (de)activating
accounts. No HTTP here: plain values in, response models or domain errors out.

A mobile token is a JWT of its own family (audience ``mobile``, 30 days), carrying the account id and the
account's token version. Every request reads the account once (one GetItem, strongly consistent): a token of an
earlier version (issued before a password change) is 401, except the one that made the change (the contract's
app goes on with the token it has), and an inactive account is 403.
"""

from __future__ import annotations

from fleetgate.core.auth import Principal, issue_token
from fleetgate.core.errors import TooManyRequests
from fleetgate.core.ids import now_iso
from fleetgate.core.secrets import hash_secret, needs_rehash, verify_secret
from fleetgate.estates import repository
from fleetgate.estates.errors import (
    account_inactive,
    bad_request,
    invalid_credentials,
    invalid_token,
    login_locked,
    missing_fields,
)
from fleetgate.estates.mobile_schemas import (
    ChangePasswordRequest,
    ChangePasswordResponse,
    LoginRequest,
    LoginResponse,
    ResidentUnit,
    UnitsResponse,
    UserResponse,
    resident_unit,
)
from fleetgate.estates.records import MobileUser, Ownership, Tenancy, today
from fleetgate.estates.schemas import (
    LoginUser,
    PersonOut,
    UserProfile,
)
from fleetgate.estates.service import passwords, phones
from fleetgate.estates.settings import MOBILE_TOKEN_TTL_SECONDS, get_estates_settings
from fleetgate.ratelimit import service as ratelimit
from fleetgate.ratelimit.service import Limit

AUDIENCE = "mobile"


def _login_limit() -> Limit:
    settings = get_estates_settings()
    return Limit("mobile-login", settings.login_max_failures, settings.login_lock_seconds)


def _token(account: MobileUser) -> str:
    token, _ = issue_token(
        str(account.id), "user", audience=AUDIENCE, ttl_seconds=MOBILE_TOKEN_TTL_SECONDS, version=account.token_version
    )
    return token


# ---------------------------------------------------------------- login
def login(request: LoginRequest) -> LoginResponse:
    password = request.password.get_secret_value()
    if not request.phone_number.strip() or not password:
        raise missing_fields("phone_number", "password")
    phone = phones.normalize(request.phone_number)
    limit = _login_limit()
    try:
        failures = ratelimit.check(limit, phone)
    except TooManyRequests as exc:
        raise login_locked(exc.retry_after) from None
    claim = repository.phone_claim(phone)
    account, person = (
        repository.account_and_person(claim.mobile_user_id, claim.person_id)
        if claim is not None and claim.mobile_user_id is not None
        else (None, None)
    )
    # Unknown number, no account, or a wrong password: the same answer, at the same cost (one argon2 check).
    valid = verify_secret(account.password_hash if account else None, password)
    if account is None or person is None or not valid:
        _count_failure(limit, phone)
        raise invalid_credentials()
    if not account.is_active:
        raise account_inactive()
    if failures:  # a window without failures has nothing to clear (no DeleteItem on the usual login)
        ratelimit.clear(limit, phone)
    new_hash = hash_secret(password) if needs_rehash(account.password_hash) else None
    account = repository.record_login(account.id, now_iso(), new_hash) or account
    return LoginResponse(
        token=_token(account),
        user=LoginUser.of(account),
        person=PersonOut.of(person),
        units=resident_units(person.id),
        password_must_change=account.password_must_change,
    )


def _count_failure(limit: Limit, phone: str) -> None:
    try:
        ratelimit.hit(limit, phone)
    except TooManyRequests as exc:  # failures raced past the maximum: locked from now on
        raise login_locked(exc.retry_after) from None


# ---------------------------------------------------------------- the account behind a token
def account_id(who: Principal) -> int:
    """The account id of a mobile token (any other token is 401)."""
    if who.audience != AUDIENCE or not who.user_id.isdigit():
        raise invalid_token()
    return int(who.user_id)


def authenticate(who: Principal) -> MobileUser:
    """The caller's account (one GetItem), if the token is of its current version and the account is active."""
    return check(who, repository.get_account(account_id(who)))


def check(who: Principal, account: MobileUser | None) -> MobileUser:
    """The same check, for an account read in one batch with something else (keyed by ``account_id(who)``)."""
    if account is None or account.id != account_id(who):
        raise invalid_token()
    if who.token_version != account.token_version and not (who.token_id and who.token_id == account.kept_token):
        raise invalid_token()
    if not account.is_active:
        raise account_inactive()
    return account


def profile(who: Principal) -> UserResponse:
    account = authenticate(who)
    person = repository.get_person(account.person_id)
    if person is None:
        raise invalid_token()
    return UserResponse(user=UserProfile.of(account), person=PersonOut.of(person))


def units(who: Principal) -> UnitsResponse:
    return UnitsResponse(units=resident_units(authenticate(who).person_id))


def resident_units(person_id: int) -> list[ResidentUnit]:
    """The units a person owns, and rents under an active lease, with their estate: one Query and one
    BatchGetItem. Owners first, then tenants, each by unit id."""
    day = today()
    memberships: list[Ownership | Tenancy] = [
        m for m in repository.memberships_of(person_id) if isinstance(m, Ownership) or m.status(day) == "active"
    ]
    if not memberships:
        return []
    found_units, estates = repository.units_and_estates(
        [m.unit_id for m in memberships], [m.estate_id for m in memberships]
    )
    memberships.sort(key=lambda m: (isinstance(m, Tenancy), m.unit_id))
    return [
        resident_unit(m, found_units[m.unit_id], estates[m.estate_id])
        for m in memberships
        if m.unit_id in found_units and m.estate_id in estates
    ]


# ---------------------------------------------------------------- passwords
def change_password(who: Principal, request: ChangePasswordRequest) -> ChangePasswordResponse:
    """Set a new password. Every other token issued before the change stops working; the caller's goes on (the
    contract answers only a message, and its app keeps using the token it has)."""
    account = authenticate(who)
    new = request.new_password.get_secret_value()
    current = request.current_password.get_secret_value() if request.current_password is not None else ""
    if not current and not account.password_must_change:
        raise missing_fields("current_password")
    if current and not verify_secret(account.password_hash, current):
        raise invalid_credentials("Current password is incorrect")
    if not passwords.meets_rules(new):
        raise bad_request(
            "Invalid password",
            "The new password needs at least 8 characters, with an upper-case letter, a lower-case letter and a digit",
            "new_password",
        )
    if new == current or (not current and verify_secret(account.password_hash, new)):
        raise bad_request("Invalid password", "The new password must differ from the current one", "new_password")
    changed = repository.change_password(account.id, account.token_version, hash_secret(new), now_iso(), who.token_id)
    if changed is None:  # another change (or deletion) got there first: this token is already outdated
        raise invalid_token()
    return ChangePasswordResponse(message="Password changed successfully")
