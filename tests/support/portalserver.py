"""A real HTTP portal for the sync tests: ThreadingHTTPServer on 127.0.0.1, in a thread.

It speaks the API of workers/sync.py, records every request (headers, body, parsed parts),
keeps one receipt per Idempotency-Key (a repeated key gets the same receipt, and is counted
as a duplicate) and injects faults on demand: the next N requests answer 503, a 429 with
Retry-After, a permanent 400, a dropped connection, or a response slower than the client's
read timeout.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    key: str
    authorization: str
    content_type: str
    body: bytes
    json: Any = None
    parts: dict[str, bytes] = field(default_factory=dict)


class PortalServer:
    def __init__(self, token: str = "") -> None:
        self.token = token
        self.requests: list[Received] = []  # every request that reached a handler
        self.accepted: dict[str, Received] = {}  # key -> first stored delivery
        self.receipts: dict[str, str] = {}
        self.duplicates = 0
        self.faults: list[tuple[str, Any]] = []  # consumed one per request
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- fault injection ------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 503) -> None:
        self.faults.extend([("status", status)] * n)

    def throttle_next(self, retry_after: int) -> None:
        self.faults.append(("retry_after", retry_after))

    def reject_next(self, status: int = 400) -> None:
        self.faults.append(("status", status))

    def drop_next(self) -> None:
        self.faults.append(("drop", None))

    def slow_next(self, seconds: float) -> None:
        self.faults.append(("slow", seconds))

    # -- life cycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> PortalServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet tests
                pass

            def do_POST(self) -> None:
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # -- the API ---------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length)
        rec = Received(h.path, h.headers.get("Idempotency-Key", ""),
                       h.headers.get("Authorization", ""), h.headers.get("Content-Type", ""),
                       body)
        with self.lock:
            self.requests.append(rec)
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            what, value = fault
            if what == "drop":
                h.close_connection = True
                h.connection.close()  # nothing answered: the client sees a dropped connection
                return
            if what == "slow":
                time.sleep(value)  # the client has timed out by now; the delivery is stored
            elif what == "retry_after":
                return self._reply(h, 429, {"error": "slow down"}, {"Retry-After": str(value)})
            else:
                return self._reply(h, value, {"error": f"injected {value}"})
        if self.token and rec.authorization != f"Bearer {self.token}":
            return self._reply(h, 401, {"error": "unauthorised"})
        if not rec.key:
            return self._reply(h, 400, {"error": "Idempotency-Key missing"})
        if h.path == "/portal/ecopies":
            rec.parts = _multipart(rec.content_type, body)
            if set(rec.parts) != {"metadata", "pdf"}:
                return self._reply(h, 400, {"error": "metadata and pdf parts expected"})
        elif h.path in ("/portal/status", "/portal/cancellations"):
            rec.json = json.loads(body)
        else:
            return self._reply(h, 404, {"error": "no such endpoint"})
        with self.lock:
            if rec.key in self.receipts:
                self.duplicates += 1
            else:
                self.accepted[rec.key] = rec
                self.receipts[rec.key] = "R-" + hashlib.sha256(rec.key.encode()).hexdigest()[:12]
            receipt = self.receipts[rec.key]
        self._reply(h, 201, {"receipt_id": receipt})

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, data: dict,
               headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    # -- what the tests look at ------------------------------------------------------------

    def stored(self, path: str) -> list[Received]:
        """Deliveries stored (one per key), in the order they arrived."""
        with self.lock:
            return [r for r in self.accepted.values() if r.path == path]


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[str(name)] = part.get_payload(decode=True) or b""
    return parts
