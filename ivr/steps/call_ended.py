"""`call-ended`: run from the `h` extension of the caller's channel; records the final state.

`completed` if a call-taker answered, `abandoned` otherwise, with the time it ended. Then the
recordings part is told (through the hook) that the call's files are final.
"""

from __future__ import annotations

import logging

from ivr import call_journal
from ivr import channel_vars as var
from ivr.calls import end_call, find_call_id
from ivr.context import StepContext
from ivr.identity import clean_text
from ivr.session import AgiSession

log = logging.getLogger(__name__)


async def handle(session: AgiSession, context: StepContext) -> None:
    call_ref = clean_text(await session.get_variable(var.SIAGA_CALL_ID), 20)
    uniqueid = clean_text(session.uniqueid, 64)

    def end(db):
        call_id = find_call_id(db, call_id=call_ref, uniqueid=uniqueid)
        return (call_id, end_call(db, call_id)) if call_id is not None else (None, None)

    written, found = await call_journal.keep_or_write(
        context.journal, uniqueid, call_journal.END, {"call_ref": call_ref}, lambda: context.store.run(end))
    if not written:
        log.info("end of %s kept in the call journal; written when the database is back", uniqueid)
        return
    call_id, state = found
    if call_id is None:
        # The IVR never saw this call (Siaga112 was down when it came in): nothing to close.
        log.warning("call-ended for uniqueid %s: no call on record", uniqueid)
        return
    log.info("call %s ended: %s", call_id, state)
    context.hooks.call_ended(call_id)
