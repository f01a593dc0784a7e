"""What every speech engine gives: transcripts with timed words, or a status that says why not.

Two engines implement one interface (`SpeechEngine`): Whisper (faster-whisper, the default,
Indonesian out of the box) and Vosk (for a centre that has a Vosk model). The rest of
recordings/ (live statements, the background queue, the command line, health) speaks only
to this interface, and never learns which engine it has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Protocol

DONE = "done"
FAILED = "failed"
UNAVAILABLE = "unavailable"


class SpeechUnavailable(Exception):
    """No usable speech model: transcription is reported unavailable, calls go on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Word:
    """One recognised word, its start and end in seconds from the recording's start."""

    text: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True)
class Spotted:
    """A keyword phrase found straight in the audio (Vosk's grammar mode)."""

    phrase: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True)
class Transcript:
    """The outcome of transcribing one recording: text and words, or why there are none."""

    status: str
    text: str = ""
    words: tuple[Word, ...] = ()
    reason: str = ""
    duration_s: float = 0.0
    spotted: tuple[Spotted, ...] = field(default=())

    def as_dict(self) -> dict:
        """Plain JSON-ready form, for storing and for the API."""
        return asdict(self)


def finished_transcript(
    text: str, heard: list[Word], duration: float, spotted: tuple[Spotted, ...] = ()
) -> Transcript:
    """A done transcript, or failed when speech was there but no word was recognised."""
    if not text.strip():
        return Transcript(
            FAILED, reason="no words were recognised in the recording", duration_s=duration, spotted=spotted
        )
    return Transcript(DONE, text=text, words=tuple(heard), duration_s=duration, spotted=spotted)


class SpeechStream(Protocol):
    """Recognition of one recording fed piece by piece as it is written (16-bit mono PCM)."""

    def feed(self, data: bytes) -> None:
        """Take in more samples (decoding what they complete)."""

    def text_so_far(self) -> str:
        """The text heard so far, including a provisional guess at the part still being spoken."""

    def finish(self) -> tuple[str, list[Word], tuple[Spotted, ...]]:
        """No more samples: the whole text, its timed words, and any keyword phrases spotted."""


class SpeechEngine(Protocol):
    """A loaded speech model behind the one interface recordings/ uses."""

    name: str  # "whisper" or "vosk"
    model: str  # what model, in words, for /healthz

    def stream(self, rate: int, *, phrases: Iterable[str] | None = None) -> SpeechStream:
        """A stream for live recognition of `rate` Hz audio; `phrases` are keywords to listen for."""

    def transcribe_file(self, path, *, words: bool = True, phrases: Iterable[str] | None = None) -> Transcript:
        """A whole recording; never raises for a bad file, reports a status."""
