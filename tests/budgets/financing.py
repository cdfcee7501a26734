"""DynamoDB calls per route of the financing context (asserted by tests/test_financing_device.py and
tests/test_financing_staff.py). A device route counts its two rate limits first (one UpdateItem each: per
source address, per IMEI), then finds the phone: its IMEI claim, then the customer (two GetItems)."""

LIMITS = ["UpdateItem", "UpdateItem"]
PHONE = ["GetItem", "GetItem"]

EXPECTED = {
    # device routes (no JWT)
    ("PUT", "/api/customer/device/fcm-token"): [*LIMITS, *PHONE, "UpdateItem"],
    # an answer that acknowledges the pending command: the lock state (and the command's end) in one UpdateItem,
    # then its line in the trail (an answer to nothing: the line only)
    ("POST", "/api/customer/device/lock-response"): [*LIMITS, *PHONE, "UpdateItem", "PutItem"],
    ("GET", "/api/customer/device/status/{imei1}"): [*LIMITS, *PHONE],
    ("GET", "/api/customer/device/location/{imei1}"): [*LIMITS, *PHONE],
    # the claim, then one UpdateItem that returns the customer
    ("POST", "/api/customer/device/location"): [*LIMITS, "GetItem", "UpdateItem"],
    # staff routes: the customer and its IMEI claims in one transaction
    ("POST", "/api/admin/customers"): ["TransactWriteItems"],
    ("GET", "/api/admin/customers"): ["Query", "BatchGetItem"],  # KEYS_ONLY index, then the page's customers
    ("GET", "/api/admin/customers/{customer_id}"): ["GetItem"],
    # a change of IMEI is a transaction with the claims instead of the UpdateItem
    ("PUT", "/api/admin/customers/{customer_id}"): ["GetItem", "UpdateItem"],
    ("DELETE", "/api/admin/customers/{customer_id}"): ["GetItem", "TransactWriteItems"],
    # paying the last overdue instalment of a locked phone adds the unlock command (UpdateItem, PutItem)
    ("PUT", "/api/admin/customers/{customer_id}/emis/{month}"): ["GetItem", "UpdateItem"],
    # the pending command (replacing any older one), its line in the trail; its first send goes to SQS
    ("PUT", "/api/admin/customers/{customer_id}/lock"): ["GetItem", "UpdateItem", "PutItem"],
    ("GET", "/api/admin/customers/{customer_id}/lock-status"): ["GetItem"],
    ("GET", "/api/admin/customers/{customer_id}/commands"): ["GetItem", "Query"],
}
