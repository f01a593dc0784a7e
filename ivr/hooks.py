"""What the IVR tells other parts of Siaga112 as a call goes, through small injected listeners.

The IVR does not import the recordings package: `recordings` plugs live transcription of the
caller's statement and the end-of-call work (registering files, full transcription) in here
when it builds the FastAGI service. A listener that fails is logged and the call goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class StatementListener(Protocol):
    """Told when RECORD FILE of the caller's statement starts and ends (for live transcription)."""

    def statement_started(self, call_id: int, wav_path: str) -> None: ...

    def statement_ended(self, call_id: int, wav_path: str) -> None: ...

    def caller_connected(self, call_id: int) -> None:
        """A call-taker answered the caller (their live text is now read along, not before)."""


class CallEndedListener(Protocol):
    """Told once a call's final state is stored (the recordings can be registered)."""

    def __call__(self, call_id: int) -> None: ...


class NoStatementListener:
    """The default: nobody transcribes live."""

    def statement_started(self, call_id: int, wav_path: str) -> None:
        pass

    def statement_ended(self, call_id: int, wav_path: str) -> None:
        pass

    def caller_connected(self, call_id: int) -> None:
        pass


def no_call_ended_listener(call_id: int) -> None:
    """The default: nothing happens when a call ends."""


@dataclass
class IvrHooks:
    """The listeners a FastAGI service calls; each runs on the event loop, so keep it quick
    (hand long work to a thread)."""

    statement_listener: StatementListener = NoStatementListener()
    call_ended_listener: CallEndedListener = no_call_ended_listener

    def statement_started(self, call_id: int, wav_path: str) -> None:
        _guarded("statement_started", self.statement_listener.statement_started, call_id, wav_path)

    def statement_ended(self, call_id: int, wav_path: str) -> None:
        _guarded("statement_ended", self.statement_listener.statement_ended, call_id, wav_path)

    def caller_connected(self, call_id: int) -> None:
        # Optional for a listener: only live transcription cares.
        listener = getattr(self.statement_listener, "caller_connected", None)
        if listener is not None:
            _guarded("caller_connected", listener, call_id)

    def call_ended(self, call_id: int) -> None:
        _guarded("call_ended", self.call_ended_listener, call_id)


def _guarded(name: str, function, *args) -> None:
    try:
        function(*args)
    except Exception:  # optional side work: a failing listener never harms the call
        log.exception("IVR hook %s failed for call %s", name, args[0])
