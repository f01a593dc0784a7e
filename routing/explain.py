"""A routing decision explained in the reader's language, from the decision as stored.

The engine writes `explanation` once, in English, for machine clients (it is cached per rule and
timed in the routing bench); people read this one, made from the same facts when the page is
drawn: the rule and whom it sends, where the place lies, the nearest units per agency, the
nearest hospital.
"""

from __future__ import annotations

from siaga112 import i18n


def _km(metres: float | None) -> str:
    if metres is None:
        return "?"
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def explain(decision: dict | None, lang: str | None = None) -> str:
    """A few sentences a call-taker can read aloud or check at a glance; "" for no decision."""
    if not decision or not decision.get("category"):
        return ""
    tr = lambda key, **params: i18n.translate(key, lang, **params)  # noqa: E731 - local shorthand
    agencies = decision.get("agencies") or []
    named = i18n.join([i18n.word("agency", a.get("code"), lang, fallback=a.get("name")) for a in agencies], lang)
    category = i18n.word("category", decision["category"], lang, fallback=decision.get("category_label"))
    parts = [tr("explain.rule", category=category, priority=decision.get("priority", "?"), agencies=named or "–")]
    place = decision.get("jurisdiction") or {}
    if place.get("kecamatan") or place.get("kelurahan"):
        where = ", ".join(filter(None, [place.get("kelurahan") and f"Kelurahan {place['kelurahan']}",
                                        place.get("kecamatan") and f"Kecamatan {place['kecamatan']}",
                                        place.get("kota")]))
        parts.append(tr("explain.place", place=where, sector=place.get("police_sector") or tr("explain.unknown")))
    by_agency: dict[str, list[str]] = {}
    for unit in decision.get("recommended_units") or []:
        minutes = max(1, round((unit.get("eta_s") or 0) / 60))
        by_agency.setdefault(unit.get("agency"), []).append(tr(
            "explain.unit", unit=unit.get("callsign"), kind=i18n.word("unit_kind", unit.get("kind"), lang),
            distance=_km(unit.get("distance_m")), minutes=minutes))
    for agency in agencies:
        listed = by_agency.get(agency.get("code"))
        if listed:
            parts.append(tr("explain.nearest", agency=i18n.word("agency", agency.get("code"), lang,
                                                                fallback=agency.get("name")),
                            units="; ".join(listed)))
    hospitals = decision.get("hospitals") or []
    if hospitals:
        parts.append(tr("explain.hospital", name=hospitals[0].get("name"), distance=_km(hospitals[0].get("distance_m"))))
    return " ".join(parts)
