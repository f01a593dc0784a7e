"""Calls and incidents of a period as CSV, streamed row by row, safe to open in a spreadsheet.

A text cell that starts with = + - @ (or a tab or carriage return) would be read by Excel or
LibreOffice as a formula, and caller names and descriptions are text anyone can send us; such
a cell gets a leading apostrophe, which spreadsheets show as text and do not evaluate. Numbers
are written as numbers (a latitude of -7.97 stays -7.97), coordinates to 6 decimals (about
0.1 m), never with the float noise of their binary form.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Iterable, Iterator

from flask import Blueprint, Response, g, render_template, request, stream_with_context
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from agent_console import stats
from agent_console.pages import page
from agent_console.supervisor.common import client_ip, day_bounds, now
from siaga112 import audit
from siaga112.db import iso
from siaga112.models import Call, Incident, User
from siaga112.web import db, runtime

bp = Blueprint("exports", __name__, url_prefix="/exports")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 500
COORDINATE_DECIMALS = 6

# answer_delay_s runs from Asterisk's answer of the call (pbx_answered_at, else started_at) to the
# call-taker's answer, as the floor counts it; queue_wait_s is the part spent in the queue;
# abandoned_after_s is the same clock for a caller nobody answered.
CALL_COLUMNS = ["id", "uniqueid", "started_at", "pbx_answered_at", "queued_at", "answered_at", "ended_at",
                "answer_delay_s", "queue_wait_s", "abandoned_after_s",
                "caller", "caller_name", "state", "priority", "service_choice", "category_hint", "silent",
                "prank_suspect", "repeat_count", "agent", "incident_id"]
INCIDENT_COLUMNS = ["id", "created_at", "category", "status", "priority", "kecamatan", "kelurahan",
                    "police_sector", "address", "lat", "lon", "first_dispatch_at", "closed_at", "created_by",
                    "description"]


def safe_cell(value) -> str:
    """One cell as text; a value a spreadsheet would evaluate as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value: int | float) -> str:
    """A number as a spreadsheet reads it: no quote, no float noise (repr is the shortest exact form)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return repr(value)


def coordinate(value: float | None) -> float | None:
    """A latitude or longitude to 6 decimals (about 0.1 m), which is all a position here means."""
    return None if value is None else round(value, COORDINATE_DECIMALS)


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The header, then one CSV line per row (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        writer.writerow([safe_cell(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(header)
    for values in rows:
        yield line(values)


def call_rows(session: Session, start: datetime, end: datetime) -> Iterator[list]:
    """Calls that started in [start, end), oldest first, read in batches."""
    agent = aliased(User)
    query = (select(Call, agent.username).outerjoin(agent, Call.agent_id == agent.id)
             .where(Call.started_at >= start, Call.started_at < end).order_by(Call.started_at, Call.id)
             .execution_options(yield_per=BATCH))
    for call, username in session.execute(query):
        begin = call.pbx_answered_at or call.started_at
        delay = round((call.answered_at - begin).total_seconds(), 3) if call.answered_at else None
        waited = (round((call.answered_at - call.queued_at).total_seconds(), 3)
                  if call.answered_at and call.queued_at else None)
        gave_up = (round((call.ended_at - begin).total_seconds(), 3)
                   if call.state == "abandoned" and call.ended_at else None)
        yield [call.id, call.uniqueid, call.started_at, call.pbx_answered_at, call.queued_at, call.answered_at,
               call.ended_at, delay, waited, gave_up,
               call.caller, call.caller_name, call.state, call.priority, call.service_choice, call.category_hint,
               call.silent, call.prank_suspect, call.repeat_count, username, call.incident_id]


def incident_rows(session: Session, start: datetime, end: datetime) -> Iterator[list]:
    """Incidents created in [start, end), oldest first, read in batches."""
    query = (select(Incident).where(Incident.created_at >= start, Incident.created_at < end)
             .order_by(Incident.created_at, Incident.id).execution_options(yield_per=BATCH))
    for i in session.scalars(query):
        yield [i.id, i.created_at, i.category, i.status, i.priority, i.kecamatan, i.kelurahan, i.police_sector,
               i.address, coordinate(i.lat), coordinate(i.lon), i.first_dispatch_at, i.closed_at, i.created_by, i.description]


def bounds_from(args) -> tuple[datetime, datetime, str]:
    """`from`/`to` local dates (both days included), else a named period; and a label for the file."""
    days = sorted(b for b in (day_bounds(args.get("from")), day_bounds(args.get("to"))) if b)
    if days:
        start, end = days[0][0], days[-1][1]
        label = "_".join(dict.fromkeys(v for v in (args.get("from"), args.get("to")) if day_bounds(v)))
        return start, end, label
    name = args.get("period") if args.get("period") in stats.PERIODS else "today"
    span = stats.period(name, now(), runtime().settings.timezone)
    return span.start, span.end, name


EXPORTS = {"calls": (CALL_COLUMNS, call_rows), "incidents": (INCIDENT_COLUMNS, incident_rows)}


@bp.get("")
@page("exports")
def index():
    return render_template("supervisor/exports.html", periods=stats.PERIODS)


@bp.get("/<any(calls, incidents):kind>.csv")
@page("exports")
def download(kind: str):
    """Stream the CSV from its own session, so a long export never holds the request's."""
    start, end, label = bounds_from(request.args)
    audit.record(db(), g.user.username, f"export.{kind}", None,
                 detail={"from": iso(start), "to": iso(end)}, actor_id=g.user.id, ip=client_ip())
    db().commit()
    header, rows = EXPORTS[kind]
    database = runtime().database

    def generate():
        session = database.sessionmaker()
        try:
            yield from csv_lines(header, rows(session, start, end))
        finally:
            session.close()

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="siaga112-{kind}-{label}.csv"',
                             "Cache-Control": "no-store"})
