"""Advanced Mobile Location (ETSI TS 103 625): the position a handset sends when it calls 112.

Two forms reach us: the SMS text the handset sends to the network (v1 `A"ML=1;lt=..;lg=..;...`,
or Android's v2 `A"ML=2;...;lo=lat,lon,acc;...`), relayed by the operator's SMS gateway with the
sender's number, and the HTTPS form (`application/x-www-form-urlencoded`, `device_number`,
`location_latitude`, ...). Every field is checked, but only what would make the position
wrong refuses the message: the coordinates, the accuracy, the time of the fix (a wrong position
sent to an ambulance is worse than none), and a sender we cannot match to a call. A message
whose position is sound but whose `ml` length, version, unknown attributes or identity fields
are off is kept, with each such fault in `warnings`, shown beside the fix on the call view: a
handset's position must not be lost over a length field.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl

from ivr.identity import caller_number
from routing.geo import validate_point

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
# A clock a little ahead is tolerated; a fix from further in the future is a broken handset.
FUTURE_TOLERANCE = timedelta(minutes=10)
POSITIONING_METHODS = {"G": "gnss", "W": "wifi", "C": "cell", "N": "none"}
V1_KEYS = {"lt", "lg", "rd", "top", "lc", "pm", "si", "ei", "mcc", "mnc", "ml"}
V2_KEYS = {"en", "et", "lo", "lt", "lc", "lz", "ls", "ei", "si", "nc", "hc", "lg", "ml"}
HTTPS_SOURCES = {"GPS": "gnss", "GNSS": "gnss", "WIFI": "wifi", "CELL": "cell", "FUSED": "fused", "NETWORK": "cell"}
_DECIMAL = re.compile(r"[+-]?\d{1,3}(\.\d{1,10})?")
_DIGITS = re.compile(r"\d+")


class AmlError(ValueError):
    """An AML message we refuse; the sentence says which field and why."""


@dataclass
class AmlReport:
    """A checked AML message: who, where (or no location), how accurate, when."""

    caller: str
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    observed_at: datetime | None
    positioning_method: str | None
    version: int | None
    form: str  # "sms" or "https"
    raw: str
    warnings: list[str] = field(default_factory=list)  # faults that do not touch the position

    @property
    def has_location(self) -> bool:
        return self.lat is not None and self.lon is not None


def parse_sms(text: str, sender: str | None, *, region: str = "ID", now: datetime | None = None) -> AmlReport:
    """Parse the SMS text form; `sender` is the originating number the SMS gateway saw."""
    now = now or datetime.now(timezone.utc)
    text = _bounded(text).strip("\r\n")
    caller = _caller(sender, region, "the sender's number (query parameter `from`)")
    warnings: list[str] = []
    fields = _sms_fields(text, warnings)
    header = fields.pop('A"ML', None)
    version = None
    if header is not None:
        version = _soft(warnings, _int, header, "A\"ML version", 1, 99)
    # A version we do not know is read as the one whose position field it carries (v2's `lo`).
    as_v2 = version == 2 or (version is not None and version > 2 and "lo" in fields)
    if version is not None and version > 2:
        warnings.append(f"A\"ML version {version} is newer than we know; its fields were read as "
                        f"version {2 if as_v2 else 1}")
    allowed = V2_KEYS if as_v2 else V1_KEYS
    unknown = sorted(set(fields) - allowed)
    if unknown:
        warnings.append(f"unknown AML field{'s' if len(unknown) > 1 else ''} {', '.join(repr(k[:12]) for k in unknown[:5])}")
    if "ml" in fields:
        declared = _soft(warnings, _int, fields["ml"], "ml (message length)", 1, MAX_MESSAGE_CHARS)
        if declared is not None and declared != len(text):
            warnings.append(f"ml says {declared} characters but the message has {len(text)}")
    if as_v2:
        return _sms_v2(fields, caller, text, now, warnings)
    lat = _coordinate(fields.get("lt"), "lt (latitude)", 90)
    lon = _coordinate(fields.get("lg"), "lg (longitude)", 180)
    radius = None if fields.get("rd") in (None, "N") else _float(fields["rd"], "rd (radius)", 0, 1_000_000)
    observed = _time_of_positioning(fields.get("top"), now)
    method = _confidence_and_method(fields, "pm", "pm (positioning method)", warnings)
    _identity_fields(fields, warnings)
    return _report(caller, lat, lon, radius, observed, method, version, "sms", text, warnings)


def parse_https(body: str, *, region: str = "ID", now: datetime | None = None) -> AmlReport:
    """Parse the HTTPS POST form (application/x-www-form-urlencoded)."""
    now = now or datetime.now(timezone.utc)
    body = _bounded(body)
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=True, max_num_fields=64)
    except ValueError:
        raise AmlError("the body is not a form (key=value&...)") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise AmlError(f"field {key!r} is given twice")  # which of the two positions is the handset's?
        fields[key] = value
    warnings: list[str] = []
    if fields.get("v") not in (None, "1", "2"):
        warnings.append(f"v (version) {fields['v'][:8]!r} is not 1 or 2; its fields were read as version 1")
    caller = _caller(fields.get("device_number"), region, "device_number")
    lat = _coordinate(fields.get("location_latitude"), "location_latitude", 90)
    lon = _coordinate(fields.get("location_longitude"), "location_longitude", 180)
    accuracy = None
    if fields.get("location_accuracy"):
        accuracy = _float(fields["location_accuracy"], "location_accuracy", 0, 1_000_000)
    observed = None
    if fields.get("location_time"):
        millis = _int(fields["location_time"], "location_time", 0, 10**14)
        observed = _not_future(datetime.fromtimestamp(millis / 1000, timezone.utc), now, "location_time")
    if fields.get("location_certainty"):
        _soft(warnings, _int, fields["location_certainty"], "location_certainty", 0, 100)
    if fields.get("location_altitude"):
        _soft(warnings, _float, fields["location_altitude"], "location_altitude", -1000, 100_000)
    method = None
    if fields.get("location_source"):
        source = fields["location_source"].upper()
        if source in HTTPS_SOURCES:
            method = HTTPS_SOURCES[source]
        else:
            warnings.append(f"location_source {fields['location_source'][:12]!r} is not one we know")
    for key in ("device_imei", "device_imsi", "cell_home_mcc", "cell_home_mnc", "cell_network_mcc",
                "cell_network_mnc", "cell_id"):
        if fields.get(key) and not _DIGITS.fullmatch(fields[key]):
            warnings.append(f"{key} must be digits")
    if fields.get("hmac") and not re.fullmatch(r"[0-9a-fA-F]{40,64}", fields["hmac"]):
        warnings.append("hmac must be hexadecimal")
    version = int(fields["v"]) if fields.get("v") in ("1", "2") else None
    return _report(caller, lat, lon, accuracy, observed, method, version, "https", body, warnings)


# --- helpers ------------------------------------------------------------------------------


def _soft(warnings: list[str], check, *args):
    """Run a field check whose failure leaves the position sound: the fault becomes a warning."""
    try:
        return check(*args)
    except AmlError as error:
        warnings.append(str(error))
        return None


def _confidence_and_method(fields: dict[str, str], key: str, label: str, warnings: list[str]) -> str | None:
    """Check the confidence `lc` and read the positioning method (`pm` in v1, `ls` in v2)."""
    if "lc" in fields:
        _soft(warnings, _int, fields["lc"], "lc (confidence)", 0, 100)
    if key not in fields:
        return None
    if fields[key] not in POSITIONING_METHODS:
        warnings.append(f"{label} {fields[key][:8]!r} is not G, W, C or N")
        return None
    return POSITIONING_METHODS[fields[key]]


def _bounded(text: str) -> str:
    if not text or not text.strip():
        raise AmlError("the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise AmlError(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
    return text


def _caller(raw: str | None, region: str, what: str) -> str:
    number = caller_number(raw, region) if raw else None
    if number is None:
        raise AmlError(f"{what} is missing or not a phone number")
    return number


def _sms_fields(text: str, warnings: list[str]) -> dict[str, str]:
    """The key=value attributes; a malformed one is skipped (a warning), a repeated one refuses
    the message (which of two latitudes would be the handset's?)."""
    fields: dict[str, str] = {}
    skipped = []
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not key or not value or "=" in value:
            skipped.append(part[:20])
            continue
        if key in fields:
            raise AmlError(f"attribute {key!r} is given twice")
        fields[key] = value
    if skipped:
        warnings.append(f"{len(skipped)} attribute{'s' if len(skipped) > 1 else ''} not of the form key=value "
                        f"skipped: {', '.join(repr(s) for s in skipped[:3])}")
    if not fields:
        raise AmlError("the message has no key=value attribute")
    return fields


def _sms_v2(fields: dict[str, str], caller: str, text: str, now: datetime, warnings: list[str]) -> AmlReport:
    lat = lon = accuracy = None
    if "lo" in fields:
        parts = fields["lo"].split(",")
        if len(parts) != 3:
            raise AmlError("lo must be latitude,longitude,accuracy")
        lat = _coordinate(parts[0], "lo latitude", 90)
        lon = _coordinate(parts[1], "lo longitude", 180)
        accuracy = _float(parts[2], "lo accuracy", 0, 1_000_000)
    observed = None
    if "et" in fields:
        observed = _not_future(datetime.fromtimestamp(_int(fields["et"], "et (time)", 0, 10**11), timezone.utc),
                               now, "et (time)")
    method = _confidence_and_method(fields, "ls", "ls (location source)", warnings)
    _identity_fields(fields, warnings)
    return _report(caller, lat, lon, accuracy, observed, method, 2, "sms", text, warnings)


def _identity_fields(fields: dict[str, str], warnings: list[str]) -> None:
    limits = {"si": (6, 15), "ei": (14, 16), "mcc": (3, 3), "mnc": (2, 3), "nc": (5, 6), "hc": (5, 6)}
    for key, (shortest, longest) in limits.items():
        value = fields.get(key)
        if value is not None and not (_DIGITS.fullmatch(value) and shortest <= len(value) <= longest):
            warnings.append(f"{key} must be {shortest}-{longest} digits")


def _report(caller, lat, lon, accuracy, observed, method, version, form, raw, warnings=()) -> AmlReport:
    # "No location" is a valid AML (pm=N, or 0,0 from a handset without a fix): kept as no fix.
    if lat is not None and lon is not None and method != "none":
        try:
            lat, lon = validate_point(lat, lon)
        except ValueError:
            lat = lon = None
    else:
        lat = lon = None
    return AmlReport(caller, lat, lon, accuracy if lat is not None else None, observed, method, version, form, raw,
                     list(warnings))


def _coordinate(text: str | None, what: str, bound: int) -> float | None:
    if text is None or text == "":
        return None
    if text in ("-9999",):  # v2's "unknown"
        return None
    if not _DECIMAL.fullmatch(text):
        raise AmlError(f"{what} {text[:16]!r} is not a decimal number of degrees")
    value = float(text)
    if abs(value) > bound:
        raise AmlError(f"{what} {value:g} is out of range")
    return value


def _float(text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AmlError(f"{what} {text[:16]!r} is not a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise AmlError(f"{what} {text[:16]} is out of range")
    return value


def _int(text: str | None, what: str, low: int, high: int) -> int:
    if text is None or not _DIGITS.fullmatch(text.lstrip("+")):
        raise AmlError(f"{what} {str(text)[:16]!r} is not a whole number")
    value = int(text)
    if not low <= value <= high:
        raise AmlError(f"{what} {value} is out of range")
    return value


def _time_of_positioning(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    if not re.fullmatch(r"\d{14}", text):
        raise AmlError("top (time of positioning) must be YYYYMMDDhhmmss")
    try:
        value = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        raise AmlError(f"top (time of positioning) {text} is not a real time") from None
    return _not_future(value, now, "top (time of positioning)")


def _not_future(value: datetime, now: datetime, what: str) -> datetime:
    if value > now + FUTURE_TOLERANCE:
        raise AmlError(f"{what} is in the future")
    return value
