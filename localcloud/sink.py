"""A webhook sink on 127.0.0.1 for the demo's HTTP integration: it answers every POST with 200, logs a line per
request and keeps the last bodies it received, which ``GET /`` lists (newest last). Nothing leaves the machine."""

from __future__ import annotations

import collections
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("localcloud.sink")

KEEP = 50  # bodies kept for GET /


class Sink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        received: collections.deque[Any] = collections.deque(maxlen=KEEP)
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                received.append(body)
                data = body.get("data") if isinstance(body, dict) else None
                log.info("sink received %s", json.dumps(data)[:200] if data is not None else f"{len(raw)} bytes")
                self._answer(200, {"received": len(received)})

            do_PUT = do_PATCH = do_POST

            def do_GET(self) -> None:
                self._answer(200, {"items": list(received)})

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
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="demo-sink", daemon=True)

    def start(self) -> Sink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
