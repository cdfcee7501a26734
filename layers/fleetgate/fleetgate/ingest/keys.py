"""Ingest keys: the X-API-Key keys of ChirpStack and Helium integrations (each integration its own).

A key is ``fgk_<key id>_<secret>``, 32 random bytes of secret. Only ``HMAC-SHA256(INGEST_KEY_SECRET, secret)`` is
stored (a fast keyed hash is right for a high-entropy random key; a password hash would only slow every uplink
down), and the key's id makes its lookup one read. A key ingests for its owner's devices only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from fleetgate.core.access import new_resource, owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import Unauthorized
from fleetgate.core.pagination import Page
from fleetgate.core.repository import Lookup
from fleetgate.ingest import repository
from fleetgate.ingest.schemas import IngestKey, IngestKeyCreate, IngestKeyCreated
from fleetgate.ingest.settings import get_ingest_settings

KEY_PREFIX = "fgk"
_KEY = re.compile(r"^fgk_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class InvalidApiKey(Unauthorized):
    challenge = 'ApiKey header="X-API-Key"'


def _hash(secret: str) -> str:
    return hmac.new(get_ingest_settings().key_secret.encode(), secret.encode(), hashlib.sha256).hexdigest()


def create_key(who: Principal, data: IngestKeyCreate) -> IngestKeyCreated:
    fields, secret = new_resource(who), secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}_{fields['id']}_{secret}"
    prefix = f"{KEY_PREFIX}_{fields['id']}_{secret[:4]}"
    record = IngestKey(**fields, name=data.name, description=data.description, prefix=prefix)
    repository.create_key(record, _hash(secret))
    return IngestKeyCreated(**record.model_dump(), key=key)


def list_keys(who: Principal, *, limit: int, cursor: str | None) -> Page[IngestKey]:
    return repository.list_keys(owner_scope(who), limit=limit, cursor=cursor)


def revoke_key(who: Principal, key_id: str) -> None:
    found = repository.get_key(key_id)
    key = visible(who, found[0] if found else None, "Ingest key")
    repository.delete_key(key.id)


def split(api_key: str | None) -> tuple[str, str]:
    """The key id and secret of an X-API-Key value; 401 when it is missing or not a key."""
    match = _KEY.match((api_key or "").strip())
    if not match:
        raise InvalidApiKey("Missing or invalid X-API-Key" if api_key else "Missing X-API-Key header")
    return match.group(1), match.group(2)


def lookup(key_id: str) -> Lookup[tuple[IngestKey, str] | None]:
    """The key and its stored hash, as a batch read (ingest reads it with the device's dev_eui claim)."""
    return repository.key_lookup(key_id)


def check(key_id: str, secret: str) -> str:
    """The owner of the key (a consistent read: a revoked key stops working at once); 401 when it is wrong."""
    return owner(repository.get_key(key_id), secret)


def owner(found: tuple[IngestKey, str] | None, secret: str) -> str:
    """The owner of a key whose secret matches; 401 otherwise (the same for an unknown and a wrong key)."""
    expected = found[1] if found else "0" * 64
    if not hmac.compare_digest(_hash(secret), expected) or found is None:
        raise InvalidApiKey("Missing or invalid X-API-Key")
    return found[0].owner_id
