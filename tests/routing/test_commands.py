"""The routing commands an admin runs: seed the demo city, import boundaries and points, add units and cameras."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from routing.service import route
from siaga112.models import Agency, Camera, Jurisdiction, PointOfInterest, Unit
from tests.support.data import shared_file


def _counts(session):
    return {model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Jurisdiction, PointOfInterest, Agency, Unit, Camera)}


def test_seed_demo_loads_a_routable_city_and_running_it_again_changes_nothing(cli_runner, runtime):
    first = cli_runner.invoke(["seed", "demo"])
    assert first.exit_code == 0, first.output
    with runtime.database.session() as session:
        after_first = _counts(session)
    second = cli_runner.invoke(["seed", "demo"])
    assert second.exit_code == 0, second.output
    assert "0 units added" in second.output
    with runtime.database.session() as session:
        assert _counts(session) == after_first
        decision = route(runtime, session, "fire", -7.975, 112.645)
    assert after_first["Jurisdiction"] == 6 and after_first["Camera"] == 3
    assert decision["jurisdiction"]["kecamatan"] == "Siaga Utara"
    assert decision["jurisdiction"]["police_sector"] == "Polsek Siaga Utara"
    assert [u["callsign"] for u in decision["recommended_units"]][:2] == ["DAMKAR-02", "DAMKAR-01"]  # 02 stands 20 m further east
    assert decision["cameras"][0]["name"] == "CCTV Simpang Empat Kebonsari"


def test_import_boundaries_names_the_polsek_of_each_kecamatan(cli_runner, runtime):
    path = shared_file("boundaries/kota_probolinggo_kecamatan.geojson")
    result = cli_runner.invoke(["import", "boundaries", str(path), "--level", "kecamatan"])
    assert result.exit_code == 0, result.output
    assert "5 added" in result.output
    again = cli_runner.invoke(["import", "boundaries", str(path), "--level", "kecamatan"])
    assert "0 added, 5 updated" in again.output
    with runtime.database.session() as session:
        sectors = sorted(session.scalars(select(Jurisdiction.police_sector)))
    assert sectors == ["Polsek Kademangan", "Polsek Kanigaran", "Polsek Kedopok", "Polsek Mayangan", "Polsek Wonoasih"]


def test_import_refuses_a_file_that_is_not_boundaries_and_says_which_feature(cli_runner, tmp_path):
    bad = tmp_path / "points.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kode": "1", "nama": "Titik"}, "geometry": {"type": "Point", "coordinates": [112.6, -7.9]}}]}))
    result = cli_runner.invoke(["import", "boundaries", str(bad), "--level", "kelurahan"])
    assert result.exit_code != 0
    assert "feature 1 (Titik)" in result.output and "Polygon" in result.output


def test_import_pois_then_the_nearest_hospital_is_routed_for_a_medical_call(cli_runner, runtime, tmp_path):
    pois = tmp_path / "pois.geojson"
    pois.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "hospital", "name": "RS Dekat", "agency": "psc119"},
         "geometry": {"type": "Point", "coordinates": [112.631, -7.981]}},
        {"type": "Feature", "properties": {"kind": "hospital", "name": "RS Jauh"},
         "geometry": {"type": "Point", "coordinates": [112.70, -7.90]}},
        {"type": "Feature", "properties": {"kind": "police", "name": "Polsek Contoh"},
         "geometry": {"type": "Point", "coordinates": [112.62, -7.97]}},
    ]}))
    result = cli_runner.invoke(["import", "pois", str(pois)])
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output
    with runtime.database.session() as session:
        decision = route(runtime, session, "medical", -7.98, 112.63)
    assert [h["name"] for h in decision["hospitals"]] == ["RS Dekat", "RS Jauh"]
    assert "Nearest hospital: RS Dekat" in decision["explanation"]


def test_unit_add_refuses_an_agency_the_rules_do_not_know(cli_runner):
    result = cli_runner.invoke(["unit", "add", "X-1", "--agency", "pemadam"])
    assert result.exit_code != 0
    assert "not in the routing rules" in result.output and "damkar" in result.output


def test_unit_add_refuses_a_kind_the_agency_does_not_have(cli_runner):
    result = cli_runner.invoke(["unit", "add", "AMB-9", "--agency", "psc119", "--kind", "fire_engine"])
    assert result.exit_code != 0
    assert "ambulance" in result.output


def test_unit_add_registers_a_stationed_unit(cli_runner, runtime):
    result = cli_runner.invoke(["unit", "add", "amb-7", "--agency", "psc119", "--kind", "ambulance",
                                "--phone", "+6281234567890", "--lat", "-7.98", "--lon", "112.63"])
    assert result.exit_code == 0, result.output
    with runtime.database.session() as session:
        unit = session.scalar(select(Unit).where(Unit.callsign == "AMB-7"))
        assert (unit.status, unit.position_source, unit.agency.code) == ("available", "post", "psc119")


def test_camera_add_refuses_null_island_and_accepts_a_real_camera(cli_runner, runtime):
    bad = cli_runner.invoke(["camera", "add", "CCTV Nol", "--lat", "0", "--lon", "0", "--stream-url", "rtsp://cam/1"])
    assert bad.exit_code != 0 and "0, 0" in bad.output
    good = cli_runner.invoke(["camera", "add", "CCTV Tugu", "--lat", "-7.977", "--lon", "112.634",
                              "--snapshot-url", "https://cctv.example/tugu.jpg"])
    assert good.exit_code == 0, good.output
    with runtime.database.session() as session:
        assert session.scalar(select(Camera.snapshot_url)) == "https://cctv.example/tugu.jpg"
