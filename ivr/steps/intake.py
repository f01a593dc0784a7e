"""`intake`: the queue-first 112 entry. Takes what the network sent, stores the call, rates it.

It says nothing to the caller and asks nothing: the dialplan has answered, started the
recordings, and puts the caller in queue 112 the moment this returns (or the moment its budget,
SIAGA112_INTAKE_BUDGET, 1.5 s, runs out). What it reads: the caller's number and name, the answer
time the dialplan noted, the network's location (ivr/network_location.py); an AML message already
waiting is attached by the database job. What it sets: QUEUE_PRIO, then SIAGA_CALL_ID.

The database gets `ivr_db_timeout_seconds` (0.8 s), well inside the budget: a database that is
down, hung or slow costs the caller that much at most. What the intake knew then goes to the call
journal (`ivr/call_journal.py`) and reaches the record when the database is back, and the caller is
queued with the dialplan's fail-open priority, or higher if the network gave a position.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from ivr import call_journal
from ivr import channel_vars as var
from ivr.calls import IntakeCall, NewCall, epoch_time
from ivr.context import StepContext
from ivr.identity import caller_name, caller_number, clean_text
from ivr.network_location import network_location
from ivr.priority import FAIL_OPEN, PriorityFacts, queue_priority
from ivr.session import AgiSession

log = logging.getLogger(__name__)

# The names MixMonitor writes under SIAGA_RECORDING (extensions.conf): the recordings part knows
# the caller's own direction as the call's statement.
FULL_SUFFIX = ".wav"
CALLER_SUFFIX = "-caller.wav"


def recording_paths(base: str | None) -> dict[str, str]:
    """kind -> file for a SIAGA_RECORDING base path; none for an empty or odd one."""
    base = clean_text(base, 400)
    if not base or not base.startswith("/"):
        return {}
    return {"full": base + FULL_SUFFIX, "statement": base + CALLER_SUFFIX}


async def handle(session: AgiSession, context: StepContext) -> None:
    env = session.env
    raw = env.get("agi_callerid")
    answered = await session.get_variable(var.SIAGA_ANSWERED_AT)
    new = NewCall(
        uniqueid=clean_text(session.uniqueid, 64) or "",
        channel=clean_text(env.get("agi_channel"), 200),
        caller=caller_number(raw, context.settings.phone_region),
        caller_raw=clean_text(raw, 64),
        caller_name=caller_name(env.get("agi_calleridname")),
        ivr_step="intake",
        answered_at=epoch_time(answered),
    )
    new.fixes, new.cell = await network_location(session, f"uniqueid {new.uniqueid}")
    recordings = recording_paths(await session.get_variable(var.SIAGA_RECORDING))
    window = timedelta(minutes=context.settings.repeat_call_window_minutes)
    # Not rated by the database: never below the dialplan's fail-open.
    priority = max(FAIL_OPEN, queue_priority(PriorityFacts(known_location=bool(new.fixes)))[0])
    call_id = None
    try:
        written, stored = await call_journal.keep_or_write(
            context.journal, new.uniqueid, call_journal.INTAKE, call_journal.intake_data(new, window, recordings),
            lambda: context.store.run(IntakeCall(new, window, recordings)))
        if written:
            call_id, priority = stored
    except Exception:
        # Neither stored nor kept (the journal's disk too): the AMI listener opens the call from
        # Asterisk's events, and the caller goes to the queue all the same.
        log.exception("uniqueid %s: the intake could not store nor keep the call", new.uniqueid)
    # QUEUE_PRIO first: the dialplan takes a call id as "the intake finished".
    await session.set_variable(var.QUEUE_PRIO, priority)
    if call_id is None:
        log.warning("uniqueid %s: intake kept in the call journal, priority %s", new.uniqueid, priority)
        return
    await session.set_variable(var.SIAGA_CALL_ID, call_id)
    log.info("call %s: intake done, priority %s", call_id, priority)
