"""One queue order: a priority Siaga112 gives a waiting caller is the one Asterisk's queue uses.

The console lists waiting calls by `calls.priority`; Asterisk rings callers by the QUEUE_PRIO they
joined with. Whenever Siaga112 changes a waiting caller's priority after the join (55 told over
AMI, a keyword in the statement, a prank record found late), it moves the caller in queue 112
too, with AMI `QueueChangePriorityCaller` and `Immediate: yes` (the caller changes place at
once). A failure is logged and the call goes on: Asterisk's order stands, nobody is dropped.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from siaga112.ami import AmiClient, AmiError
from siaga112.models import Call

log = logging.getLogger(__name__)

QUEUE = "112"  # the queue every 112 caller joins (config/asterisk/queues.conf)


def change_priority_action(channel: str, priority: int, queue: str = QUEUE) -> list[tuple[str, str]]:
    """The fields of a QueueChangePriorityCaller action for one caller's channel."""
    return [("Queue", queue), ("Caller", channel), ("Priority", str(int(priority))), ("Immediate", "yes")]


def move_caller(client: AmiClient, channel: str, priority: int, queue: str = QUEUE) -> bool:
    """Move a waiting caller to `priority` inside Asterisk's queue; False if Asterisk did not."""
    try:
        client.send_action("QueueChangePriorityCaller", change_priority_action(channel, priority, queue))
    except AmiError as error:
        # Not waiting any more (answered, hung up) reads the same as a refusal: nothing to move.
        log.info("queue %s: %s not moved to priority %s: %s", queue, channel, priority, error)
        return False
    log.info("queue %s: %s moved to priority %s", queue, channel, priority)
    return True


def follow_priority(runtime, call_id: int) -> bool:
    """After the database changed a call's priority: move its caller in Asterisk's queue too.

    Only a call still waiting (`queued`) whose channel is known can move; without a manager
    account (ami_username) there is no queue to tell and the console's order alone changes.
    """
    if not runtime.settings.ami_username:
        return False
    with runtime.database.session() as session:
        row = session.execute(select(Call.state, Call.channel, Call.priority).where(Call.id == call_id)).first()
    if row is None or row.state != "queued" or not row.channel:
        return False
    return move_caller(AmiClient.from_settings(runtime.settings), row.channel, row.priority)
