"""Loopback helpers: free ports and waiting for a local server to answer."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(port: int, *, timeout: float, alive: Callable[[], bool] = lambda: True, path: str = "/") -> bool:
    """Poll ``GET http://127.0.0.1:port/path`` until any HTTP answer; False on timeout or when ``alive()`` fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            conn.getresponse().read()
            return True
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    return False
