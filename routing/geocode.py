"""Addresses to approximate positions, from the names the database already holds; no network.

A caller who cannot share a fix can still say "Jl. Ijen 5, Kel. Oro-oro Dowo, Kec. Klojen" or
"depan RSUD Dr. Saiful Anwar". The address is placed at the most specific place it names (a
point of interest, else a kelurahan, a kecamatan, a kota), so units can be ranked at once, and
the result says plainly how far off that can be. A name two places share and nothing in the
text settles gives no position: a wrong place sends units the wrong way, so the result lists
the places it could be and the call-taker asks.

Matching is a dictionary lookup of the address's word runs (spaces and hyphens dropped, so
"Tasikmadu", "Tasik Madu" and "Tasik-Madu" are one key), built once from the tables and again
only when they change.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point, shape
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from routing.fingerprint import tables_fingerprint
from routing.geo import haversine_m_many
from siaga112.i18n import message
from siaga112.models import Jurisdiction, PointOfInterest
from siaga112.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ADDRESS_CHARS = 300  # what an incident keeps of an address; nothing past it is read
POI_ACCURACY_M = 50.0  # a named building: the caller is at it, or across the road
CANDIDATES_SHOWN = 5

RANK = {"kota": 1, "kecamatan": 2, "kelurahan": 3, "poi": 4}  # most specific wins
LEVEL_WORDS = {"kelurahan": "Kelurahan", "kecamatan": "Kecamatan"}

# Words that say what the next name is. "Desa" is a village, which Kemendagri lists at the
# kelurahan level; a kabupaten is not a kota, so "Kab. Malang" is never Kota Malang.
HINTS = {
    "kel": "kelurahan", "kelurahan": "kelurahan", "kalurahan": "kelurahan", "desa": "kelurahan", "ds": "kelurahan",
    "kec": "kecamatan", "kecamatan": "kecamatan", "kcm": "kecamatan",
    "kota": "kota", "kodya": "kota", "kotamadya": "kota", "kab": "kabupaten", "kabupaten": "kabupaten",
}
HINT_NAMES = {"kelurahan": "Kelurahan", "kecamatan": "Kecamatan", "kota": "Kota", "kabupaten": "Kabupaten"}
# A street is named after anything, often a place elsewhere in town ("Jl. Kawi", "Jl. Sukun"),
# so the words of a street name never place an address.
STREET_WORDS = {"jl", "jln", "jalan", "gg", "gang", "lorong"}
# Words after which a street name has certainly ended.
STREET_ENDS = {"rt", "rw", "no", "nomor", "blok", "kav", "dekat", "dkt", "depan", "dpn", "samping", "smpg",
               "sebelah", "sblh", "belakang", "blkg", "seberang", "sebrang", "di", "pojok", "ujung", "perempatan",
               "pertigaan", "simpang"}
# Spellings of one thing, written the one way on both sides (names and addresses).
PHRASES = (
    (("rumah", "sakit", "umum", "daerah"), "rs"),
    (("rumah", "sakit", "umum"), "rs"),
    (("rumah", "sakit"), "rs"),
    (("pusat", "kesehatan", "masyarakat"), "puskesmas"),
)
SAME_WORDS = {"rsud": "rs", "rsu": "rs", "pkm": "puskesmas", "jln": "jl", "jalan": "jl", "gg": "gang"}
TITLES = {"dr", "drs", "dra", "prof", "ir", "h", "hj", "kh"}  # "RSUD Dr. Saiful Anwar" = "RSUD Saiful Anwar"
POI_LEADING = {"kantor", "pos", "markas", "mako", "gedung"}  # "Kantor BPBD Kota Siaga" = "BPBD Kota Siaga"

BOUNDARY = ","
# Lower case first (so "İ" becomes "i" plus a mark), then compatibility forms ("Ｋｅｌ" -> "Kel",
# "ﬁ" -> "fi"), then accents off. Controls and brackets separate like a comma; any other
# character, Latin or not, separates like a space.
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_BREAKS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f,;()\[\]{}|\u2028\u2029]")
_WORDS = re.compile(r"[a-z0-9]+|,")
_REDUPLICATED = re.compile(r"([a-z]{2,})2")  # "oro2" is how "oro-oro" is often typed


def words(text: str) -> list[str]:
    """The text as lower-case ASCII words and "," boundaries, in the one spelling names are kept in."""
    text = unicodedata.normalize("NFKD", text[:MAX_ADDRESS_CHARS].lower())
    text = _BREAKS.sub(" , ", _MARKS.sub("", text))
    raw = []
    for word in _WORDS.findall(text):
        doubled = _REDUPLICATED.fullmatch(word)
        raw.extend((doubled.group(1), doubled.group(1)) if doubled else (word,))
    out: list[str] = []
    i = 0
    while i < len(raw):
        for phrase, one in PHRASES:
            if tuple(raw[i:i + len(phrase)]) == phrase:
                out.append(one)
                i += len(phrase)
                break
        else:
            word = SAME_WORDS.get(raw[i], raw[i])
            if word not in TITLES:
                out.append(word)
            i += 1
    return out


def _key(tokens) -> str:
    return "".join(tokens)


@dataclass(frozen=True)
class Match:
    """A place an address can mean: its level (poi, kelurahan, kecamatan, kota), name and code."""

    level: str
    name: str
    code: str | None
    label: str  # the place in words, with what contains it: "Kelurahan Klojen, Kecamatan Klojen, Kota Malang"

    def to_dict(self) -> dict:
        return {"level": self.level, "name": self.name, "code": self.code, "label": self.label}


@dataclass(frozen=True)
class Geocoded:
    """Where an address is, roughly, and how sure: a found place, or why none was chosen.

    `accuracy_m` is the distance from the position to the farthest vertex of the place's
    boundary (for a kecamatan or kota, of its loaded kelurahan together), so the whole place,
    wherever in it the caller is, lies within that circle; for a point of interest it is
    POI_ACCURACY_M.
    """

    lat: float | None
    lon: float | None
    accuracy_m: float | None
    matched: Match | None
    sentence: str
    candidates: tuple[Match, ...] = ()  # when a name is ambiguous: the places it could be
    unknown: tuple[str, ...] = ()  # names the address gives as places that no loaded place has
    disagrees: tuple[Match, ...] = ()  # other places the address names that do not contain the match

    @property
    def found(self) -> bool:
        return self.lat is not None

    @classmethod
    def from_dict(cls, data: dict) -> "Geocoded":
        """Back from what `to_dict` gave (a routing decision keeps it, and a new routing carries it on)."""
        def match(item) -> Match:
            return Match(item.get("level"), item.get("name"), item.get("code"), item.get("label"))

        return cls(data.get("lat"), data.get("lon"), data.get("accuracy_m"),
                   match(data["matched"]) if data.get("matched") else None, data.get("sentence") or "",
                   tuple(match(c) for c in data.get("candidates") or ()), tuple(data.get("unknown") or ()),
                   tuple(match(d) for d in data.get("disagrees") or ()))

    def to_dict(self) -> dict:
        return {"found": self.found, "lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m,
                "matched": self.matched.to_dict() if self.matched else None,
                "candidates": [c.to_dict() for c in self.candidates], "unknown": list(self.unknown),
                "disagrees": [d.to_dict() for d in self.disagrees], "sentence": self.sentence}


@dataclass(frozen=True, eq=False)
class _Place:
    """One named place under one of its keys; `within` holds its own ident and those of what contains it."""

    key: str
    ident: str
    level: str
    name: str
    code: str | None
    label: str
    lat: float
    lon: float
    accuracy_m: float
    within: frozenset
    kabupaten: bool = False

    @property
    def match(self) -> Match:
        return Match(self.level, self.name, self.code, self.label)


@dataclass
class _Mention:
    text: str
    places: list
    hint: str | None = None


def _distance_words(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{max(10, round(metres, -1)):.0f} m"


def _centre(geometry) -> tuple[float, float, float]:
    """(lat, lon) of a shape's centroid, or of a point surely inside it, and the farthest vertex from there."""
    centroid = geometry.centroid
    point = centroid if geometry.contains(centroid) else geometry.representative_point()
    return point.y, point.x, _reach(geometry, point.y, point.x)


def _reach(geometry, lat: float, lon: float) -> float:
    coordinates = shapely.get_coordinates(geometry)
    if not len(coordinates):
        return 0.0
    return round(float(np.max(haversine_m_many(lat, lon, coordinates[:, 1], coordinates[:, 0]))))


def _name_keys(name: str, level: str) -> set[str]:
    """The keys a place is found by: its name, without a bracketed note, without a level word in front."""
    keys = set()
    for text in (name, re.sub(r"\(.*?\)", " ", name)):
        tokens = [t for t in words(text) if t != BOUNDARY]
        if not tokens:
            continue
        keys.add(_key(tokens))
        if level != "poi" and len(tokens) > 1 and tokens[0] in HINTS:
            keys.add(_key(tokens[1:]))
        if level == "poi" and len(tokens) > 2 and tokens[0] in POI_LEADING:
            keys.add(_key(tokens[1:]))
    return {k for k in keys if len(k) >= 3}


class Gazetteer:
    """Every kota, kecamatan, kelurahan and point of interest by name, with a position and its reach."""

    def __init__(self, places: list[_Place]) -> None:
        self.by_key: dict[str, list[_Place]] = {}
        for place in places:
            self.by_key.setdefault(place.key, []).append(place)
        # Every leading part of every key: a run of words is extended only while it can still
        # become a name, so most words cost one lookup.
        self.prefixes = {key[:n] for key in self.by_key for n in range(1, len(key) + 1)}

    def __len__(self) -> int:
        return len(self.by_key)

    @classmethod
    def from_session(cls, session: Session) -> "Gazetteer":
        rows = list(session.scalars(select(Jurisdiction)))
        pois = list(session.scalars(select(PointOfInterest)))
        return cls(_places(rows, pois))

    # --- finding ------------------------------------------------------------------------------

    def find(self, address) -> Geocoded:
        """The place an address names, or why there is none; never raises for any text."""
        if not isinstance(address, str) or not address[:MAX_ADDRESS_CHARS].strip():
            return Geocoded(None, None, None, None, "No address was given.")
        tokens = words(address)
        mentions, unknown = self._mentions(tokens)
        mentions = [m for m in mentions if m.places]
        unknown = list(dict.fromkeys(unknown))
        if not mentions:
            if unknown:
                named = _and(unknown)
                verb = "is" if len(unknown) == 1 else "are"
                return Geocoded(None, None, None, None, f"{named} {verb} not among the places loaded.",
                                unknown=tuple(unknown))
            return Geocoded(None, None, None, None,
                            "It names no kelurahan, kecamatan, kota or landmark among the places loaded.")
        return _resolve(mentions, tuple(unknown))

    def _mentions(self, tokens: list[str]) -> tuple[list[_Mention], list[str]]:
        """The runs of words that are names of places, each with the level word before it, if any."""
        usable = _outside_streets(tokens)
        mentions, unknown = [], []
        i, hint, hint_at = 0, None, -1
        while i < len(tokens):
            if not usable[i]:
                i += 1
                continue
            end, places = self._longest(tokens, usable, i)
            if places:
                level = hint if hint_at == i - 1 else None
                mentions.append(_Mention(" ".join(tokens[i:end]).title(), _hinted(places, level), level))
                i = end
                continue
            if tokens[i] in HINTS:
                hint, hint_at = HINTS[tokens[i]], i
                if not self._starts_name(tokens, usable, i + 1):
                    named = _named_after(tokens, usable, i + 1)
                    if named:
                        unknown.append(f"{HINT_NAMES[hint]} {named}")
            i += 1
        for mention in mentions:
            if mention.hint and not mention.places:
                unknown.append(f"{HINT_NAMES[mention.hint]} {mention.text}")
        return mentions, unknown

    def _longest(self, tokens, usable, start: int) -> tuple[int, list]:
        key, best_end, best = "", start, []
        for j in range(start, len(tokens)):
            if tokens[j] == BOUNDARY or not usable[j]:
                break
            key += tokens[j]
            if key not in self.prefixes:
                break
            found = self.by_key.get(key)
            if found:
                best_end, best = j + 1, found
        return best_end, list(best)

    def _starts_name(self, tokens, usable, start: int) -> bool:
        return start < len(tokens) and usable[start] and bool(self._longest(tokens, usable, start)[1])


def _outside_streets(tokens: list[str]) -> list[bool]:
    """Which words may name a place: not the words of a street name (from "Jl." to where it ends)."""
    usable, in_street = [], False
    for token in tokens:
        if token in STREET_WORDS:
            in_street = True
        elif in_street and (token == BOUNDARY or token.isdigit() or token in HINTS or token in STREET_ENDS):
            in_street = False
        usable.append(not in_street and token not in STREET_WORDS)
    return usable


def _named_after(tokens, usable, start: int) -> str:
    """The words after a level word, up to where a name ends: "Kel. Mawar Indah, ..." -> "Mawar Indah"."""
    taken = []
    for j in range(start, min(len(tokens), start + 4)):
        token = tokens[j]
        if token == BOUNDARY or not usable[j] or token in HINTS or token.isdigit() or token in STREET_ENDS:
            break
        taken.append(token)
    return " ".join(taken).title()


def _hinted(places: list[_Place], hint: str | None) -> list[_Place]:
    """Keep the places of the level the address says; a level word that fits none is taken as a slip."""
    if hint is None:
        return places
    if hint == "kabupaten":
        return [p for p in places if p.level == "kota" and p.kabupaten]
    fitting = [p for p in places if p.level == hint and not p.kabupaten]
    return fitting or [p for p in places if not p.kabupaten]


def _resolve(mentions: list[_Mention], unknown: tuple[str, ...]) -> Geocoded:
    """The most specific place that most of the names in the address agree on, or the places it could be."""
    named = [{p.ident for p in m.places} for m in mentions]
    readings = []
    for index, mention in enumerate(mentions):
        elsewhere = set().union(*(named[k] for k in range(len(mentions)) if k != index))
        drop = set()
        # "Klojen" is a kelurahan and the kecamatan around it. Named again elsewhere as the
        # kecamatan ("Klojen, Kec. Klojen"), this one is the kelurahan; alone, it is only
        # certain that the place is in the kecamatan.
        for place in mention.places:
            for outer in mention.places:
                if outer.ident != place.ident and outer.ident in place.within:
                    drop.add(outer.ident if outer.ident in elsewhere else place.ident)
        readings.append([p for p in mention.places if p.ident not in drop])
    choices = {p.ident: p for reading in readings for p in reading}
    if not choices:
        return Geocoded(None, None, None, None,
                        "It names no kelurahan, kecamatan, kota or landmark among the places loaded.", unknown=unknown)

    def support(place: _Place) -> int:
        return sum(1 for reading in readings if any(p.ident in place.within for p in reading))

    scored = sorted(choices.values(), key=lambda p: (-support(p), -RANK[p.level], p.label))
    best = scored[0]
    tied = [p for p in scored if (support(p), RANK[p.level]) == (support(best), RANK[best.level])]
    if len(tied) > 1:
        return _ambiguous(tied, readings, mentions, unknown)
    disagrees = []
    for reading in readings:
        if reading and not any(p.ident in best.within or best.ident in p.within for p in reading):
            disagrees.append(reading[0].match)
    return Geocoded(best.lat, best.lon, best.accuracy_m, best.match, _found_sentence(best, disagrees, unknown),
                    unknown=unknown, disagrees=tuple(disagrees))


def _ambiguous(tied: list[_Place], readings, mentions, unknown) -> Geocoded:
    idents = {p.ident for p in tied}
    texts = [m.text for m, reading in zip(mentions, readings) if any(p.ident in idents for p in reading)]
    places = [p.label for p in tied[:CANDIDATES_SHOWN]]
    if len(tied) > CANDIDATES_SHOWN:
        places.append(f"{len(tied) - CANDIDATES_SHOWN} more")
    listed = "; or ".join(places)
    if len(set(texts)) == 1:
        sentence = f"\"{texts[0]}\" could be {listed}: ask the caller which, or for the kecamatan or kota."
    else:
        sentence = f"It names places that do not agree ({listed}): ask the caller which."
    return Geocoded(None, None, None, None, sentence, candidates=tuple(p.match for p in tied), unknown=unknown)


def _found_sentence(place: _Place, disagrees: list[Match], unknown: tuple[str, ...]) -> str:
    if place.level == "poi":
        where = f"{place.label}, within about {_distance_words(place.accuracy_m)}"
    else:
        where = f"the centre of {place.label} (the place can be up to {_distance_words(place.accuracy_m)} from it"
        where += ", so the kelurahan shown is only the one at that centre)" if place.level != "kelurahan" else ")"
    sentence = f"Position estimated from the address: {where}; confirm the exact place with the caller."
    if disagrees:
        sentence += f" The address also names {_and([d.label for d in disagrees])}, which does not contain it."
    if unknown:
        verb = "is" if len(unknown) == 1 else "are"
        sentence += f" {_and(list(unknown))} {verb} not among the places loaded."
    return sentence


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- building -----------------------------------------------------------------------------------

def _places(rows: list[Jurisdiction], pois: list[PointOfInterest]) -> list[_Place]:
    """Named places from the jurisdiction and point-of-interest rows, each with a position inside it.

    A kecamatan or kota is placed by the kelurahan loaded inside it when there are any (the
    layer the routing engine locates by), else by its own boundary; one named only as a parent
    ("Kota Siaga (demo)" on its kecamatan) is made from the places it contains.
    """
    geometry, info = {}, {}
    for row in rows:
        try:
            geom = shape(row.geometry)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError):
            continue
        if geom.is_empty:
            continue
        geometry[row.code] = geom
        info[row.code] = row
    parents: dict[str, str] = {}
    names: dict[str, tuple[str, str]] = {code: (row.level, row.name) for code, row in info.items()}
    for code, row in info.items():
        if row.level == "kota":
            continue
        parent = row.parent_code or (f"name:{row.parent_name.strip().lower()}" if row.parent_name else None)
        if parent is None:
            continue
        parents[code] = parent
        if parent not in info and row.parent_name:
            names.setdefault(parent, ("kecamatan" if row.level == "kelurahan" else "kota", row.parent_name))

    def chain(code: str) -> list[str]:
        found = [code]
        while found[-1] in parents and len(found) < 4:
            found.append(parents[found[-1]])
        return found

    members: dict[str, list[str]] = {}  # a place's kelurahan, or its kecamatan when it has no kelurahan loaded
    for code, row in info.items():
        for outer in chain(code)[1:]:
            members.setdefault(outer, []).append(code)

    def shape_of(code: str):
        inside = members.get(code, [])
        finest = [c for c in inside if info[c].level == "kelurahan"] or inside
        if finest:
            return shapely.union_all([geometry[c] for c in finest])
        return geometry.get(code)

    def label(code: str) -> str:
        parts = []
        for outer in chain(code):
            level, name = names.get(outer, (None, None))
            if name:
                parts.append(f"{LEVEL_WORDS[level]} {name}" if level in LEVEL_WORDS else name)
        return ", ".join(parts)

    places: list[_Place] = []
    for code, (level, name) in names.items():
        row = info.get(code)
        if level == "kelurahan" and row is not None and row.centroid_lat is not None:
            lat, lon = row.centroid_lat, row.centroid_lon
            accuracy = _reach(geometry[code], lat, lon)
        else:
            outline = shape_of(code)
            if outline is None or outline.is_empty:
                continue
            lat, lon, accuracy = _centre(outline)
        within = frozenset(chain(code))
        kabupaten = level == "kota" and words(name)[:1] in (["kab"], ["kabupaten"])
        for key in _name_keys(name, level):
            places.append(_Place(key, code, level, name, code if row is not None else None, label(code), lat, lon,
                                 accuracy, within, kabupaten))
    places.extend(_poi_places(pois, geometry, info, chain, label))
    return places


def _poi_places(pois, geometry, info, chain, label) -> list[_Place]:
    """Points of interest by name, each inside the finest jurisdiction that contains it."""
    by_level = {level: [c for c, row in info.items() if row.level == level] for level in ("kelurahan", "kecamatan", "kota")}
    trees = {level: (codes, shapely.STRtree([geometry[c] for c in codes])) for level, codes in by_level.items() if codes}
    places = []
    for poi in pois:
        point = Point(poi.lon, poi.lat)
        inside = None
        for level in ("kelurahan", "kecamatan", "kota"):
            if level in trees:
                codes, tree = trees[level]
                hits = tree.query(point, predicate="intersects")
                if len(hits):
                    inside = codes[int(min(hits))]
                    break
        own = f"poi:{poi.id}"
        within = frozenset([own, *(chain(inside) if inside else [])])
        where = label(inside) if inside else ""
        text = f"{poi.name} ({where})" if where else poi.name
        for key in _name_keys(poi.name, "poi"):
            places.append(_Place(key, own, "poi", poi.name, poi.source_key or str(poi.id), text, poi.lat, poi.lon,
                                 POI_ACCURACY_M, within))
    return places


# --- one per runtime ------------------------------------------------------------------------------

class Geocoder:
    """A runtime's gazetteer, rebuilt when jurisdictions or points of interest change."""

    def __init__(self) -> None:
        self.gazetteer = Gazetteer([])
        self._mark: tuple | None = None
        self._lock = threading.Lock()

    def sync(self, session: Session) -> None:
        mark = tables_fingerprint(session, (Jurisdiction, PointOfInterest))
        if mark == self._mark:
            return
        with self._lock:
            if mark != self._mark:
                self.gazetteer = Gazetteer.from_session(session)
                self._mark = mark

    def find(self, address) -> Geocoded:
        return self.gazetteer.find(address)


def geocoder_for(runtime: Runtime) -> Geocoder:
    """The runtime's geocoder (built once; its names reload only when the tables change)."""
    return runtime.client("geocoder", lambda settings: Geocoder())


def geocode(runtime: Runtime, session: Session, address) -> Geocoded:
    """Place an address from the loaded names: see `Geocoded` for what comes back."""
    geocoder = geocoder_for(runtime)
    try:
        geocoder.sync(session)
        return geocoder.find(address)
    except SQLAlchemyError:
        raise
    except Exception:  # an estimate is a help, never a reason an incident is not stored
        log.exception("the address %r was not placed", str(address)[:80])
        return Geocoded(None, None, None, None, "The address could not be compared with the places loaded.")


def note_on_decision(decision: dict, geocoded: Geocoded, address: str) -> None:
    """Say in a routing decision that its position came from an address, how rough it is, or why there is none."""
    decision["geocode"] = geocoded.to_dict()
    warnings = [w for w in decision.get("warnings", []) if not w.startswith("No location is known yet")]
    notices = [n for n in decision.get("notices", []) if n.get("id") != "warning.no_location"]
    if geocoded.found:
        decision["location_source"] = "address"
        decision["location_accuracy_m"] = geocoded.accuracy_m
        warnings.insert(0, geocoded.sentence)
    else:
        warnings.insert(0, f"Only an address is known ({address[:120]}). {geocoded.sentence} "
                           "Place it on the map to rank units by distance.")
    notices.insert(0, geocode_notice(geocoded, address))
    decision["warnings"] = warnings
    decision["notices"] = notices


def geocode_notice(geocoded: Geocoded, address: str) -> dict:
    """What `note_on_decision`'s first warning says, as a message put in words in the reader's language."""
    found = geocoded.to_dict()
    matched = found.get("matched") or {}
    extra = []
    if found.get("disagrees"):
        extra.append(message("address.disagrees", places=[d.get("label") for d in found["disagrees"]]))
    if found.get("unknown"):
        extra.append(message("address.unknown", names=list(found["unknown"])))
    if geocoded.found:
        distance = _distance_words(geocoded.accuracy_m or 0)
        if matched.get("level") == "poi":
            where = message("address.at_poi", place=matched.get("label"), distance=distance)
        elif matched.get("level") == "kelurahan":
            where = message("address.at_kelurahan", place=matched.get("label"), distance=distance)
        else:
            where = message("address.at_area", place=matched.get("label"), distance=distance)
        return message("address.estimated", where=where, more=extra)
    candidates = [c.get("label") for c in found.get("candidates") or []]
    if candidates:
        why = message("address.ambiguous", places={"or": candidates})
    else:
        why = message("address.not_found")
    return message("address.only_address", address=address[:120], why=why, more=extra)
