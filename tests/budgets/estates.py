"""DynamoDB calls per request of the estates routes (the mobile API and the staff portal), asserted by
tests/test_estates_budget.py. A change here is a design change: update it on purpose, never to make a test pass.

Mobile routes read the caller's account once (one GetItem, or a key of a BatchGetItem the route makes anyway):
that is how a password change ends earlier tokens and a deactivation takes effect at once. A unit's meters,
wallet, tariffs and residents are ONE Query of its partition.
"""

EXPECTED = {
    # ---------------------------------------------------------------- mobile
    # lock check, phone claim, account + person, last_login, memberships, units + estates (the failure count is
    # cleared, one DeleteItem more, only when the lock check read one)
    ("POST", "/api/mobile/auth/login"): [
        "GetItem",
        "GetItem",
        "BatchGetItem",
        "UpdateItem",
        "Query",
        "BatchGetItem",
    ],
    ("POST", "/api/mobile/auth/change-password"): ["GetItem", "UpdateItem"],  # account; hash + token version
    ("GET", "/api/mobile/auth/user"): ["GetItem", "GetItem"],  # account, person
    ("GET", "/api/mobile/auth/units"): ["GetItem", "Query", "BatchGetItem"],  # account, memberships, units + estates
    ("GET", "/api/mobile/units/{unit_id}/meters"): ["GetItem", "Query"],  # account, the unit's partition
    ("GET", "/api/mobile/meters/{meter_id}"): ["BatchGetItem", "Query"],  # account + where the meter is, its unit
    ("GET", "/api/mobile/meters/{meter_id}/readings"): ["BatchGetItem", "Query", "Query"],  # ... + readings by date
    ("GET", "/api/mobile/units/{unit_id}/wallet"): ["GetItem", "Query"],
    ("GET", "/api/mobile/units/{unit_id}/transactions"): ["GetItem", "Query", "Query"],  # ... + the ledger
    # ---------------------------------------------------------------- staff portal
    # a create takes its id with one UpdateItem of the counters item, then writes (claims in one transaction)
    ("POST", "/api/admin/estates"): ["UpdateItem", "PutItem"],
    ("GET", "/api/admin/estates"): ["Query"],
    ("GET", "/api/admin/estates/{estate_id}"): ["Query"],  # the estate and its tariffs
    ("PUT", "/api/admin/estates/{estate_id}"): ["UpdateItem"],
    ("DELETE", "/api/admin/estates/{estate_id}"): ["Query", "Query", "TransactWriteItems"],  # estate, any unit?, delete
    ("PUT", "/api/admin/estates/{estate_id}/tariffs/{utility_type}"): ["TransactWriteItems"],  # estate exists + tariff
    ("POST", "/api/admin/estates/{estate_id}/units"): ["UpdateItem", "TransactWriteItems"],  # unit, wallet, number
    ("GET", "/api/admin/estates/{estate_id}/units"): ["Query"],  # (an empty page adds a GetItem: 404 or none)
    ("GET", "/api/admin/units/{unit_id}"): ["Query"],
    ("PUT", "/api/admin/units/{unit_id}"): ["GetItem", "TransactWriteItems"],  # the number's claim moves
    ("DELETE", "/api/admin/units/{unit_id}"): ["Query", "TransactWriteItems"],
    ("PUT", "/api/admin/units/{unit_id}/tariffs/{utility_type}"): ["TransactWriteItems"],
    # the unit, the person, the new account's id, membership + account in one transaction, the SMS record
    # (a person who has an account: Query, GetItem, TransactWriteItems)
    ("POST", "/api/admin/units/{unit_id}/owners"): ["Query", "GetItem", "UpdateItem", "TransactWriteItems", "PutItem"],
    ("DELETE", "/api/admin/units/{unit_id}/owners/{person_id}"): ["DeleteItem"],
    ("POST", "/api/admin/units/{unit_id}/tenants"): ["Query", "GetItem", "UpdateItem", "TransactWriteItems", "PutItem"],
    ("DELETE", "/api/admin/units/{unit_id}/tenants/{person_id}"): ["UpdateItem"],
    ("POST", "/api/admin/units/{unit_id}/meters"): ["UpdateItem", "TransactWriteItems"],  # meter, where, serial, eui
    # the transaction's id (taken first: see billing), the wallet as read, claim + wallet + credit in one transaction
    ("POST", "/api/admin/units/{unit_id}/wallet/topups"): ["UpdateItem", "GetItem", "TransactWriteItems"],
    ("PUT", "/api/admin/units/{unit_id}/wallet"): ["UpdateItem"],
    ("POST", "/api/admin/persons"): ["UpdateItem", "TransactWriteItems"],  # person + phone claim
    ("GET", "/api/admin/persons/{person_id}"): ["GetItem"],
    ("PUT", "/api/admin/persons/{person_id}"): ["GetItem", "UpdateItem"],  # a new phone: TransactWriteItems instead
    ("GET", "/api/admin/persons/{person_id}/notifications"): ["Query"],
    ("PUT", "/api/admin/mobile-users/{user_id}"): ["UpdateItem"],
    ("GET", "/api/admin/meters/{meter_id}"): ["GetItem", "GetItem"],  # where the meter is, the meter
    ("PUT", "/api/admin/meters/{meter_id}"): ["GetItem", "GetItem", "UpdateItem"],  # new serial / eui: a transaction
    ("DELETE", "/api/admin/meters/{meter_id}"): ["GetItem", "GetItem", "TransactWriteItems"],
    # a charged reading: where the meter is, the reading's and its debit's ids, the meter + wallet + unit tariffs
    # (one strongly consistent BatchGetItem), the estate (markup, tariffs), then reading + meter + wallet + debit in
    # ONE transaction. An uncharged reading (baseline, lower, no tariff) skips the estate's Query; a low-balance alert
    # adds a Query of the unit's residents, a BatchGetItem of their numbers and a PutItem per notice.
    ("POST", "/api/admin/meters/{meter_id}/readings"): [
        "GetItem",
        "UpdateItem",
        "BatchGetItem",
        "Query",
        "TransactWriteItems",
    ],
}
