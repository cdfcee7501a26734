"""Ingest bodies → one normalised event. Three JSON shapes, told apart by their fields:

- ChirpStack v4 (the protobuf JSON mapping): ``deviceInfo.devEui`` in hex, camelCase fields, ``data`` in base64,
  ``object`` the codec's decoded payload, ``deduplicationId`` a UUID;
- ChirpStack v3 (its ``json`` marshaler): ``devEUI`` in base64 (hex accepted too), ``applicationID``,
  ``objectJSON`` a JSON string, ``rxInfo[].loRaSNR``;
- Helium console: ``dev_eui`` in hex, ``payload`` in base64, ``port``, ``fcnt``, ``hotspots[]``, ``decoded.payload``.

A protobuf body (ChirpStack's other marshaler) is a 415 that says to choose JSON. The deduplication key of an
event is its ``deduplicationId`` (v4), Helium's ``uuid``, or else a fingerprint of what identifies the event
(v3 and Helium uplinks: EUI, frame counter, port and payload), or of the whole body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleetgate.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from fleetgate.core.ids import iso, normalize_dev_eui
from fleetgate.core.limits import MAX_JSON_DEPTH, json_too_deep

EVENTS = ("up", "join", "ack", "txack", "log", "status", "location")
ALIASES = {"error": "log", "uplink": "up"}  # ChirpStack v3 calls log events "error"
MAX_BODY_BYTES = 128 * 1024  # ChirpStack events are a few KiB; a flow step must fit SQS's 256 KiB
PROTOBUF_TYPES = (
    "application/octet-stream",
    "application/x-protobuf",
    "application/protobuf",
    "application/vnd.google.protobuf",
)
PROTOBUF_MESSAGE = (
    "Protobuf bodies are not supported: set the HTTP integration's payload encoding to JSON in "
    "ChirpStack (or send ChirpStack v3 / Helium console JSON)"
)


@dataclass
class DeviceEvent:
    """One ingested event, whatever its source format."""

    format: str  # chirpstack_v4 | chirpstack_v3 | helium
    event: str  # one of EVENTS
    dev_eui: str  # 16 lower-case hex digits
    dedup: str  # deduplication id, or a fingerprint
    data: dict[str, Any] = field(default_factory=dict)  # what device history records (snake_case)
    device_name: str | None = None  # the network server's name for the device
    source_time: str | None = None  # the network server's timestamp, as sent

    @property
    def battery(self) -> dict[str, Any]:
        keys = ("battery_level", "battery_level_unavailable", "external_power_source", "margin")
        return {k: self.data[k] for k in keys if k in self.data}

    @property
    def location(self) -> dict[str, Any]:
        keys = ("latitude", "longitude", "altitude", "source", "accuracy")
        return {k: self.data[k] for k in keys if k in self.data}


def event_type(value: str | None) -> str:
    name = (value or "up").strip().lower()
    name = ALIASES.get(name, name)
    if name not in EVENTS:
        raise InvalidInput(f"event must be one of {', '.join(EVENTS)}", field="query:event")
    return name


def parse(body: bytes, content_type: str | None, event: str | None) -> DeviceEvent:
    """The event in ``body``; :class:`UnsupportedMediaType` (415), :class:`PayloadTooLarge` (413) or
    :class:`InvalidInput` (422) when it is not one we accept."""
    kind = event_type(event)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in PROTOBUF_TYPES:
        raise UnsupportedMediaType(PROTOBUF_MESSAGE)
    if json_too_deep(body.decode("utf-8", "replace")):
        raise InvalidInput(f"the body is nested deeper than {MAX_JSON_DEPTH} levels", field="body:")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        if media == "application/json" or media.endswith("+json") or body[:1].strip() in (b"{", b"["):
            raise InvalidInput("the body is not valid JSON", field="body:") from None
        raise UnsupportedMediaType(PROTOBUF_MESSAGE) from None
    if not isinstance(document, dict):
        raise InvalidInput("the body must be a JSON object", field="body:")
    if isinstance(document.get("deviceInfo"), dict):
        return _v4(kind, document, body)
    if "dev_eui" in document:
        return _helium(kind, document, body)
    if "devEUI" in document:
        return _v3(kind, document, body)
    raise InvalidInput(
        "unrecognised body: expected ChirpStack v4 JSON (deviceInfo.devEui), ChirpStack v3 JSON "
        "(devEUI) or Helium console JSON (dev_eui)",
        field="body:",
    )


# ------------------------------------------------------------------ helpers
def _eui(value: Any, where: str, *, base64_allowed: bool = False) -> str:
    if isinstance(value, str):
        try:
            return normalize_dev_eui(value)
        except ValueError:
            if base64_allowed:
                try:
                    raw = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raw = b""
                if len(raw) == 8:
                    return raw.hex()
    raise InvalidInput(
        f"{where} must be a DevEUI: 16 hexadecimal digits" + (" or 8 bytes in base64" if base64_allowed else ""),
        field=where,
    )


def _fingerprint(*parts: Any) -> str:
    return "fp:" + hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _best(values: list[Any]) -> float | int | None:
    numbers = [v for v in (_number(x) for x in values) if v is not None]
    return max(numbers) if numbers else None


def _pick(source: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """``source[camelName]`` → ``snake_name`` for the keys present (and not null)."""
    return {snake: source[camel] for camel, snake in mapping.items() if source.get(camel) is not None}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else ({} if value is None else {"value": value})


def _json_object(text: Any) -> dict[str, Any]:
    """v3's objectJSON: the decoded payload as a JSON string."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        return _object(json.loads(text))
    except ValueError:
        raise InvalidInput("objectJSON is not valid JSON", field="objectJSON") from None


def _uplink(
    *,
    f_port: Any,
    f_cnt: Any,
    decoded: dict[str, Any],
    payload: Any,
    rssi: list[Any],
    snr: list[Any],
    gateways: list[Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    data = {
        "f_port": f_port,
        "f_cnt": f_cnt,
        "data": decoded,
        "payload_base64": payload,
        "rssi": _best(rssi),
        "snr": _best(snr),
        "gateway_count": len({g for g in gateways if g}) or len(gateways),
        **extra,
    }
    return {k: v for k, v in data.items() if v is not None}


# ------------------------------------------------------------------ ChirpStack v4
_V4_FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "join": lambda d: _pick(d, {"devAddr": "dev_addr"}),
    "ack": lambda d: (
        _pick(d, {"queueItemId": "queue_item_id", "acknowledged": "acknowledged", "fCntDown": "f_cnt_down"})
        | {"acknowledged": bool(d.get("acknowledged"))}
    ),
    "txack": lambda d: _pick(
        d,
        {
            "downlinkId": "downlink_id",
            "queueItemId": "queue_item_id",
            "fCntDown": "f_cnt_down",
            "gatewayId": "gateway_id",
        },
    ),
    "log": lambda d: _pick(d, {"level": "level", "code": "code", "description": "description", "context": "context"}),
    "status": lambda d: _pick(
        d,
        {
            "margin": "margin",
            "externalPowerSource": "external_power_source",
            "batteryLevelUnavailable": "battery_level_unavailable",
            "batteryLevel": "battery_level",
        },
    ),
    "location": lambda d: _pick(
        d.get("location") if isinstance(d.get("location"), dict) else {},
        {
            "latitude": "latitude",
            "longitude": "longitude",
            "altitude": "altitude",
            "source": "source",
            "accuracy": "accuracy",
        },
    ),
}


# The fields status and location events store on the device, typed: (kind, minimum, maximum); None: no bound.
_TYPED: dict[str, tuple[type, float | None, float | None]] = {
    "margin": (int, -128, 127),
    "battery_level": (float, 0, 100),
    "battery_level_unavailable": (bool, None, None),
    "external_power_source": (bool, None, None),
    "latitude": (float, -90, 90),
    "longitude": (float, -180, 180),
    "altitude": (float, -20_000, 100_000),
    "accuracy": (float, 0, None),
    "source": (str, None, 64),
}


def _typed(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Status and location values as their types (422 naming the field otherwise): numbers are finite numbers
    in range, flags are booleans, the location's source a short string."""
    for key, value in data.items():
        kind, low, high = _TYPED[key]
        where = f"{prefix}{_CAMEL.get(key, key)}"
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is str:
            ok = isinstance(value, str) and len(value) <= (high or 0)
        else:
            ok = _number(value) is not None and math.isfinite(value) and (kind is float or float(value).is_integer())
            ok = ok and (low is None or value >= low) and (high is None or value <= high)
        if not ok:
            raise InvalidInput(f"{where} must be {_EXPECTED[kind]}" + _range(kind, low, high), field=where)
    return data


_CAMEL = {
    "margin": "margin",
    "battery_level": "batteryLevel",
    "battery_level_unavailable": "batteryLevelUnavailable",
    "external_power_source": "externalPowerSource",
}
_EXPECTED = {int: "an integer", float: "a number", bool: "true or false", str: "a string of at most 64 characters"}


def _range(kind: type, low: float | None, high: float | None) -> str:
    if kind in (bool, str) or (low is None and high is None):
        return ""
    return f" (at least {low})" if high is None else f" between {low} and {high}"


def _v4(kind: str, d: dict[str, Any], raw: bytes) -> DeviceEvent:
    info = d["deviceInfo"]
    eui = _eui(info.get("devEui"), "deviceInfo.devEui")
    dedup = d.get("deduplicationId")
    if kind == "up":
        rx = [r for r in d.get("rxInfo") or [] if isinstance(r, dict)]
        tx = d.get("txInfo") if isinstance(d.get("txInfo"), dict) else {}
        data = _uplink(
            f_port=d.get("fPort", 0),
            f_cnt=d.get("fCnt", 0),
            decoded=_object(d.get("object")),
            payload=d.get("data"),
            rssi=[r.get("rssi") for r in rx],
            snr=[r.get("snr") for r in rx],
            gateways=[r.get("gatewayId") for r in rx],
            extra={
                "dr": d.get("dr"),
                "frequency": tx.get("frequency"),
                "confirmed": d.get("confirmed"),
                "dev_addr": d.get("devAddr"),
                "adr": d.get("adr"),
            },
        )
    else:
        data = _V4_FIELDS[kind](d)
        if kind == "status":
            data = _typed(data, "")
            data.setdefault("battery_level_unavailable", False)
            data.setdefault("external_power_source", False)
        elif kind == "location":
            data = _typed(data, "location.")
    if isinstance(dedup, str) and dedup:
        key = dedup
    elif kind == "txack" and (d.get("queueItemId") or d.get("downlinkId")):
        key = f"txack:{d.get('queueItemId')}:{d.get('downlinkId')}"
    else:
        key = _fingerprint("v4", kind, raw.decode("utf-8", "replace"))
    if isinstance(dedup, str) and dedup:
        data["deduplication_id"] = dedup
    return DeviceEvent(
        "chirpstack_v4",
        kind,
        eui,
        key,
        data,
        device_name=info.get("deviceName"),
        source_time=d.get("time") if isinstance(d.get("time"), str) else None,
    )


# ------------------------------------------------------------------ ChirpStack v3
def _v3(kind: str, d: dict[str, Any], raw: bytes) -> DeviceEvent:
    eui = _eui(d.get("devEUI"), "devEUI", base64_allowed=True)
    if kind == "up":
        rx = [r for r in d.get("rxInfo") or [] if isinstance(r, dict)]
        tx = d.get("txInfo") if isinstance(d.get("txInfo"), dict) else {}
        decoded = _json_object(d.get("objectJSON")) if "objectJSON" in d else _object(d.get("object"))
        data = _uplink(
            f_port=d.get("fPort", 0),
            f_cnt=d.get("fCnt", 0),
            decoded=decoded,
            payload=d.get("data"),
            rssi=[r.get("rssi") for r in rx],
            snr=[r.get("loRaSNR", r.get("snr")) for r in rx],
            gateways=[r.get("gatewayID") for r in rx],
            extra={
                "dr": tx.get("dr"),
                "frequency": tx.get("frequency"),
                "confirmed": d.get("confirmedUplink"),
                "dev_addr": d.get("devAddr"),
                "adr": d.get("adr"),
                "application_id": d.get("applicationID"),
            },
        )
        key = _fingerprint("v3", eui, d.get("fCnt"), d.get("fPort"), d.get("data"), d.get("applicationID"))
    else:
        if kind == "location":
            data = _V4_FIELDS["location"](d)
        elif kind == "log":
            data = _pick(d, {"type": "code", "error": "description", "fCnt": "f_cnt"}) | {"level": "ERROR"}
        elif kind == "ack":
            data = _pick(d, {"acknowledged": "acknowledged", "fCnt": "f_cnt_down"})
        elif kind == "txack":
            data = _pick(d, {"gatewayID": "gateway_id", "fCnt": "f_cnt_down"})
        else:
            data = _V4_FIELDS.get(kind, lambda x: {})(d)
        if kind in ("status", "location"):
            data = _typed(data, "location." if kind == "location" else "")
        if kind == "status":
            data.setdefault("battery_level_unavailable", False)
            data.setdefault("external_power_source", False)
        key = _fingerprint("v3", kind, raw.decode("utf-8", "replace"))
    return DeviceEvent("chirpstack_v3", kind, eui, key, data, device_name=d.get("deviceName"))


# ------------------------------------------------------------------ Helium console
def _helium(kind: str, d: dict[str, Any], raw: bytes) -> DeviceEvent:
    eui = _eui(d.get("dev_eui"), "dev_eui")
    if d.get("type") == "join":  # Helium posts joins to the uplinks' URL: the body says which it is
        kind = "join"
    reported = d.get("reported_at")
    source_time = None
    if _number(reported) is not None:
        try:
            source_time = iso(datetime.fromtimestamp(float(reported) / 1000, tz=UTC))
        except (OverflowError, OSError, ValueError):
            source_time = None
    if kind == "up":
        hotspots = [h for h in d.get("hotspots") or [] if isinstance(h, dict)]
        decoded = d.get("decoded") if isinstance(d.get("decoded"), dict) else {}
        data = _uplink(
            f_port=d.get("port", 0),
            f_cnt=d.get("fcnt", 0),
            decoded=_object(decoded.get("payload")),
            payload=d.get("payload"),
            rssi=[h.get("rssi") for h in hotspots],
            snr=[h.get("snr") for h in hotspots],
            gateways=[h.get("id") for h in hotspots],
            extra={
                "dev_addr": d.get("devaddr"),
                "frequency": next((h.get("frequency") for h in hotspots if h.get("frequency") is not None), None),
            },
        )
        key = (
            d.get("uuid")
            if isinstance(d.get("uuid"), str) and d.get("uuid")
            else _fingerprint("helium", eui, d.get("fcnt"), d.get("port"), d.get("payload"), reported)
        )
    else:
        data = {k: v for k, v in d.items() if k in ("devaddr", "fcnt", "port", "type", "status")}
        key = _fingerprint("helium", kind, raw.decode("utf-8", "replace"))
    return DeviceEvent("helium", kind, eui, key, data, device_name=d.get("name"), source_time=source_time)
