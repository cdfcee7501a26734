"""The estates records (NamedTuples, for their import cost): immutable, no shared mutable defaults, an account's
password hash never in its repr, and what the repository and the one pydantic model holding them rely on."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from fleetgate.core.pagination import Page
from fleetgate.estates.records import Estate, EstateView, LedgerEntry, MeterState, MobileUser, UnitView, Wallet
from fleetgate.estates.service import billing

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$SECRETHASHVALUE"


def _account(**changes: object) -> MobileUser:
    account = MobileUser(
        id=7,
        person_id=3,
        phone_number="+27821234567",
        password_hash=HASH,
        password_must_change=True,
        is_active=True,
        token_version=2,
        last_login=None,
        created_at="2024-01-15T10:30:00.000Z",
        updated_at="2024-01-15T10:30:00.000Z",
    )
    return account._replace(**changes)


def test_given_an_account_when_shown_in_a_repr_or_a_string_then_its_password_hash_is_not():
    account = _account(kept_token="jti-1")
    logged = logging.LogRecord("estates", logging.INFO, __file__, 1, "account %s", (account,), None).getMessage()
    for shown in (repr(account), str(account), f"{account}", f"{account!r}", repr([account]), logged):
        assert HASH not in shown and "password_hash" not in shown and "SECRETHASHVALUE" not in shown
    assert repr(account).startswith("MobileUser(id=7, person_id=3, phone_number='+27821234567', ")
    assert repr(account).endswith("kept_token='jti-1')")
    assert account.password_hash == HASH and account._asdict()["password_hash"] == HASH  # stored, just not shown


def test_given_a_record_when_set_then_it_refuses():
    wallet = Wallet(1, 500, 0, False, "active", 3, None)
    with pytest.raises(AttributeError):
        wallet.balance_cents = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        wallet.extra = 1  # type: ignore[attr-defined]
    moved = billing.moved(wallet, -700, "2024-01-15T10:30:00.000Z")
    assert (moved.balance_cents, moved.low_alerted, moved.version) == (-200, True, 3)
    assert wallet.balance_cents == 500 and type(moved) is Wallet


def test_given_the_views_then_their_containers_have_no_default_to_share():
    assert UnitView._field_defaults == MeterState._field_defaults == EstateView._field_defaults == {}


def test_given_a_ledger_entry_when_stored_as_a_dict_then_it_reads_back_the_same():
    entry = LedgerEntry(1, 2, "credit", 1000, "Wallet top-up", "2024-01-15T10:30:00.000Z", 1000, reference="ref-1")
    assert LedgerEntry(**entry._asdict()) == entry
    assert entry.reading_id is None


def test_given_records_in_a_page_then_they_stay_records():
    estate = Estate(1, "Oak Park", None, Decimal("10"), Decimal(0), "2024-01-15T10:30:00.000Z", "x")
    page = Page(items=[estate], next_cursor=None)
    assert page.items[0] is estate
