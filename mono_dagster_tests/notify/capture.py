"""A real local HTTP receiver standing in for PagerDuty's Events API and a Slack incoming webhook.

It records every request (path and JSON body) and answers with scripted statuses, then `default_status`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class CapturedRequest:
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class CaptureServer:
    default_status: int = 202
    script: list[int] = field(default_factory=list)  # statuses for the next requests, in order
    requests: list[CapturedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                with capture._lock:
                    capture.requests.append(
                        CapturedRequest(self.path, json.loads(raw or b"null"), dict(self.headers.items()))
                    )
                    status = capture.script.pop(0) if capture.script else capture.default_status
                body = json.dumps({"status": "success" if status < 300 else "error"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def pagerduty_url(self) -> str:
        return self.base_url + "/v2/enqueue"

    @property
    def slack_url(self) -> str:
        return self.base_url + "/services/T000/B000/slack-webhook-secret-part"

    def to(self, path_prefix: str) -> list[CapturedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path.startswith(path_prefix)]

    @property
    def pagerduty(self) -> list[CapturedRequest]:
        return self.to("/v2/enqueue")

    @property
    def slack(self) -> list[CapturedRequest]:
        return self.to("/services/")

    def __enter__(self) -> CaptureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
