"""The estates context's settings, read lazily from the environment (template parameters in brackets)."""

from typing import NamedTuple

from fleetgate.core.settings import cached, env_float, env_int, env_opt, repr_without

MOBILE_TOKEN_TTL_SECONDS = 30 * 24 * 3600  # the mobile contract: "Expiry: 30 days from issuance"


class EstatesSettings(NamedTuple):
    """A settings record: a NamedTuple whose repr leaves secrets out (see fleetgate.core.settings)."""

    phone_region: str = "ZA"  # PHONE_DEFAULT_REGION (PhoneDefaultRegion): national numbers (0...) are of this region
    login_max_failures: int = 5  # MOBILE_LOGIN_MAX_FAILURES: failed logins per phone number before it is locked
    login_lock_seconds: int = 900  # MOBILE_LOGIN_LOCK_SECONDS: the window they are counted in (and the lock)
    sms_provider_url: str = ""  # SMS_PROVIDER_URL (SmsProviderUrl); empty: nothing is sent, only recorded
    sms_api_key: str = ""  # SMS_API_KEY (SmsApiKey): the key, or a secret naming it; never in the repr
    sms_timeout: float = 5.0  # SMS_TIMEOUT: deadline of one send

    def __repr__(self) -> str:
        return repr_without(self, "sms_api_key")


@cached
def get_estates_settings() -> EstatesSettings:
    return EstatesSettings(
        phone_region=(env_opt("PHONE_DEFAULT_REGION") or "ZA").upper(),
        login_max_failures=max(1, env_int("MOBILE_LOGIN_MAX_FAILURES", 5)),
        login_lock_seconds=max(1, env_int("MOBILE_LOGIN_LOCK_SECONDS", 900)),
        sms_provider_url=env_opt("SMS_PROVIDER_URL"),
        sms_api_key=env_opt("SMS_API_KEY"),
        sms_timeout=env_float("SMS_TIMEOUT", 5.0),
    )
