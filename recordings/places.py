"""Places a caller names ("di jalan Sudirman dekat pasar Besar", "kelurahan Sukun"), read from the transcript.

The phrases after place words are what the words named (`places` in `siaga112 transcribe
--json`). The transcript then goes to the address placer (routing/geocode.py) with the
recogniser's slips mended first: a run of words spelt almost like a loaded place name or a
level word ("keluruhan" for kelurahan) is read as that name. A place found this way is offered
on the call as a location fix with source `speech` and its accuracy; it is never the call's
location until a call-taker confirms it (ivr.location.best_fix leaves it out until then).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy.exc import SQLAlchemyError

from recordings.keywords import normalize, sound_key

log = logging.getLogger(__name__)

# Words after which a caller names a place, and what kind of place that is.
PLACE_WORDS = {
    "jalan": "street", "jl": "street", "jln": "street", "gang": "street", "gg": "street",
    "dekat": "near", "depan": "near", "samping": "near", "sebelah": "near", "belakang": "near",
    "seberang": "near", "pojok": "near", "ujung": "near",
    "kelurahan": "kelurahan", "desa": "kelurahan", "kampung": "kelurahan",
    "kecamatan": "kecamatan", "kota": "kota", "kabupaten": "kabupaten",
    "pasar": "landmark", "masjid": "landmark", "sekolah": "landmark", "terminal": "landmark",
    "stasiun": "landmark", "puskesmas": "landmark", "rs": "landmark", "rumah sakit": "landmark",
    "perumahan": "landmark", "alun": "landmark", "kantor": "landmark", "jembatan": "landmark",
}
# Level words the recogniser often misspells; mended by similarity before the placer reads them.
LEVEL_WORDS = ("kelurahan", "kecamatan", "kabupaten")
# The words of a place name end at these (or at a place word, or after four words).
NAME_ENDS = {"di", "ada", "anak", "dan", "yang", "tolong", "cepat", "saya", "sudah", "itu", "ini", "rt", "rw", "nomor",
             "no", "sekarang", "segera", "karena", "sama", "dengan", "ke", "dari", "pak", "bu"}
NAME_MIN_RATIO = 88.0  # how alike a run of words and a loaded place name must be spelt
LEVEL_MIN_RATIO = 75.0
# ... or how alike their Indonesian sound keys must be: down a telephone line l and r, t and d
# fall together ("karuratan" is spelt far from kelurahan, and sounds like it).
LEVEL_SOUND_MIN_RATIO = 85.0


_LEVEL_SOUNDS = [sound_key(word) for word in LEVEL_WORDS]


@dataclass(frozen=True)
class NamedPlace:
    """A place the words named: the place word and the name after it, as heard."""

    kind: str
    text: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text}


# Level words are never said without a name after them: one that the recogniser ends a clause
# with at a comma ("dikeluaran, kebongsari," for "di kelurahan Kebonsari") takes its name from
# the next clause (a full stop still ends it).
NAME_REQUIRED = set(LEVEL_WORDS)


def named_places(text: str) -> list[NamedPlace]:
    """The places a statement names, in the order said."""
    found: list[NamedPlace] = []
    parts = re.split(r"([.,;:!?]+)", text or "")
    clauses = [_mended_levels(normalize(clause).split()) for clause in parts[::2]]
    for k, words in enumerate(clauses):
        if words and words[-1] in NAME_REQUIRED and k + 1 < len(clauses) and parts[2 * k + 1].strip() == ",":
            words = words + clauses[k + 1]
        found += _named_in(words)
    return list(dict.fromkeys(found))


def _named_in(words: list[str]) -> list[NamedPlace]:
    """The places one clause names (a name never runs past a comma or a full stop)."""
    found: list[NamedPlace] = []
    i = 0
    while i < len(words):
        two = " ".join(words[i:i + 2])
        cue, width = (two, 2) if two in PLACE_WORDS else (words[i], 1)
        kind = PLACE_WORDS.get(cue)
        if kind is None:
            i += 1
            continue
        name = []
        j = i + width
        while j < len(words) and len(name) < 4 and words[j] not in NAME_ENDS and words[j] not in PLACE_WORDS:
            name.append(words[j])
            j += 1
        if name:
            said = " ".join(([cue] if kind in ("landmark", "street", "kelurahan", "kecamatan", "kota", "kabupaten")
                             else []) + name)
            found.append(NamedPlace(kind, said))
        i = max(j, i + 1)
    return found


def _mended_levels(words: list[str]) -> list[str]:
    mended = []
    for word in words:
        bare = word[2:] if word.startswith("di") and len(word) > 6 else word  # "dikeruhan" = "di keruhan"
        if word not in LEVEL_WORDS and len(bare) >= 6:
            best = process.extractOne(bare, LEVEL_WORDS, scorer=fuzz.ratio, score_cutoff=LEVEL_MIN_RATIO)
            if best is None:
                best = process.extractOne(sound_key(bare), _LEVEL_SOUNDS, scorer=fuzz.ratio,
                                          score_cutoff=LEVEL_SOUND_MIN_RATIO)
                best = best and (LEVEL_WORDS[best[2]],)
            if best:
                mended += (["di"] if bare is not word else []) + [best[0]]
                continue
        mended.append(word)
    return mended


def mended_text(text: str, names: dict[str, str]) -> str:
    """The transcript with runs of words spelt almost like a loaded name (`names`: key -> name) replaced by it."""
    words = _mended_levels(normalize(text or "").split())
    keys = [key for key in names if len(key) >= 5]
    out: list[str] = []
    i = 0
    while i < len(words):
        replaced = False
        for width in (3, 2, 1):
            run = words[i:i + width]
            if len(run) < width:
                continue
            joined = "".join(run)
            if len(joined) < 5 or joined in names:
                continue
            best = process.extractOne(joined, keys, scorer=fuzz.ratio, score_cutoff=NAME_MIN_RATIO)
            if best is not None and abs(len(best[0]) - len(joined)) <= 2:
                out.append(names[best[0]])
                i += width
                replaced = True
                break
        if not replaced:
            out.append(words[i])
            i += 1
    return " ".join(out)


def place_statement(runtime, session, text: str):
    """(named places, Geocoded) for a transcript, placed from the loaded names; never raises for any text."""
    from routing.geocode import geocoder_for

    named = named_places(text)
    if not named:
        return named, None
    try:
        geocoder = geocoder_for(runtime)
        geocoder.sync(session)
        gazetteer = geocoder.gazetteer
        names = {key: places[0].name.casefold() for key, places in gazetteer.by_key.items() if places}
        return named, gazetteer.find(mended_text(text, names))
    except SQLAlchemyError as error:  # no database, or not set up: said in a line, not a traceback
        log.warning("places in a statement were not placed: the database did not answer (%s)",
                    str(error.orig if getattr(error, "orig", None) else error).splitlines()[0][:160])
        return named, None
    except Exception:  # a position is a help; the transcript is stored without it
        log.exception("places in a statement could not be placed")
        return named, None


def spoken_fix_detail(named: list[NamedPlace], geocoded) -> dict:
    """What a `speech` location fix keeps: what was heard, what it was taken to be, and that it is only offered."""
    matched = geocoded.matched
    return {
        "note": matched.label if matched else None,
        "heard": [place.text for place in named],
        "matched": matched.to_dict() if matched else None,
        "sentence": geocoded.sentence,
        "offered": True,
    }


