"""Compressed JSON for DynamoDB attributes: write units are per KB (and each index holding an attribute pays for
its copy), and the records we keep most (an uplink's history entry and flow starts, a flow run with its trace and
calls) are JSON that repeats itself.

:func:`pack` is zlib (deflate) with a preset dictionary of the keys and values those records repeat, so that a
small record does not pay for spelling them out once (a two-step flow run: about 900 bytes compressed without it,
about 550 with it). A stream names its dictionary (zlib's FDICT flag and the dictionary's Adler-32), and
:func:`unpack` reads any of :data:`DICTIONARIES`, or none (plain zlib, as written before). So NEVER edit a
dictionary: add a new one and make :func:`pack` use it.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

DICTIONARY_1 = (
    b'"method":"POST","url":"https://","headers":{"Idempotency-Key":"","Content-Type":"application/json"},'
    b'"response":{"status_code":200,"body":"","content_type":"application/json"},"error":null,"logs":[],'
    b'"request":{"body":{"$fleetgate.step":"input"}},"input":{"$fleetgate.step":"input"},'
    b'"output":{"$fleetgate.step":"output"},"version":1,"kind":"integration","resource_id":"","status":"error",'
    b'"kind":"function","id":"","started_at":"","duration_ms":,"body":{"_calls":[{'
    b'"source_time":"","location":{"latitude":,"longitude":},"battery":,"objectJSON":"","hotspots":[],'
    b'"spreading":"SF","reported_at":,"app_eui":"","devaddr":"","fcnt":,"port":,"decoded":{"payload":{}},'
    b'"format":"chirpstack_v3","format":"helium","f_port":,"f_cnt":,"data":{"temperature":,"humidity":,'
    b'"payload_base64":"","rssi":-,"snr":,"gateway_count":,"dr":,"frequency":868,"dev_addr":"","adr":true,'
    b'"deduplication_id":"","format":"chirpstack_v4","metadata":{}},"run_id":"","error":null,'
    b'"output":{"trigger_nodes":[],"next":[]}},{"node_id":"","type":"function","attempt":1,"status":"success",'
    b'"function_history_id":"","version":1},{"type":"integration","integration_history_id":"","output":'
    b'{"status_code":200,"response":"{}","latency_ms":}},{"type":"switch","output":{"branch":"true"}},'
    b'{"type":"storage","type":"delay","type":"meter"'
    b'"outbox":{"event":"up","owner_id":"","device_id":"","dev_eui":"","origin":"|up|","received_at":"2026-",'
    b'"message":{},"flows":{"":{"nodes":[""],"triggers":["device#"]}}},'
    b'"trigger":{"event":"up","device_id":"","dev_eui":"","nodes":[],"triggers":["device#"],"flow_version":"",'
    b'"received_at":"2026-"},"input":{"event":"up","device_id":"","dev_eui":"","device_name":"",'
    b'"received_at":"2026-","history_id":"",'
    b'"steps":[{"node_id":"$start","type":"trigger","attempt":1,"status":"success","started_at":"2026-",'
    b'"duration_ms":,"input":{"event":"up","device_id":"'
)
DICTIONARIES = {zlib.adler32(d): d for d in (DICTIONARY_1,)}


def pack(value: Any) -> bytes:
    """``value`` as compact JSON, deflated with :data:`DICTIONARY_1`."""
    squeeze = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_1)
    return squeeze.compress(json.dumps(value, separators=(",", ":"), default=str).encode()) + squeeze.flush()


def unpack(packed: bytes) -> Any:
    """What :func:`pack` (with any of :data:`DICTIONARIES`) or plain ``zlib.compress`` of JSON stored."""
    if packed[1] & 0x20:  # FDICT: the stream names its dictionary by its Adler-32
        dictionary = DICTIONARIES[int.from_bytes(packed[2:6], "big")]
        return json.loads(zlib.decompressobj(zdict=dictionary).decompress(packed))
    return json.loads(zlib.decompress(packed))
