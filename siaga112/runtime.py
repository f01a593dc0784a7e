"""The one place where settings become clients: database, Twilio, speech model, AMI.

Every entry point (web app, FastAGI server, alarm receiver, scheduler, CLI) gets a Runtime and
passes what it needs down; nothing builds its own client from global state.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from siaga112.db import Database
from siaga112.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    database: Database
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when the process is stopping: long background work (encodes, a sweep's backlog,
    # transcription) looks at it and ends, leaving the rest for the next start.
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Runtime":
        settings = settings or load_settings()
        settings.data_path.mkdir(parents=True, exist_ok=True)
        Path(settings.recordings_dir).mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, database=Database(settings.database_url))

    def client(self, name: str, factory: Callable[[Settings], Any]) -> Any:
        """Build a named client once (thread-safe) and hand the same one out after."""
        with self._lock:
            if name not in self._clients:
                self._clients[name] = factory(self.settings)
            return self._clients[name]

    def provide(self, name: str, client: Any) -> None:
        """Put a ready client in place (tests hand in a recorder-backed Twilio, a fake AMI)."""
        with self._lock:
            self._clients[name] = client

    def secret_key(self) -> str:
        """The session-signing key: the setting, else one generated once and kept in data_dir."""
        if self.settings.secret_key:
            return self.settings.secret_key
        path = self.settings.data_path / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()
