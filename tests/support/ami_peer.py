"""A test-side Asterisk manager (AMI) that answers as the recorded session in
../shared/asterisk/transcripts/ami_originate_queue.txt does, and records every action it gets.

What it reproduces, byte for byte in form (CRLF lines, a blank line ends a message):
- the banner `Asterisk Call Manager/11.0.0` on connect;
- `Login`: `Response: Success` / `Message: Authentication accepted`, a second login on the same
  connection `Message: Already authenticated`; a wrong secret `Response: Error` /
  `Message: Authentication failed`, after which Asterisk closes the connection;
- `Originate`: `Response: Success` / `Message: Originate successfully queued`, then (unless the
  login said `Events: off`) `Newchannel` and `OriginateResponse` carrying the same `ActionID`;
- an unknown action: `Response: Error` / `Message: Invalid/unknown command: NAME. Use Action:
  ListCommands to show available commands.`;
- `Logoff`: `Response: Goodbye` / `Message: Thanks for all the fish.`, then the connection closes.
Every reply carries the `ActionID` the client sent, in the order Asterisk writes it.

For the call path's event listener it also: sends events (`emit`) to every connection that
logged in with events on, each with a `Timestamp` as `timestampevents = yes` writes it; answers
`QueueStatus` and `CoreShowChannels` with the event lists Asterisk sends (`queue_entries`,
`channels`), `QueueChangePriorityCaller` with `Priority change for caller on queue`, and can
drop every connection at once (`drop`), as an Asterisk restart does.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

BANNER = "Asterisk Call Manager/11.0.0"
CRLF = "\r\n"


@dataclass
class ReceivedAction:
    """One action as the peer read it: its headers in order (repeated keys kept) and its connection."""

    headers: list[tuple[str, str]]
    connection: int

    @property
    def name(self) -> str:
        return self.get("Action") or ""

    def get(self, key: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == key.lower():
                return v
        return None

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == key.lower()]

    def as_dict(self) -> dict[str, str]:
        """The headers as a dict (the last of a repeated key wins); ActionID left out for comparisons."""
        return {k: v for k, v in self.headers if k != "ActionID"}


@dataclass
class AmiPeer:
    """A threaded AMI server on 127.0.0.1 and an ephemeral port; use as a context manager."""

    username: str = "siaga112"
    secret: str = "ami-test-secret"
    originate_result: str = "Success"  # or "Failure": what the OriginateResponse event says
    silent: bool = False  # accept connections and say nothing (a hung manager)
    actions: list[ReceivedAction] = field(default_factory=list)
    connections: int = 0
    queue_entries: list[list[tuple[str, str]]] = field(default_factory=list)  # QueueEntry headers, no ActionID
    channels: list[list[tuple[str, str]]] = field(default_factory=list)  # CoreShowChannel headers
    variables: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, name) -> value, for Getvar

    def __post_init__(self) -> None:
        self._condition = threading.Condition()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []
        self._stopping = threading.Event()
        self._uniqueid = 1795346546
        self._listeners: dict[int, socket.socket] = {}  # connection number -> socket, events on

    # -- life cycle ------------------------------------------------------------------------
    def __enter__(self) -> "AmiPeer":
        thread = threading.Thread(target=self._accept_loop, name="ami-peer", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *_exc) -> None:
        self._stopping.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._sock.close()
        with self._condition:
            clients = list(self._clients)
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- what tests look at -------------------------------------------------------------------
    def actions_named(self, name: str) -> list[ReceivedAction]:
        with self._condition:
            return [a for a in self.actions if a.name.lower() == name.lower()]

    def wait_for_action(self, name: str, count: int = 1, timeout: float = 5.0) -> list[ReceivedAction]:
        """Block until `count` actions called `name` arrived (or fail), without a fixed sleep."""
        with self._condition:
            ok = self._condition.wait_for(
                lambda: len([a for a in self.actions if a.name.lower() == name.lower()]) >= count, timeout)
            if not ok:
                raise AssertionError(f"the AMI peer did not receive {count} {name} action(s) in {timeout} s")
            return [a for a in self.actions if a.name.lower() == name.lower()]

    def emit(self, headers: list[tuple[str, str]], *, at: float | None = None) -> int:
        """Send one event to every logged-in connection with events on; returns how many got it."""
        stamp = f"{(time.time() if at is None else at):.6f}"
        event = [*headers, ("Timestamp", stamp)] if not any(k == "Timestamp" for k, _ in headers) else headers
        with self._condition:
            targets = list(self._listeners.items())
        sent = 0
        for _number, client in targets:
            try:
                _send(client, event)
                sent += 1
            except OSError:
                pass
        return sent

    def wait_for_listeners(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until `count` connections are logged in with events on."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._listeners) >= count, timeout):
                raise AssertionError(f"{count} event listener(s) did not log in within {timeout} s")

    def drop(self) -> None:
        """Close every connection, as Asterisk does when it restarts."""
        with self._condition:
            clients = list(self._clients)
            self._listeners.clear()
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- the protocol ------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            with self._condition:
                self.connections += 1
                number = self.connections
                self._clients.append(client)
            thread = threading.Thread(target=self._serve, args=(client, number), name=f"ami-peer-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket, number: int) -> None:
        reader = client.makefile("rb")
        try:
            if self.silent:
                self._stopping.wait()
                return
            client.sendall((BANNER + CRLF).encode())
            state = {"authenticated": False, "events": True}
            while not self._stopping.is_set():
                headers = _read_message(reader)
                if headers is None:
                    return
                action = ReceivedAction(headers, number)
                with self._condition:
                    self.actions.append(action)
                    self._condition.notify_all()
                if not self._answer(client, action, state):
                    return
        except OSError:
            return
        finally:
            with self._condition:
                self._listeners.pop(number, None)
            reader.close()
            client.close()

    def _answer(self, client: socket.socket, action: ReceivedAction, state: dict) -> bool:
        """Write Asterisk's reply to one action; False when Asterisk would close the connection."""
        action_id = action.get("ActionID")
        name = action.name
        if name.lower() == "login":
            if state["authenticated"]:
                _send(client, [("Response", "Success"), ("ActionID", action_id), ("Message", "Already authenticated")])
                return True
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                state["authenticated"] = True
                state["events"] = (action.get("Events") or "on").lower() != "off"
                _send(client, [("Response", "Success"), ("ActionID", action_id), ("Message", "Authentication accepted")])
                if state["events"]:
                    with self._condition:
                        self._listeners[action.connection] = client
                        self._condition.notify_all()
                return True
            _send(client, [("Response", "Error"), ("ActionID", action_id), ("Message", "Authentication failed")])
            return False
        if name.lower() == "logoff":
            _send(client, [("Response", "Goodbye"), ("ActionID", action_id), ("Message", "Thanks for all the fish.")])
            return False
        if not state["authenticated"]:
            _send(client, [("Response", "Error"), ("ActionID", action_id), ("Message", "Authentication Required")])
            return True
        if name.lower() == "ping":
            _send(client, [("Response", "Success"), ("ActionID", action_id), ("Ping", "Pong"),
                           ("Timestamp", "1795346546.000000")])
            return True
        if name.lower() == "queuestatus":
            _send(client, [("Response", "Success"), ("ActionID", action_id), ("EventList", "start"),
                           ("Message", "Queue status will follow")])
            for entry in self.queue_entries:
                _send(client, [("Event", "QueueEntry"), *entry, ("ActionID", action_id)])
            _send(client, [("Event", "QueueStatusComplete"), ("ActionID", action_id), ("EventList", "Complete"),
                           ("ListItems", str(len(self.queue_entries)))])
            return True
        if name.lower() == "coreshowchannels":
            _send(client, [("Response", "Success"), ("ActionID", action_id), ("EventList", "start"),
                           ("Message", "Channels will follow")])
            for channel in self.channels:
                _send(client, [("Event", "CoreShowChannel"), ("ActionID", action_id), *channel])
            _send(client, [("Event", "CoreShowChannelsComplete"), ("ActionID", action_id), ("EventList", "Complete"),
                           ("ListItems", str(len(self.channels)))])
            return True
        if name.lower() == "getvar":
            value = self.variables.get((action.get("Channel") or "", action.get("Variable") or ""))
            if value is None:
                _send(client, [("Response", "Success"), ("ActionID", action_id), ("Variable", action.get("Variable")),
                               ("Value", "")])
            else:
                _send(client, [("Response", "Success"), ("ActionID", action_id), ("Variable", action.get("Variable")),
                               ("Value", value)])
            return True
        if name.lower() == "queuepause":
            _send(client, [("Response", "Success"), ("ActionID", action_id),
                           ("Message", "Interface paused successfully" if (action.get("Paused") or "").lower()
                            in ("true", "yes", "1") else "Interface unpaused successfully")])
            return True
        if name.lower() == "queuechangeprioritycaller":
            _send(client, [("Response", "Success"), ("ActionID", action_id),
                           ("Message", "Priority change for caller on queue")])
            return True
        if name.lower() == "originate":
            _send(client, [("Response", "Success"), ("ActionID", action_id),
                           ("Message", "Originate successfully queued")])
            if state["events"]:
                self._originate_events(client, action)
            return True
        _send(client, [("Response", "Error"), ("ActionID", action_id),
                       ("Message", f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.")])
        return True

    def _originate_events(self, client: socket.socket, action: ReceivedAction) -> None:
        with self._condition:
            self._uniqueid += 1
            uniqueid = f"{self._uniqueid}.0"
        channel = f"{action.get('Channel')}-00000000"
        name, number = _split_callerid(action.get("CallerID") or "")
        _send(client, [
            ("Event", "Newchannel"), ("Privilege", "call,all"), ("Channel", channel), ("ChannelState", "0"),
            ("ChannelStateDesc", "Down"), ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>"),
            ("ConnectedLineNum", "<unknown>"), ("ConnectedLineName", "<unknown>"), ("Language", "en"),
            ("AccountCode", ""), ("Context", action.get("Context") or "default"),
            ("Exten", action.get("Exten") or "s"), ("Priority", "1"), ("Uniqueid", uniqueid),
            ("Linkedid", uniqueid),
        ])
        success = self.originate_result == "Success"
        _send(client, [
            ("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", action.get("ActionID")),
            ("Response", "Success" if success else "Failure"), ("Channel", channel),
            ("Context", action.get("Context") or ""), ("Exten", action.get("Exten") or ""),
            ("Reason", "4" if success else "3"), ("Uniqueid", uniqueid if success else "<null>"),
            ("CallerIDNum", number or "<unknown>"), ("CallerIDName", name or "<unknown>"),
        ])


def _read_message(reader) -> list[tuple[str, str]] | None:
    """Read `Key: Value` lines up to the blank line; None when the client closed."""
    headers: list[tuple[str, str]] = []
    while True:
        raw = reader.readline()
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if headers:
                return headers
            continue
        key, _, value = line.partition(":")
        headers.append((key.strip(), value.strip()))


def _send(client: socket.socket, headers: list[tuple[str, str | None]]) -> None:
    text = "".join(f"{k}: {v if v is not None else ''}{CRLF}" for k, v in headers if not (k == "ActionID" and v is None))
    client.sendall((text + CRLF).encode("utf-8"))


def _split_callerid(value: str) -> tuple[str, str]:
    """`Budi Santoso <+6281234567890>` -> ("Budi Santoso", "+6281234567890")."""
    if "<" in value and value.endswith(">"):
        name, _, number = value.partition("<")
        return name.strip().strip('"'), number[:-1]
    return "", value
