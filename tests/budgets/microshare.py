"""DynamoDB calls of the Microshare API's routes (asserted in tests/test_dynamodb_calls.py), keyed as the tests key
the routes of an HTTP API other than the main one (``MicroshareApi:<path>``, tests.support.route_path)."""

WRITE = ["Query", "UpdateItem", "PutItem", "PutItem", "DeleteItem"]  # cache read, lease, cluster cached, lease freed

EXPECTED = {
    # Microshare (upstream calls not listed). A read of the cluster cache is a Query of its one partition plus
    # an UpdateItem of the hit/miss counters (a miss adds the rediscovery's writes). A device write adds its
    # cluster's lease (PutItem ... DeleteItem) around the upstream read-modify-write, and the PutItem that
    # replaces that one cluster in the cache. Counts are with a warm cache and 3 clusters upstream.
    ("POST", "MicroshareApi:/api/v1/auth/login"): [],
    ("GET", "MicroshareApi:/api/v1/auth/status"): [],
    ("GET", "MicroshareApi:/health"): [],
    ("GET", "MicroshareApi:/health/microshare"): [],
    ("GET", "MicroshareApi:/api/v1/status"): ["BatchGetItem"],
    ("GET", "MicroshareApi:/api/v1/devices/clusters"): ["Query", "UpdateItem"],
    ("GET", "MicroshareApi:/api/v1/devices/clusters/{cluster_id}"): ["Query", "UpdateItem"],
    ("GET", "MicroshareApi:/api/v1/devices"): ["Query", "UpdateItem"],
    ("POST", "MicroshareApi:/api/v1/devices"): WRITE,
    ("GET", "MicroshareApi:/api/v1/devices/{device_id}"): ["Query", "UpdateItem"],
    ("PUT", "MicroshareApi:/api/v1/devices/{device_id}"): WRITE,
    ("DELETE", "MicroshareApi:/api/v1/devices/{device_id}"): WRITE,
    # a PutItem per cluster, then the freshness mark (plus a DeleteItem per cluster that vanished upstream)
    ("GET", "MicroshareApi:/api/v1/devices/discovery"): ["Query", "PutItem", "PutItem", "PutItem", "PutItem"],
    ("GET", "MicroshareApi:/api/v1/devices/cache/stats"): ["BatchGetItem"],
    ("POST", "MicroshareApi:/api/v1/devices/cache/clear"): ["Query", "BatchWriteItem"],
    ("GET", "MicroshareApi:/api/v1/devices/performance/benchmark"): ["Query", "Query", "Query"],  # 3 iterations
    ("GET", "MicroshareApi:/api/v1/erp/status"): ["Query"],
    ("POST", "MicroshareApi:/api/v1/erp/inspection-points"): ["Query", "BatchWriteItem"],
    ("GET", "MicroshareApi:/api/v1/erp/discovery"): ["Query"],
    ("GET", "MicroshareApi:/api/v1/erp/mapping"): ["Query", "Query", "UpdateItem"],
    ("GET", "MicroshareApi:/api/v1/erp/unmapped"): ["Query", "Query", "UpdateItem"],
    # one cluster receives devices: its lease and its cache entry
    ("POST", "MicroshareApi:/api/v1/erp/sync"): ["Query", "Query", "UpdateItem", "PutItem", "PutItem", "DeleteItem"],
}
