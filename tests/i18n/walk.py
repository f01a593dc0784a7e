"""What the language walk needs: a centre with something of everything on it, every console page,
and the checks a page must pass in each language.

The word lists come from the catalogues themselves: a word (4 letters or more) that only the
English catalogue uses marks English on an Indonesian page, and the other way round; a word
both use (Supervisor, Status, Unit) marks nothing. A snake_case word or a message id in the
visible text is a code nobody translated.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html.parser import HTMLParser

from siaga112 import audit, i18n
from siaga112.db import utcnow
from siaga112.models import Alarm, AlarmSite, Call, Incident, LocationFix, Recording, Reporter

ROLES = ("calltaker", "dispatcher", "supervisor", "admin")
WORD = re.compile(r"[A-Za-zÀ-ÿ]{4,}")
CODE = re.compile(r"(?<![\w./@:-])[a-z]+(?:_[a-z0-9]+)+(?![\w/-])")
MESSAGE_ID = re.compile(r"(?<![\w./@-])[a-z_]+(?:\.[a-z_\-]+)+\.[a-z_\-]+(?![\w/-])|(?<![\w./@-])(?:[a-z_]+\.){1,}[a-z]+_[a-z_]+(?![\w/-])")
DOTTED = re.compile(r"[a-z_]+(?:\.[a-z_\-]+)+")
# Names people read that are neither language's words: settings an admin must check, proper names.
ALLOWED_CODES = {"ami_username", "ami_secret"}
ALLOWED_WORDS = {"siaga", "kota", "kecamatan", "kelurahan", "polres", "damkar", "chanspy", "nfpa", "nena", "whatsapp"}


def _catalogue_words(lang: str) -> set[str]:
    words = set()
    for text in i18n.catalogue(lang).values():
        words |= {w.casefold() for w in WORD.findall(re.sub(r"%\(\w+\)s", " ", text))}
    return words


def foreign_words() -> dict[str, set[str]]:
    """lang -> the words that betray the other language on its pages."""
    indonesian, english = _catalogue_words("id"), _catalogue_words("en")
    return {"id": english - indonesian - ALLOWED_WORDS, "en": indonesian - english - ALLOWED_WORDS}


class _Text(HTMLParser):
    """The text a person reads on a page: text nodes (templates included, scripts and styles not),
    and the attributes that are read (title, placeholder, aria-label, alt, value of buttons)."""

    READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        attributes = dict(attrs)
        for name in self.READ_ATTRIBUTES:
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


# What people said or typed in the records made below: shown as they wrote it, in any language.
PEOPLE_WROTE = ("tolong ada kebakaran", "Asap tebal", "tiba", "iseng", "maaf", "Toko Emas Sinar", "Dewi", "Sari", "Budi")


def problems(text: str, lang: str, foreign: dict[str, set[str]]) -> list[str]:
    """Words of the other language and raw codes in a page's text (people's own words left out)."""
    for words in PEOPLE_WROTE:
        text = re.sub(rf"(?<!\w){re.escape(words)}(?!\w)", " ", text)
    found = []
    for word in WORD.findall(text):
        if word.isupper():  # call signs and acronyms (DISHUB-01, SOS, AML) are names in both
            continue
        if word.casefold() in foreign[lang]:
            found.append(f"{'English' if lang == 'id' else 'Indonesian'} word {word!r}")
    for code in CODE.findall(text):
        if code not in ALLOWED_CODES:
            found.append(f"raw code {code!r}")
    ids = set(i18n.catalogue("en"))
    for key in set(MESSAGE_ID.findall(text)) | {k for k in DOTTED.findall(text) if k in ids}:
        found.append(f"message id {key!r}")
    return sorted(set(found))


def around(text: str, needle: str, width: int = 60) -> str:
    at = text.find(needle.split("'")[1]) if "'" in needle else -1
    return text[max(0, at - width):at + width].replace("\n", " | ") if at >= 0 else ""


# ---- a centre with something of everything ----

def populate(database, settings, client, headers: dict) -> dict:
    """Calls, alarms, incidents (dispatched, with notes, warnings), units, recordings, reporters,
    sites and audit entries, made the way the centre makes them; returns the ids the pages need."""
    from tests.console import factories

    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    located = factories.queued_call(database, caller="+6281211112222", caller_name="Budi", fix=(lat, lon, 30.0),
                                    fix_source="cell", transcript="tolong ada kebakaran", waited=timedelta(minutes=3))
    factories.add_fix(database, located, lat + 0.001, lon + 0.001, 8.0, source="aml")
    silent = factories.queued_call(database, caller="+6281233334444", caller_name=None, silent=True,
                                   service_choice=None, state="abandoned", ended_at=utcnow())
    factories.queued_call(database, caller="+6281211112222", state="completed", ended_at=utcnow(),
                          waited=timedelta(hours=2))
    with database.session() as session:
        site = AlarmSite(name="Toko Emas Sinar", account="1234", lat=lat, lon=lon, supervision_interval_s=300,
                         offline=True, last_seen_at=utcnow() - timedelta(hours=1))
        session.add(site)
        session.flush()
        session.add(Alarm(source="panel", kind="panel_offline", state="open", priority=2, site_id=site.id,
                          lat=lat, lon=lon, received_at=utcnow()))
        session.add(Reporter(phone="+6281299990000", name="Sari", strikes=3, blocked=True, blocked_at=utcnow(),
                             appeal_state="pending", appeal_text="maaf", appeal_at=utcnow()))
        session.add(Reporter(phone="+6281299990001", strikes=3, blocked=True, blocked_at=utcnow(),
                             appeal_state="refused"))
        call = session.get(Call, located)
        session.add(Recording(call_id=located, kind="full", path=f"full-{uuid.uuid4().hex}.wav", format="wav",
                              state="missing", duration_s=42.0, transcript_status="unavailable"))
        audit.record(session, "admin", "admin.user.update", "user:ani",
                     detail={"before": {"role": "calltaker", "phone": None, "active": True},
                             "after": {"role": "dispatcher", "phone": "PJSIP/1001", "active": False}})
        audit.record(session, "sri", "recording.listen", "recording:1",
                     detail={"call_id": call.id, "kind": "full", "range": None, "copy": "original"})
        audit.record(session, "system", "recording.removed", "recording:9",
                     detail={"call_id": 3, "kind": "statement", "size_bytes": 1024, "created_at": "2026-12-01T01:02:03Z",
                             "retention_days": 90, "age_days": 91})

    class _Writer:  # the API as a machine client (a CAD bridge) would use it
        def __getattr__(self, method):
            return lambda path, **kw: getattr(client, method)(path, headers=headers, **kw)

    writer = _Writer()
    sos = writer.post("/api/v1/sos", json={"reporter": {"phone": "+6281388887777", "name": "Dewi"}, "kind": "panic",
                                           "location": {"lat": lat, "lon": lon, "accuracy_m": 12}})
    assert sos.status_code == 201, sos.get_data(as_text=True)
    made = writer.post("/api/v1/incidents", json={"category": "fire", "description": "Asap tebal",
                                                  "location": {"lat": lat, "lon": lon}, "call_ids": [located]})
    assert made.status_code == 201, made.get_data(as_text=True)
    incident = made.get_json()["id"]
    units = [u["callsign"] for u in made.get_json()["routing"]["recommended_units"]][:2]
    assert writer.post(f"/api/v1/incidents/{incident}/dispatch", json={"units": units}).status_code == 200
    assert writer.patch(f"/api/v1/incidents/{incident}", json={"status": "on_scene", "note": "tiba"}).status_code == 200
    other = writer.post("/api/v1/incidents", json={"category": "fire", "location": {"lat": lat, "lon": lon}})
    busy = writer.post(f"/api/v1/incidents/{other.get_json()['id']}/dispatch", json={"units": units[:1]})  # on another
    # A device's default position (0, 0) is kept as a warning; a malformed one ("abc", 999) is refused.
    unplaced = writer.post("/api/v1/incidents", json={"category": "medical", "location": {"lat": 0, "lon": 0}})
    by_address = writer.post("/api/v1/incidents", json={"category": "traffic_accident",
                                                        "location": {"address": "Kel. Kebonsari"}})
    nowhere = writer.post("/api/v1/incidents", json={"category": "crime", "location": {"lat": -6.2, "lon": 106.8}})
    closed = writer.post("/api/v1/incidents", json={"category": "flood", "location": {"lat": lat, "lon": lon}})
    writer.patch(f"/api/v1/incidents/{closed.get_json()['id']}", json={"status": "false_report", "note": "iseng"})
    with database.session() as session:
        recording = session.query(Recording).filter_by(call_id=located, kind="statement").one()
        recording.state, recording.duration_s, recording.transcript = "ok", 12.0, "tolong ada kebakaran"
        recording_id = recording.id
        alarm_id = session.query(Alarm).filter_by(source="sos").one().id
    return {"call": located, "silent_call": silent, "incident": incident, "alarm": alarm_id,
            "unplaced": unplaced.get_json()["id"], "by_address": by_address.get_json()["id"],
            "nowhere": nowhere.get_json()["id"], "recording": recording_id, "busy": busy}


def pages(ids: dict) -> list[str]:
    """Every console page, with the records made above."""
    return [
        "/", "/callbacks", "/incidents", "/incidents/new", f"/incidents/new?call={ids['call']}",
        f"/incidents/new?alarm={ids['alarm']}", f"/incidents/{ids['incident']}", f"/incidents/{ids['unplaced']}",
        f"/incidents/{ids['by_address']}", f"/incidents/{ids['nowhere']}", f"/calls/{ids['call']}",
        f"/calls/{ids['silent_call']}", "/map", "/supervisor/", "/supervisor/?period=7d", "/supervisor/recordings",
        f"/supervisor/recordings/{ids['recording']}", "/supervisor/audit", "/supervisor/reporters",
        "/supervisor/exports", "/supervisor/admin/users", "/supervisor/admin/sites", "/supervisor/admin/units",
        "/no/such/page", "/incidents/999999", "/calls/999999",
    ]
