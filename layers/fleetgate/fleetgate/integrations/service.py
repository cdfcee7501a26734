"""Integration logic: CRUD with secrets masked on the way out, test sends, history.

Secrets: an MQTT ``password``, the values of credential-like HTTP headers (Authorization, Cookie, API keys,
anything named like a token, secret, password or key) and the password in a URL's user-info (and credential-like
URL query parameters) are stored as given and shown masked (``********``; an ``Authorization`` value keeps its
scheme: ``Bearer ********``). An update that sends a masked value back keeps the stored secret.

The test route sends one message through the same senders the flow engine uses and returns the outcome. It does
not write integration history, like a function test run: history is the record of real deliveries.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import TypeAdapter, ValidationError

from fleetgate.core.access import new_resource, owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput, NotFound
from fleetgate.core.ids import now_iso
from fleetgate.core.observability import count, timing
from fleetgate.core.pagination import Page
from fleetgate.core.repository import Lookup
from fleetgate.core.schemas import changed, sent_fields
from fleetgate.core.settings import cached
from fleetgate.history import service as history
from fleetgate.history.schemas import IntegrationExecution
from fleetgate.integrations import outbound, repository
from fleetgate.integrations.outbound import Outcome
from fleetgate.integrations.schemas import (
    MASK,
    Config,
    HttpConfig,
    Integration,
    IntegrationCreate,
    IntegrationRecord,
    IntegrationTestRequest,
    IntegrationTestResult,
    IntegrationUpdate,
    MqttConfig,
)

_SENSITIVE = re.compile(r"auth|cookie|token|secret|passw|api[-_]?key|^key$|[-_]key$|credential|signature|session", re.I)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9._~+/-]*) +\S")


# ---------------------------------------------------------------- masking
def _mask_value(name: str, value: str) -> str:
    if not _SENSITIVE.search(name):
        return value
    scheme = _SCHEME.match(value)
    return f"{scheme.group(1)} {MASK}" if scheme and name.lower() in ("authorization", "proxy-authorization") else MASK


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SENSITIVE.search(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _SENSITIVE.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def masked_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    if kind == "http":
        out["url"] = mask_url(config.get("url", ""))
        out["headers"] = {k: _mask_value(k, v) for k, v in (config.get("headers") or {}).items()}
    elif config.get("password"):
        out["password"] = MASK
    return out


def masked_request(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """What a send looks like in history and test results: destination and headers, secrets masked."""
    shown = masked_config(kind, config)
    if kind == "http":
        return {"method": shown["method"], "url": shown["url"], "headers": shown["headers"]}
    return {
        "host": shown["host"],
        "port": shown["port"],
        "topic": shown["topic"],
        "tls": shown["tls"],
        "username": shown.get("username"),
    }


def _keep_secrets(kind: str, new: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """A masked value sent back means "unchanged": put the stored secret back."""
    out = dict(new)
    if kind == "http":
        stored_headers = stored.get("headers") or {}
        headers = dict(out.get("headers") or {}) if isinstance(out.get("headers"), dict) else out.get("headers")
        if isinstance(headers, dict):
            for name, value in headers.items():
                if (
                    name in stored_headers
                    and value == _mask_value(name, stored_headers[name])
                    and value != stored_headers[name]
                ):
                    headers[name] = stored_headers[name]
            out["headers"] = headers
        url = out.get("url")
        if isinstance(url, str) and stored.get("url") and url == mask_url(stored["url"]):
            out["url"] = stored["url"]
    elif out.get("password") == MASK and stored.get("password"):
        out["password"] = stored["password"]
    return out


# ---------------------------------------------------------------- conversion
@cached
def _config_adapter() -> TypeAdapter:
    return TypeAdapter(Config)


def _validate_config(kind: str, config: dict[str, Any]) -> HttpConfig | MqttConfig:
    try:
        return _config_adapter().validate_python({**config, "type": kind})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"][1:]) if len(err["loc"]) > 1 else ""
        raise InvalidInput(err["msg"], field="config" + (f".{loc}" if loc else "")) from None


def _out(record: IntegrationRecord) -> Integration:
    return Integration(
        **record.model_dump(exclude={"config"}), config=masked_config(record.type, record.config.model_dump())
    )


def _visible(who: Principal, integration_id: str) -> IntegrationRecord:
    return visible(who, repository.get(integration_id), "Integration")


# ---------------------------------------------------------------- CRUD
def create_integration(who: Principal, data: IntegrationCreate) -> Integration:
    record = IntegrationRecord(
        **new_resource(who), name=data.name, description=data.description, type=data.type, config=data.config
    )
    repository.create(record)
    return _out(record)


def list_integrations(who: Principal, *, limit: int, cursor: str | None) -> Page[Integration]:
    page = repository.list_integrations(owner_scope(who), limit=limit, cursor=cursor)
    return Page(items=[_out(r) for r in page.items], next_cursor=page.next_cursor)


def get_integration(who: Principal, integration_id: str) -> Integration:
    return _out(_visible(who, integration_id))


def update_integration(who: Principal, integration_id: str, data: IntegrationUpdate) -> Integration:
    current = _visible(who, integration_id)
    given = sent_fields(data)
    values = {k: v for k, v in given.items() if k in ("name", "description")}
    kind = given.get("type", current.type)
    if kind != current.type and "config" not in given:
        raise InvalidInput("changing the type needs a config for the new type", field="config")
    if "config" in given:
        stored = current.config.model_dump() if kind == current.type else {}
        values["config"] = _validate_config(kind, _keep_secrets(kind, given["config"], stored))
        values["type"] = kind
    update = changed(current, values)
    if not update:
        return _out(current)
    now = now_iso()
    repository.update(current.id, update, now)
    return _out(current.model_copy(update={**update, "updated_at": now}))


def delete_integration(who: Principal, integration_id: str) -> None:
    repository.delete(_visible(who, integration_id).id)


# ---------------------------------------------------------------- sending
def sample_payload() -> dict[str, Any]:
    return {
        "test": True,
        "device_id": None,
        "dev_eui": "0000000000000000",
        "received_at": now_iso(),
        "data": {"temperature": 21.5, "humidity": 48},
    }


def send(record: IntegrationRecord, payload: dict[str, Any], *, headers: dict[str, str] | None = None) -> Outcome:
    """Deliver ``payload`` through the integration (the flow engine's entry point too). ``headers`` are added to an
    HTTP integration's own (the engine's Idempotency-Key); MQTT ignores them. Never raises for the destination's
    faults: the outcome says what happened."""
    outcome = _deliver(record, payload, headers)
    timing("IntegrationLatency", outcome.latency_ms)
    if not outcome.success:
        count("IntegrationFailures")
    return outcome


def _deliver(record: IntegrationRecord, payload: dict[str, Any], headers: dict[str, str] | None) -> Outcome:
    cfg = record.config
    shown = masked_request(record.type, cfg.model_dump())
    if isinstance(cfg, HttpConfig):
        if headers:
            shown = {**shown, "headers": {**shown["headers"], **headers}}
        return outbound.send_http(
            url=cfg.url,
            method=cfg.method,
            headers={**cfg.headers, **(headers or {})},
            timeout=cfg.timeout_seconds,
            verify_tls=cfg.verify_tls,
            payload=payload,
            masked_request=shown,
        )
    return outbound.send_mqtt(
        host=cfg.host,
        port=cfg.port,
        topic=cfg.topic,
        qos=cfg.qos,
        retain=cfg.retain,
        username=cfg.username,
        password=cfg.password,
        tls=cfg.tls,
        verify_tls=cfg.verify_tls,
        timeout=cfg.timeout_seconds,
        client_id=cfg.client_id,
        payload=payload,
        masked_request=shown,
    )


def test_integration(who: Principal, integration_id: str, data: IntegrationTestRequest) -> IntegrationTestResult:
    record = _visible(who, integration_id)
    outcome = send(record, data.payload if data.payload is not None else sample_payload())
    return IntegrationTestResult(
        success=outcome.success,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        response_excerpt=outcome.response_excerpt,
        error=outcome.error,
    )


# ---------------------------------------------------------------- history
def integration_history(
    who: Principal, integration_id: str, *, limit: int, cursor: str | None
) -> Page[IntegrationExecution]:
    record = _visible(who, integration_id)
    return history.for_resource("integration", record.id, record.owner_id, limit=limit, cursor=cursor)


def integration_history_entry(who: Principal, integration_id: str, history_id: str) -> IntegrationExecution:
    record = _visible(who, integration_id)
    entry = history.get("integration", record.id, history_id, record.owner_id)
    if entry is None:
        raise NotFound("History record not found")
    return entry


def all_integration_history(who: Principal, *, limit: int, cursor: str | None) -> Page[IntegrationExecution]:
    return history.for_caller(who, "integration", limit=limit, cursor=cursor)


# ---------------------------------------------------------------- for other contexts (flows, the engine)
def delivery_records(integration_ids: list[str], owner_id: str) -> dict[str, IntegrationRecord]:
    """The integrations of ``owner_id`` among these ids (one BatchGetItem), to deliver through with :func:`send`;
    missing ones and other owners' are left out."""
    return repository.records_of(integration_ids, owner_id).get()


def delivery_records_lookup(integration_ids: list[str], owner_id: str) -> Lookup[dict[str, IntegrationRecord]]:
    """:func:`delivery_records` as a batch read, to read with other contexts' in one BatchGetItem."""
    return repository.records_of(integration_ids, owner_id)
