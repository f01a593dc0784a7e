"""The routing engine: (category, location, priority) -> jurisdiction, agencies, units, hospitals, why.

Every source (a 112 call, an incident typed at the console, an app SOS, a bank's panic button,
a text to 112) goes through `RoutingEngine.decide`, so they are routed by the same rules. The
engine keeps its indexes in memory and `sync` brings them up to date from the database with
cheap queries: places reload when their tables change, units are taken one by one as they move.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.fingerprint import tables_fingerprint
from routing.geo import tenths, unit_vector, validate_point
from routing.places import JurisdictionIndex, Located, PointIndex, load_cameras, load_points
from routing.rules import MAX_PRIORITY, MIN_PRIORITY, Rules
from routing.unit_index import LinearUnits, UnitIndex, UnitState
from siaga112.i18n import message, vocab
from siaga112.models import Agency, Camera, Jurisdiction, PointOfInterest, Unit

FULL_UNIT_RELOAD_SECONDS = 300  # catches units removed by hand in the database
# Rows are re-read this far back: another process may commit a change stamped a moment before
# a change this engine has already seen (its transaction was longer). Re-reading is harmless.
UNIT_SYNC_OVERLAP = timedelta(seconds=2)
SENTENCES_KEPT = 10_000  # worded rules remembered; far more than the rules have categories and names


class UnknownCategory(ValueError):
    """A category the routing rules do not name; `valid` lists the names they accept."""

    def __init__(self, category, valid: list[str]) -> None:
        self.category = category
        self.valid = valid
        super().__init__(f"Unknown category {category!r}; valid categories: {', '.join(valid)}.")


def unit_state(unit: Unit, agency_code: str) -> UnitState:
    """The routing view of a unit row."""
    return UnitState(
        id=unit.id, callsign=unit.callsign, agency=agency_code, kind=unit.kind, status=unit.status,
        lat=unit.lat, lon=unit.lon, position_at=unit.position_at.timestamp() if unit.position_at else None,
        source=unit.position_source or "gps",
    )


def _km(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


class RoutingEngine:
    """Routing rules plus in-memory indexes of places, points of interest, cameras and units."""

    def __init__(self, rules: Rules, *, unit_speed_kmh: float = 40.0, unit_stale_seconds: float = 300,
                 unit_sync_seconds: float = 1.0) -> None:
        self.rules = rules
        # Changes made through this process's API reach the index at once (take_unit); the
        # database is asked for other processes' changes at most this often.
        self.unit_sync_seconds = unit_sync_seconds
        self._units_synced_at = float("-inf")
        self.speed_m_s = unit_speed_kmh * 1000 / 3600
        self.unit_speed_kmh = unit_speed_kmh
        self.jurisdictions = JurisdictionIndex([])
        self.hospitals = PointIndex([])
        self.cameras = PointIndex([])
        self.units = UnitIndex(unit_stale_seconds)
        self._lock = threading.RLock()
        self._places_mark = None
        self._units_since: datetime | None = None
        self._units_loaded_at = 0.0
        self._linear_units: LinearUnits | None = None
        self._wants_by_rule: dict[str, tuple] = {}
        self._agencies_by_rule: dict[str, tuple] = {}
        self._rule_sentences: dict[tuple, str] = {}
        self._kind_words: dict[str, str] = {}  # unit kind as the explanation writes it
        self._at_speed = f" at {unit_speed_kmh:g} km/h."

    # --- keeping up with the database ---------------------------------------------------------

    def _places_fingerprint(self, session: Session):
        return tables_fingerprint(session, (Jurisdiction, PointOfInterest, Camera))

    def sync(self, session: Session, *, force: bool = False) -> None:
        """Bring the indexes up to date: reload changed places, take units changed since last time.

        `force` reads unit changes now, however recent the last read (after a commit that moved
        units, so the very next decision sees them).
        """
        with self._lock:
            mark = self._places_fingerprint(session)
            if mark != self._places_mark:
                self.load_places(session)
                self._places_mark = mark
            clock = time.monotonic()
            if self._units_since is None or clock - self._units_loaded_at > FULL_UNIT_RELOAD_SECONDS:
                self._load_units(session, None)
            elif force or clock - self._units_synced_at >= self.unit_sync_seconds:
                self._load_units(session, self._units_since - UNIT_SYNC_OVERLAP)
            else:
                return
            self._units_synced_at = clock

    def load_places(self, session: Session) -> None:
        self.use_places(JurisdictionIndex.from_session(session), load_points(session, self.rules.hospital_kinds),
                        load_cameras(session))

    def use_places(self, jurisdictions: JurisdictionIndex, hospitals: PointIndex, cameras: PointIndex) -> None:
        """Take new place indexes, their search grids built now rather than in some decision."""
        hospitals.prepare(self.rules.hospital_count)
        cameras.prepare(self.rules.camera_count, self.rules.camera_max_distance_m)
        with self._lock:
            self.jurisdictions, self.hospitals, self.cameras = jurisdictions, hospitals, cameras

    def _load_units(self, session: Session, since: datetime | None) -> None:
        query = select(Unit, Agency.code).join(Agency, Unit.agency_id == Agency.id)
        if since is not None:
            query = query.where(Unit.updated_at >= since)
        rows = session.execute(query).all()
        states = [unit_state(unit, code) for unit, code in rows]
        if since is None:
            self.units.load(states)
            self.units.build_all(time.time())
            self._units_loaded_at = time.monotonic()
        else:
            for state in states:
                self.units.upsert(state)
        stamps = [unit.updated_at for unit, _ in rows if unit.updated_at is not None]
        if self._units_since is not None:
            stamps.append(self._units_since)
        self._units_since = max(stamps) if stamps else datetime(1970, 1, 2, tzinfo=timezone.utc)
        self._linear_units = None

    def take_unit(self, unit: Unit, agency_code: str) -> None:
        """Apply one unit change made in this process at once (the web API calls this)."""
        self.take_unit_state(unit_state(unit, agency_code))

    def take_unit_state(self, state: UnitState) -> None:
        self.units.upsert(state)
        self._linear_units = None

    # --- deciding -----------------------------------------------------------------------------

    def resolve(self, category, priority=None):
        """The category rule and the effective priority, or UnknownCategory."""
        if not isinstance(category, str) or not category.strip():
            raise UnknownCategory(category, self.rules.accepted_names())
        try:
            rule, alias_priority = self.rules.resolve(category)
        except KeyError:
            raise UnknownCategory(category, self.rules.accepted_names()) from None
        chosen = rule.priority if alias_priority is None else alias_priority
        if priority is not None:
            if isinstance(priority, bool) or not isinstance(priority, int) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
                raise ValueError(f"Priority must be a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}.")
            chosen = priority
        return rule, chosen

    def decide(self, category, lat, lon, priority=None, *, now: float | None = None, linear: bool = False) -> dict:
        """One routing decision, as JSON-ready data; `linear=True` uses the baseline scans instead."""
        rule, priority = self.resolve(category, priority)
        now = time.time() if now is None else now
        warnings: list[str] = []
        notices: list[dict] = []  # the warnings as messages, put in words in each reader's language
        point = None
        if lat is None and lon is None:
            warnings.append("No location is known yet: the jurisdiction is unknown and units are not ranked by distance.")
            notices.append(message("warning.no_location"))
        else:
            try:
                point = validate_point(lat, lon)
            except ValueError as error:
                warnings.append(f"{error} The jurisdiction is unknown and units are not ranked by distance.")
                notices.append(message("warning.bad_position", problem=getattr(error, "notice", str(error))))
        with self._lock:
            located = self.jurisdictions.locate(*point, linear=linear) if point else None
            xyz = unit_vector(*point) if point else None
            units = self._units_for(rule, point, xyz, now, linear) if point else []
            hospitals = (self._near(self.hospitals, point, xyz, self.rules.hospital_count, None, linear)
                         if point and rule.hospitals else [])
            cameras = (self._near(self.cameras, point, xyz, self.rules.camera_count, self.rules.camera_max_distance_m, linear)
                       if point else [])
        if located is not None and located.kecamatan is None and located.kelurahan is None:
            warnings.append(self._outside_warning(located))
            notices.append(self._outside_notice(located))
        if point:
            answered = {u["agency"] for u in units}
            for response in rule.respond:
                if response.units and response.agency not in answered:
                    warnings.append(f"No available {self.rules.agencies[response.agency].name} unit with a known position.")
                    notices.append(message("warning.no_unit", agency=vocab(
                        "agency", response.agency, self.rules.agencies[response.agency].name)))
        agencies = [dict(agency) for agency in self._agencies(rule)]
        jurisdiction = dict(located.names) if located else {"kota": None, "kecamatan": None, "kelurahan": None,
                                                             "police_sector": None}
        decision = {
            "category": rule.name,
            "category_label": rule.label,
            "priority": priority,
            "location": {"lat": point[0], "lon": point[1]} if point else None,
            "jurisdiction": jurisdiction,
            "agencies": agencies,
            "recommended_units": units,
            "hospitals": hospitals,
            "cameras": cameras,
            "warnings": warnings,
            "notices": notices,
        }
        decision["explanation"] = self._explain(rule, decision, category, located)
        return decision

    def _units_for(self, rule, point, xyz, now: float, linear: bool) -> list[dict]:
        lat, lon = point
        if linear:
            if self._linear_units is None:
                self._linear_units = LinearUnits(list(self.units.units.values()), self.units.stale_seconds)
            rankings = [self._linear_units.nearest(r.agency, r.kinds, lat, lon, r.units, now) for r in rule.respond]
        else:
            rankings = self.units.nearest_many(self._wants(rule), lat, lon, now, xyz)
        found = []
        for ranked in rankings:
            for unit, distance in ranked:
                found.append({
                    "callsign": unit.callsign, "agency": unit.agency, "kind": unit.kind,
                    "distance_m": tenths(distance), "eta_s": round(distance / self.speed_m_s),
                    "lat": unit.lat, "lon": unit.lon,
                })
        return found

    def _agencies(self, rule) -> tuple[dict, ...]:
        """A rule's agencies as a decision lists them (made once per rule; copied per decision)."""
        agencies = self._agencies_by_rule.get(rule.name)
        if agencies is None:
            agencies = self._agencies_by_rule[rule.name] = tuple(
                {"code": code, "name": self.rules.agencies[code].name, "sms_number": self.rules.agencies[code].sms_number}
                for code in rule.agencies)
        return agencies

    def _wants(self, rule) -> tuple:
        """A rule's unit requests as the unit index takes them: (agency, kinds, how many), cached."""
        wants = self._wants_by_rule.get(rule.name)
        if wants is None:
            wants = self._wants_by_rule[rule.name] = tuple((r.agency, tuple(r.kinds), r.units) for r in rule.respond)
        return wants

    @staticmethod
    def _near(index: PointIndex, point, xyz, k: int, max_m, linear: bool) -> list[dict]:
        lat, lon = point
        return index.nearest_linear(lat, lon, k, max_m) if linear else index.nearest(lat, lon, k, max_m, xyz)

    @staticmethod
    def _outside_warning(located: Located) -> str:
        if located.nearest is None:
            return "No jurisdiction boundaries are loaded, so the kecamatan and police sector are unknown."
        area, distance = located.nearest
        return (f"The location lies outside every known jurisdiction; the nearest is "
                f"Kecamatan {area.name}, {_km(distance)} away. Check the location with the caller.")

    @staticmethod
    def _outside_notice(located: Located) -> dict:
        if located.nearest is None:
            return message("warning.no_boundaries")
        area, distance = located.nearest
        return message("warning.outside", kecamatan=area.name, distance=_km(distance))

    def _explain(self, rule, decision: dict, asked, located: Located | None) -> str:
        """A few sentences a call-taker can read aloud or check at a glance."""
        parts = [self._rule_sentence(rule, decision, asked)]
        if located is not None and located.sentence:  # a kelurahan's is worded once, with its Located
            parts.append(located.sentence)
        units = decision["recommended_units"]
        if units:
            by_agency: dict[str, list[str]] = {}
            kind_words = self._kind_words
            for u in units:
                kind = kind_words.get(u["kind"]) or kind_words.setdefault(u["kind"], u["kind"].replace("_", " "))
                by_agency.setdefault(u["agency"], []).append(
                    f"{u['callsign']} ({kind}), {_km(u['distance_m'])}, about {max(1, round(u['eta_s'] / 60))} min")
            for agency in decision["agencies"]:
                listed = by_agency.get(agency["code"])
                if listed:
                    parts.append(f"Nearest available for {agency['name']}: {'; then '.join(listed)}{self._at_speed}")
        if decision["hospitals"]:
            nearest = decision["hospitals"][0]
            parts.append(f"Nearest hospital: {nearest['name']}, {_km(nearest['distance_m'])}.")
        return " ".join(parts)

    def _rule_sentence(self, rule, decision: dict, asked) -> str:
        """Which rule applied and whom it sends; a category asked the same way is worded once."""
        key = (rule.name, asked, decision["priority"])
        sentence = self._rule_sentences.get(key)
        if sentence is None:
            names = [a["name"] for a in decision["agencies"]]
            named = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            why = f"{rule.label}" + (f" (from {asked!r})" if str(asked).strip().lower() != rule.name else "")
            sentence = f"{why}, priority {decision['priority']}: the rules send {named}."
            if len(self._rule_sentences) >= SENTENCES_KEPT:
                self._rule_sentences.clear()
            self._rule_sentences[key] = sentence
        return sentence
