# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from fleetgate.core.schemas import Input, Name, Schema

MASK = "********"
Description = Annotated[str, Field(max_length=2048)]
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an absolute http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("url has an invalid port") from None
    if any(c in value for c in "\r\n\t "):
        raise ValueError("url must not contain whitespace")
    return value


def _headers(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 50:
        raise ValueError("at most 50 headers")
    for name, v in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if any(c in v for c in "\r\n\0") or len(v) > 8192:
            raise ValueError(f"invalid value for header {name!r}")
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            raise ValueError(f"header {name!r} is set by Fleetgate")
    return value


def _host(value: str) -> str:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOST.match(value):
        raise ValueError("host must be a host name or an IP address")
    return value


def _topic(value: str) -> str:
    if "+" in value or "#" in value or "\0" in value:
        raise ValueError("a publish topic cannot contain wildcards (+, #) or NUL")
    return value


MaxAttempts = Annotated[
    int, Field(ge=1, le=10, description="Deliveries tried by a flow before the step is dead-lettered (default 5)")
]
RetryBackoff = Annotated[
    float,
    Field(
        ge=1, le=900, description="Seconds before the first retry; doubles with each retry, at most 900 (default 30)"
    ),
]


class HttpConfig(Input):
    type: Literal["http"] = Field(default="http", exclude=True)
    url: Annotated[str, Field(max_length=2048), AfterValidator(_url)]
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    headers: Annotated[dict[str, str], AfterValidator(_headers)] = Field(default_factory=dict)
    timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10.0
    verify_tls: bool = True
    max_attempts: MaxAttempts = 5
    retry_backoff_seconds: RetryBackoff = 30.0


class MqttConfig(Input):
    type: Literal["mqtt"] = Field(default="mqtt", exclude=True)
    host: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_host)]
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    topic: Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_topic)]
    qos: Literal[0, 1, 2] = 0
    retain: bool = False
    username: Annotated[str, Field(max_length=256)] | None = None
    password: Annotated[str, Field(max_length=512)] | None = None
    tls: bool = False
    verify_tls: bool = True
    client_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10.0
    max_attempts: MaxAttempts = 5
    retry_backoff_seconds: RetryBackoff = 30.0


Config = Annotated[HttpConfig | MqttConfig, Field(discriminator="type")]
IntegrationType = Literal["http", "mqtt"]


def _inject_type(data: Any) -> Any:
    """The integration's ``type`` selects the config model (so config errors name their field)."""
    if isinstance(data, dict) and isinstance(data.get("config"), dict) and isinstance(data.get("type"), str):
        return {**data, "config": {**data["config"], "type": data["type"]}}
    return data


class _ConfigByType(Schema):
    """A model whose ``config`` is validated as the model its ``type`` selects."""

    @model_validator(mode="before")
    @classmethod
    def select_config(cls, data: Any) -> Any:
        return _inject_type(data)


class IntegrationCreate(_ConfigByType, Input):
    name: Name
    description: Description = ""
    type: IntegrationType
    config: Config


class IntegrationUpdate(Input):
    """Fields to change. ``config`` replaces the whole config; a secret sent back as the mask GET shows
    (``********``, or ``Bearer ********`` for a header) keeps the stored value."""

    name: Name | None = None
    description: Description | None = None
    type: IntegrationType | None = None
    config: dict[str, Any] | None = None


class IntegrationRecord(_ConfigByType):
    """A stored integration, secrets included: what deliveries send through and what the API shows masked (as
    :class:`Integration`). Never returned by the API as it is."""

    id: str
    owner_id: str
    name: str
    description: str = ""
    type: IntegrationType
    config: Config
    created_at: str
    updated_at: str


class Integration(Schema):
    id: str
    owner_id: str
    name: str
    description: str = ""
    type: IntegrationType
    config: dict[str, Any] = Field(description="Secrets (passwords, credential headers, URL passwords) masked")
    created_at: str
    updated_at: str


class IntegrationTestRequest(Input):
    payload: dict[str, Any] | None = Field(default=None, description="Default: a sample uplink message")


class IntegrationTestResult(Schema):
    success: bool
    status_code: int | None = Field(default=None, description="HTTP status (HTTP integrations)")
    latency_ms: float
    response_excerpt: str | None = None
    error: str | None = None
