"""A call's queue priority (Asterisk's QUEUE_PRIO: higher is answered first), as a table of reasons.

Priority orders the queue; it never keeps anyone out of it. A prank-flagged number is lowered
but still queued, because the one real emergency from a known prankster must still be answered.
"""

from __future__ import annotations

from dataclasses import dataclass

BASE = 5
LOWEST = 1
HIGHEST = 20
# The dialplan's SIAGA112_FAILOPEN_PRIO (config/asterisk/extensions.conf): a caller the IVR could
# not rate against the database is queued above an ordinary call, never at BASE.
FAIL_OPEN = 7

# reason -> points. One table, so the console can show "why this call is high".
POINTS = {
    "service_choice": 1,    # the caller chose a service: a person is on the line, with a need
    "known_location": 1,    # a unit can be sent before the first question is asked
    "repeat_call": 2,       # per earlier call from this number in the window (a caller cut off, or worse)
    "silent_emergency": 4,  # pressed 5 twice: cannot speak, probably in danger
    "prank_suspect": -4,    # strikes or blocked: lowered, never refused
}
REPEAT_CALLS_COUNTED = 2


@dataclass
class PriorityFacts:
    service_choice: str | None = None
    known_location: bool = False
    repeat_count: int = 0
    silent_emergency: bool = False
    prank_suspect: bool = False


def queue_priority(facts: PriorityFacts) -> tuple[int, list[str]]:
    """The priority and the reasons that made it."""
    score = BASE
    reasons = []
    if facts.service_choice:
        score += POINTS["service_choice"]
        reasons.append("service_choice")
    if facts.known_location:
        score += POINTS["known_location"]
        reasons.append("known_location")
    if facts.repeat_count > 0:
        score += POINTS["repeat_call"] * min(facts.repeat_count, REPEAT_CALLS_COUNTED)
        reasons.append("repeat_call")
    if facts.silent_emergency:
        score += POINTS["silent_emergency"]
        reasons.append("silent_emergency")
    if facts.prank_suspect:
        score += POINTS["prank_suspect"]
        reasons.append("prank_suspect")
    return max(LOWEST, min(HIGHEST, score)), reasons
