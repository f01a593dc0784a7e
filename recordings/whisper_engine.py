"""Whisper (faster-whisper) behind the speech engine interface, live on a growing recording.

Whisper is not a streaming model: it decodes a stretch of audio at once. So a live statement
is cut into utterances by voice activity (voice_activity.py), each closed utterance is decoded
once, with the text before it as context and the keyword list as hotwords, and a pause that
may be the end gets the open utterance decoded as a provisional tail. When the pause lasts,
that decode is the final one for those samples: no audio is decoded twice for nothing. A whole
file is decoded the same way, so a live transcript and the file's agree.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from recordings.audio import AudioError, Pcm, is_silent, load_pcm
from recordings.speech import FAILED, Spotted, Transcript, Word, finished_transcript
from recordings.voice_activity import Cut, VadSettings, VoiceActivity

log = logging.getLogger(__name__)

WHISPER_RATE = 16000
# Context carried from earlier utterances into the next decode (Whisper's own limit is 223 tokens).
CONTEXT_CHARS = 300
# Temperature 0 only: a retry at a higher temperature samples at random (the same audio gave
# other words from run to run, and cost a second decode), and what it guarded against, a decode
# looping on, is cut by max_new_tokens, no_repeat_ngram_size and without_loops.
TEMPERATURES = (0.0,)
# Speech carries at most about this many tokens a second: a decode may not run on past it (a
# looping decode would otherwise spend seconds of CPU writing the same words again).
TOKENS_PER_SECOND = 8
# A segment ending this close to the voice's end (or the audio's) leaves nothing more to decode.
COVERED_SECONDS = 0.15
# Beam width for a provisional guess in the middle of speech, which is never the final text.
GUESS_BEAM_SIZE = 1


@dataclass(frozen=True)
class DecodeOptions:
    language: str = "id"
    beam_size: int = 5
    hotwords: str | None = None  # words to nudge decoding toward: the keyword list's

    def transcribe_kwargs(self) -> dict:
        """faster-whisper's transcribe() arguments, the same for the live path and the bench's bare one."""
        return dict(language=self.language, beam_size=self.beam_size, temperature=list(TEMPERATURES),
                    word_timestamps=True, vad_filter=False, condition_on_previous_text=True,
                    no_repeat_ngram_size=4, hotwords=self.hotwords or None)


@dataclass(frozen=True)
class Piece:
    """What one decode of one stretch of audio gave."""

    start: int  # samples, at the recording's rate
    end: int
    text: str
    words: tuple[Word, ...]


def to_whisper_audio(samples: bytes, rate: int) -> np.ndarray:
    """16-bit PCM at `rate` as the float32 16 kHz samples Whisper reads."""
    audio = np.frombuffer(samples[: len(samples) - len(samples) % 2], dtype=np.int16).astype(np.float32) / 32768.0
    if rate == WHISPER_RATE or audio.size == 0:
        return audio
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(WHISPER_RATE, rate)
    return resample_poly(audio, WHISPER_RATE // g, rate // g).astype(np.float32)


# A longer hotword prompt made whisper-base write keywords nobody said (tested on telephone speech).
HOTWORD_CHARS = 150


def hotwords_for(phrases: Iterable[str] | None, limit_chars: int = HOTWORD_CHARS) -> str | None:
    """The keyword phrases as one hotword prompt, first ones first, within Whisper's prompt length."""
    taken, size = [], 0
    for phrase in dict.fromkeys(p.strip("*").strip() for p in (phrases or ()) if p and p.strip("*").strip()):
        if size + len(phrase) + 2 > limit_chars:
            break
        taken.append(phrase)
        size += len(phrase) + 2
    return ", ".join(taken) or None


def _anomalous(word: Word) -> bool:
    """A word too short, too long or too unlikely to have been said (faster-whisper's word anomaly score)."""
    duration = word.end - word.start
    score = (1.0 if word.conf < 0.15 else 0.0) + (max(0.0, 0.133 - duration) * 15) + max(0.0, duration - 2.0)
    return score >= 1.5


# A word at the edge of an utterance heard with less than this probability is taken as written on
# past the speech, not heard: whisper-base fills the silence after an utterance with hotwords
# ("jalan", "kecelakaan") at probabilities of 0.01-0.15, where the caller's words get 0.2-0.99.
EDGE_PROBABILITY = 0.16
# A word squeezed into less than this is not a word that was said.
EDGE_MIN_SECONDS = 0.07


def run_on(word: Word, voiced_end_s: float | None) -> bool:
    """A word at the end of a decode that the caller did not say: unlikely, squeezed, or after the voice."""
    return (word.conf < EDGE_PROBABILITY or word.end - word.start < EDGE_MIN_SECONDS or _anomalous(word)
            or (voiced_end_s is not None and word.start >= voiced_end_s))


# Whisper's own belief that a stretch holds no speech, above which a segment after the first is
# taken as written on into the silence (the caller's segments score 0.02-0.1; the run-on
# "kecelakaan, jalan rusak, tolong ..." after a statement's last word, 0.8-0.9).
RUN_ON_NO_SPEECH = 0.6


def run_on_segment(segment, voiced_end: float | None) -> bool:
    """A decoded segment that starts where the voice had stopped, or that the model itself heard as no speech.

    `voiced_end` is in the decoded stretch's own seconds. Whisper writes such a segment, hotwords
    or the utterance again, into the silence after the audio; its words all squeezed into its
    last instant.
    """
    if voiced_end is not None and segment.start >= voiced_end - 0.1:
        return True
    return segment.start > 0.0 and segment.no_speech_prob >= RUN_ON_NO_SPEECH


def without_run_on(heard: list[Word], voiced_end_s: float | None) -> tuple[list[Word], bool]:
    """The words less those written on past the speech at the end, and whether any were dropped.

    A false keyword costs more than a lost word: the call-taker reads the category it gives.
    (Only the end: the first word of an utterance is often heard as barely as an echo is, and
    is the caller's, "banjir" opening a flood call.)
    """
    kept = list(heard)
    while kept and run_on(kept[-1], voiced_end_s):
        kept.pop()
    return kept, len(kept) != len(heard)


def _plain(word: str) -> str:
    return "".join(ch for ch in word.casefold() if ch.isalnum())


def without_echo(text: str, heard, hotwords: str, run: int = 3) -> tuple[str, list[Word]]:
    """Drop the hotword list where the model wrote it back instead of what was said.

    Whisper sometimes repeats its prompt when the audio is unclear. `run` or more hotwords in a
    row in the order the list has them ("kebakaran, banjir, pingsan"), or one hotword written
    `run` or more times in a row in broken forms ("kecelakaan, kecelak, kecelakan"), are taken
    as such an echo; a caller saying two keywords together is kept.
    """
    order: dict[str, int] = {}
    for word in hotwords.split():
        order.setdefault(_plain(word), len(order))
    order.pop("", None)
    words = text.split()
    plain = [_plain(w) for w in words]
    drop = [False] * len(words)
    i = 0
    while i < len(words):
        # The longest stretch of hotwords from here that follows the list's order.
        j = i
        while j < len(words) and plain[j] in order and (j == i or order[plain[j]] > order[plain[j - 1]]):
            j += 1
        if j - i >= run:
            drop[i:j] = [True] * (j - i)
        i = max(j, i + 1)
    # ... and one hotword written again and again in broken forms ("kecelakaan, kecelak, kecelakan").
    from rapidfuzz import fuzz

    for hotword in order:
        if len(hotword) < 5:
            continue
        alike = [bool(p) and fuzz.ratio(p, hotword) >= 75 for p in plain]
        k = 0
        while k < len(words):
            m = k
            while m < len(words) and alike[m]:
                m += 1
            if m - k >= run and len(set(plain[k:m])) >= run:
                drop[k:m] = [True] * (m - k)
            k = max(m, k + 1)
    if not any(drop):
        return text, list(heard)
    gone = {plain[k] for k in range(len(words)) if drop[k]}
    kept_words = [w for k, w in enumerate(words) if not drop[k]]
    # Timed words line up with the text's words one for one; keep the same ones.
    timed = list(heard)
    if len(timed) == len(words):
        timed = [w for k, w in enumerate(timed) if not drop[k]]
    else:
        timed = [w for w in timed if _plain(w.text) not in gone]
    return " ".join(kept_words), timed


def without_loops(text: str, heard, keep: int = 3) -> tuple[str, list[Word]]:
    """Cut a word said more than `keep` times in a row back to `keep` ("um, um, um, um, ...").

    Whisper can loop on the line's hiss after the caller stops; a caller may well say "tolong"
    three times, hardly ten.
    """
    words = text.split()
    plain = [_plain(w) for w in words]
    drop = [False] * len(words)
    for k in range(keep, len(words)):
        if plain[k] and all(plain[k - n] == plain[k] for n in range(1, keep + 1)):
            drop[k] = True
    if not any(drop):
        return text, list(heard)
    timed = list(heard)
    if len(timed) == len(words):
        timed = [w for k, w in enumerate(timed) if not drop[k]]
    return " ".join(w for k, w in enumerate(words) if not drop[k]), timed


class WhisperEngine:
    """A loaded faster-whisper model, shared by every stream of the process."""

    name = "whisper"

    def __init__(self, model, *, label: str = "whisper", options: DecodeOptions | None = None,
                 vad: VadSettings | None = None) -> None:
        self.whisper = model
        self.model = label
        self.options = options or DecodeOptions()
        self.vad = vad or VadSettings()
        self.decodes = 0  # how many stretches were decoded (the bench and tests read it)
        self.decoded_seconds = 0.0
        self._count_lock = threading.Lock()

    def stream(self, rate: int, *, phrases: Iterable[str] | None = None, words: bool = True,
               provisional: bool = True) -> "WhisperStream":
        """A stream for one recording; `provisional=False` decodes only final utterances (a whole file)."""
        return WhisperStream(self, rate, hotwords_for(phrases) if phrases else self.options.hotwords,
                             provisional=provisional)

    def decode(self, samples: bytes, rate: int, offset_s: float, *, context: str = "",
               hotwords: str | None = None, voiced_end_s: float | None = None,
               beam_size: int | None = None) -> tuple[str, tuple[Word, ...]]:
        """Decode one stretch of 16-bit PCM; word times are from the recording's start (`offset_s`).

        `voiced_end_s` (from the recording's start) is where voice activity heard the caller stop:
        a word the model writes after it was not said.
        """
        audio = to_whisper_audio(samples, rate)
        with self._count_lock:
            self.decodes += 1
            self.decoded_seconds += audio.size / WHISPER_RATE
        kwargs = self.options.transcribe_kwargs()
        kwargs["hotwords"] = hotwords if hotwords is not None else kwargs["hotwords"]
        if beam_size:
            kwargs["beam_size"] = beam_size
        kwargs["max_new_tokens"] = min(220, 10 + int(TOKENS_PER_SECOND * audio.size / WHISPER_RATE))
        if context:
            kwargs["initial_prompt"] = context[-CONTEXT_CHARS:]
        segments, _info = self.whisper.transcribe(audio, **kwargs)
        texts, heard = [], []
        seconds = audio.size / WHISPER_RATE
        beyond = False
        voiced_until = voiced_end_s - offset_s if voiced_end_s is not None else None
        for segment in segments:
            if run_on_segment(segment, voiced_until):
                beyond = True
                break
            texts.append(segment.text.strip())
            for word in segment.words or ():
                text = word.word.strip()
                if not text:
                    continue
                if float(word.start) >= seconds - 0.05:
                    # Past the end of the audio: the model went on writing into the silence the
                    # encoder was given after it (often a hotword, or the utterance again).
                    beyond = True
                    continue
                heard.append(Word(text, round(float(offset_s + word.start), 3), round(float(offset_s + word.end), 3),
                                  round(float(word.probability), 3)))
            if segment.end >= min(seconds, voiced_until or seconds) - COVERED_SECONDS:
                # The caller's voice is covered: faster-whisper would go on to decode the few
                # hundredths of a second left as a window of its own (a second encoder pass and
                # search, for run-on words at best). Segments come lazily: stop asking.
                break
        # Words squeezed into the last instant, barely believed or after the voice, at the end:
        # written on past the speech (faster-whisper's own hallucination test scores words alike).
        heard, dropped = without_run_on(heard, voiced_end_s)
        beyond = beyond or dropped
        text = " ".join(w.text for w in heard) if beyond else " ".join(t for t in texts if t)
        if kwargs["hotwords"]:
            text, heard = without_echo(text, heard, kwargs["hotwords"])
        text, heard = without_loops(text, heard)
        return text, tuple(heard)

    def transcribe_pcm(self, pcm: Pcm, *, words: bool = True, phrases: Iterable[str] | None = None) -> Transcript:
        duration = round(pcm.duration_s, 3)
        if is_silent(pcm.data, pcm.rate):
            return Transcript(FAILED, reason="the recording is silent", duration_s=duration)
        stream = self.stream(pcm.rate, phrases=phrases, provisional=False)
        stream.feed(pcm.data)
        text, heard, spotted = stream.finish()
        if not text and stream.vad.voiced_frames == 0:
            return Transcript(FAILED, reason="no speech was heard in the recording", duration_s=duration)
        return finished_transcript(text, heard, duration, spotted)

    def transcribe_file(self, path, *, words: bool = True, phrases: Iterable[str] | None = None) -> Transcript:
        try:
            pcm = load_pcm(path)
        except AudioError as error:
            return Transcript(FAILED, reason=error.reason)
        return self.transcribe_pcm(pcm, words=words, phrases=phrases)


class WhisperStream:
    """One recording decoded utterance by utterance as its samples arrive."""

    def __init__(self, engine: WhisperEngine, rate: int, hotwords: str | None, *, provisional: bool = True) -> None:
        self.engine = engine
        self.rate = rate
        self.hotwords = hotwords
        self.provisional = provisional  # False: nobody reads text before the end (a whole file)
        self.vad = VoiceActivity(rate, engine.vad)
        self._samples = bytearray()
        self._final: list[Piece] = []
        self._tail: Piece | None = None  # the provisional decode of the utterance still open

    def feed(self, data: bytes) -> None:
        self._samples += data
        for cut in self.vad.push(data):
            self._take(cut)

    def _take(self, cut: Cut) -> None:
        if not cut.final and not self.provisional:
            return
        tail = self._tail
        if tail is not None and (tail.start, tail.end) == (cut.start, cut.end):
            piece = tail  # the provisional decode covered exactly this audio: it is the final one
        else:
            piece = self._decode(cut)
        if cut.final:
            self._final.append(piece)
            self._tail = None
        else:
            self._tail = piece

    def _decode(self, cut: Cut) -> Piece:
        # No earlier text as a prompt: whisper-base copied it back into the next utterance.
        context = ""
        samples = bytes(self._samples[cut.start * 2:cut.end * 2])
        voiced_end_s = cut.voiced_end / self.rate if cut.voiced_end is not None else None
        # A guess in the middle of speech is shown and thrown away: the cheapest search does.
        text, heard = self.engine.decode(samples, self.rate, cut.start / self.rate, context=context,
                                         hotwords=self.hotwords, voiced_end_s=voiced_end_s,
                                         beam_size=GUESS_BEAM_SIZE if cut.guess else None)
        return Piece(cut.start, cut.end, text, heard)

    def text_so_far(self) -> str:
        pieces = self._final + ([self._tail] if self._tail is not None else [])
        return " ".join(piece.text for piece in pieces if piece.text)

    def finish(self) -> tuple[str, list[Word], tuple[Spotted, ...]]:
        cut = self.vad.flush()
        if cut is not None:
            self._take(cut)
        self._tail = None
        text = " ".join(piece.text for piece in self._final if piece.text)
        words = [word for piece in self._final for word in piece.words]
        return text, words, ()


def whisper_engine(spec, data_path: str | os.PathLike, *, language: str = "id",
                   beam_size: int = 5) -> WhisperEngine:
    """The Whisper engine for a ModelSpec; SpeechUnavailable with a reason if it cannot be had."""
    from recordings.whisper_model import load_whisper

    model = load_whisper(spec, data_path)
    return WhisperEngine(model, label=spec.label, options=DecodeOptions(language=language, beam_size=beam_size))
