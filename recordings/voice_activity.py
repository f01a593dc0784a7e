"""Where the caller speaks: a cheap energy detector that cuts a growing recording into utterances.

Whisper decodes a stretch of audio at a time, not a stream, so live transcription needs to know
when a stretch is over. Every 20 ms frame's loudness is compared with the line's own noise
floor (a telephone line is never silent); a run of voiced frames opens a segment, a pause
closes it. A shorter pause first asks for a *tentative* decode of the segment so far: if the
caller stays quiet the segment closes on exactly that audio and the tentative result becomes
final (nothing is decoded twice); if they go on, it was the provisional text the call-taker
read meanwhile.

Positions are sample indices from the start of the recording. The detector holds no audio,
only per-frame levels, so following a long call costs little memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

FRAME_SECONDS = 0.02


@dataclass(frozen=True)
class VadSettings:
    """How speech is told from the line's noise, and how pauses cut it."""

    # A pause this long ends an utterance of at least `min_utterance_s` at once: its decode, started
    # while the caller may still be drawing breath, is final either way (nothing is decoded again
    # if they go on, and the text is ready soon after they stop) ...
    close_pause_s: float = 0.3
    min_utterance_s: float = 4.0  # (Whisper hears a few words alone badly: short ones are joined to the next)
    lone_pause_s: float = 1.5  # ... and this long ends any utterance
    # A shorter utterance gets a provisional decode after this long a pause (final if the pause
    # lasts): longer than a breath between sentences, so that a caller going on after a few words
    # does not cost a decode thrown away, and short enough for the text to follow the end soon.
    tentative_pause_s: float = 0.8
    # Speech without such pauses gets a provisional guess this often (never final, so thrown away:
    # rare enough that it seldom still runs when the caller stops and the final decode must start).
    tentative_every_s: float = 8.0
    start_frames: int = 3  # voiced frames (of the last `start_window`) that open an utterance
    start_window: int = 5
    preroll_s: float = 0.2  # audio kept before the first voiced frame ...
    postroll_s: float = 0.25  # ... and after the last (soft word ends fall below the threshold)
    max_segment_s: float = 15.0  # an utterance longer than this is cut at its quietest recent frame
    floor_rms: float = 200.0  # never call quieter frames speech (about -44 dBFS)
    noise_ratio: float = 3.0  # speech is this many times louder than the line's noise
    noise_window_s: float = 10.0  # the noise floor is a low percentile of this much recent audio


@dataclass(frozen=True)
class Cut:
    """A stretch of audio to decode: `final` when the utterance is over, else provisional."""

    start: int
    end: int
    final: bool
    voiced_end: int | None = None  # where the voice stopped, when the cut ends in a pause (before the post-roll)

    @property
    def guess(self) -> bool:
        """A provisional cut in the middle of speech: it can never become the final decode."""
        return not self.final and self.voiced_end is None


class VoiceActivity:
    """Frames in, cuts out; `push` takes samples as they arrive, `flush` closes what is open."""

    def __init__(self, rate: int, settings: VadSettings | None = None) -> None:
        self.rate = rate
        self.settings = s = settings or VadSettings()
        self.frame = max(1, int(rate * FRAME_SECONDS))
        self._held = np.zeros(0, dtype=np.int16)
        self._frames = 0  # frames seen so far
        self._levels: deque[float] = deque(maxlen=max(10, int(s.noise_window_s / FRAME_SECONDS)))
        self._recent: deque[bool] = deque(maxlen=s.start_window)
        self._segment_levels: list[float] = []  # frame levels of the open segment
        self._start: int | None = None  # first frame of the open segment (pre-roll included)
        self._last_voiced = -1
        self._tentative_at = -1  # last voiced frame when the last provisional cut was made
        self._tentative_len = 0  # segment length in frames at that cut
        self._closed_at = 0  # where the last closed utterance ended
        self.voiced_frames = 0

    def _frames_of(self, seconds: float) -> int:
        return max(1, int(round(seconds / FRAME_SECONDS)))

    def threshold(self) -> float:
        """The level above which a frame counts as speech, from the recent noise floor."""
        if not self._levels:
            return self.settings.floor_rms
        if len(self._levels) < 25:
            # Too little heard for a percentile: the quietest frame so far stands for the noise
            # (a line's hiss hardly varies from frame to frame; speech does, a lot).
            noise = min(self._levels)
        else:
            noise = float(np.percentile(np.fromiter(self._levels, float), 20))
        return max(self.settings.floor_rms, noise * self.settings.noise_ratio)

    def push(self, data: bytes) -> list[Cut]:
        samples = np.frombuffer(data[: len(data) - len(data) % 2], dtype=np.int16)
        if self._held.size:
            samples = np.concatenate([self._held, samples])
        whole = samples.size // self.frame
        self._held = samples[whole * self.frame:].copy()
        if whole == 0:
            return []
        frames = samples[: whole * self.frame].astype(np.float32).reshape(whole, self.frame)
        levels = np.sqrt(np.mean(frames * frames, axis=1))
        cuts: list[Cut] = []
        for level in levels:
            cut = self._step(float(level))
            if cut is not None:
                cuts.append(cut)
        return cuts

    def _step(self, level: float) -> Cut | None:
        s = self.settings
        index = self._frames
        self._frames += 1
        voiced = level > self.threshold()
        self._levels.append(level)
        self._recent.append(voiced)
        if voiced:
            self.voiced_frames += 1
        if self._start is None:
            if voiced and sum(self._recent) >= s.start_frames:
                first = index - len(self._recent) + 1 + list(self._recent).index(True)
                # The pre-roll never reaches back into audio already decoded with the last utterance.
                self._start = max(0, self._closed_at, first - self._frames_of(s.preroll_s))
                self._segment_levels = []
                self._last_voiced = index
                self._tentative_at = -1
                self._tentative_len = 0
            return None
        self._segment_levels.append(level)
        if voiced:
            self._last_voiced = index
        pause = index - self._last_voiced
        length = index - self._start + 1
        close = s.close_pause_s if length - pause >= self._frames_of(s.min_utterance_s) else s.lone_pause_s
        if pause >= self._frames_of(close):
            return self._close(self._end_after(self._last_voiced))
        if length >= self._frames_of(s.max_segment_s):
            return self._cut_long()
        if pause >= self._frames_of(s.tentative_pause_s) and self._tentative_at != self._last_voiced:
            return self._tentative()
        if voiced and length - self._tentative_len >= self._frames_of(s.tentative_every_s):
            return self._tentative(self._frames)
        return None

    def _end_after(self, last_voiced: int) -> int:
        return min(self._frames, last_voiced + 1 + self._frames_of(self.settings.postroll_s))

    def _tentative(self, end: int | None = None) -> Cut:
        self._tentative_at = self._last_voiced
        voiced_end = None if end is not None else (self._last_voiced + 1) * self.frame
        end = self._end_after(self._last_voiced) if end is None else end
        self._tentative_len = end - self._start
        return Cut(self._start * self.frame, end * self.frame, False, voiced_end)

    def _close(self, end: int) -> Cut:
        cut = Cut(self._start * self.frame, end * self.frame, True, (self._last_voiced + 1) * self.frame)
        self._closed_at = end
        self._start = None
        self._recent.clear()
        return cut

    def _cut_long(self) -> Cut:
        """Cut an over-long utterance at its quietest frame of the last three seconds."""
        look = min(len(self._segment_levels), self._frames_of(3.0))
        tail = self._segment_levels[-look:]
        quietest = self._frames - look + int(np.argmin(tail))
        cut = Cut(self._start * self.frame, (quietest + 1) * self.frame, True)
        self._start = self._closed_at = quietest + 1
        self._segment_levels = self._segment_levels[-(self._frames - self._start):] if self._frames > self._start else []
        self._tentative_at = -1
        self._tentative_len = 0
        return cut

    def flush(self) -> Cut | None:
        """The recording has ended: the open utterance, if any, as a final cut."""
        if self._start is None:
            return None
        return self._close(self._end_after(self._last_voiced))
