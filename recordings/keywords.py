"""Keyword triage: emergency words in a caller's statement give the call a category hint.

The per-language lists live in config/keywords/<lang>.yaml. Keywords are matched in the free
transcript and, through the recogniser's grammar mode, straight in the audio; the second
catches words a general model mishears when it is free to choose among all words.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from recordings.audio import AudioError, Pcm, is_silent, load_pcm
from recordings.vosk_engine import (
    SPOT_MIN_CONF,
    ModelLike,
    Spotted,
    Spotter,
    SpeechUnavailable,
    chunks,
    resolve_model,
)

log = logging.getLogger(__name__)

KEYWORDS_DIR = Path(__file__).resolve().parent.parent / "config" / "keywords"
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True)
class Keyword:
    """One keyword as written in the list; `*` at either end stands for any letters there."""

    category: str
    written: str
    pattern: re.Pattern

    @property
    def spoken(self) -> str:
        """The keyword as a recogniser grammar phrase: no wildcards, single spaces, case-folded."""
        return " ".join(self.written.strip("*").casefold().split())


@dataclass(frozen=True)
class KeywordList:
    """A language's keywords, grouped by category; categories in priority order (first wins)."""

    language: str
    keywords: tuple[Keyword, ...]

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(keyword.category for keyword in self.keywords))

    def phrases(self) -> list[str]:
        """Every keyword's spoken form, for grammar-mode spotting."""
        return list(dict.fromkeys(keyword.spoken for keyword in self.keywords))


def normalize(text: str) -> str:
    """Case-folded words separated by single spaces; punctuation dropped."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _pattern(written: str) -> re.Pattern:
    words = [re.escape(word) for word in normalize(written.strip("*")).split()]
    if not words:
        raise ValueError(f"keyword {written!r} has no letters")
    body = r"\s+".join(words)
    if written.startswith("*"):
        body = r"\w*" + body
    if written.endswith("*"):
        body = body + r"\w*"
    return re.compile(rf"(?<!\w){body}(?!\w)")


def parse_keywords(language: str, document, source: str = "<keywords>") -> KeywordList:
    """Build a KeywordList from a loaded YAML document; ValueError names what is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("categories"), dict):
        raise ValueError(f"{source}: expected a mapping with a 'categories' mapping")
    keywords = []
    for category, written_list in document["categories"].items():
        if not isinstance(category, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", category):
            raise ValueError(f"{source}: category {category!r} must be a lower-case identifier")
        if not isinstance(written_list, list) or not written_list:
            raise ValueError(f"{source}: category {category!r} needs a list of keywords")
        for written in written_list:
            if not isinstance(written, str) or not written.strip():
                raise ValueError(f"{source}: category {category!r} has an empty or non-text keyword")
            written = written.strip()
            try:
                pattern = _pattern(written)
            except ValueError as error:
                raise ValueError(f"{source}: {error}") from None
            keywords.append(Keyword(category, written, pattern))
    return KeywordList(language, tuple(keywords))


def load_keywords(language: str, directory: str | os.PathLike | None = None) -> KeywordList:
    """The keyword list of `language` (e.g. "id"); an empty list when there is none."""
    if not LANGUAGE_CODE.match(language or ""):
        raise ValueError(f"{language!r} is not a language code")
    folder = Path(directory) if directory is not None else KEYWORDS_DIR
    return _load_keywords(language, str(folder.resolve()))


@functools.lru_cache(maxsize=64)
def _load_keywords(language: str, folder: str) -> KeywordList:
    path = Path(folder) / f"{language}.yaml"
    if not path.is_file():
        log.warning("no keyword list for language %r at %s: triage gives no hint", language, path)
        return KeywordList(language, ())
    with path.open(encoding="utf-8") as stream:
        try:
            document = yaml.safe_load(stream)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error})") from None
    return parse_keywords(language, document, str(path))


def triage(
    text: str,
    spotted: Iterable[Spotted | str] = (),
    lang: str = "id",
    *,
    directory: str | os.PathLike | None = None,
) -> tuple[str | None, list[str]]:
    """The category hint and the keywords (as written in the list) heard in a statement.

    Looks in the transcript `text` and in phrases spotted in the audio. The hint is the first
    category of the list with a match, so the list's order is its priority; None if nothing matched.
    """
    keyword_list = load_keywords(lang, directory)
    heard = [normalize(text or "")]
    heard += [normalize(item.phrase if isinstance(item, Spotted) else str(item)) for item in spotted]
    matched = [
        keyword for keyword in keyword_list.keywords if any(keyword.pattern.search(h) for h in heard if h)
    ]
    hint = matched[0].category if matched else None
    return hint, list(dict.fromkeys(keyword.written for keyword in matched))


def spot_keywords(
    model: ModelLike,
    path_or_pcm: str | os.PathLike | bytes | Pcm,
    phrases: Iterable[str],
    *,
    rate: int = 8000,
    min_conf: float = SPOT_MIN_CONF,
) -> list[Spotted]:
    """Keyword phrases heard in a recording, by grammar-mode recognition, in time order.

    `path_or_pcm` is a recording file, a Pcm, or raw 16-bit mono samples at `rate` Hz. Phrases
    with a word the model does not know are left out (the transcript scan still finds them).
    With no model or unreadable audio nothing is spotted: the transcript's status says why.
    """
    try:
        model = resolve_model(model)
    except SpeechUnavailable as error:
        log.info("keyword spotting skipped: %s", error.reason)
        return []
    if isinstance(path_or_pcm, Pcm):
        pcm = path_or_pcm
    elif isinstance(path_or_pcm, (bytes, bytearray, memoryview)):
        pcm = Pcm(bytes(path_or_pcm), rate)
    else:
        try:
            pcm = load_pcm(path_or_pcm)
        except AudioError as error:
            log.info("keyword spotting skipped for %s: %s", path_or_pcm, error.reason)
            return []
    if is_silent(pcm.data, pcm.rate):
        return []
    spotter = Spotter(model, pcm.rate, phrases, min_conf=min_conf)
    for piece in chunks(pcm.data, pcm.rate):
        spotter.feed(piece)
    return spotter.finish()
