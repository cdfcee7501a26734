import uuid


def new_eui() -> str:
    """A random, unique 16-hex-digit DevEUI."""
    return uuid.uuid4().hex[:16]
