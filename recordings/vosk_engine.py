"""Vosk speech recognition: the model loaded once per process, transcripts with word times.

For a centre that has a Vosk model for its language (there is none for Indonesian: the default
engine is Whisper, see whisper_engine.py). `VoskEngine` puts it behind the common interface.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Iterable, Union

from recordings.audio import AudioError, Pcm, is_silent, load_pcm
from recordings.speech import (  # noqa: F401  (re-exported: older callers import them from here)
    DONE,
    FAILED,
    UNAVAILABLE,
    SpeechUnavailable,
    Spotted,
    Transcript,
    Word,
    finished_transcript,
)

log = logging.getLogger(__name__)

# How much audio goes to the recogniser per call: 0.5 s keeps calls few without long stalls.
CHUNK_SECONDS = 0.5
# Words the models use for "something else was said"; the first one a model knows is added
# to keyword grammars so that other speech need not be forced onto a keyword.
GARBAGE_WORDS = ("[unk]", "<unk>", "<UNK>")
# A spotted phrase counts when every one of its words was recognised at least this surely.
SPOT_MIN_CONF = 0.5

_models: dict[str, object] = {}
_refused: dict[str, str] = {}
_models_lock = threading.Lock()


ModelLike = Union[object, str, os.PathLike, None]


def load_model(path: str | os.PathLike | None):
    """The Vosk model in folder `path`, loaded once per process; SpeechUnavailable if it cannot be."""
    if path is None or str(path).strip() == "":
        raise SpeechUnavailable("no speech model is configured")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise SpeechUnavailable(f"the speech model folder {folder} does not exist")
    key = str(folder.resolve())
    with _models_lock:
        model = _models.get(key)
        if model is None:
            # A folder Kaldi refused is not tried again: each try costs seconds and a page of errors.
            if key in _refused:
                raise SpeechUnavailable(_refused[key])
            try:
                model = _new_model(key)
            except SpeechUnavailable as error:
                _refused[key] = error.reason
                raise
            _models[key] = model
        return model


def _new_model(folder: str):
    try:
        import vosk
    except ImportError:
        raise SpeechUnavailable("the vosk package is not installed") from None
    # -1 keeps Kaldi's warnings and errors on stderr but not its progress lines.
    vosk.SetLogLevel(-1)
    log.info("loading speech model %s", folder)
    try:
        return vosk.Model(folder)
    except Exception:  # vosk raises a bare Exception when Kaldi refuses the folder
        raise SpeechUnavailable(f"the speech model in {folder} cannot be loaded") from None


def resolve_model(model: ModelLike):
    """A loaded model from a model, a folder path or None; SpeechUnavailable otherwise."""
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_model(model)
    return model


def new_recognizer(model, rate: int, *, words: bool = True, grammar: Iterable[str] | None = None):
    """A KaldiRecognizer for `rate` Hz 16-bit mono PCM, free text or restricted to `grammar`."""
    import vosk

    if grammar is None:
        recognizer = vosk.KaldiRecognizer(model, rate)
    else:
        recognizer = vosk.KaldiRecognizer(model, rate, json.dumps(list(grammar), ensure_ascii=False))
    recognizer.SetWords(words)
    return recognizer


def _words(result: dict) -> list[Word]:
    return [
        Word(item["word"], round(item["start"], 3), round(item["end"], 3), round(item.get("conf", 1.0), 3))
        for item in result.get("result", ())
    ]


class _Pieces:
    """Cuts a stream of samples into pieces of CHUNK_SECONDS, however it arrives.

    Kaldi's results depend a little on where the audio is cut, so a statement followed live, in
    whatever sizes Asterisk's writes happen to land, is cut exactly as the finished file is.
    """

    def __init__(self, rate: int) -> None:
        self.size = int(rate * CHUNK_SECONDS) * 2
        self._held = b""

    def whole(self, data: bytes) -> list[bytes]:
        self._held += data
        count = len(self._held) // self.size
        pieces = [self._held[i * self.size:(i + 1) * self.size] for i in range(count)]
        self._held = self._held[count * self.size:]
        return pieces

    def rest(self) -> bytes:
        rest, self._held = self._held, b""
        return rest


class Decoder:
    """Free-text recognition of a PCM stream fed piece by piece; keeps every finished segment."""

    def __init__(self, model, rate: int, *, words: bool = True):
        self.rate = rate
        self._recognizer = new_recognizer(model, rate, words=words)
        self._pieces = _Pieces(rate)
        self._segments: list[dict] = []
        self._partial: str | None = ""

    def feed(self, data: bytes) -> None:
        """Recognise more samples; a pause the model hears as an utterance end closes a segment."""
        for piece in self._pieces.whole(data):
            self._accept(piece)

    def _accept(self, piece: bytes) -> None:
        if self._recognizer.AcceptWaveform(piece):
            self._segments.append(json.loads(self._recognizer.Result()))
            self._partial = ""
        else:
            self._partial = None

    def text_so_far(self) -> str:
        """The finished segments' text followed by the recogniser's current guess."""
        if self._partial is None:
            self._partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        parts = [segment.get("text", "") for segment in self._segments] + [self._partial]
        return " ".join(part for part in parts if part)

    def finish(self) -> tuple[str, list[Word]]:
        """Flush the recogniser and return the whole text and its words."""
        rest = self._pieces.rest()
        if rest:
            self._accept(rest)
        self._segments.append(json.loads(self._recognizer.FinalResult()))
        self._partial = ""
        text = " ".join(segment["text"] for segment in self._segments if segment.get("text"))
        words = [word for segment in self._segments for word in _words(segment)]
        return text, words


def grammar_phrases(model, phrases: Iterable[str]) -> list[str]:
    """The phrases whose every word the model knows (others cannot be spotted by grammar)."""
    known = []
    for phrase in dict.fromkeys(" ".join(p.strip("*").casefold().split()) for p in phrases):
        if phrase and all(model.vosk_model_find_word(word) >= 0 for word in phrase.split(" ")):
            known.append(phrase)
    return known


def garbage_word(model) -> str | None:
    """The model's word for unknown speech, if it has one."""
    return next((word for word in GARBAGE_WORDS if model.vosk_model_find_word(word) >= 0), None)


class Spotter:
    """Grammar-mode recognition restricted to keyword phrases, fed piece by piece.

    With a garbage word in the grammar, speech that is no keyword can go there. A model
    without one maps all speech onto some keyword, and only the confidence floor filters.
    """

    def __init__(self, model, rate: int, phrases: Iterable[str], *, min_conf: float = SPOT_MIN_CONF):
        self.phrases = grammar_phrases(model, phrases)
        self.min_conf = min_conf
        self._results: list[dict] = []
        self._recognizer = None
        if self.phrases:
            garbage = garbage_word(model)
            grammar = self.phrases + ([garbage] if garbage else [])
            self._recognizer = new_recognizer(model, rate, words=True, grammar=grammar)
        self._pieces = _Pieces(rate)

    def feed(self, data: bytes) -> None:
        """Listen for the phrases in more samples."""
        if self._recognizer is None:
            return
        for piece in self._pieces.whole(data):
            self._accept(piece)

    def _accept(self, piece: bytes) -> None:
        if self._recognizer.AcceptWaveform(piece):
            self._results.append(json.loads(self._recognizer.Result()))

    def finish(self) -> list[Spotted]:
        """Every whole phrase heard with at least `min_conf` confidence on each word, in time order."""
        if self._recognizer is None:
            return []
        rest = self._pieces.rest()
        if rest:
            self._accept(rest)
        self._results.append(json.loads(self._recognizer.FinalResult()))
        heard = [word for result in self._results for word in _words(result)]
        return find_phrases(heard, self.phrases, self.min_conf)


def find_phrases(heard: list[Word], phrases: list[str], min_conf: float) -> list[Spotted]:
    """Occurrences of `phrases` as consecutive words of `heard`, each word at least `min_conf` sure."""
    tokens = [word.text for word in heard]
    found = []
    for phrase in phrases:
        parts = phrase.split(" ")
        for i in range(len(tokens) - len(parts) + 1):
            if tokens[i:i + len(parts)] == parts:
                span = heard[i:i + len(parts)]
                conf = min(word.conf for word in span)
                if conf >= min_conf:
                    found.append(Spotted(phrase, span[0].start, span[-1].end, conf))
    return sorted(found, key=lambda spot: (spot.start, -len(spot.phrase)))


def chunks(data: bytes, rate: int, seconds: float = CHUNK_SECONDS) -> Iterable[bytes]:
    """16-bit PCM cut into pieces of `seconds` for the recogniser."""
    size = max(2, int(rate * seconds) * 2)
    for offset in range(0, len(data), size):
        yield data[offset:offset + size]


def transcribe_pcm(
    model, pcm: Pcm, *, words: bool = True, phrases: Iterable[str] | None = None
) -> Transcript:
    """Transcribe samples already in memory; `phrases` also spots keywords in the same pass."""
    duration = round(pcm.duration_s, 3)
    if is_silent(pcm.data, pcm.rate):
        return Transcript(FAILED, reason="the recording is silent", duration_s=duration)
    decoder = Decoder(model, pcm.rate, words=words)
    spotter = Spotter(model, pcm.rate, phrases) if phrases else None
    for piece in chunks(pcm.data, pcm.rate):
        decoder.feed(piece)
        if spotter is not None:
            spotter.feed(piece)
    text, heard = decoder.finish()
    spotted = tuple(spotter.finish()) if spotter is not None else ()
    return finished_transcript(text, heard, duration, spotted)


def transcribe_file(
    model: ModelLike, path: str | os.PathLike, *, words: bool = True, phrases: Iterable[str] | None = None
) -> Transcript:
    """Transcribe a recording file; never raises for a missing model or a bad file, reports a status."""
    try:
        model = resolve_model(model)
    except SpeechUnavailable as error:
        return Transcript(UNAVAILABLE, reason=error.reason)
    try:
        pcm = load_pcm(path)
    except AudioError as error:
        return Transcript(FAILED, reason=error.reason)
    return transcribe_pcm(model, pcm, words=words, phrases=phrases)


class VoskStream:
    """Live recognition with Vosk: free text and keyword spotting fed the same pieces."""

    def __init__(self, model, rate: int, phrases: Iterable[str] | None = None, *, words: bool = True):
        self._decoder = Decoder(model, rate, words=words)
        self._spotter = Spotter(model, rate, phrases) if phrases else None

    def feed(self, data: bytes) -> None:
        self._decoder.feed(data)
        if self._spotter is not None:
            self._spotter.feed(data)

    def text_so_far(self) -> str:
        return self._decoder.text_so_far()

    def finish(self) -> tuple[str, list[Word], tuple[Spotted, ...]]:
        text, heard = self._decoder.finish()
        spotted = tuple(self._spotter.finish()) if self._spotter is not None else ()
        return text, heard, spotted


class VoskEngine:
    """A loaded Vosk model behind the speech engine interface (recordings.speech.SpeechEngine)."""

    name = "vosk"

    def __init__(self, model, label: str = "vosk") -> None:
        self.vosk_model = model
        self.model = label

    def stream(self, rate: int, *, phrases: Iterable[str] | None = None, words: bool = True) -> VoskStream:
        return VoskStream(self.vosk_model, rate, phrases, words=words)

    def transcribe_pcm(self, pcm: Pcm, *, words: bool = True, phrases: Iterable[str] | None = None) -> Transcript:
        return transcribe_pcm(self.vosk_model, pcm, words=words, phrases=phrases)

    def transcribe_file(self, path, *, words: bool = True, phrases: Iterable[str] | None = None) -> Transcript:
        return transcribe_file(self.vosk_model, path, words=words, phrases=phrases)


def vosk_engine(path: str | os.PathLike | None) -> VoskEngine:
    """The Vosk model in folder `path` as an engine; SpeechUnavailable if it cannot be loaded."""
    return VoskEngine(load_model(path), str(path))
