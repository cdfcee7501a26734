"""A stand-in for Firebase Cloud Messaging on 127.0.0.1, so `make dev` can lock and unlock phones offline.

It answers FCM's HTTP v1 send (``POST /v1/projects/<project>/messages:send``) as FCM does when it accepts a
message, and logs what it received: the data ``type`` and ``action``, never the device token. Nothing is
delivered anywhere. ``serve`` starts it and passes its URL as the FcmEndpoint parameter (unless
``--param FcmEndpoint=...`` names another).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("localcloud.fcm")

_SEND = re.compile(r"^/v1/projects/([^/]+)/messages:send$")


class FakeFcm:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        counter = itertools.count(1)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                match = _SEND.match(self.path)
                try:
                    message = json.loads(raw)["message"]
                except (ValueError, KeyError, TypeError):
                    message = None
                if match is None or not isinstance(message, dict):
                    self._answer(
                        400, {"error": {"code": 400, "message": "not an FCM v1 send", "status": "INVALID_ARGUMENT"}}
                    )
                    return
                number = next(counter)
                data = message.get("data") or {}
                log.info("fake FCM message %d: %s %s", number, data.get("type", "-"), data.get("action", ""))
                self._answer(200, {"name": f"projects/{match.group(1)}/messages/{number}"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fake-fcm", daemon=True)

    def start(self) -> FakeFcm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
