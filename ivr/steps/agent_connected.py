"""`agent-connected`: run on the call-taker's leg when the queue bridges them; marks the call answered.

Asterisk runs it from Queue()'s member hook (7th argument) on the member's channel, where
CALLERID(num) is the queue's own number, so the caller is read from CONNECTEDLINE(num) and
the call from the inherited SIAGA_CALL_ID. The console user whose phone interface took the
call gets the screen-pop (`call.answered` for that user only).
"""

from __future__ import annotations

import logging

from ivr import call_journal
from ivr import channel_vars as var
from ivr.calls import answer_call, find_call_id
from ivr.context import StepContext
from ivr.identity import caller_number, clean_text
from ivr.session import AgiSession

log = logging.getLogger(__name__)


async def handle(session: AgiSession, context: StepContext) -> None:
    call_ref = clean_text(await session.get_variable(var.SIAGA_CALL_ID), 20)
    connected = caller_number(await session.get_variable(var.CONNECTEDLINE_NUM), context.settings.phone_region)
    interface = clean_text(await session.get_variable(var.MEMBERINTERFACE), 200)
    # Set only when the caller's call waits in the call journal: the answer then waits behind it.
    uniqueid = clean_text(await session.get_variable(var.SIAGA_UNIQUEID), 64)

    def answer(db):
        call_id = find_call_id(db, call_id=call_ref, uniqueid=uniqueid, caller=connected)
        if call_id is None:
            return None, None
        return call_id, answer_call(db, call_id, interface)

    # The call-taker is being connected while this runs: never wait on the database for long.
    key = uniqueid or (f"ref:{call_ref}" if call_ref else None)
    written, found = await call_journal.keep_or_write(
        context.journal, key, call_journal.ANSWER, {"call_ref": call_ref, "caller": connected, "interface": interface},
        lambda: context.store.run(answer))
    if not written:
        log.info("answer on %r of %s kept in the call journal; written when the database is back", interface, key)
        return
    call_id, agent = found
    if call_id is None:
        log.warning("agent-connected on %r: no call found (SIAGA_CALL_ID %r, caller %s)", interface, call_ref, connected)
        return
    log.info("call %s answered on %s by %s", call_id, interface, agent or "no console user")
    await session.verbose(f"siaga112 call {call_id} answered by {agent or 'unknown agent'}")
