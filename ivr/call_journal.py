"""The call path's writes that could not wait for the database, kept in the journal and written later.

Four kinds of entry, each keyed by the caller channel's Asterisk uniqueid and written in the
order they happened (`siaga112.journal`):

- `open`: the call as the IVR knew it when it could not be stored (number, name, fixes, time);
- `finish`: how the IVR left it (queued or abandoned, service choice, recordings, priority facts);
- `answer`: a call-taker's phone took it (interface, time);
- `end`: the caller's channel ended (time).

Who writes: the FastAGI steps through `keep_or_write` (asyncio), the AMI listener through
`keep_or_write_now` (a plain thread). Both write straight to the database when they can and
when nothing of the call waits in the journal, and keep the entry otherwise, so an answer never
reaches the database before the call it answers. Each applier is idempotent: a call is found by
its uniqueid (unique in the database), a state never goes backwards.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.calls import (
    CALLS, FinishIvr, IvrOutcome, NewCall, OpenCall, OpenedCall, answer_call, end_call, find_call_id,
)
from ivr.location import CellId, Fix
from ivr.priority import PriorityFacts
from siaga112.journal import Entry, Journal, JournalError, Replayer

log = logging.getLogger(__name__)

OPEN, FINISH, ANSWER, END = "open", "finish", "answer", "end"


# --- what goes into an entry --------------------------------------------------------------

def open_data(new: NewCall, repeat_window: timedelta) -> dict:
    return {
        "uniqueid": new.uniqueid, "channel": new.channel, "caller": new.caller, "caller_raw": new.caller_raw,
        "caller_name": new.caller_name, "ivr_step": new.ivr_step,
        "fixes": [{"source": f.source, "lat": f.lat, "lon": f.lon, "accuracy_m": f.accuracy_m,
                   "observed_at": f.observed_at.isoformat() if f.observed_at else None, "detail": f.detail}
                  for f in new.fixes],
        "cell": vars(new.cell) if new.cell is not None else None,
        "repeat_window_s": repeat_window.total_seconds(),
    }


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


def apply_open(session: Session, entry: Entry) -> None:
    data = entry.data
    if _call_by_uniqueid(session, data["uniqueid"]) is not None:
        return  # stored after all (the write the caller gave up on went through)
    fixes = [Fix(f["source"], f["lat"], f["lon"], f["accuracy_m"],
                 datetime.fromisoformat(f["observed_at"]) if f["observed_at"] else None, f["detail"] or {})
             for f in data["fixes"]]
    new = NewCall(uniqueid=data["uniqueid"], channel=data["channel"], caller=data["caller"],
                  caller_raw=data["caller_raw"], caller_name=data["caller_name"], ivr_step=data["ivr_step"],
                  fixes=fixes, cell=CellId(**data["cell"]) if data["cell"] else None, started_at=entry.at)
    window = timedelta(seconds=data["repeat_window_s"])
    [opened] = OpenCall.run_batch(session, [OpenCall(new, window)])
    _opened(session)[data["uniqueid"]] = opened


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


def apply_answer(session: Session, entry: Entry) -> None:
    call_id = _find(session, entry)
    if call_id is None:
        log.warning("journal: an answer on %s for %s found no call", entry.data.get("interface"), entry.key)
        return
    answer_call(session, call_id, entry.data.get("interface"), at=entry.at)


def apply_end(session: Session, entry: Entry) -> None:
    call_id = _find(session, entry)
    if call_id is None:
        log.warning("journal: the end of %s found no call", entry.key)
        return
    end_call(session, call_id, at=entry.at)
    session.info.setdefault("journal_ended", []).append(call_id)


APPLIERS = {OPEN: apply_open, FINISH: apply_finish, ANSWER: apply_answer, END: apply_end}


def replayer(journal: Journal, database, *, call_ended: Callable[[int], None] | None = None) -> Replayer:
    """The background writer of a journal of calls; `call_ended(call_id)` is told of each call
    whose end it wrote (the recordings are registered then)."""
    ended: list[int] = []

    def record_end(session: Session, entry: Entry) -> None:
        apply_end(session, entry)
        ended.extend(session.info.pop("journal_ended", []))

    def after_commit(_entries: list[Entry]) -> None:
        while ended:
            call_id = ended.pop(0)
            if call_ended is not None:
                call_ended(call_id)

    return Replayer(journal, database, {**APPLIERS, END: record_end}, after_commit=after_commit,
                    name="call-journal-replay")


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


def keep_or_write_now(journal: Journal, database, key: str, kind: str, data: dict, *,
                      timeout_s: float = 0.8) -> bool:
    """`keep_or_write` for a plain thread (the AMI listener): True if written now, False if kept.

    The write runs on its own thread and is given `timeout_s`; one that has not finished by then
    is left to finish or fail on its own, and the entry is kept: its applier writes it once.
    """
    if not journal.holds(key):
        done = threading.Event()
        outcome: list = []

        def write() -> None:
            try:
                with database.session() as session:
                    APPLIERS[kind](session, Entry(0, key, kind, data, datetime.now().astimezone()))
                outcome.append(True)
            except Exception as error:
                outcome.append(error)
            finally:
                done.set()

        threading.Thread(target=write, name=f"call-{kind}", daemon=True).start()
        if done.wait(timeout_s) and outcome and outcome[0] is True:
            return True
    journal.append(key, kind, data)
    return False


__all__ = ["ANSWER", "END", "FINISH", "OPEN", "Journal", "JournalError", "keep_or_write", "keep_or_write_now",
           "replayer"]
