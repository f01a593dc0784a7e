"""Routing rules as data: `config/routing_rules.yaml` read and checked once, then looked up.

A command-center admin edits the YAML; this module turns it into frozen objects and refuses a
file with a mistake in it, naming where the mistake is, so a typo cannot silently misroute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

MIN_PRIORITY, MAX_PRIORITY = 1, 9


class RulesError(ValueError):
    """The rules file is missing, unreadable or inconsistent; the message says where."""


@dataclass(frozen=True)
class AgencyRule:
    code: str
    name: str
    sms_number: str | None
    unit_kinds: tuple[str, ...]


@dataclass(frozen=True)
class Response:
    """One agency's part in a category: which of its unit kinds, and how many units to name."""

    agency: str
    kinds: tuple[str, ...]
    units: int


@dataclass(frozen=True)
class CategoryRule:
    name: str
    label: str
    priority: int
    hospitals: bool
    respond: tuple[Response, ...]

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(r.agency for r in self.respond)


@dataclass(frozen=True)
class Alias:
    name: str
    category: str
    priority: int | None


@dataclass(frozen=True)
class Rules:
    agencies: dict[str, AgencyRule]
    categories: dict[str, CategoryRule]
    aliases: dict[str, Alias]
    hospital_kinds: tuple[str, ...]
    hospital_count: int
    camera_count: int
    camera_max_distance_m: float

    def resolve(self, name: str) -> tuple[CategoryRule, int | None]:
        """The category a name means (itself or an alias) and the alias's priority, or KeyError."""
        key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
        if key in self.categories:
            return self.categories[key], None
        if key in self.aliases:
            alias = self.aliases[key]
            return self.categories[alias.category], alias.priority
        raise KeyError(name)

    def accepted_names(self) -> list[str]:
        return sorted(self.categories) + sorted(self.aliases)


def _fail(where: str, message: str) -> RulesError:
    return RulesError(f"routing rules, {where}: {message}")


def _mapping(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, "expected a mapping of names to settings")
    return value


def _only_keys(value: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(where, f"unknown key {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _priority(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise _fail(where, f"priority must be a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}, not {value!r}")
    return value


def _count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(where, f"must be a whole number of 0 or more, not {value!r}")
    return value


def _kinds(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
        raise _fail(where, "must be a list of unit kinds, e.g. [patrol, motorcycle]")
    return tuple(value)


def _agencies(raw: dict) -> dict[str, AgencyRule]:
    agencies = {}
    for code, spec in _mapping(raw, "agencies").items():
        where = f"agencies.{code}"
        spec = _mapping(spec, where)
        _only_keys(spec, {"name", "sms_number", "unit_kinds"}, where)
        if not isinstance(spec.get("name"), str) or not spec["name"].strip():
            raise _fail(where, "needs a name")
        sms = spec.get("sms_number")
        if sms is not None and not (isinstance(sms, str) and sms.startswith("+") and sms[1:].isdigit()):
            raise _fail(where, f"sms_number must be an E.164 number in quotes such as \"+628123456789\", not {sms!r}")
        agencies[str(code)] = AgencyRule(str(code), spec["name"].strip(), sms,
                                         _kinds(spec.get("unit_kinds", []), f"{where}.unit_kinds"))
    if not agencies:
        raise _fail("agencies", "at least one agency is needed")
    return agencies


def _responses(raw, where: str, agencies: dict[str, AgencyRule]) -> tuple[Response, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "respond must list at least one agency")
    responses = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        item = _mapping(item, at)
        _only_keys(item, {"agency", "kinds", "units"}, at)
        code = item.get("agency")
        if code not in agencies:
            raise _fail(at, f"agency {code!r} is not listed under agencies ({', '.join(sorted(agencies))})")
        kinds = _kinds(item["kinds"], f"{at}.kinds") if "kinds" in item else agencies[code].unit_kinds
        undeclared = [k for k in kinds if k not in agencies[code].unit_kinds]
        if undeclared:
            raise _fail(at, f"unit kind {', '.join(undeclared)} is not among {code}'s unit_kinds")
        responses.append(Response(code, kinds, _count(item.get("units", 1), f"{at}.units")))
    if len({r.agency for r in responses}) != len(responses):
        raise _fail(where, "an agency is named twice")
    return tuple(responses)


def parse_rules(data) -> Rules:
    """Check a parsed YAML document and build the rules, or raise RulesError saying what is wrong."""
    data = _mapping(data, "top level")
    _only_keys(data, {"agencies", "categories", "aliases", "hospitals", "cameras"}, "top level")
    agencies = _agencies(data.get("agencies"))
    categories = {}
    for name, spec in _mapping(data.get("categories"), "categories").items():
        where = f"categories.{name}"
        spec = _mapping(spec, where)
        _only_keys(spec, {"label", "priority", "hospitals", "respond"}, where)
        categories[str(name)] = CategoryRule(
            name=str(name),
            label=str(spec.get("label") or str(name).replace("_", " ").capitalize()),
            priority=_priority(spec.get("priority", 5), f"{where}.priority"),
            hospitals=bool(spec.get("hospitals", False)),
            respond=_responses(spec.get("respond"), f"{where}.respond", agencies),
        )
    aliases = {}
    for name, spec in _mapping(data.get("aliases", {}) or {}, "aliases").items():
        where = f"aliases.{name}"
        spec = _mapping(spec, where)
        _only_keys(spec, {"category", "priority"}, where)
        if name in categories:
            raise _fail(where, "is a category already; an alias must be a different name")
        if spec.get("category") not in categories:
            raise _fail(where, f"category {spec.get('category')!r} is not under categories")
        priority = _priority(spec["priority"], f"{where}.priority") if "priority" in spec else None
        aliases[str(name)] = Alias(str(name), spec["category"], priority)
    hospitals = _mapping(data.get("hospitals", {}) or {}, "hospitals")
    _only_keys(hospitals, {"kinds", "count"}, "hospitals")
    cameras = _mapping(data.get("cameras", {}) or {}, "cameras")
    _only_keys(cameras, {"count", "max_distance_m"}, "cameras")
    max_distance = cameras.get("max_distance_m", 2000)
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, float)) or max_distance <= 0:
        raise _fail("cameras.max_distance_m", f"must be a positive number of metres, not {max_distance!r}")
    return Rules(
        agencies=agencies,
        categories=categories,
        aliases=aliases,
        hospital_kinds=_kinds(hospitals.get("kinds", ["hospital"]), "hospitals.kinds"),
        hospital_count=_count(hospitals.get("count", 3), "hospitals.count"),
        camera_count=_count(cameras.get("count", 3), "cameras.count"),
        camera_max_distance_m=float(max_distance),
    )


def load_rules(path: str | Path) -> Rules:
    """Read and check the rules file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesError(f"routing rules file {path} cannot be read: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RulesError(f"routing rules file {path} is not valid YAML{place}") from None
    try:
        return parse_rules(data)
    except RulesError as error:
        raise RulesError(f"{path}: {error}") from None
