"""DynamoDB calls of the users routes and the password change (asserted in tests/test_users.py), with the
admin's user record already in the instance's cache (a cold cache adds one GetItem to any authenticated route)."""

EXPECTED = {
    ("GET", "/api/v1/users"): ["Query"],
    ("POST", "/api/v1/users"): ["TransactWriteItems"],  # the user and its email and username claims
    ("GET", "/api/v1/users/{user_id}"): ["GetItem"],
    ("PUT", "/api/v1/users/{user_id}"): ["GetItem", "UpdateItem"],
    ("DELETE", "/api/v1/users/{user_id}"): ["GetItem", "TransactWriteItems"],  # user and claims, one transaction
    # the caller's record (consistent), the throttle's two counters, the new hash and token version
    ("POST", "/api/v1/auth/password"): ["GetItem", "GetItem", "GetItem", "UpdateItem"],
}
