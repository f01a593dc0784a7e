"""`ivr`: the 112 entry. Every caller leaves it queued, whatever happens on the way.

The flow is a list of named steps. A step that fails for a reason we expect (a prompt file
missing, a key never pressed) is logged plainly and the flow goes on or skips to the end;
anything unexpected is logged with its traceback. Either way the call ends `queued` in the
database with SIAGA_CALL_ID and QUEUE_PRIO set, and the dialplan puts the caller in the
queue. A caller who hangs up leaves the call `abandoned` with the step where it happened.

The database is never waited on for long (`ivr_db_timeout_seconds`): a call it cannot take now
goes on through the prompts all the same, is kept in the call journal (`ivr/call_journal.py`)
and written when the database answers again; its caller is queued with the dialplan's
fail-open priority, or higher if what the IVR learnt says so.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta

from ivr import channel_vars as var
from ivr.audio import is_silent, wav_rms
from ivr import call_journal
from ivr.calls import FinishIvr, IvrOutcome, NewCall, OpenCall, OpenedCall, epoch_time
from ivr.context import StepContext
from ivr.identity import caller_name, caller_number, clean_text
from ivr.network_location import network_location
from ivr.priority import FAIL_OPEN, PriorityFacts, queue_priority
from ivr.session import AgiCommandFailed, AgiError, AgiHangup, AgiProtocolError, AgiSession, RecordResult
from siaga112.models.calls import SERVICE_CHOICES

log = logging.getLogger(__name__)

SERVICE_KEYS = "".join(SERVICE_CHOICES)  # "1234": accepted during the prompts too
SILENT_KEY = "5"


async def handle(session: AgiSession, context: StepContext) -> None:
    await IvrEntry(session, context).run()


class IvrEntry:
    """One caller's way through the IVR, from ANSWER to the queue."""

    def __init__(self, agi: AgiSession, context: StepContext) -> None:
        self.agi = agi
        self.context = context
        self.settings = context.settings
        self.step = "start"
        self.new: NewCall | None = None
        self.call: OpenedCall | None = None
        self.key_ahead: str | None = None
        self.service_choice: str | None = None
        self.statement: RecordResult | None = None
        self.silent = False
        self.silent_emergency = False
        self.recordings: dict[str, str] = {}
        self.state = "queued"
        self.error: str | None = None
        self.call_id_set = False
        self.journaled = False  # something of this call waits in the call journal

    async def run(self) -> None:
        # ANSWER first: until it goes out the caller only hears ringing, and reading the
        # caller's number (phonenumbers) can as well happen after it.
        steps = (
            ("answer", self.answer),
            ("identify", self.identify),
            ("locate", self.locate),
            ("open_call", self.open_call),
            ("start_recording", self.start_recording),
            ("greet", self.greet),
            ("choose_service", self.choose_service),
            ("record_statement", self.record_statement),
            ("check_silence", self.check_silence),
            ("warn_prank", self.warn_prank),
            ("connect", self.connect),
        )
        try:
            for name, step in steps:
                self.step = name
                await step()
        except AgiHangup:
            log.info("call %s: the caller hung up during %s", self.label, self.step)
            self.state = "abandoned"
        except (AgiCommandFailed, AgiProtocolError) as error:
            log.warning("call %s: IVR step %s failed (%s); queuing the caller as is", self.label, self.step, error)
            self.error = f"{self.step}: {error}"
        except asyncio.CancelledError:
            # The server is stopping mid-command: the reply to that command is still on its way,
            # so nothing more is said to Asterisk. The call is stored as it is; SIAGA_CALL_ID is
            # set already, and the dialplan queues the caller with its fail-open priority.
            self.error = f"{self.step}: the FastAGI server stopped"
            await self.finish(talk=False)
            raise
        except Exception as error:
            log.exception("call %s: IVR step %s broke; queuing the caller as is", self.label, self.step)
            self.error = f"{self.step}: {error.__class__.__name__}"
        await self.finish()

    @property
    def label(self) -> str:
        return str(self.call.id) if self.call and self.call.id else f"uniqueid {self.agi.uniqueid}"

    @property
    def file_stem(self) -> str:
        """Recording names: by call id, or by uniqueid while the call waits in the journal."""
        if self.call is not None and self.call.id is not None:
            return f"call-{self.call.id}"
        return "call-u" + "".join(ch for ch in self.new.uniqueid if ch.isalnum() or ch in ".-")[:64]

    # --- the steps ---------------------------------------------------------------------

    async def identify(self) -> None:
        """Caller number (E.164) and name from the AGI environment; both untrusted."""
        env = self.agi.env
        raw = env.get("agi_callerid")
        self.new = NewCall(
            uniqueid=clean_text(self.agi.uniqueid, 64) or "",
            channel=clean_text(env.get("agi_channel"), 200),
            caller=caller_number(raw, self.settings.phone_region),
            caller_raw=clean_text(raw, 64),
            caller_name=caller_name(env.get("agi_calleridname")),
            ivr_step="identify",
            # The menu is measured as the queue is: from Asterisk's answer of the call.
            answered_at=epoch_time(await self.agi.get_variable(var.SIAGA_ANSWERED_AT)),
        )

    async def answer(self) -> None:
        await self.agi.answer()

    async def locate(self) -> None:
        """What the network said about the caller's position (ivr/network_location.py)."""
        fixes, cell = await network_location(self.agi, self.label)
        self.new.fixes.extend(fixes)
        self.new.cell = cell

    async def open_call(self) -> None:
        """Create the call record now, so a call whose IVR breaks later is still on record."""
        await self._open()
        if self.call.id is not None:
            await self.agi.set_variable(var.SIAGA_CALL_ID, self.call.id)
            self.call_id_set = True

    async def start_recording(self) -> None:
        """Record the whole call (MixMonitor). Optional: if it fails, the call goes on unrecorded."""
        path = os.path.join(self.settings.recordings_dir, f"{self.file_stem}-full.wav")
        try:
            await self.agi.exec_app("MixMonitor", path)
        except AgiCommandFailed as error:
            log.warning("call %s: full-call recording did not start (%s)", self.label, error)
            return
        self.recordings["full"] = path

    async def greet(self) -> None:
        # A caller who knows the menu may press the service key during the welcome.
        self.key_ahead = await self._prompt("welcome", SERVICE_KEYS)

    async def choose_service(self) -> None:
        """Optional DTMF choice: 1 police, 2 fire, 3 medical, 4 disaster; no key is no choice."""
        key = self.key_ahead or await self._prompt("choose_service", SERVICE_KEYS)
        if key is None:
            try:
                key = await self.agi.wait_for_digit(self.settings.service_choice_timeout_ms)
            except AgiCommandFailed as error:
                log.info("call %s: no service key read (%s)", self.label, error)
        self.service_choice = SERVICE_CHOICES.get(key or "")

    async def record_statement(self) -> None:
        """The caller's statement, bounded in length and ended by silence, for the call-taker and Vosk."""
        await self._prompt("record_statement")
        base = os.path.join(self.settings.recordings_dir, f"{self.file_stem}-statement")
        wav = base + ".wav"
        self.recordings["statement"] = wav
        live = self.call.id is not None  # live transcription writes to the call's record
        if live:
            self.context.hooks.statement_started(self.call.id, wav)
        try:
            self.statement = await self.agi.record_file(
                base, max_ms=self.settings.statement_max_seconds * 1000,
                silence_s=self.settings.statement_silence_seconds)
        except AgiCommandFailed as error:
            log.warning("call %s: the statement was not recorded (%s)", self.label, error)
        finally:
            if live:
                self.context.hooks.statement_ended(self.call.id, wav)

    async def check_silence(self) -> None:
        """A silent statement may be a caller who cannot speak: offer "press 5 twice"."""
        if self.statement is None or not os.path.exists(self.recordings["statement"]):
            return
        rms = await asyncio.get_running_loop().run_in_executor(None, wav_rms, self.recordings["statement"])
        if not is_silent(rms):
            return
        self.silent = True
        timeout = self.settings.silent_check_timeout_ms
        first = await self._prompt("silent_check", SILENT_KEY) or await self._digit(timeout)
        if first == SILENT_KEY and await self._digit(timeout) == SILENT_KEY:
            self.silent_emergency = True
            log.info("call %s: silent emergency confirmed with 55", self.label)
            await self._prompt("silent_confirmed")

    async def warn_prank(self) -> None:
        # Lowered, warned, and queued all the same: a prankster can have a real emergency.
        if self.call.prank_suspect:
            await self._prompt("prank_warning")

    async def connect(self) -> None:
        await self._prompt("connecting")

    # --- the end, whatever happened ----------------------------------------------------

    async def finish(self, *, talk: bool = True) -> None:
        """Store the call as queued (or abandoned) and set the variables the dialplan queues with."""
        priority = FAIL_OPEN
        try:
            if self.call is None:
                await self._open()
            facts = PriorityFacts(
                service_choice=self.service_choice,
                known_location=self.call.fix_count > 0 or bool(self.new.fixes),
                repeat_count=self.call.repeat_count, silent_emergency=self.silent_emergency,
                prank_suspect=self.call.prank_suspect)
            outcome = IvrOutcome(
                state=self.state, ivr_step=self.step, service_choice=self.service_choice,
                silent=self.silent, silent_emergency=self.silent_emergency,
                prank_suspect=self.call.prank_suspect, repeat_count=self.call.repeat_count,
                ivr_error=self.error, recordings=self.recordings,
                summary={"caller": self.new.caller, "caller_name": self.new.caller_name,
                         "uniqueid": self.new.uniqueid, "silent": self.silent})
            if self.call.id is None:
                written = False
                await self._keep(call_journal.FINISH, call_journal.finish_data(outcome, facts))
            else:
                written, stored = await call_journal.keep_or_write(
                    self.context.journal, self.new.uniqueid, call_journal.FINISH,
                    call_journal.finish_data(outcome, facts),
                    lambda: self.context.store.run(FinishIvr(self.call.id, outcome, facts)))
                self.journaled = self.journaled or not written
            # Not rated by the database (it did not answer): never below the dialplan's fail-open.
            priority = stored if written else max(FAIL_OPEN, queue_priority(facts)[0])
        except Exception:
            # The database is down and the journal cannot be written: the dialplan queues the caller.
            log.exception("call %s: the call could not be stored nor kept; the dialplan queues the caller anyway",
                          self.label)
        if talk:
            await self._set_variables(priority)

    async def _set_variables(self, priority: int) -> None:
        # SET VARIABLE still works after a hang-up; a lost connection ends it quietly.
        values = [(var.QUEUE_PRIO, priority)]
        if self.call is not None and self.call.id is not None and not self.call_id_set:
            values.append((var.SIAGA_CALL_ID, self.call.id))
        if self.journaled:
            # The call-taker's leg inherits it: its answer is kept behind this call's entries.
            values.append((var.SIAGA_UNIQUEID_INHERITED, self.new.uniqueid))
        if self.service_choice:
            values.append((var.SIAGA_SERVICE, self.service_choice))
        for name, value in values:
            try:
                await self.agi.set_variable(name, value)
            except AgiError as error:
                log.info("call %s: %s not set (%s)", self.label, name, error)
                return

    # --- helpers -----------------------------------------------------------------------

    async def _open(self) -> None:
        if self.new is None:
            await self.identify()
        self.new.ivr_step = self.step
        window = timedelta(minutes=self.settings.repeat_call_window_minutes)
        if self.context.journal is None:
            self.call = await self.context.store.run(OpenCall(self.new, window))
            return
        written, opened = await call_journal.keep_or_write(
            self.context.journal, self.new.uniqueid, call_journal.OPEN, call_journal.open_data(self.new, window),
            lambda: self.context.store.run(OpenCall(self.new, window)))
        self.call = opened if written else OpenedCall(None, fix_count=len(self.new.fixes))
        self.journaled = not written

    async def _keep(self, kind: str, data: dict) -> None:
        journal = self.context.journal
        if journal is None:
            raise RuntimeError("the call could not be stored and there is no call journal")
        await asyncio.get_running_loop().run_in_executor(None, journal.append, self.new.uniqueid, kind, data)
        self.journaled = True

    async def _prompt(self, name: str, escape_digits: str = "") -> str | None:
        """Play a prompt of the configured language; a missing prompt is skipped, not fatal."""
        path = f"{self.settings.prompts}/{self.settings.language}/{name}"
        try:
            return await self.agi.stream_file(path, escape_digits)
        except AgiCommandFailed as error:
            log.warning("call %s: prompt %s did not play (%s)", self.label, path, error)
            return None

    async def _digit(self, timeout_ms: int) -> str | None:
        try:
            return await self.agi.wait_for_digit(timeout_ms)
        except AgiCommandFailed:
            return None
