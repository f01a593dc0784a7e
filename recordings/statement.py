"""The caller's statement, transcribed while it is spoken: partial text to the consoles, final text at the end.

The IVR tells us (through its hooks) when RECORD FILE starts and ends. A LiveTranscriber
follows the file Asterisk is writing; each change of the text so far is stored on the
statement's row as `partial` and announced as `call.updated`, so the call-taker reads along
before picking up. When the recording ends only the last fraction of a second is left to
decode: the final transcript, the call's category hint from keyword triage and (if the
command center turned it on) the raised priority are stored at once.

Every statement has one thread for its database writes, so a slow write never holds up the
recogniser and writes land in order (no partial text over the final one).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from ivr.queue_order import follow_priority
from recordings import decode_turns
from recordings.decode_turns import DecodeTurns, behind_the_pbx
from recordings.health import speech_model
from recordings.keywords import load_keywords, triage
from recordings.live import LiveTranscriber
from recordings.registry import ensure_recording
from recordings.transcripts import boost_priority, save_partial, save_transcript, statement_summary, triage_statement
from recordings.speech import FAILED, UNAVAILABLE, SpeechUnavailable, Transcript
from siaga112 import events
from siaga112.models import Recording

log = logging.getLogger(__name__)

# How long a keyword priority boost waits for the IVR to queue the caller, and how often it looks.
BOOST_WAIT_SECONDS = 120.0
BOOST_POLL_SECONDS = 0.5


class StatementTranscription:
    """One statement being transcribed live; `stored` is set once its final transcript is on its row."""

    def __init__(self, runtime, call_id: int, path: str, kind: str = "statement",
                 turns: DecodeTurns | None = None) -> None:
        self.runtime = runtime
        self.turns = turns
        self.call_id = call_id
        self.path = path
        self.kind = kind  # the recording's kind: any growing WAV of the caller's voice can be followed
        self.recording_id: int | None = None
        self.transcript: Transcript | None = None
        self.category_hint: str | None = None
        self.priority_boost: str | None = None
        self.partials_stored = 0
        self.ended_at: float | None = None  # time.monotonic() when the recording ended
        self.stored_at: float | None = None  # ... and when its final transcript was stored
        self.stored = threading.Event()
        self.following = threading.Event()  # the recogniser follows the file (or there is no model)
        self.begun_at = time.monotonic()
        self.connected = False  # the caller talks to a call-taker (their text is read along, not before)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"statement-{call_id}")
        self._lock = threading.Lock()
        self._partial: str | None = None
        self._stop = threading.Event()
        self.transcriber: LiveTranscriber | None = None

    def start(self) -> "StatementTranscription":
        """Begin at once, without blocking the caller (the IVR's event loop): the rest runs on the writer thread."""
        self._writer.submit(self._guard, self._create_row)
        self._writer.submit(self._follow_safely)
        return self

    def end(self) -> None:
        """RECORD FILE has returned: the file is complete; decode what is left without waiting."""
        with self._lock:
            self.ended_at = time.monotonic()
            transcriber = self.transcriber
        if transcriber is not None:
            self._finish(transcriber)

    def wait_for_audio(self, seconds: float, timeout: float | None = None) -> bool:
        """Block until `seconds` of the statement have been decoded (or its transcript is final)."""
        deadline = time.monotonic() + (timeout if timeout is not None else 3600)
        if not self.following.wait(timeout):
            return False
        if self.transcriber is None:
            return True
        return self.transcriber.wait_for_audio(seconds, max(0.0, deadline - time.monotonic()))

    def _follow_safely(self) -> None:
        try:
            self._follow()
        except Exception:  # no transcript, but the statement is still marked and the call goes on
            log.exception("live transcription of call %s could not start", self.call_id)
            self.following.set()
            self._final(Transcript(FAILED, reason="transcription stopped because of an internal error"))

    def _follow(self) -> None:
        try:
            model = speech_model(self.runtime)  # loaded once per process; may take seconds the first time
        except SpeechUnavailable as error:
            self.following.set()
            self._final(Transcript(UNAVAILABLE, reason=error.reason))
            return
        try:
            phrases = load_keywords(self.runtime.settings.language).phrases()
        except ValueError as error:
            log.error("keyword spotting off for call %s: %s", self.call_id, error)
            phrases = []
        transcriber = LiveTranscriber(model, self.path, on_partial=self._on_partial, phrases=phrases,
                                      turns=self.turns, urgency=self.urgency)
        with self._lock:
            self.transcriber = transcriber
            ended = self.ended_at is not None
        transcriber.start()
        self.following.set()
        transcriber.result.add_done_callback(self._on_result)
        if ended:
            self._finish(transcriber)

    @staticmethod
    def _finish(transcriber: LiveTranscriber) -> None:
        try:
            transcriber.finish(timeout=0)
        except TimeoutError:
            pass  # the final transcript arrives through _on_result

    def stop(self) -> None:
        """Stop waiting to boost a priority (service shutdown)."""
        self._stop.set()

    def urgency(self) -> tuple[int, float]:
        """Where this caller's decoding stands when the cores are short (`recordings.decode_turns`):
        a waiting caller the call-taker has nothing to read about yet comes first."""
        if self.ended_at is not None:
            tier = decode_turns.ENDED
        elif self.connected:
            tier = decode_turns.IN_CONVERSATION
        elif self.partials_stored or self._partial is not None:
            tier = decode_turns.WAITING_WITH_TEXT
        else:
            tier = decode_turns.WAITING_WITHOUT_TEXT
        return tier, self.begun_at

    # --- from the recogniser's thread ----------------------------------------------

    def _on_partial(self, text: str) -> None:
        with self._lock:
            first = self._partial is None
            self._partial = text
        if first:
            self._writer.submit(self._guard, self._store_partial)

    def _on_result(self, future: Future) -> None:
        try:
            transcript = future.result()
        except Exception:  # the transcriber sets a result even when it fails; this is belt and braces
            log.exception("live transcription of call %s failed", self.call_id)
            transcript = Transcript(FAILED, reason="transcription stopped because of an internal error")
        self._final(transcript)

    def _final(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self._writer.submit(self._guard, self._store_final, transcript)
        self._writer.shutdown(wait=False)

    # --- on the writer thread --------------------------------------------------------

    def _guard(self, function, *args) -> None:
        try:
            function(*args)
        except Exception:  # optional work: the call goes on without a transcript
            log.exception("statement of call %s: %s failed", self.call_id, function.__name__)

    def _create_row(self) -> None:
        with self.runtime.database.session() as session:
            self.recording_id = ensure_recording(session, self.call_id, self.kind, self.path)

    def _store_partial(self) -> None:
        with self._lock:
            text, self._partial = self._partial, None
        if not text or self.recording_id is None:
            return
        with self.runtime.database.session() as session:
            if save_partial(session, self.recording_id, self.call_id, text):
                self.partials_stored += 1
        self._boost_early(text)

    def _boost_early(self, text: str) -> None:
        """Queue first: the caller speaks while waiting, so keywords heard so far may raise the priority
        before the statement is over (once), and the caller moves in Asterisk's queue too."""
        settings = self.runtime.settings
        if not settings.keyword_priority_boost or self.priority_boost is not None:
            return
        try:
            hint, _keywords = triage(text, (), settings.language)
        except ValueError:
            return
        if not hint:
            return
        with self.runtime.database.session() as session:
            outcome = boost_priority(session, self.call_id)
        if outcome == "raised":
            self.priority_boost = outcome
            follow_priority(self.runtime, self.call_id)

    def _store_final(self, transcript: Transcript) -> None:
        hint = None
        settings = self.runtime.settings
        try:
            if self.recording_id is None:
                self._create_row()
            with self.runtime.database.session() as session:
                recording = session.get(Recording, self.recording_id)
                save_transcript(session, recording, transcript)
                if transcript.status == "done":
                    hint, _keywords = triage_statement(session, self.call_id, transcript, settings.language,
                                                       recording=recording, runtime=self.runtime)
                summary = statement_summary(recording.id, recording.transcript, recording.transcript_status,
                                            recording.transcript_keywords, recording.transcript_places)
                payload = {"id": self.call_id, "statement": summary}
                if hint:
                    payload["category_hint"] = hint
                events.publish(session, "call.updated", payload)
            self.category_hint = hint
        finally:
            self.stored_at = time.monotonic()
            self.stored.set()
        if hint and settings.keyword_priority_boost and self.priority_boost is None:
            # Waiting for the IVR to queue the caller must not hold up a clean shutdown: a daemon thread.
            threading.Thread(target=self._guard, args=(self._boost,), name=f"boost-{self.call_id}", daemon=True).start()

    def _boost(self) -> None:
        deadline = time.monotonic() + BOOST_WAIT_SECONDS
        while True:
            with self.runtime.database.session() as session:
                outcome = boost_priority(session, self.call_id)
            if outcome != "wait" or time.monotonic() > deadline or self._stop.wait(BOOST_POLL_SECONDS):
                break
        self.priority_boost = outcome
        if outcome == "raised":
            follow_priority(self.runtime, self.call_id)  # one queue order: Asterisk's too
        log.info("call %s: keyword priority boost %s", self.call_id, outcome)


class LiveStatements:
    """The IVR's statement listener: one live transcription per statement being recorded, all
    taking turns on the cores (`recordings.decode_turns`)."""

    def __init__(self, runtime, turns: DecodeTurns | None = None) -> None:
        self.runtime = runtime
        self.turns = turns or DecodeTurns()
        self._lock = threading.Lock()
        self._live: dict[int, StatementTranscription] = {}
        self.last: dict[int, StatementTranscription] = {}

    def warm_up(self) -> threading.Thread:
        """Load the speech model in the background now, so the first caller's statement need not wait for it."""

        def load() -> None:
            behind_the_pbx()  # a recogniser's own worker threads, started now, inherit it
            try:
                speech_model(self.runtime)
            except SpeechUnavailable as error:
                log.warning("statements will not be transcribed: %s", error.reason)

        thread = threading.Thread(target=load, name="speech-model-load", daemon=True)
        thread.start()
        return thread

    def statement_started(self, call_id: int, wav_path: str, kind: str = "statement") -> None:
        """Follow `wav_path` while Asterisk writes it: the statement, or another file of the caller's voice
        (`kind` names its recording row, e.g. the caller's direction of the call that MixMonitor writes)."""
        statement = StatementTranscription(self.runtime, call_id, wav_path, kind, turns=self.turns)
        log.info("call %s: following %s (%s) live", call_id, wav_path, kind)
        with self._lock:
            self._live[call_id] = statement
            self.last[call_id] = statement
            if len(self.last) > 1000:  # keep the recent ones for inspection, not all
                self.last.pop(next(iter(self.last)))
        statement.start()

    def caller_connected(self, call_id: int) -> None:
        """A call-taker answered the caller: their text is now read along, after the waiting callers'."""
        with self._lock:
            statement = self._live.get(call_id)
        if statement is not None:
            statement.connected = True

    def statement_ended(self, call_id: int, wav_path: str) -> None:
        with self._lock:
            statement = self._live.pop(call_id, None)
        if statement is not None:
            statement.end()

    def stop(self) -> None:
        with self._lock:
            statements = list(self.last.values())
        for statement in statements:
            statement.stop()
