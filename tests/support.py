import uuid


def new_eui() -> str:
    """A random, unique 16-hex-digit DevEUI."""
    return uuid.uuid4().hex[:16]


def token_for(role: str = "user") -> dict:
    """A signed device-manager token for a fresh user id, without registering (argon2) or a DynamoDB user.

    For routes that only verify the token (Mobivisor, Microshare); device-manager routes need api.register().
    """
    from fleetgate.core.auth import issue_token

    user_id = str(uuid.uuid4())
    return {"id": user_id, "token": issue_token(user_id, role)[0]}  # type: ignore[arg-type]
