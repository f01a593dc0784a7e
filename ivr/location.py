"""Where the caller is: PIDF-LO by value (RFC 4119/5491), the serving cell (3GPP P-Access-Network-Info),
and which of a call's fixes is the one to show.

Everything parsed here comes from the caller's network or handset: a document that is not XML,
not PIDF-LO, or carries a shape we do not read is logged and ignored, and the call goes on
without that fix. XML is parsed with defusedxml, which refuses DTDs and entity expansion (a
"billion laughs" in a SIP body must not stall the IVR).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from routing.geo import validate_point

log = logging.getLogger(__name__)

PIDF_MAX_BYTES = 32 * 1024
NS_PIDF = "urn:ietf:params:xml:ns:pidf"
NS_GEOPRIV = "urn:ietf:params:xml:ns:pidf:geopriv10"
NS_GML = "http://www.opengis.net/gml"
NS_GS = "http://www.opengis.net/pidflo/1.0"
NS_DM = "urn:ietf:params:xml:ns:pidf:data-model"
NS_CONF = "urn:ietf:params:xml:ns:geopriv:conf"
METRE_UOMS = {"urn:ogc:def:uom:EPSG::9001", None}
WGS84_2D_3D = {"urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG::4979", None}
# A fix received this long before the newest one is no longer "current" (a caller moves).
CURRENT_WINDOW = timedelta(minutes=30)
# Fixes only offered to the call-taker: a place the caller named, read from their words by a
# recogniser that mishears, is the call's location only once a person confirms it.
OFFERED_ONLY = frozenset({"speech"})


class LocationError(ValueError):
    """A location document or header that cannot be read; the sentence says why."""


@dataclass
class Fix:
    """One position from one source, before it is stored as a LocationFix."""

    source: str
    lat: float
    lon: float
    accuracy_m: float | None
    observed_at: datetime | None = None
    detail: dict = field(default_factory=dict)


# --- PIDF-LO ----------------------------------------------------------------------------

def decode_pidf_variable(value: str | None) -> bytes | None:
    """The PIDF-LO carried in the SIAGA_PIDF_LO channel variable (base64, or single-line XML)."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("<"):
        return value.encode("utf-8")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise LocationError("the PIDF-LO variable is neither XML nor base64") from None


def parse_pidf_lo(document: bytes | str) -> list[Fix]:
    """Every Point and Circle (RFC 5491 shapes, WGS 84) in a PIDF-LO document, as fixes.

    Raises LocationError when the document is not XML or not PIDF-LO. Shapes we do not read
    (civic addresses, polygons, ellipses) are skipped; a malformed shape is skipped with a log line.
    """
    if isinstance(document, str):
        document = document.encode("utf-8")
    if len(document) > PIDF_MAX_BYTES:
        raise LocationError(f"a PIDF-LO of {len(document)} bytes is over the limit")
    try:
        root = SafeET.fromstring(document)
    except DefusedXmlException as error:
        raise LocationError(f"the PIDF-LO uses forbidden XML features ({error.__class__.__name__})") from None
    except SafeET.ParseError as error:
        raise LocationError(f"the PIDF-LO is not XML ({error})") from None
    if root.tag != f"{{{NS_PIDF}}}presence":
        raise LocationError(f"the document is not PIDF-LO (root element {root.tag[:80]})")
    timestamp = _timestamp(root)
    fixes = []
    for info in root.iter(f"{{{NS_GEOPRIV}}}location-info"):
        confidence = _confidence(info)
        for shape in info:
            try:
                fix = _shape_fix(shape)
            except LocationError as error:
                log.info("PIDF-LO shape skipped: %s", error)
                continue
            if fix is None:
                continue
            fix.observed_at = timestamp
            if confidence is not None:
                fix.detail["confidence"] = confidence
            method = root.find(f".//{{{NS_GEOPRIV}}}method")
            if method is not None and method.text:
                fix.detail["method"] = method.text.strip()[:40]
            fixes.append(fix)
    return fixes


def _shape_fix(shape) -> Fix | None:
    if shape.tag == f"{{{NS_GML}}}Point":
        lat, lon = _pos(shape)
        return Fix("pidf-lo", lat, lon, None, detail={"shape": "Point"})
    if shape.tag == f"{{{NS_GS}}}Circle":
        lat, lon = _pos(shape)
        radii = shape.findall(f"{{{NS_GS}}}radius")
        if len(radii) != 1:
            raise LocationError(f"a Circle needs exactly one radius, it has {len(radii)}")
        if radii[0].get("uom") not in METRE_UOMS:
            raise LocationError(f"a Circle radius in {radii[0].get('uom')!r}, not metres")
        radius = _number(radii[0].text, "radius")
        if not 0 <= radius <= 1_000_000:
            raise LocationError(f"a Circle radius of {radius:g} m is out of range")
        return Fix("pidf-lo", lat, lon, radius, detail={"shape": "Circle"})
    return None


def _pos(shape) -> tuple[float, float]:
    if shape.get("srsName") not in WGS84_2D_3D:
        raise LocationError(f"coordinates in {shape.get('srsName')!r}, not WGS 84")
    positions = shape.findall(f"{{{NS_GML}}}pos")
    if len(positions) != 1:
        raise LocationError(f"a {shape.tag.rsplit('}', 1)[-1]} needs exactly one gml:pos")
    parts = (positions[0].text or "").split()
    if len(parts) not in (2, 3):
        raise LocationError("gml:pos must be 'lat lon' or 'lat lon alt'")
    values = [_number(part, "coordinate") for part in parts]  # RFC 5491: latitude first
    try:
        return validate_point(values[0], values[1])
    except ValueError as error:
        raise LocationError(str(error)) from None


def _number(text: str | None, what: str) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise LocationError(f"the {what} {str(text)[:30]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise LocationError(f"the {what} is not a finite number")
    return value


def _timestamp(root) -> datetime | None:
    element = root.find(f".//{{{NS_DM}}}timestamp")
    if element is None or not element.text:
        return None
    try:
        value = datetime.fromisoformat(element.text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else None


def _confidence(info) -> float | None:
    element = info.find(f"{{{NS_CONF}}}confidence")
    if element is None:
        return None
    try:
        value = float((element.text or "").strip())
    except ValueError:
        return None
    return value if 0 <= value <= 100 else None


# --- PIDF-LO as Asterisk parsed it ------------------------------------------------------

# GEOLOC_PROFILE(location_info) and (confidence): `key="value"` pairs joined by commas, e.g.
#   shape="Circle",crs="2d",pos="52.520008 13.404954",radius="50"
_PAIR = re.compile(r'\s*([A-Za-z][\w-]*)\s*=\s*(?:"([^"]*)"|([^,"]*))\s*(?:,|$)')
_GEOLOC_MAX = 2000


def _pairs(text: str, what: str) -> dict[str, str]:
    text = text.strip()[:_GEOLOC_MAX]
    pairs, position = {}, 0
    while position < len(text):
        match = _PAIR.match(text, position)
        if not match or match.end() == position:
            raise LocationError(f"the {what} {text[:60]!r} is not key=\"value\" pairs")
        pairs[match[1]] = match[2] if match[2] is not None else match[3].strip()
        position = match.end()
    return pairs


def parse_geoloc_profile(format_: str | None, location_info: str | None, *, confidence: str | None = None,
                         method: str | None = None) -> list[Fix]:
    """The fix in a PIDF-LO that Asterisk parsed (res_geolocation's GEOLOC_PROFILE fields).

    A Point or Circle in WGS 84 (crs 2d or 3d) gives one fix; a civic address or another shape
    gives none (logged); a location by reference (format URI) or a malformed value raises
    LocationError.
    """
    kind = (format_ or "").strip()
    if kind.upper() == "URI":
        raise LocationError("the location is by reference (a URI), which is not fetched")
    if kind.upper() != "GML":
        log.info("parsed location in format %r has no coordinates we read", kind[:20])
        return []
    info = _pairs(location_info or "", "location")
    shape = info.get("shape", "")
    if shape not in ("Point", "Circle"):
        log.info("parsed location shape %r skipped", shape[:20])
        return []
    if info.get("crs", "2d") not in ("2d", "3d"):
        raise LocationError(f"coordinates in crs {info.get('crs', '')[:20]!r}, not WGS 84")
    parts = info.get("pos", "").split()
    if len(parts) not in (2, 3):
        raise LocationError("pos must be 'lat lon' or 'lat lon alt'")
    values = [_number(part, "coordinate") for part in parts]
    try:
        lat, lon = validate_point(values[0], values[1])
    except ValueError as error:
        raise LocationError(str(error)) from None
    radius = None
    if shape == "Circle":
        radius = _number(info.get("radius"), "radius")
        if not 0 <= radius <= 1_000_000:
            raise LocationError(f"a Circle radius of {radius:g} m is out of range")
    fix = Fix("pidf-lo", lat, lon, radius, detail={"shape": shape, "parsed_by": "asterisk"})
    if confidence:
        try:
            value = float(_pairs(confidence, "confidence").get("value", ""))
        except (LocationError, ValueError):
            value = None
        if value is not None and 0 <= value <= 100:
            fix.detail["confidence"] = value
    if method and method.strip():
        fix.detail["method"] = method.strip()[:40]
    return [fix]


# --- The serving cell -------------------------------------------------------------------

@dataclass(frozen=True)
class CellId:
    """A cell as OpenCelliD keys it: radio, MCC, MNC, area (LAC or TAC), cell (CI, UC-Id or ECI)."""

    radio: str
    mcc: int
    mnc: int
    area: int
    cell: int


# P-Access-Network-Info (3GPP TS 24.229 §7.2A.4), e.g.
#   3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=51010183C357C80B
#   3GPP-GERAN; cgi-3gpp=51010183C1F4
_PANI = re.compile(
    r"""^\s*(?P<access>3GPP-[A-Z0-9-]+)\s*;
        (?:.*?;)?\s*(?:utran-cell-id-3gpp|cgi-3gpp)\s*=\s*"?(?P<id>[0-9A-Fa-f]{10,20})"?""",
    re.VERBOSE,
)
# access type -> (OpenCelliD radio, hex digits of the area, hex digits of the cell)
_ACCESS = {
    "3GPP-GERAN": ("GSM", 4, 4),
    "3GPP-UTRAN-FDD": ("UMTS", 4, 7),
    "3GPP-UTRAN-TDD": ("UMTS", 4, 7),
    "3GPP-E-UTRAN-FDD": ("LTE", 4, 7),
    "3GPP-E-UTRAN-TDD": ("LTE", 4, 7),
    "3GPP-E-UTRAN": ("LTE", 4, 7),
}


def parse_access_network_info(header: str | None) -> CellId | None:
    """The serving cell named by a P-Access-Network-Info header, or None when it names none."""
    if not header:
        return None
    match = _PANI.match(header[:300])
    if not match:
        raise LocationError(f"P-Access-Network-Info without a cell id: {header[:60]!r}")
    access = match["access"].upper()
    if access not in _ACCESS:
        raise LocationError(f"access type {access} is not one we can locate")
    radio, area_digits, cell_digits = _ACCESS[access]
    value = match["id"]
    mcc = value[:3]
    rest = value[3:]
    # The MNC has 2 or 3 digits; the length of what follows tells which.
    mnc_digits = len(rest) - area_digits - cell_digits
    if mnc_digits not in (2, 3) or not (mcc + rest[:mnc_digits]).isdigit():
        raise LocationError(f"cell id {value!r} does not fit {access}")
    mnc = rest[:mnc_digits]
    area = rest[mnc_digits:mnc_digits + area_digits]
    cell = rest[mnc_digits + area_digits:]
    return CellId(radio, int(mcc), int(mnc), int(area, 16), int(cell, 16))


# --- Which fix to show -------------------------------------------------------------------

def best_fix(fixes: list, confirmed_id: int | None = None):
    """The call's location: the fix a call-taker confirmed, else the most accurate current one.

    "Current" means received within CURRENT_WINDOW of the newest fix, so an old cell fix never
    beats a fresh AML, and a call viewed days later still shows where it was. Among current
    fixes the smallest accuracy radius wins (a Point without radius counts as least accurate),
    then the newest. A fix from the caller's words (OFFERED_ONLY) is never chosen unconfirmed.
    Every fix stays stored; this only chooses which one to show.
    """
    if confirmed_id is not None:
        for fix in fixes:
            if fix.id == confirmed_id:
                return fix
    fixes = [fix for fix in fixes if fix.source not in OFFERED_ONLY]
    if not fixes:
        return None
    newest = max(fix.received_at for fix in fixes)
    current = [fix for fix in fixes if newest - fix.received_at <= CURRENT_WINDOW]
    return min(current, key=lambda f: (f.accuracy_m if f.accuracy_m is not None else float("inf"),
                                       -f.received_at.timestamp(), -f.id))
