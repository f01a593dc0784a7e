"""Live transcription of a statement while Asterisk is still writing it.

Asterisk writes a WAV file progressively: a header whose size fields stay zero until the
recording is closed, then raw frames appended as the caller speaks. A LiveTranscriber follows
the file from a thread, feeds new frames to the engine's stream as they land and reports partial
text, so that when the recording ends only the last fraction of a second is left to decode.
Any growing WAV of a call can be followed this way: the statement, or the caller's direction of
the whole call that MixMonitor writes while they wait and after pick-up.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import nullcontext
from concurrent.futures import Future
from pathlib import Path
from typing import Callable, Iterable

from recordings.audio import MAX_HEADER_BYTES, AudioError, SILENCE_RMS, WavFormat, loudest_rms, parse_wav_header
from recordings.decode_turns import DecodeTurns, Urgency, behind_the_pbx
from recordings.engines import as_engine
from recordings.speech import FAILED, UNAVAILABLE, SpeechUnavailable, Transcript, finished_transcript

log = logging.getLogger(__name__)

# How often the follower looks for new frames; Asterisk flushes every 20 ms frame or so.
POLL_SECONDS = 0.05
# At most this much audio is fed at once, so partial text keeps coming while catching up.
FEED_SECONDS = 0.5
# A file that stops growing for this long is taken as ended even if finish() never comes.
IDLE_SECONDS = 60.0


class LiveTranscriber:
    """Follows a WAV file being recorded and transcribes it as it grows.

    Start it when the recording starts; `on_partial(text)` is called from the follower thread
    whenever the text so far changes. Call `finish()` when the recording has ended: it returns
    the final Transcript. As a context manager it starts on entry and takes the recording as
    ended on exit; `result` then holds the transcript. With `turns` (one `DecodeTurns` for the
    process's live transcriptions) each piece of decoding waits its turn by `urgency()`, so that
    when the cores cannot keep up with every caller the most urgent caller's text comes first.
    """

    def __init__(
        self,
        model,
        path: str | os.PathLike,
        *,
        on_partial: Callable[[str], None] | None = None,
        words: bool = True,
        phrases: Iterable[str] | None = None,
        poll_seconds: float = POLL_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        turns: DecodeTurns | None = None,
        urgency: Urgency | None = None,
    ):
        self.path = Path(path)
        self._model_source = model
        self._on_partial = on_partial
        self._words = words
        self._phrases = list(phrases or ())
        self._poll_seconds = poll_seconds
        self._idle_seconds = idle_seconds
        # Shared among the process's live transcriptions: each piece of decoding takes a turn.
        self._turns = turns
        self._urgency = urgency or (lambda: (0, 0.0))
        self._ended = threading.Event()
        self._progress = threading.Condition()
        self._fed_bytes = 0
        self._rate = 0
        self._result: Future[Transcript] = Future()
        self._thread = threading.Thread(target=self._run, name=f"live-transcriber:{self.path.name}", daemon=True)
        self._started = False

    # -- control -------------------------------------------------------------------------

    def start(self) -> "LiveTranscriber":
        """Begin following the file (it need not exist yet)."""
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def finish(self, timeout: float | None = None) -> Transcript:
        """The recording has ended: decode what is left and return the final transcript.

        Raises TimeoutError if the transcript is not ready within `timeout` seconds.
        """
        self.start()
        self._ended.set()
        return self._result.result(timeout)

    @property
    def result(self) -> Future:
        """A Future of the final transcript, for callbacks (`add_done_callback`)."""
        return self._result

    def __enter__(self) -> "LiveTranscriber":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self._ended.set()

    # -- progress ------------------------------------------------------------------------

    @property
    def fed_seconds(self) -> float:
        """Seconds of audio decoded so far."""
        with self._progress:
            return self._fed_bytes / 2 / self._rate if self._rate else 0.0

    def wait_for_audio(self, seconds: float, timeout: float | None = None) -> bool:
        """Block until at least `seconds` of audio have been decoded or the transcript is final."""
        with self._progress:
            return bool(self._progress.wait_for(
                lambda: self._result.done() or (self._rate and self._fed_bytes / 2 / self._rate >= seconds),
                timeout,
            ))

    # -- the follower thread -------------------------------------------------------------

    def _run(self) -> None:
        behind_the_pbx()
        try:
            transcript = self._follow()
        except Exception:
            log.exception("live transcription of %s stopped", self.path)
            transcript = Transcript(FAILED, reason="transcription stopped because of an internal error")
        self._result.set_result(transcript)
        with self._progress:
            self._progress.notify_all()

    def _wait(self) -> bool:
        """Pause until more frames may be there; True once the recording has ended."""
        return self._ended.wait(self._poll_seconds)

    def _follow(self) -> Transcript:
        try:
            engine = as_engine(self._model_source)
        except SpeechUnavailable as error:
            return Transcript(UNAVAILABLE, reason=error.reason)
        fmt = self._wait_for_header()
        if fmt is None or not fmt.is_native:
            # Not what Asterisk writes for a statement: decode the whole file once it is done.
            self._wait_until_ended()
            return engine.transcribe_file(self.path, words=self._words, phrases=self._phrases)
        with self._progress:
            self._rate = fmt.rate
        return self._decode_while_growing(engine, fmt)

    def _wait_for_header(self) -> WavFormat | None:
        """The WAV header once written; None if the recording ended first or is not a WAV file."""
        idle_since = time.monotonic()
        while True:
            ended = self._ended.is_set()
            try:
                with self.path.open("rb") as stream:
                    fmt = parse_wav_header(stream.read(MAX_HEADER_BYTES))
            except OSError:
                fmt = None
            except AudioError:
                return None
            if fmt is not None or ended:
                return fmt
            if time.monotonic() - idle_since > self._idle_seconds:
                log.warning("%s was never written: giving up on it", self.path)
                self._ended.set()
            self._wait()

    def _wait_until_ended(self) -> None:
        size, idle_since = -1, time.monotonic()
        while not self._wait():
            try:
                now = self.path.stat().st_size
            except OSError:
                now = -1
            if now != size:
                size, idle_since = now, time.monotonic()
            elif time.monotonic() - idle_since > self._idle_seconds:
                return

    def _decode_while_growing(self, engine, fmt: WavFormat) -> Transcript:
        recogniser = engine.stream(fmt.rate, phrases=self._phrases or None)
        feed_bytes = int(fmt.rate * FEED_SECONDS) * 2
        loudest = 0.0
        shown = ""
        position = fmt.data_offset
        idle_since = time.monotonic()
        with self.path.open("rb") as stream:
            while True:
                # Read the end flag before reading: frames written before finish() are then all seen.
                ended = self._ended.is_set()
                limit = self._data_end(stream, fmt) if ended else None
                stream.seek(position)
                wanted = feed_bytes if limit is None else min(feed_bytes, max(0, limit - position))
                data = stream.read(wanted)
                data = data[: len(data) - len(data) % 2]
                if data:
                    position += len(data)
                    idle_since = time.monotonic()
                    with self._turn():
                        recogniser.feed(data)
                        text = recogniser.text_so_far() if self._on_partial is not None and not ended else ""
                    loudest = max(loudest, loudest_rms(data, fmt.rate))
                    with self._progress:
                        self._fed_bytes += len(data)
                        self._progress.notify_all()
                    if text and text != shown:
                        shown = text
                        self._emit(text)
                    continue
                if ended:
                    break
                if time.monotonic() - idle_since > self._idle_seconds:
                    log.warning("%s stopped growing without an end: finishing its transcript", self.path)
                    self._ended.set()
                    continue
                self._wait()
        duration = round(self._fed_bytes / 2 / fmt.rate, 3)
        if self._fed_bytes == 0:
            return Transcript(FAILED, reason="the recording holds no audio")
        if loudest < SILENCE_RMS:
            return Transcript(FAILED, reason="the recording is silent", duration_s=duration)
        text, heard, spotted = recogniser.finish()
        return finished_transcript(text, heard, duration, spotted)

    def _turn(self):
        return self._turns.turn(self._urgency) if self._turns is not None else nullcontext()

    def _data_end(self, stream, fmt: WavFormat) -> int | None:
        """Where the samples end once the writer has closed the file and filled in the sizes."""
        stream.seek(0)
        try:
            closed = parse_wav_header(stream.read(MAX_HEADER_BYTES))
        except AudioError:
            return None
        if closed is None or closed.data_size is None:
            return None
        return closed.data_offset + closed.data_size

    def _emit(self, text: str) -> None:
        try:
            self._on_partial(text)
        except Exception:
            # A failing listener (say, the console push) must not stop the transcription.
            log.exception("partial transcript listener failed for %s", self.path)
