"""Opaque, tamper-evident list cursors.

A cursor is DynamoDB's LastEvaluatedKey, serialised, bound to the list it came
from (``scope``) and signed with an HMAC, so a forged or reused cursor is a
clear 4xx and never reaches DynamoDB.
"""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

import base64
import hashlib
import hmac
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from fleetgate.core.errors import InvalidInput
from fleetgate.core.schemas import Schema
from fleetgate.core.settings import get_auth_settings

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(Schema, Generic[T]):
    """One page of a list. Pass ``next_cursor`` as ``cursor`` to get the next page; null on the last page."""

    model_config = ConfigDict(from_attributes=True)  # a route's Page[Device] takes the service's Page as it is

    items: list[T]
    next_cursor: str | None = None

    def __class_getitem__(cls, item: Any) -> Any:
        """``Page[Device]``, the body of a list route, is a model of its own named ``DeviceList`` (one per item
        type; an item type may name it in ``LIST_NAME``), so the OpenAPI document names it as when each list had
        its model, not ``Page_Device_``."""
        parametrized = super().__class_getitem__(item)
        if cls is not Page or not (isinstance(item, type) and issubclass(item, BaseModel)):
            return parametrized
        named = _NAMED.get(item)
        if named is None:
            named = _NAMED[item] = type(
                getattr(item, "LIST_NAME", f"{item.__name__}List"),
                (parametrized,),
                {"__module__": item.__module__, "__doc__": cls.__doc__},
            )
        return named


_NAMED: dict[type, type] = {}


def _key(scope: str) -> bytes:
    secret = get_auth_settings().secret.encode()
    return hmac.new(secret, b"cursor:" + scope.encode(), hashlib.sha256).digest()


def encode_cursor(last_key: dict[str, Any] | None, scope: str) -> str | None:
    if not last_key:
        return None
    payload = base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode())
    sig = base64.urlsafe_b64encode(hmac.new(_key(scope), payload, hashlib.sha256).digest()[:16])
    return (payload + b"." + sig).decode().replace("=", "")


def decode_cursor(cursor: str | None, scope: str) -> dict[str, Any] | None:
    if cursor in (None, ""):
        return None
    invalid = InvalidInput("Invalid cursor", field="query:cursor")
    try:
        payload_s, _, sig_s = cursor.partition(".")
        payload, sig = payload_s.encode(), _unpad(sig_s)
        expected = hmac.new(_key(scope), _pad(payload), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, sig):
            raise invalid
        value = json.loads(base64.urlsafe_b64decode(_pad(payload)))
    except InvalidInput:
        raise
    except (ValueError, TypeError, UnicodeError):
        raise invalid from None
    if not isinstance(value, dict):
        raise invalid
    return value


def _pad(raw: bytes) -> bytes:
    return raw + b"=" * (-len(raw) % 4)


def _unpad(text: str) -> bytes:
    return base64.urlsafe_b64decode(_pad(text.encode()))
