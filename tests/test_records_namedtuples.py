"""The records and settings that are NamedTuples (for their import cost), not frozen dataclasses: immutable, no
shared mutable defaults, secrets never in a repr, read again after ``settings.reset()``, and what their users rely
on (``_replace``, ``_asdict``, a Page keeping them, a generic Lookup)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from fleetgate.core import settings
from fleetgate.core.auth import Principal
from fleetgate.core.pagination import Page
from fleetgate.core.repository import Lookup
from fleetgate.core.settings import AuthSettings, Settings
from fleetgate.devices.schemas import DuePresence
from fleetgate.engine.settings import EngineSettings
from fleetgate.estates.service.billing import RecordedReading
from fleetgate.estates.settings import EstatesSettings
from fleetgate.financing import settings as financing_settings
from fleetgate.financing.customers import Command, Customer, Emi
from fleetgate.financing.notifier import Outcome, Push
from fleetgate.functions.schemas import FunctionCode
from fleetgate.ingest.settings import IngestSettings
from fleetgate.microshare import client as microshare_client
from fleetgate.microshare.settings import ErpSettings, MicroshareSettings
from fleetgate.mobivisor import client as mobivisor_client
from fleetgate.mobivisor.settings import MobivisorSettings
from fleetgate.ratelimit.service import Limit
from fleetgate.users.records import User

SECRET = "S3CRET-VALUE-never-shown"

RECORDS = (
    Principal,
    Settings,
    AuthSettings,
    User,
    Lookup,
    financing_settings.DeviceLimits,
    financing_settings.Commands,
    financing_settings.Fcm,
    Emi,
    Command,
    Customer,
    Push,
    Outcome,
    MicroshareSettings,
    ErpSettings,
    microshare_client.Reply,
    mobivisor_client.Reply,
    MobivisorSettings,
    EstatesSettings,
    IngestSettings,
    EngineSettings,
    Limit,
    DuePresence,
    FunctionCode,
    RecordedReading,
)


def _shown(record: object) -> list[str]:
    """Every way a record reaches a log line or a trace as text."""
    logged = logging.LogRecord("x", logging.INFO, __file__, 1, "record %s", (record,), None).getMessage()
    return [repr(record), str(record), f"{record}", f"{record!r}", repr([record]), repr({"r": record}), logged]


def _customer(**changes: object) -> Customer:
    customer = Customer(
        id="0123456789abcdef01234567",
        full_name="John Doe",
        mobile_number="+919876543210",
        imei1="356938035643809",
        imei2=None,
        emis=(Emi("2025-01", date(2025, 1, 5), 1500.0),),
        created_at="2025-01-01T00:00:00.000Z",
        updated_at="2025-01-01T00:00:00.000Z",
    )
    return customer._replace(**changes)


def _user(**changes: object) -> User:
    user = User(
        id="u1",
        email="ada@example.com",
        username="ada",
        role="user",
        permissions=["mobivisor:read"],
        password_hash="$argon2id$hash",
        created_at="2025-01-01T00:00:00.000Z",
        updated_at="2025-01-01T00:00:00.000Z",
    )
    return user._replace(**changes)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: f"{r.__module__}.{r.__name__}")
def test_given_a_record_then_it_is_a_named_tuple_without_a_shared_mutable_default(record):
    assert issubclass(record, tuple) and record._fields
    for name, default in record._field_defaults.items():
        assert isinstance(default, str | int | float | bool | frozenset | type(None)), name


@pytest.mark.parametrize(
    ("record", "hidden"),
    [
        (AuthSettings("fleetgate", plain_secret=SECRET), "plain_secret"),
        (AuthSettings("fleetgate", secret_arn=f"arn:aws:secretsmanager:us-east-1:1:secret:{SECRET}"), "secret_arn"),
        (IngestSettings(24, plain_key_secret=SECRET), "plain_key_secret"),
        (IngestSettings(24, key_secret_arn=SECRET), "key_secret_arn"),
        (MicroshareSettings("https://auth", "https://api", "svc", password=SECRET, api_key="k"), "password"),
        (MicroshareSettings("https://auth", "https://api", "svc", password="p", api_key=SECRET), "api_key"),
        (ErpSettings(adapter="odoo", odoo_password=SECRET), "odoo_password"),
        (MobivisorSettings("https://mobivisor", SECRET), "api_token"),
        (EstatesSettings(sms_api_key=SECRET), "sms_api_key"),
        (financing_settings.Fcm("", "project", credentials=SECRET), "credentials"),
        (Push(SECRET, "Locked", "Your phone is locked", {"type": "X"}, "lock-1", 60), "token"),
        (_user(password_hash=SECRET), "password_hash"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_given_a_secret_in_a_record_when_shown_as_text_then_it_is_not(record, hidden):
    for text in _shown(record):
        assert SECRET not in text and hidden not in text
    assert getattr(record, hidden) is not None and SECRET in str(getattr(record, hidden))  # kept, just not shown
    assert repr(record).startswith(f"{type(record).__name__}(")


def test_given_a_customer_when_shown_as_text_then_its_fcm_token_and_pin_hash_are_not():
    command = Command("c1", "LOCK_DEVICE", "staff", "2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z")
    customer = _customer(fcm_token=SECRET, pin_hash=f"$argon2id${SECRET}", command=command)
    for text in _shown(customer):
        assert SECRET not in text and "fcm_token" not in text and "pin_hash" not in text
    assert repr(customer).startswith("Customer(id='0123456789abcdef01234567', full_name='John Doe', ")
    assert "command=Command(id='c1'" in repr(customer) and repr(customer).endswith("notified_day=None)")
    assert customer.fcm_token == SECRET and customer._asdict()["pin_hash"].endswith(SECRET)


def test_given_records_when_set_then_they_refuse():
    principal = Principal("u1", "user")
    with pytest.raises(AttributeError):
        principal.role = "admin"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        principal.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        settings.get_settings().stage = "prod"  # type: ignore[misc]


def test_given_a_principal_then_it_decides_as_before():
    assert Principal("u1", "user", permissions=frozenset({"microshare:read"})).can("microshare:read")
    assert not Principal("u1", "user").can("admin") and Principal("u1", "admin").can("admin")
    assert hash(Principal("u1", "user")) == hash(Principal("u1", "user"))


def test_given_a_user_then_permissions_are_required_and_its_fields_hold_a_list_of_their_own():
    assert "permissions" not in User._field_defaults
    assert User._field_defaults == {"is_active": True, "token_version": 0}
    user = _user()
    fields = user.fields()
    assert fields["permissions"] == user.permissions and fields["permissions"] is not user.permissions
    assert set(fields) == {*User._fields} and User(**fields) == user
    assert user._replace(role="admin").role == "admin" and user.role == "user"


def test_given_a_customer_when_an_instalment_is_paid_then_replace_makes_new_records():
    customer = _customer()
    emis = tuple(e._replace(paid=True, paid_date=date(2025, 1, 4)) for e in customer.emis)
    paid = customer._replace(emis=emis)
    assert paid.next_unpaid_due() is None and customer.next_unpaid_due() == date(2025, 1, 5)
    assert type(paid) is Customer and type(paid.emis[0]) is Emi


@pytest.fixture
def fresh_settings():
    """Settings read anew, and dropped again once the test's environment is undone."""
    settings.reset()
    yield
    settings.reset()


def test_given_settings_when_the_environment_changes_and_settings_reset_then_they_are_read_again(
    fresh_settings, monkeypatch
):
    monkeypatch.setenv("JWT_ISSUER", "first")
    monkeypatch.setenv("JWT_SECRET", SECRET)
    first = settings.get_auth_settings()
    assert settings.get_auth_settings() is first and first.secret == SECRET
    monkeypatch.setenv("JWT_ISSUER", "second")
    assert settings.get_auth_settings().issuer == "first"  # cached until reset
    settings.reset()
    assert settings.get_auth_settings() == AuthSettings("second", plain_secret=SECRET)


def test_given_records_in_a_page_then_they_stay_records():
    user, customer = _user(), _customer()
    assert Page(items=[user]).items[0] is user
    assert Page(items=[customer]).items[0] is customer


def test_given_a_lookup_then_it_is_generic_and_keeps_its_fields():
    lookup = Lookup(object, ["a", ("b", 1)], len)  # type: ignore[arg-type]
    assert Lookup[int] is not None
    assert (lookup.model, lookup.keys, lookup.answer) == (object, ["a", ("b", 1)], len)


def test_given_a_recorded_reading_then_its_trace_is_a_plain_dict():
    recorded = RecordedReading(1, 2, 3, 10.5, 0.5, 1.0, "charged", 4, False)
    assert recorded.as_dict() == {
        "reading_id": 1,
        "meter_id": 2,
        "unit_id": 3,
        "reading_value": 10.5,
        "consumption": 0.5,
        "cost": 1.0,
        "status": "charged",
        "transaction_id": 4,
        "duplicate": False,
    }
    assert type(recorded.as_dict()) is dict
