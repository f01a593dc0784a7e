"""A local stand-in for Twilio's Messages API: records each request, answers as Twilio does.

Point the real twilio client at it (setting `twilio_api_base`) and assert on what was sent:
the form fields To, From and Body exactly as the library encoded them. `fail_next(n, status)`
makes the next n sends fail, to test retries.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    account: str  # the user of HTTP basic auth


class TwilioRecorder:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._failures: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8")).items()}
                auth = self.headers.get("Authorization", "")
                account = base64.b64decode(auth[6:]).decode().split(":")[0] if auth.startswith("Basic ") else ""
                with recorder._lock:
                    recorder.requests.append(Recorded("POST", self.path, form, account))
                    failure = recorder._failures.pop(0) if recorder._failures else None
                if failure:
                    status, code = failure
                    self._answer(status, {"code": code, "message": "Simulated failure", "more_info": "", "status": status})
                    return
                self._answer(201, {
                    "sid": "SM" + uuid.uuid4().hex, "account_sid": account, "to": form.get("To"),
                    "from": form.get("From"), "body": form.get("Body"), "status": "queued", "num_segments": "1",
                    "direction": "outbound-api", "api_version": "2010-04-01", "uri": self.path,
                })

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, count: int = 1, status: int = 500, code: int = 20500) -> None:
        with self._lock:
            self._failures.extend([(status, code)] * count)

    @property
    def messages(self) -> list[dict[str, str]]:
        with self._lock:
            return [r.form for r in self.requests if r.path.endswith("/Messages.json")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def twilio_recorder(runtime):
    """Starts the recorder and points this test's runtime (and so the twilio client) at it."""
    recorder = TwilioRecorder()
    runtime.settings.twilio_account_sid = "AC" + "0" * 32
    runtime.settings.twilio_auth_token = "test-auth-token"
    runtime.settings.twilio_from_number = "+15005550006"
    runtime.settings.twilio_api_base = recorder.url
    yield recorder
    recorder.close()
