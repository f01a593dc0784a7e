"""The FastAGI paths Siaga112 answers, in one explicit table: `agi://HOST:4573/<path>` -> step.

The shipped dialplan calls `intake` (queue first) or, with the IVR menu on, `ivr`. The
`agent-connected` and `call-ended` hooks remain for dialplans of before: the shipped one reads
the answer and the end from AMI events instead (`ivr/ami_listener.py`).

Every step has the same signature, `async def handle(session, context)`, and the module is
named after the path the dialplan calls. A path not in this table is logged and the session
ends at once; Asterisk then reports AGISTATUS SUCCESS and the dialplan queues the caller.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from ivr.context import StepContext
from ivr.session import AgiSession
from ivr.steps import agent_connected, call_ended, intake, ivr

Step = Callable[[AgiSession, StepContext], Awaitable[None]]

ROUTES: dict[str, Step] = {
    "intake": intake.handle,
    "ivr": ivr.handle,
    "agent-connected": agent_connected.handle,
    "call-ended": call_ended.handle,
}
