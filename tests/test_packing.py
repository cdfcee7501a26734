"""Compressed JSON attributes (fleetgate.core.packing): what is packed reads back the same, records written before
the dictionary (plain zlib) still read, and the dictionary makes the records we keep most smaller."""

from __future__ import annotations

import json
import zlib

from fleetgate.core.packing import pack, unpack

RUN = {
    "trigger": {"event": "up", "device_id": "4cc6aaa0-b082-444d-9fe3-3900368c4924", "dev_eui": "aac9e9508e894c20"},
    "steps": [
        {"node_id": "$start", "type": "trigger", "attempt": 1, "status": "success", "duration_ms": 0.05},
        {"node_id": "f0", "type": "function", "attempt": 1, "status": "success", "version": 1},
        {"node_id": "i", "type": "integration", "attempt": 1, "status": "error", "output": {"status_code": 502}},
    ],
    "input": {"event": "up", "data": {"temperature": 21.5, "humidity": 48}, "rssi": -84, "snr": 9.25, "f_cnt": 7},
    "unicode": "Zürich ✓",
}


def test_given_a_record_when_packed_then_it_reads_back_the_same_and_smaller_than_plain_zlib():
    packed = pack(RUN)

    assert unpack(packed) == RUN
    assert len(packed) < len(zlib.compress(json.dumps(RUN, separators=(",", ":")).encode(), 6))


def test_given_a_record_packed_before_the_dictionary_then_it_still_reads():
    assert unpack(zlib.compress(json.dumps(RUN).encode())) == RUN
