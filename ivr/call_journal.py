"""The call path's writes that could not wait for the database, kept in the journal and written later.

The one place that decides "write now or keep": every writer of the call path (the queue-first
`intake`, the IVR menu, `agent-connected`, `call-ended`, and the AMI listener) hands its write
here as an entry, keyed by the caller channel's Asterisk uniqueid, and the entry is either
written now by its applier, within a bounded wait on the database, or appended (fsynced) to the
journal (`siaga112.journal`) and written by the same applier when the database answers again,
in the order the entries came. Kinds:

- `open`: the call as its first writer knew it (number, name, fixes, time); state `ivr`;
- `intake`: the call opened, rated and queued as the queue-first intake (or the listener, for a
  call the intake never saw) knew it;
- `finish`: how the IVR menu left it (queued or abandoned, service choice, recordings, priority facts);
- `answer`: a call-taker's phone took it (interface, time);
- `keys`: 55 or a service key pressed while waiting;
- `end`: the caller's channel ended (time).

Who writes: the FastAGI steps through `keep_or_write` (asyncio, on the IVR's writer thread), the
AMI listener through a `CallWriter` (its own writer thread). Both write straight to the database
only when nothing of the call waits in the journal, so an answer never reaches the database
before the call it answers; a write given up on before it started never runs. Each applier is
idempotent: a call is found, or opened, by its uniqueid (unique in the database, and opening
merges into a call already there), and a state never goes backwards; so a write that was already
running when its writer gave up, and that went through later, is harmless when its journal copy
is written too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.calls import (
    CALLS, FinishIvr, IntakeCall, IvrOutcome, NewCall, OpenCall, OpenedCall, answer_call, end_call, find_call_id,
    press_keys,
)
from ivr.location import CellId, Fix
from ivr.priority import PriorityFacts
from siaga112.journal import Entry, Journal, JournalError, Replayer

log = logging.getLogger(__name__)

OPEN, INTAKE, FINISH, ANSWER, KEYS, END = "open", "intake", "finish", "answer", "keys", "end"
# The runtime client name of this process's call journal (`siaga112.journal.Journal`), shared by
# the FastAGI service, the AMI listener and health.
JOURNAL_CLIENT = "call_journal"


def runtime_journal(runtime) -> Journal:
    """The call journal of this process (one per journal_dir)."""
    return runtime.client(JOURNAL_CLIENT, lambda settings: Journal(settings.journal_dir))


# --- what goes into an entry --------------------------------------------------------------

def open_data(new: NewCall, repeat_window: timedelta) -> dict:
    return {
        "uniqueid": new.uniqueid, "channel": new.channel, "caller": new.caller, "caller_raw": new.caller_raw,
        "caller_name": new.caller_name, "ivr_step": new.ivr_step,
        "fixes": [{"source": f.source, "lat": f.lat, "lon": f.lon, "accuracy_m": f.accuracy_m,
                   "observed_at": f.observed_at.isoformat() if f.observed_at else None, "detail": f.detail}
                  for f in new.fixes],
        "cell": vars(new.cell) if new.cell is not None else None,
        "answered_at": new.answered_at.isoformat() if new.answered_at else None,
        "repeat_window_s": repeat_window.total_seconds(),
    }


def intake_data(new: NewCall, repeat_window: timedelta, recordings: dict[str, str]) -> dict:
    return {**open_data(new, repeat_window), "recordings": recordings}


def finish_data(outcome: IvrOutcome, facts: PriorityFacts) -> dict:
    return {
        "state": outcome.state, "ivr_step": outcome.ivr_step, "service_choice": outcome.service_choice,
        "silent": outcome.silent, "silent_emergency": outcome.silent_emergency, "ivr_error": outcome.ivr_error,
        "recordings": outcome.recordings, "summary": outcome.summary,
        "facts": {"service_choice": facts.service_choice, "known_location": facts.known_location,
                  "silent_emergency": facts.silent_emergency},
    }


# --- the appliers ---------------------------------------------------------------------------

def _opened(session: Session) -> dict:
    return session.info.setdefault("journal_opened", {})


def _call_by_uniqueid(session: Session, uniqueid: str) -> int | None:
    return session.execute(select(CALLS.c.id).where(CALLS.c.uniqueid == uniqueid)).scalar()


def _new_call(entry: Entry) -> tuple[NewCall, timedelta]:
    data = entry.data
    fixes = [Fix(f["source"], f["lat"], f["lon"], f["accuracy_m"],
                 datetime.fromisoformat(f["observed_at"]) if f["observed_at"] else None, f["detail"] or {})
             for f in data["fixes"]]
    answered = data.get("answered_at")
    new = NewCall(uniqueid=data["uniqueid"], channel=data["channel"], caller=data["caller"],
                  caller_raw=data["caller_raw"], caller_name=data["caller_name"], ivr_step=data["ivr_step"],
                  fixes=fixes, cell=CellId(**data["cell"]) if data["cell"] else None, started_at=entry.at,
                  answered_at=datetime.fromisoformat(answered) if answered else None)
    return new, timedelta(seconds=data["repeat_window_s"])


def apply_open(session: Session, entry: Entry) -> OpenedCall:
    new, window = _new_call(entry)
    [opened] = OpenCall.run_batch(session, [OpenCall(new, window)])
    _opened(session)[entry.key] = opened
    return opened


def apply_intake(session: Session, entry: Entry) -> tuple[int, int]:
    """(call id, priority on record). The entry's time is when the caller joined the queue."""
    new, window = _new_call(entry)
    [done] = IntakeCall.run_batch(session, [IntakeCall(new, window, entry.data.get("recordings") or {},
                                                       queued_at=entry.at)])
    return done


def apply_finish(session: Session, entry: Entry) -> None:
    data = entry.data
    call_id = _call_by_uniqueid(session, entry.key)
    if call_id is None:
        log.warning("journal: the IVR's end for %s has no call to go with; kept as given up", entry.key)
        raise LookupError(f"no call with uniqueid {entry.key}")
    opened: OpenedCall = _opened(session).get(entry.key) or OpenedCall(call_id)
    outcome = IvrOutcome(
        state=data["state"], ivr_step=data["ivr_step"], service_choice=data["service_choice"],
        silent=data["silent"], silent_emergency=data["silent_emergency"], prank_suspect=opened.prank_suspect,
        repeat_count=opened.repeat_count, ivr_error=data["ivr_error"], recordings=data["recordings"],
        summary={**data["summary"], "from_journal": True}, at=entry.at)
    facts = PriorityFacts(service_choice=data["facts"]["service_choice"],
                          known_location=data["facts"]["known_location"] or opened.fix_count > 0,
                          repeat_count=opened.repeat_count, silent_emergency=data["facts"]["silent_emergency"],
                          prank_suspect=opened.prank_suspect)
    FinishIvr.run_batch(session, [FinishIvr(call_id, outcome, facts)])


def _find(session: Session, entry: Entry) -> int | None:
    data = entry.data
    found = _call_by_uniqueid(session, entry.key) if not entry.key.startswith("ref:") else None
    return found or find_call_id(session, call_id=data.get("call_ref"), uniqueid=None, caller=data.get("caller"))


def apply_answer(session: Session, entry: Entry) -> int | None:
    call_id = _find(session, entry)
    if call_id is None:
        log.warning("journal: an answer on %s for %s found no call", entry.data.get("interface"), entry.key)
        return None
    answer_call(session, call_id, entry.data.get("interface"), at=entry.at)
    return call_id


def apply_keys(session: Session, entry: Entry) -> int | None:
    """The priority on record after the keys; None when the call is not on record."""
    call_id = _call_by_uniqueid(session, entry.key)
    if call_id is None:
        log.warning("journal: keys %r of %s found no call", entry.data.get("keys"), entry.key)
        return None
    return press_keys(session, call_id, entry.data.get("keys") or "")


def apply_end(session: Session, entry: Entry) -> tuple[int, str] | None:
    """(call id, final state); None when the channel is no call on record (a call-taker's leg)."""
    call_id = _find(session, entry)
    if call_id is None:
        log.log(logging.DEBUG if entry.data.get("maybe_not_a_call") else logging.WARNING,
                "journal: the end of %s found no call", entry.key)
        return None
    state = end_call(session, call_id, at=entry.at)
    if not entry.data.get("early"):  # the channel itself ended: the recordings are final
        session.info.setdefault("journal_ended", []).append(call_id)
    return call_id, state


APPLIERS = {OPEN: apply_open, INTAKE: apply_intake, FINISH: apply_finish, ANSWER: apply_answer, KEYS: apply_keys,
            END: apply_end}


def replayer(journal: Journal, database, *, call_ended: Callable[[int], None] | None = None) -> Replayer:
    """The background writer of a journal of calls; `call_ended(call_id)` is told of each call
    whose end it wrote (the recordings are registered then)."""
    def after_commit(_entries: list[Entry], notes: dict) -> None:
        for call_id in notes.get("journal_ended", ()):
            if call_ended is not None:
                call_ended(call_id)

    return Replayer(journal, database, APPLIERS, after_commit=after_commit, name="call-journal-replay")


# --- writing now, or keeping for later --------------------------------------------------------

async def keep_or_write(journal: Journal | None, key: str | None, kind: str, data: dict,
                        write: Callable[[], Awaitable]) -> tuple[bool, object]:
    """Write now with `write()` (a bounded wait on the database), unless the call already waits
    in the journal; keep the entry if the write fails or times out. (written, write's result).

    Raises JournalError only when the entry could be neither written nor kept.
    """
    if journal is None or not key:
        return True, await write()
    if not journal.holds(key):
        try:
            return True, await write()
        except (asyncio.TimeoutError, TimeoutError, Exception) as error:  # away, stopped, slow
            log.warning("%s of %s not written now (%s); kept in the call journal", kind, key,
                        error.__class__.__name__ or "timeout")
    await asyncio.get_running_loop().run_in_executor(None, journal.append, key, kind, data)
    return False, None


class CallWriter:
    """Write-now-or-keep for a plain thread (the AMI listener): entries of one call are applied
    together, in one transaction, on this writer's own thread, within `timeout_s`.

    One thread, so the listener's writes reach the database in the order the events came. A write
    still waiting for that thread when its time is up is cancelled and never runs; its entries
    are kept. While a write has been running longer than `timeout_s` (a stalled database), the
    next ones are kept at once rather than each waiting its turn: the listener must keep reading
    Asterisk's events.
    """

    def __init__(self, journal: Journal, database, *, timeout_s: float = 0.8) -> None:
        self.journal = journal
        self.database = database
        self.timeout_s = timeout_s
        self.kept = 0
        self.cancelled = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-writer")
        self._running_since: float | None = None

    def write(self, key: str, entries: list[tuple[str, dict]], *, at: datetime | None = None,
              keep: bool = True) -> list | None:
        """The appliers' results if written now; None if kept in the journal (or, with `keep`
        False, for a write only worth doing now, dropped).

        Raises JournalError when the entries could be neither written nor kept.
        """
        at = at or datetime.now().astimezone()
        held = self.journal.holds(key)  # then this call's entries wait there: these go behind them
        if not held and not self._stalled():
            future = self._executor.submit(self._apply, key, entries, at)
            try:
                return future.result(self.timeout_s)
            except FutureTimeout:
                if future.cancel():
                    self.cancelled += 1
                reason = "timeout"
            except Exception as error:  # away, refused, or the write itself failed
                reason = error.__class__.__name__
            log.warning("%s of %s not written now (%s)%s", "+".join(kind for kind, _ in entries), key, reason,
                        "; kept in the call journal" if keep else "")
        if not (keep or held):
            return None
        for kind, data in entries:
            self.journal.append(key, kind, data, at=at)
        self.kept += len(entries)
        return None

    def read(self, job: Callable[[Session], object]):
        """`job(session)` on the writer's thread within `timeout_s`; None if it could not run."""
        if self._stalled():
            return None
        future = self._executor.submit(self._run, job)
        try:
            return future.result(self.timeout_s)
        except FutureTimeout:
            future.cancel()
        except Exception as error:
            log.warning("a read of the call path failed: %s", error.__class__.__name__)
        return None

    def close(self) -> None:
        """Stop taking work; a write stuck on a stalled database is left behind (its entries are kept)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _stalled(self) -> bool:
        since = self._running_since
        return since is not None and time.monotonic() - since > self.timeout_s

    def _run(self, job):
        self._running_since = time.monotonic()
        try:
            with self.database.session() as session:
                return job(session)
        finally:
            self._running_since = None

    def _apply(self, key: str, entries: list[tuple[str, dict]], at: datetime) -> list:
        return self._run(lambda session: [APPLIERS[kind](session, Entry(0, key, kind, data, at))
                                          for kind, data in entries])


__all__ = ["ANSWER", "END", "FINISH", "INTAKE", "JOURNAL_CLIENT", "KEYS", "OPEN", "CallWriter", "Journal",
           "JournalError", "keep_or_write", "replayer", "runtime_journal"]
