"""Keyword triage: emergency words in a caller's statement give the call a category hint.

The per-language lists live in config/keywords/<lang>.yaml. Keywords are matched in the free
transcript and, with Vosk, through the recogniser's grammar mode straight in the audio.

A recogniser mishears: Whisper wrote "kemakaran" for kebakaran and "kecelakan" for
kecelakaan on a telephone line. So a keyword also matches words that are spelt almost like it
(rapidfuzz's similarity ratio) or sound like it (an Indonesian sound key: letters that a
telephone line and a recogniser confuse, b/p/m, d/t, k/g/q, c/j/s/z, l/r, e/a, fall
together, and h falls away), and words split or run together ("ke pakaran", "lakalantas",
"anakaributan" for "ada keributan"). Short
keywords match only exactly: "maling" must not be heard in "Malang". Each match says what was
heard and how, so the call-taker sees which words gave the category.
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
from rapidfuzz import fuzz

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
        """Every keyword's spoken form: each category's first keyword, then each one's second, ...

        Vosk's grammar takes them all; Whisper's hotword prompt has room for the first few
        dozen, so each category gets its main words in before any gets its rarer ones.
        """
        by_category: dict[str, list[str]] = {}
        for keyword in self.keywords:
            by_category.setdefault(keyword.category, []).append(keyword.spoken)
        rounds = max((len(v) for v in by_category.values()), default=0)
        ordered = [spoken[i] for i in range(rounds) for spoken in by_category.values() if i < len(spoken)]
        return list(dict.fromkeys(ordered))


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


# Fuzzy matching: keywords shorter than this match only exactly (or by their wildcard).
FUZZY_MIN_LETTERS = 7
SIMILAR_MIN_RATIO = 90.0  # rapidfuzz ratio for "spelt almost the same"
SOUND_MIN_RATIO = 75.0  # ... and for "sounds the same" (with equal sound keys)
SOUND_INSIDE_MIN = 7  # a keyword heard run into another word needs a sound key this long ("tumbang" is too short)
_SOUND_PAIRS = (("ng", "N"), ("ny", "N"), ("kh", "K"), ("sy", "S"))
_SOUND_LETTERS = str.maketrans({
    **dict.fromkeys("bpmfvw", "B"), **dict.fromkeys("dt", "D"), **dict.fromkeys("gkqx", "K"),
    **dict.fromkeys("cjsz", "S"), "n": "N", **dict.fromkeys("lr", "L"), "h": None, "y": "i", "e": "a",
})


def sound_key(word: str) -> str:
    """An Indonesian word as it may sound down a telephone line: confusable letters fall together."""
    key = word.casefold().replace(" ", "")
    for pair, symbol in _SOUND_PAIRS:
        key = key.replace(pair, symbol)
    key = key.translate(_SOUND_LETTERS)
    return re.sub(r"(.)\1+", r"\1", key)


@dataclass(frozen=True)
class KeywordMatch:
    """A keyword of the list found in a statement: what was heard, and how sure."""

    category: str
    keyword: str  # as written in the list
    heard: str  # the words of the transcript (or the spotted phrase) that matched
    how: str  # "exact", "similar" (spelt almost alike), "sound" (sounds alike), "spotted" (in the audio)
    score: float  # 100 for exact; the similarity otherwise

    def to_dict(self) -> dict:
        return {"category": self.category, "keyword": self.keyword, "heard": self.heard, "how": self.how,
                "score": round(self.score, 1)}


def _fuzzy(keyword: Keyword, words: list[str]) -> KeywordMatch | None:
    """The best near match of `keyword` in the transcript's words, or None."""
    spoken = keyword.spoken
    letters = spoken.replace(" ", "")
    if len(letters) < FUZZY_MIN_LETTERS:
        return None
    size = len(spoken.split())
    wildcard = keyword.written.startswith("*") or keyword.written.endswith("*")
    best: KeywordMatch | None = None
    # Windows of the keyword's word count, one word more and one fewer: splits and run-togethers.
    for width in {max(1, size - 1), size, size + 1}:
        for i in range(0, max(0, len(words) - width + 1)):
            window = words[i:i + width]
            heard = " ".join(window)
            joined = "".join(window)
            if wildcard:
                ratio = fuzz.partial_ratio(letters, joined) if len(joined) >= len(letters) else 0.0
                how = "similar" if ratio >= SIMILAR_MIN_RATIO else None
            else:
                ratio = fuzz.ratio(letters, joined)
                if ratio >= SIMILAR_MIN_RATIO and abs(len(joined) - len(letters)) <= 2:
                    how = "similar"
                elif ratio >= SOUND_MIN_RATIO and sound_key(joined) == sound_key(letters):
                    how = "sound"
                elif (width == 1 and len(joined) >= len(letters) + 3 and len(sound_key(letters)) >= SOUND_INSIDE_MIN
                      and sound_key(letters) in sound_key(joined)):
                    how, ratio = "sound", fuzz.partial_ratio(letters, joined)  # run together with the word before
                else:
                    how = None
            if how and (best is None or ratio > best.score):
                best = KeywordMatch(keyword.category, keyword.written, heard, how, ratio)
    return best


def match_keywords(
    text: str,
    spotted: Iterable[Spotted | str] = (),
    keyword_list: KeywordList | None = None,
) -> list[KeywordMatch]:
    """Every keyword of the list heard in a statement, in the list's order (its priority)."""
    normal = normalize(text or "")
    words = normal.split()
    spotted_texts = [normalize(item.phrase if isinstance(item, Spotted) else str(item)) for item in spotted]
    found = []
    for keyword in keyword_list.keywords if keyword_list else ():
        exact = keyword.pattern.search(normal) if normal else None
        if exact:
            found.append(KeywordMatch(keyword.category, keyword.written, exact.group(0), "exact", 100.0))
            continue
        heard = next((h for h in spotted_texts if h and keyword.pattern.search(h)), None)
        if heard:
            found.append(KeywordMatch(keyword.category, keyword.written, heard, "spotted", 100.0))
            continue
        near = _fuzzy(keyword, words)
        # Words another keyword already took ("ambulans" is not also a slip for "ambulan").
        if near is not None and not any(set(near.heard.split()) & set(m.heard.split()) for m in found):
            found.append(near)
    return found


def triage_matches(
    text: str,
    spotted: Iterable[Spotted | str] = (),
    lang: str = "id",
    *,
    directory: str | os.PathLike | None = None,
) -> tuple[str | None, list[KeywordMatch]]:
    """The category hint and the matches that gave it first, then the others heard.

    The hint is the first category of the list with a match, so the list's order is its
    priority; None if nothing matched.
    """
    matches = match_keywords(text, spotted, load_keywords(lang, directory))
    hint = matches[0].category if matches else None
    return hint, matches


def triage(
    text: str,
    spotted: Iterable[Spotted | str] = (),
    lang: str = "id",
    *,
    directory: str | os.PathLike | None = None,
) -> tuple[str | None, list[str]]:
    """The category hint and the keywords (as written in the list) heard in a statement."""
    hint, matches = triage_matches(text, spotted, lang, directory=directory)
    return hint, list(dict.fromkeys(match.keyword for match in matches))


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
