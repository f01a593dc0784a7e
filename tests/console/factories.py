"""Calls and places for console tests, made through the domains' own code paths where they exist."""

from __future__ import annotations

import csv
import re
import uuid
from datetime import timedelta

from siaga112 import events
from siaga112.db import utcnow
from siaga112.models import Call, LocationFix, Recording

def demo_point() -> tuple[float, float]:
    """The first demo unit's position: certainly inside the demo city's boundaries."""
    from routing.demo import DEMO_DIR

    with open(DEMO_DIR / "units.csv", newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    return float(row["lat"]), float(row["lon"])


def seed_demo_city(database, settings) -> None:
    from routing.demo import seed_demo
    from routing.rules import load_rules

    with database.session() as session:
        seed_demo(session, load_rules(settings.routing_rules))


def _announce(session, kind: str, call: Call, audience: str | None = None) -> None:
    from ivr.serialise import call_to_dict

    session.flush()
    events.publish(session, kind, call_to_dict(session, call), audience=audience)


def queued_call(database, *, caller: str = "+6281234567890", caller_name: str | None = "Budi",
                priority: int = 5, service_choice: str | None = "fire", transcript: str | None = None,
                fix: tuple[float, float, float] | None = None, fix_source: str = "aml",
                waited: timedelta = timedelta(seconds=5), state: str = "queued", **fields) -> int:
    """A call that has passed the IVR and waits in the queue, announced as `call.queued` (or ended in `state`)."""
    now = utcnow()
    with database.session() as session:
        call = Call(uniqueid=f"{uuid.uuid4().int % 10**10}.1", caller=caller, caller_name=caller_name,
                    state=state, priority=priority, service_choice=service_choice,
                    started_at=now - waited - timedelta(seconds=20), queued_at=now - waited, **fields)
        session.add(call)
        session.flush()
        if fix is not None:
            session.add(LocationFix(call_id=call.id, source=fix_source, lat=fix[0], lon=fix[1], accuracy_m=fix[2],
                                    observed_at=now, received_at=now))
        session.add(Recording(call_id=call.id, kind="statement", path=f"statement-{call.id}.wav",
                              transcript=transcript, transcript_status="done" if transcript else "pending"))
        _announce(session, "call.queued" if state == "queued" else "call.ended", call)
        return call.id


def transcribe(database, call_id: int, text: str) -> None:
    """The statement's transcript arrives, announced as `call.updated` (as live transcription does)."""
    with database.session() as session:
        recording = session.query(Recording).filter_by(call_id=call_id, kind="statement").one()
        recording.transcript, recording.transcript_status = text, "done"
        _announce(session, "call.updated", session.get(Call, call_id))


def add_fix(database, call_id: int, lat: float, lon: float, accuracy_m: float, source: str = "aml") -> int:
    with database.session() as session:
        fix = LocationFix(call_id=call_id, source=source, lat=lat, lon=lon, accuracy_m=accuracy_m, observed_at=utcnow())
        session.add(fix)
        _announce(session, "call.updated", session.get(Call, call_id))
        return fix.id


def answer(database, call_id: int, interface: str) -> str | None:
    """The `agent-connected` step's work: the queue connected `interface`'s phone to the call."""
    from ivr.calls import answer_call

    with database.session() as session:
        return answer_call(session, call_id, interface)


def csrf_token(html: str) -> str:
    """The token from a page's meta tag."""
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def client_login(client, username: str, password: str = "correct horse battery") -> str:
    """Sign a Flask test client in through the form; returns the session's CSRF token."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_token(client.get("/").get_data(as_text=True))
