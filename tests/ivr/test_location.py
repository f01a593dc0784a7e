"""Caller location: PIDF-LO by value, the serving cell, and which fix the call shows."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest

from ivr import channel_vars as var
from ivr.asterisk_peer import Caller, Channel
from ivr.location import LocationError, best_fix, parse_access_network_info, parse_pidf_lo
from siaga112.db import utcnow
from tests.ivr.conftest import fixes_of, only_call
from tests.support.data import shared_file

DEC112 = "messages/pidf_lo/dec112/"

# file -> the fixes the call must get: (lat, lon, accuracy_m)
PIDF_CASES = {
    "rfc5491__point-example.xml": [(-34.407, 150.883, None)],
    "simple-point__valid-point.xml": [(12.345, 67.89, None)],
    "simple-circle__valid-circle.xml": [(48.123, 14.456, 24.0)],
    "simple-circle-with-altitude__valid-circle.xml": [(48.123, 14.456, 24.0)],
    "simple-circle__invalid-tuple.xml": [(48.123, 14.456, 24.0)],
    "civic-circle__location.xml": [(48.123, 14.456, 24.0)],
    "wifi-location__location.xml": [(48.197457, 14.482596, 270.0)],
    "multiple-locations__valid.xml": [(12.345, 67.89, None), (48.123, 14.456, 24.0)],
    "simple-civic__valid-civic-address.xml": [],
    "invalid-pidf-lo__invalid-full-1.xml": [],
    "invalid-pidf-lo__invalid-full-2.xml": [],
    "invalid-pidf-lo__invalid-part-1.xml": [],
    "invalid-pidf-lo__invalid-part-2.xml": [],
}


@pytest.mark.parametrize("name", sorted(PIDF_CASES))
def test_pidf_lo_from_the_network_becomes_the_calls_fixes_and_bad_documents_are_ignored(name, place_call, database):
    document = shared_file(DEC112 + name).read_bytes()
    channel = Channel(variables={var.GEOLOCATION: "<cid:target123@example.com>",
                                 var.PIDF_LO_BODY: base64.b64encode(document).decode()})
    record = place_call(channel, Caller())

    call = only_call(database)
    assert call.state == "queued" and record.agi_status == "SUCCESS"
    got = [(f.lat, f.lon, f.accuracy_m) for f in fixes_of(database, call.id)]
    assert got == PIDF_CASES[name]
    assert all(f.source == "pidf-lo" for f in fixes_of(database, call.id))


@pytest.mark.parametrize("document", [
    b"not xml at all", b"<html><body>hi</body></html>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>',
])
def test_pidf_lo_that_is_not_xml_or_not_pidf_or_uses_entities_is_refused(document):
    with pytest.raises(LocationError):
        parse_pidf_lo(document)


def test_pidf_lo_that_is_not_xml_is_logged_and_the_call_goes_on(place_call, database, caplog):
    caplog.set_level(logging.INFO, logger="ivr")
    channel = Channel(variables={var.PIDF_LO_BODY: base64.b64encode(b"<<<garbage").decode()})
    place_call(channel, Caller())

    assert only_call(database).state == "queued"
    assert "PIDF-LO ignored" in caplog.text


def geoloc_channel(location: str, format_: str = "GML", **more) -> Channel:
    """The variables the shipped dialplan sets from GEOLOC_PROFILE() (Asterisk's own PIDF-LO parse)."""
    return Channel(variables={var.GEOLOCATION: "<cid:loc1@operator.invalid>", var.GEOLOC_FORMAT: format_,
                              var.GEOLOC_LOCATION: location, **more})


def test_the_location_asterisk_parsed_from_the_invite_becomes_the_calls_fix(place_call, database):
    # As GEOLOC_PROFILE() gave it for a SIPp INVITE with a PIDF-LO Circle (BUILD.md of the kit).
    channel = geoloc_channel('shape="Circle",crs="2d",pos="-7.96662 112.632632",radius="35"',
                             **{var.GEOLOC_CONFIDENCE: 'pdf="normal",value="90"', var.GEOLOC_METHOD: "GPS"})
    place_call(channel, Caller())

    [fix] = fixes_of(database, only_call(database).id)
    assert (fix.source, fix.lat, fix.lon, fix.accuracy_m) == ("pidf-lo", -7.96662, 112.632632, 35.0)
    assert fix.detail == {"shape": "Circle", "parsed_by": "asterisk", "confidence": 90.0, "method": "GPS",
                          "geolocation": "<cid:loc1@operator.invalid>"}


def test_a_whole_pidf_lo_from_an_sbc_is_preferred_to_the_parsed_shape(place_call, database, shared_data):
    document = (shared_data / (DEC112 + "simple-circle__valid-circle.xml")).read_bytes()
    channel = geoloc_channel('shape="Point",crs="2d",pos="1 2"', **{var.PIDF_LO_BODY: base64.b64encode(document).decode()})
    place_call(channel, Caller())

    assert [(f.lat, f.lon) for f in fixes_of(database, only_call(database).id)] == [(48.123, 14.456)]


@pytest.mark.parametrize("format_, location", [
    ("URI", 'URI="https://lis.example.invalid/loc/1"'),
    ("civicAddress", 'country="ID",A1="Jawa Timur"'),
    ("GML", 'shape="Polygon",crs="2d",pos="1 2"'),
    ("GML", 'shape="Circle",crs="2d",pos="95 2",radius="10"'),
    ("GML", 'shape="Circle",crs="2d",pos="1 2",radius="-3"'),
    ("GML", "not pairs at all"),
])
def test_a_parsed_location_without_usable_coordinates_gives_no_fix_and_the_call_goes_on(
        format_, location, place_call, database):
    place_call(geoloc_channel(location, format_), Caller())

    call = only_call(database)
    assert call.state == "queued" and fixes_of(database, call.id) == []


def test_serving_cell_from_p_access_network_info_is_looked_up_in_the_cell_table(cli_runner, place_call, database, shared_data):
    result = cli_runner.invoke(["import", "cells", str(shared_data / "cells/opencellid_510_east_java.csv")])
    assert result.exit_code == 0, result.output
    # A real Kota Malang LTE cell: LTE,510,10,6204,56085515 at -7.9562, 112.6133, range 1000.
    header = f"3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=51010{6204:04X}{56085515:07X}"
    place_call(Channel(variables={var.ACCESS_NETWORK_INFO: header}), Caller())

    [fix] = fixes_of(database, only_call(database).id)
    assert (fix.source, fix.lat, fix.lon, fix.accuracy_m) == ("cell", -7.9562, 112.6133, 1000.0)
    assert fix.detail["radio"] == "LTE"


def test_importing_the_same_cells_twice_updates_them_in_place(cli_runner, database, shared_data):
    path = str(shared_data / "cells/opencellid_510_east_java.csv")
    assert "2562 cells loaded" in cli_runner.invoke(["import", "cells", path]).output
    cli_runner.invoke(["import", "cells", path])
    from sqlalchemy import func, select

    from siaga112.models import CellTower

    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(CellTower)) == 2562


@pytest.mark.parametrize("header, expected", [
    ("3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=51010183C357C80B", ("LTE", 510, 10, 0x183C, 0x357C80B)),
    ('3GPP-E-UTRAN-FDD; "utran-cell-id-3gpp=510100183C357C80B"', None),
    ("3GPP-GERAN; cgi-3gpp=510103EFF8049", ("GSM", 510, 10, 0x3EFF, 0x8049)),
    ("3GPP-UTRAN-FDD; utran-cell-id-3gpp=5100112340ABCDEF", ("UMTS", 510, 1, 0x1234, 0x0ABCDEF)),
])
def test_p_access_network_info_names_mcc_mnc_area_and_cell(header, expected):
    if expected is None:
        with pytest.raises(LocationError):
            parse_access_network_info(header)
        return
    cell = parse_access_network_info(header)
    assert (cell.radio, cell.mcc, cell.mnc, cell.area, cell.cell) == expected


@pytest.mark.parametrize("header", ["IEEE-802.11; i-wlan-node-id=ffeeddccbbaa", "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=zz", "x" * 5000])
def test_p_access_network_info_without_a_usable_cell_is_refused(header):
    with pytest.raises(LocationError):
        parse_access_network_info(header)


def fix(id, source, accuracy, minutes_ago):
    return SimpleNamespace(id=id, source=source, accuracy_m=accuracy, received_at=utcnow() - timedelta(minutes=minutes_ago))


def test_best_fix_is_the_most_accurate_current_one():
    fixes = [fix(1, "cell", 1000, 5), fix(2, "aml", 12, 4), fix(3, "pidf-lo", 50, 0)]
    assert best_fix(fixes).id == 2


def test_best_fix_ignores_fixes_far_older_than_the_newest():
    fixes = [fix(1, "aml", 5, 90), fix(2, "cell", 800, 0)]
    assert best_fix(fixes).id == 2


def test_best_fix_is_the_confirmed_one_when_a_call_taker_confirmed_it():
    fixes = [fix(1, "aml", 5, 1), fix(2, "manual", None, 0)]
    assert best_fix(fixes, confirmed_id=2).id == 2


def test_a_place_the_caller_named_is_never_the_location_until_a_call_taker_confirms_it():
    spoken = fix(2, "speech", 50, 0)  # a landmark: more "accurate" than the cell, but only heard
    assert best_fix([spoken]) is None
    assert best_fix([fix(1, "cell", 1500, 1), spoken]).id == 1
    assert best_fix([fix(1, "cell", 1500, 1), spoken], confirmed_id=2).id == 2
