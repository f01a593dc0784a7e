"""The one place where recordings plug into the IVR: live statements and the work after a call.

`center.serve` builds the FastAGI service with `ivr_hooks(runtime)`; the IVR itself never
imports this package. Every listener is fail-soft (the hooks log and swallow errors) and
returns at once: transcription and file work run on their own threads.
"""

from __future__ import annotations

from ivr.hooks import IvrHooks
from recordings.after_call import AfterCall
from recordings.statement import LiveStatements


def ivr_hooks(runtime) -> IvrHooks:
    """Hooks for `ivr.server.AgiService`: statement start/end -> live transcription, call end -> registration."""
    statements = LiveStatements(runtime)
    statements.warm_up()
    return IvrHooks(statement_listener=statements, call_ended_listener=AfterCall(runtime))
