"""Alarms the database could not take in time, kept in a journal of their own and written when it is back.

An alarm is acknowledged only once it is stored: committed in the database, or appended and
fsynced here (`siaga112.journal`, in `journal_dir/alarms`, apart from the calls' journal). The
receivers (DC-09 panels, the app's SOS, IP buttons) wait at most `alarm_db_timeout_seconds` for
the database; what it did not take by then, refused or silent, is kept here and acknowledged,
and the replayer writes it when the database answers again, with the time it arrived.

Three kinds of entry, each written by the same code as the live path:

- `panel`: one DC-09 frame of a site (an alarm, a restore or a sign of life), keyed by the site
  so that a site's frames are written in the order they came;
- `sos`: an app SOS as read from its body, keyed by its dedupe key;
- `button`: a signed button event already checked, keyed by its site (a cancel after its panic).

Nothing is written twice: every entry's alarm carries a dedupe key (the frame's retransmission
key, the SOS's Idempotency-Key or receipt, the button's event id), unique in `alarms`, so a
retransmission, a resent SOS, a write that finished after its caller gave up, and the replay
all meet the one row. While entries wait, new alarms are kept behind them rather than wait on
the database again: a dead database costs the first alarm the bound, not every alarm.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TypeVar

from sqlalchemy.orm import Session

from siaga112.bounded import call_within
from siaga112.journal import Entry, Journal, JournalError, Replayer, database_away, journal_health
from siaga112.runtime import Runtime
from siaga112.storable import storable_values
from routing.alarms.store import AlarmIntake, _locate, take_alarms

log = logging.getLogger(__name__)

PANEL, SOS, BUTTON = "panel", "sos", "button"
JOURNAL_CLIENT = "alarm_journal"
REPLAYER_CLIENT = "alarm_journal_replayer"
FOLDER = "alarms"

T = TypeVar("T")


def alarm_journal(runtime: Runtime) -> Journal:
    """The process's alarm journal (one per runtime; every process on the machine shares the file)."""
    return runtime.client(JOURNAL_CLIENT, lambda s: Journal(Path(s.journal_dir) / FOLDER))


def alarm_journal_health(runtime: Runtime) -> dict:
    """/healthz's `alarm_journal`: alarms waiting for the database, the journal's disk and writes."""
    return journal_health(alarm_journal(runtime), runtime.settings.disk_warning_free_percent)


# --- writing now, or keeping for later ------------------------------------------------------------

def store_or_keep(runtime: Runtime, kind: str, store: Callable[[Session], T], keep: Callable[[], tuple[str, dict]],
                  *, database_away_now: bool = False) -> tuple[bool, T | None]:
    """Store with `store(session)` (committed) within the bound, or keep `keep()`'s (key, data)
    in the journal (called only then: a button's event is checked against the remembered device).

    (True, store's result) when the database took it; (False, None) when it was kept: the
    database refused, did not answer in time, was already known away (`database_away_now`), or
    alarms already wait in the journal. Raises JournalError when it could be neither stored nor
    kept (the sender must be told to resend), and store's own errors that are not the database's
    absence (a bad request, a bug) as they are.
    """
    journal = alarm_journal(runtime)
    if not database_away_now and not journal.any_waiting():
        def work() -> T:
            with runtime.database.session() as session:
                return store(session)

        try:
            return True, call_within(work, runtime.settings.alarm_db_timeout_seconds, name=f"alarm-{kind}")
        except Exception as error:
            if not database_away(error):
                raise
            log.warning("a %s alarm could not be stored now (%s); kept in the alarm journal", kind,
                        error.__class__.__name__)
    key, data = keep()
    journal.append(key, kind, data)
    return False, None


def intake_data(intake: AlarmIntake) -> dict:
    """An intake as a journal entry holds it: its position already checked (an impossible one
    kept as a warning, as the store would), every value storable."""
    lat, lon, flags = _locate(intake)
    values = dataclasses.asdict(intake)
    values.pop("received_at")
    values.update(lat=lat, lon=lon, flags=flags, accuracy_m=intake.accuracy_m if lat is not None else None)
    return storable_values(values)


def intake_from(data: dict, received_at: datetime) -> AlarmIntake:
    return AlarmIntake(**data, received_at=received_at)


def sos_entry(report) -> tuple[str, dict]:
    """An SOS read by `routing.alarms.sos.read_sos` as the journal keeps it: (key, data)."""
    return report.intake.dedupe_key, {"phone": report.phone, "name": report.name, "app_user_id": report.app_user_id,
                                      "intake": intake_data(report.intake)}


def button_entry(checked) -> tuple[str, dict]:
    """A checked button event (`routing.alarms.buttons.check`) as the journal keeps it: (key, data)."""
    return f"button:{checked.site.id}", storable_values({
        "site": dataclasses.asdict(checked.site), "event_id": checked.event_id, "event": checked.event,
        "ts": checked.ts if isinstance(checked.ts, (str, int, float)) else None, "body": checked.body})


def panel_entry(site_id: int, action: str, intake: AlarmIntake | None, restore: tuple[str, str] | None,
                at: datetime | None = None) -> tuple[str, str, dict, datetime]:
    """One DC-09 frame as a journal entry: (key, kind, data, at), for `Journal.append_many`."""
    data = {"site_id": site_id, "action": action, "intake": intake_data(intake) if intake else None,
            "restore": list(restore) if restore else None}
    return f"panel:{site_id}", PANEL, data, at or datetime.now(timezone.utc)


# --- the appliers ------------------------------------------------------------------------------------

def _appliers(runtime: Runtime) -> dict:
    from routing.alarms import buttons
    from routing.alarms.sos import SosReport, sos_intake
    from routing.alarms.supervision import mark_seen, note_restore

    def apply_panel(session: Session, entry: Entry) -> None:
        data = entry.data
        sites = mark_seen(session, [data["site_id"]], entry.at)
        if data["intake"]:
            take_alarms(session, runtime, [intake_from(data["intake"], entry.at)], parties=sites,
                        with_summaries=False)
        if data["restore"]:
            note_restore(session, data["site_id"], *data["restore"])

    def apply_sos(session: Session, entry: Entry) -> None:
        data = entry.data
        report = SosReport(data["phone"], data["name"], data["app_user_id"], intake_from(data["intake"], entry.at))
        [taken] = take_alarms(session, runtime, [sos_intake(session, report)], with_summaries=False)
        if taken.created and report.intake.lat is None:
            session.info.setdefault("unlocated_sos", []).append(taken.id)

    def apply_button(session: Session, entry: Entry) -> None:
        data = entry.data
        checked = buttons.CheckedEvent(buttons.ButtonSite(**data["site"]), data["event_id"], data["event"],
                                       data["ts"], data["body"])
        buttons.record(session, runtime, checked, received_at=entry.at)

    return {PANEL: apply_panel, SOS: apply_sos, BUTTON: apply_button}


def replayer(runtime: Runtime) -> Replayer:
    """The background writer of the alarm journal: alarms are routed and announced to the
    consoles (`alarm.new`) as they are written, and an unlocated SOS is offered a location link."""
    from routing.alarms.offers import offer_for_unlocated
    from siaga112.models import Alarm

    def after_commit(_entries: list[Entry], notes: dict) -> None:
        for alarm_id in notes.get("unlocated_sos", ()):
            try:
                with runtime.database.session() as session:
                    alarm = session.get(Alarm, alarm_id)
                    if alarm is not None:
                        offer_for_unlocated(runtime, alarm)
            except Exception:  # the offer is a courtesy; the alarm stands without it
                log.exception("no location link offered for the replayed SOS %s", alarm_id)

    return Replayer(alarm_journal(runtime), runtime.database, _appliers(runtime), after_commit=after_commit,
                    name="alarm-journal-replay")


class _Shared:
    """One replayer per process, whichever services (alarms, web) need it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.replayer: Replayer | None = None


def start_replayer(runtime: Runtime) -> None:
    """Start the process's alarm replayer, if no service of this process has already."""
    shared: _Shared = runtime.client(REPLAYER_CLIENT, lambda _settings: _Shared())
    with shared.lock:
        shared.users += 1
        if shared.replayer is None:
            shared.replayer = replayer(runtime)
            shared.replayer.start()


def stop_replayer(runtime: Runtime) -> None:
    """The last service of the process to stop ends the replayer (one last, bounded round)."""
    shared: _Shared = runtime.client(REPLAYER_CLIENT, lambda _settings: _Shared())
    with shared.lock:
        shared.users = max(0, shared.users - 1)
        if shared.users or shared.replayer is None:
            return
        current, shared.replayer = shared.replayer, None
    current.stop()


__all__ = ["BUTTON", "PANEL", "SOS", "JournalError", "alarm_journal", "alarm_journal_health", "panel_entry",
           "replayer", "button_entry", "sos_entry", "start_replayer", "stop_replayer", "store_or_keep"]
