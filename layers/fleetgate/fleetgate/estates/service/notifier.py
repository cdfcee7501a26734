"""The notifier: residents' temporary passwords and low-balance alerts, by SMS when a provider is configured
(``SmsProviderUrl``), otherwise only recorded as not sent. Every notice is recorded (kind, number, outcome) and
shown to staff; the text itself (it may hold a password) is never stored or logged.

The provider is called with ``POST <SMS_PROVIDER_URL>`` ``{"to": "+27...", "message": "..."}`` and, when
``SmsApiKey`` is set, ``Authorization: Bearer <key>``; any 2xx is "sent". One send has SMS_TIMEOUT seconds (5).
"""

from __future__ import annotations

from typing import Any, Literal

from fleetgate.core.http import deadline, is_timeout, pooled_client
from fleetgate.core.ids import now_iso
from fleetgate.core.observability import logger
from fleetgate.core.settings import cached, resolve_secret
from fleetgate.estates import repository
from fleetgate.estates.records import Notification
from fleetgate.estates.settings import EstatesSettings, get_estates_settings

Kind = Literal["temporary_password", "low_balance"]


@cached
def _client() -> Any:
    settings = get_estates_settings()
    return pooled_client(
        connect_timeout=min(5.0, settings.sms_timeout), timeout=settings.sms_timeout, max_connections=4
    )


def send_sms(person_id: int, phone: str, kind: Kind, text: str) -> Notification:
    """Deliver ``text`` to ``phone`` (or record that nothing was sent) and record the outcome."""
    settings = get_estates_settings()
    if settings.sms_provider_url:
        status, detail = _deliver(settings, phone, text)
    else:
        status, detail = "not_sent", "No SMS provider is configured"
    notification = Notification(person_id, kind, phone, status, detail, now_iso())
    repository.put_notification(notification)
    logger.info("sms", extra={"notice": kind, "status": status, "person_id": person_id})  # never the text
    return notification


def _deliver(settings: EstatesSettings, phone: str, text: str) -> tuple[Literal["sent", "failed"], str]:
    import httpx  # lazy: only a function that sends pays for the import

    try:
        key = resolve_secret(settings.sms_api_key) if settings.sms_api_key else ""
    except Exception:
        logger.exception("SMS_API_KEY could not be read")
        return "failed", "The SMS provider's key could not be read"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with deadline(settings.sms_timeout):
            reply = _client().post(settings.sms_provider_url, json={"to": phone, "message": text}, headers=headers)
    except httpx.HTTPError as exc:
        return "failed", "The SMS provider did not answer in time" if is_timeout(
            exc
        ) else "The SMS provider is unreachable"
    if 200 <= reply.status_code < 300:
        return "sent", f"Accepted by the SMS provider (HTTP {reply.status_code})"
    return "failed", f"The SMS provider answered HTTP {reply.status_code}"
