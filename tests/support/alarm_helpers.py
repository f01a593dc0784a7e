"""Helpers for alarm tests: sites, a DC-09 panel over a real socket, signed button requests, a supervisor."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from routing.alarms.buttons import sign
from routing.alarms.dc09 import read_reply
from routing.alarms.receiver import AlarmReceiverService
from routing.alarms.sites import register_site
from siaga112.models import Alarm, User
from tests.support.console_client import put_console_session

KEY = "AAAAAAAAAAAAAAAA"  # the AES key of pysiaalarm's own tests
BANK = {"name": "Bank Jatim Klojen", "lat": -7.9797, "lon": 112.6304}
REPLY_TIMEOUT_S = 10.0


def add_site(database, **fields) -> int:
    values = {**BANK, **fields}
    with database.session() as session:
        site, _ = register_site(session, **values)
        return site.id


def count_alarms(database, **where) -> int:
    with database.session() as session:
        query = select(func.count()).select_from(Alarm)
        for name, value in where.items():
            query = query.where(getattr(Alarm, name) == value)
        return session.scalar(query)


class Panel:
    """An alarm panel's side of a DC-09 TCP connection: send a frame, wait for the reply."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT_S)
        self.buffer = b""

    def send(self, frame: bytes) -> str:
        """Send one frame, return the reply's type ("ACK", "NAK", "DUH")."""
        return read_reply(self.send_raw(frame))

    def send_raw(self, frame: bytes) -> bytes:
        self.sock.sendall(frame)
        return self.reply()

    def reply(self) -> bytes:
        while True:
            for end in (b"\r", b'"ACK"'):
                index = self.buffer.find(end)
                if index >= 0:
                    reply, self.buffer = self.buffer[:index + len(end)], self.buffer[index + len(end):]
                    return reply
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the receiver closed the connection")
            self.buffer += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Panel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture
def receiver(runtime):
    """The DC-09 receiver on an ephemeral port, stopped after the test."""
    service = AlarmReceiverService(runtime)
    service.start()
    yield service
    service.stop()


def button_request(client, secret: str, payload: dict | bytes, *, timestamp: int | None = None,
                   signature: str | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"X-Siaga-Timestamp": stamp,
               "X-Siaga-Signature": signature if signature is not None else sign(secret, stamp, body)}
    return client.post("/api/v1/buttons/events", data=body, headers=headers, content_type="application/json")


def sign_in(app, client, database, make_user, role: str = "supervisor") -> dict[str, str]:
    """Put a console user's session on `client`; returns the CSRF header its writes must carry."""
    username, _ = make_user(role)
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        put_console_session(client, user)
    raw = hashlib.sha1(os.urandom(64)).hexdigest()
    with client.session_transaction() as cookie:
        cookie["csrf_token"] = raw
    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(raw)
    return {"X-CSRFToken": token}
