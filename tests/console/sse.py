"""A minimal Server-Sent Events reader for tests: connect, then take events one by one with a timeout."""

from __future__ import annotations

import http.client
import json
import time


class SseStream:
    """Reads `GET path` of a live server as an event stream."""

    def __init__(self, port: int, path: str = "/api/v1/events", headers: dict | None = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.sock = self.connection.sock  # http.client lets go of it once a streamed response starts
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def next_event(self, timeout: float = 5.0) -> dict:
        """The next event (id, event, data parsed as JSON); heartbeats, comments and retry lines are skipped."""
        deadline = time.monotonic() + timeout
        fields: dict = {}
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            line = self.response.fp.readline().decode("utf-8").rstrip("\n")
            if line == "":
                if "data" in fields and fields.get("event") != "heartbeat":
                    fields["data"] = json.loads(fields["data"])
                    return fields
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
        raise TimeoutError("no event within the time allowed")

    def close(self) -> None:
        self.response.close()
        self.connection.close()

    def __enter__(self) -> "SseStream":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
