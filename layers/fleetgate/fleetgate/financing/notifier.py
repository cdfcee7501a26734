"""The push notifier: one FCM message through firebase-admin, and FCM's answer sorted into what to do next.

firebase_admin (about 260 ms of imports) is imported on the first send only, so only the functions that send
(the lock-command worker) ever load it. Its app is built once per instance from the settings:

- ``FCM_ENDPOINT`` set (the local cloud, tests): messages go to ``{endpoint}/v1/projects/{project}/messages:send``
  with a fixed local access token, no Google credentials;
- empty: Google's FCM, with the service account JSON kept in the Secrets Manager secret ``FCM_CREDENTIALS``.

The SDK's own retries are switched off: a refused send is retried later through SQS delays (see commands.py),
never by sleeping inside the function. Tokens are never logged.
"""

import functools
import json
import uuid
import warnings
from datetime import timedelta
from typing import Any, NamedTuple

from fleetgate.core.errors import ConfigurationError
from fleetgate.core.observability import logger
from fleetgate.core.settings import cached, repr_without, resolve_secret
from fleetgate.financing import settings

# FCM answers after which the token is useless: drop it, the app must register again.
TOKEN_ERRORS = frozenset({"UNREGISTERED", "INVALID_ARGUMENT"})
MAX_TTL_SECONDS = 28 * 24 * 3600  # FCM's longest time to live


class Push(NamedTuple):
    token: str  # never in the repr
    title: str
    body: str
    data: dict[str, str]
    collapse_key: str
    ttl_seconds: int

    def __repr__(self) -> str:
        return repr_without(self, "token")


class Outcome(NamedTuple):
    """``message_id`` when FCM accepted the message; else FCM's error code and whether the token is dead."""

    message_id: str | None = None
    error: str | None = None
    token_invalid: bool = False

    @property
    def sent(self) -> bool:
        return self.message_id is not None


@cached
def _messaging() -> tuple[Any, Any]:
    """(firebase_admin.messaging, the app) for this instance, as the settings say."""
    import firebase_admin
    import requests.adapters
    from firebase_admin import _http_client, credentials, messaging
    from google.oauth2.credentials import Credentials
    from urllib3.util.retry import Retry

    cfg = settings.fcm()
    if not cfg.project_id:
        raise ConfigurationError("FCM is not configured: set FcmProjectId (FCM_PROJECT_ID)")
    if cfg.endpoint:

        class _Local(credentials.Base):
            def get_credential(self) -> Any:
                return Credentials(token="fleetgate-local-fcm")

        credential: Any = _Local()
    elif cfg.credentials:
        name = cfg.credentials if cfg.credentials.startswith("arn:") else f"secretsmanager:{cfg.credentials}"
        credential = credentials.Certificate(json.loads(resolve_secret(name)))
    else:
        raise ConfigurationError("FCM is not configured: set FcmCredentials (FCM_CREDENTIALS) or FcmEndpoint")
    app = firebase_admin.initialize_app(
        credential, {"projectId": cfg.project_id, "httpTimeout": cfg.timeout}, name=f"fleetgate-{uuid.uuid4().hex}"
    )
    real = _http_client.HttpxAsyncClient
    _http_client.HttpxAsyncClient = functools.partial(_OnFirstUse, real)  # only while the service is built
    try:
        service = messaging._get_messaging_service(app)
    finally:
        _http_client.HttpxAsyncClient = real
    if cfg.endpoint:
        service._fcm_url = f"{cfg.endpoint}/v1/projects/{cfg.project_id}/messages:send"
    once = requests.adapters.HTTPAdapter(max_retries=Retry(total=1, connect=1, read=0, status=0, redirect=0))
    for prefix in ("http://", "https://", "https://fcm.googleapis.com"):
        service._client.session.mount(prefix, once)
    return messaging, app


class _OnFirstUse:
    """firebase-admin's async HTTP/2 client (its ``send_each_async`` and the like), built on first use. The messaging
    service builds one eagerly, which costs about 70 ms of a cold start (httpcore with h2, three TLS contexts each
    loading the CA bundle); :func:`send` goes through the service's synchronous client and never uses it."""

    def __init__(self, factory: Any, *args: Any, **kwargs: Any) -> None:
        self._build = functools.partial(factory, *args, **kwargs)
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            if name == "aclose":  # closing one never built: nothing to close
                return _nothing
            self._client = self._build()
        return getattr(self._client, name)


async def _nothing() -> None:
    return None


def send(push: Push) -> Outcome:
    """Send one message. FCM's refusals come back as an :class:`Outcome`; a missing configuration raises."""
    messaging, app = _messaging()
    with warnings.catch_warnings():
        # 7.7 deprecates Message.token for installation ids; the phone gives us a registration token.
        warnings.simplefilter("ignore", DeprecationWarning)
        message = messaging.Message(
            token=push.token,
            notification=messaging.Notification(title=push.title, body=push.body),
            data=push.data,
            android=messaging.AndroidConfig(
                priority="high",
                ttl=timedelta(seconds=max(1, min(push.ttl_seconds, MAX_TTL_SECONDS))),
                collapse_key=push.collapse_key,
            ),
        )
    try:
        return Outcome(message_id=messaging.send(message, app=app))
    except Exception as exc:  # FirebaseError (FCM's answer) or a transport failure wrapped by the SDK
        code = _fcm_code(exc, messaging)
        logger.warning("fcm send refused", extra={"fcm_error": code})
        return Outcome(error=code, token_invalid=code in TOKEN_ERRORS)


def _fcm_code(exc: Exception, messaging: Any) -> str:
    for kind, code in (
        (messaging.UnregisteredError, "UNREGISTERED"),
        (messaging.QuotaExceededError, "QUOTA_EXCEEDED"),
        (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
        (messaging.ThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"),
    ):
        if isinstance(exc, kind):
            return code
    return str(getattr(exc, "code", None) or "UNKNOWN")
