"""Incidents over the API: created and routed, listed near a call, moved along, dispatched with SMS."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from siaga112.models import Alarm, Call, Event, Reporter, Unit, User
from tests.support.console_client import put_console_session
from tests.support.routing_data import load_real_cities

FIRE_IN_KEBONSARI = {"lat": -7.9705, "lon": 112.6450}


@pytest.fixture
def writer(make_token):
    return make_token("incidents:write")


def _create(client, headers, **body):
    body.setdefault("category", "fire")
    body.setdefault("description", "Rumah terbakar, asap tebal")
    body.setdefault("location", FIRE_IN_KEBONSARI)
    return client.post("/api/v1/incidents", json=body, headers=headers)


def test_a_new_incident_comes_back_routed_with_units_hospitals_and_cameras(client, writer, demo_city):  # noqa: F811
    response = _create(client, writer)
    assert response.status_code == 201, response.get_json()
    incident = response.get_json()
    routing = incident["routing"]
    assert routing["jurisdiction"] == {"kota": "Kota Siaga (demo)", "kecamatan": "Siaga Utara",
                                       "kelurahan": "Kebonsari", "police_sector": "Polsek Siaga Utara"}
    assert [a["code"] for a in routing["agencies"]] == ["damkar", "police"]
    assert [u["callsign"] for u in routing["recommended_units"]] == ["DAMKAR-02", "DAMKAR-01", "POL-02"]
    first = routing["recommended_units"][0]
    assert first["distance_m"] > 0 and first["eta_s"] == round(first["distance_m"] / (40 / 3.6))
    assert routing["cameras"][0]["name"] == "CCTV Simpang Empat Kebonsari"
    assert "Damkar" in routing["explanation"] and routing["warnings"] == []
    assert incident["status"] == "new" and incident["priority"] == 8
    assert incident["history"][0]["status"] == "new"


def test_a_medical_incident_lists_the_nearest_hospital(client, writer, demo_city):  # noqa: F811
    routing = _create(client, writer, category="medical", location={"lat": -7.9900, "lon": 112.6470}).get_json()["routing"]
    assert routing["hospitals"][0]["name"] == "RS Bhakti Husada"
    assert routing["recommended_units"][0]["callsign"] == "AMB-02"


def test_an_incident_at_null_island_is_still_created_and_says_why_it_has_no_place(client, writer, demo_city):  # noqa: F811
    response = _create(client, writer, location={"lat": 0, "lon": 0})
    assert response.status_code == 201
    incident = response.get_json()
    assert incident["location"]["lat"] is None
    assert "0, 0" in incident["routing"]["warnings"][0] and "ask for the location" in incident["routing"]["warnings"][0]
    assert incident["routing"]["agencies"][0]["code"] == "damkar"


def test_an_incident_outside_every_jurisdiction_is_created_with_a_plain_warning(client, writer, demo_city):  # noqa: F811
    incident = _create(client, writer, location={"lat": -7.25, "lon": 112.75}).get_json()
    assert incident["jurisdiction"]["kecamatan"] is None
    assert any("outside every known jurisdiction" in w for w in incident["routing"]["warnings"])


def test_an_unknown_category_is_refused_with_the_valid_ones(client, writer):
    response = _create(client, writer, category="ufo")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "unknown_category"
    assert "fallen_tree" in error["message"] and "crime" in error["valid_categories"]


def test_a_priority_out_of_range_is_refused(client, writer):
    response = _create(client, writer, priority=12)
    assert response.status_code == 400 and "1 to 9" in response.get_json()["error"]["message"]


def test_calls_and_alarms_are_linked_and_an_alarm_gives_its_position(client, writer, database, demo_city):  # noqa: F811
    with database.session() as session:
        call = Call(uniqueid="1700000000.1", caller="+6281111111", state="answered")
        alarm = Alarm(source="button", kind="panic", priority=9, lat=-7.9930, lon=112.6260)
        session.add_all([call, alarm])
        session.flush()
        call_id, alarm_id = call.id, alarm.id
    response = _create(client, writer, category="panic", location=None, call_ids=[call_id], alarm_ids=[alarm_id])
    assert response.status_code == 201, response.get_json()
    incident = response.get_json()
    assert (incident["category"], incident["priority"]) == ("crime", 9)
    assert incident["call_ids"] == [call_id] and incident["alarm_ids"] == [alarm_id]
    assert incident["routing"]["location_source"] == f"alarm {alarm_id}"
    assert incident["jurisdiction"]["police_sector"] == "Polsek Siaga Selatan"
    with database.session() as session:
        assert session.get(Call, call_id).incident_id == incident["id"]


def test_linking_a_call_that_does_not_exist_is_refused(client, writer):
    response = _create(client, writer, call_ids=[999])
    assert response.status_code == 400 and "call 999" in response.get_json()["error"]["message"]


def test_open_incidents_near_a_call_are_listed_nearest_first(client, writer, demo_city):  # noqa: F811
    near = _create(client, writer, location={"lat": -7.9710, "lon": 112.6450}).get_json()["id"]
    nearer = _create(client, writer, location={"lat": -7.9706, "lon": 112.6450}).get_json()["id"]
    far = _create(client, writer, location={"lat": -7.9950, "lon": 112.6100}).get_json()["id"]
    client.patch(f"/api/v1/incidents/{nearer}", json={"status": "closed", "note": "padam"}, headers=writer)
    listed = client.get("/api/v1/incidents?status=open&near=-7.9705,112.6450&radius_m=500", headers=writer).get_json()
    assert [i["id"] for i in listed["incidents"]] == [near]
    everything = client.get("/api/v1/incidents?near=-7.9705,112.6450&radius_m=500", headers=writer).get_json()
    assert [i["id"] for i in everything["incidents"]] == [nearer, near]
    assert far not in [i["id"] for i in everything["incidents"]]


def test_a_bad_near_is_a_400(client, writer):
    response = client.get("/api/v1/incidents?near=0,0", headers=writer)
    assert response.status_code == 400 and "0, 0" in response.get_json()["error"]["message"]


def test_status_moves_along_allowed_steps_and_history_keeps_them(client, writer):
    incident_id = _create(client, writer).get_json()["id"]
    on_scene = client.patch(f"/api/v1/incidents/{incident_id}", json={"status": "on_scene", "note": "tiba"}, headers=writer)
    assert on_scene.status_code == 200
    back = client.patch(f"/api/v1/incidents/{incident_id}", json={"status": "new"}, headers=writer)
    assert back.status_code == 409 and "can become" in back.get_json()["error"]["message"]
    client.patch(f"/api/v1/incidents/{incident_id}", json={"status": "resolved"}, headers=writer)
    closed = client.patch(f"/api/v1/incidents/{incident_id}", json={"status": "closed"}, headers=writer).get_json()
    assert [h["status"] for h in closed["history"]] == ["new", "on_scene", "resolved", "closed"]
    assert closed["closed_at"] is not None
    assert client.patch(f"/api/v1/incidents/{incident_id}", json={"status": "dispatched"}, headers=writer).status_code == 409


def test_a_false_report_needs_a_note_and_strikes_the_reporter(client, writer, database):
    with database.session() as session:
        reporter = Reporter(phone="+6281222333444")
        session.add(reporter)
        session.flush()
        alarm = Alarm(source="sos", kind="sos", lat=-7.98, lon=112.63, reporter_id=reporter.id)
        session.add(alarm)
        session.flush()
        alarm_id, reporter_id = alarm.id, reporter.id
    incident_id = _create(client, writer, alarm_ids=[alarm_id]).get_json()["id"]
    no_note = client.patch(f"/api/v1/incidents/{incident_id}", json={"status": "false_report"}, headers=writer)
    assert no_note.status_code == 400 and "note" in no_note.get_json()["error"]["message"]
    done = client.patch(f"/api/v1/incidents/{incident_id}", json={"status": "false_report", "note": "tidak ada kebakaran"},
                        headers=writer)
    assert done.status_code == 200
    with database.session() as session:
        assert session.get(Reporter, reporter_id).strikes == 1


def test_dispatch_sends_units_and_texts_the_agencies_and_units_through_twilio(client, make_token, writer, database,
                                                                             twilio_recorder, demo_city):  # noqa: F811
    incident_id = _create(client, writer).get_json()["id"]
    dispatcher = make_token("incidents:write")  # a machine client with incidents:write may dispatch
    response = client.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"units": ["damkar-01", "POL-02"]},
                           headers=dispatcher)
    assert response.status_code == 200, response.get_json()
    incident = response.get_json()
    assert incident["status"] == "dispatched" and incident["first_dispatch_at"]
    assert [u["callsign"] for u in incident["units"]] == ["DAMKAR-01", "POL-02"]
    sent = {m["To"]: m for m in twilio_recorder.messages}
    assert set(sent) == {"+6281200000113", "+6281200000110", "+6281300000005", "+6281300000002"}
    assert all(m["From"] == "+15005550006" for m in sent.values())
    # in the centre's language (Bahasa Indonesia), whatever the dispatcher's own
    assert sent["+6281300000005"]["Body"].startswith(f"SIAGA112 #{incident_id} Kebakaran P8 - DAMKAR-01 DIKIRIM: -7.97050,112.64500")
    assert "Kel. Kebonsari" in sent["+6281200000113"]["Body"]
    assert twilio_recorder.requests[0].account == "AC" + "0" * 32
    assert {n["state"] for n in incident["notifications"]} == {"sent"}
    with database.session() as session:
        unit = session.scalar(select(Unit).where(Unit.callsign == "DAMKAR-01"))
        assert (unit.status, unit.incident_id) == ("dispatched", incident_id)
        kinds = [e.kind for e in session.scalars(select(Event))]
    assert "incident.created" in kinds and "incident.updated" in kinds


def test_a_dispatched_unit_is_not_recommended_for_the_next_fire(client, writer, make_token, twilio_recorder, demo_city):  # noqa: F811
    first = _create(client, writer).get_json()["id"]
    client.post(f"/api/v1/incidents/{first}/dispatch", json={"units": ["DAMKAR-02"]}, headers=writer)
    second = _create(client, writer).get_json()
    assert "DAMKAR-02" not in [u["callsign"] for u in second["routing"]["recommended_units"]]
    busy = client.post(f"/api/v1/incidents/{second['id']}/dispatch", json={"units": ["DAMKAR-02"]}, headers=writer)
    assert busy.status_code == 409 and f"incident {first}" in busy.get_json()["error"]["message"]


def test_closing_an_incident_frees_its_units(client, writer, database, twilio_recorder, demo_city):  # noqa: F811
    incident_id = _create(client, writer).get_json()["id"]
    client.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"units": ["DAMKAR-01"]}, headers=writer)
    closed = client.patch(f"/api/v1/incidents/{incident_id}", json={"status": "closed", "note": "padam"}, headers=writer).get_json()
    assert closed["units"][0]["released_at"] is not None
    with database.session() as session:
        unit = session.scalar(select(Unit).where(Unit.callsign == "DAMKAR-01"))
        assert (unit.status, unit.incident_id) == ("available", None)


def test_dispatching_an_unknown_unit_names_it(client, writer, demo_city):  # noqa: F811
    incident_id = _create(client, writer).get_json()["id"]
    response = client.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"units": ["DAMKAR-01", "GHOST-9"]}, headers=writer)
    assert response.status_code == 404 and "GHOST-9" in response.get_json()["error"]["message"]


def _console_client(app, database, username):
    """A test client signed in to the console as `username`, sending its CSRF token like the page does."""
    from flask import session as cookie_session
    from flask_wtf.csrf import generate_csrf

    client = app.test_client()
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
    put_console_session(client, user)
    with app.test_request_context(), client.session_transaction() as cookie:
        cookie_session.update(cookie)
        token = generate_csrf()
        cookie.update(cookie_session)
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client


@pytest.mark.parametrize("role, status", [("calltaker", 403), ("dispatcher", 200)])
def test_only_dispatchers_dispatch_from_the_console(app, database, make_user, client, writer, role, status,
                                                    twilio_recorder, demo_city):  # noqa: F811
    incident_id = _create(client, writer).get_json()["id"]
    username, _ = make_user(role)
    console = _console_client(app, database, username)
    response = console.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"units": ["DAMKAR-01"]})
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("scopes, status", [(("calls:read",), 403), (("incidents:write",), 201)])
def test_creating_incidents_needs_incidents_write(client, make_token, scopes, status):
    assert _create(client, make_token(*scopes)).status_code == status


def test_an_unknown_incident_is_a_404(client, writer):
    assert client.get("/api/v1/incidents/4040", headers=writer).status_code == 404


def test_an_incident_placed_on_the_map_later_is_routed_again_and_the_old_routing_kept(client, writer, demo_city):  # noqa: F811
    incident = _create(client, writer, category="medical", location={"address": "dekat pasar"}).get_json()
    assert incident["routing"]["recommended_units"] == [] and incident["jurisdiction"]["kecamatan"] is None
    placed = client.patch(f"/api/v1/incidents/{incident['id']}", json={"location": {"lat": -7.9900, "lon": 112.6470}},
                          headers=writer)
    assert placed.status_code == 200, placed.get_json()
    placed = placed.get_json()
    assert placed["jurisdiction"]["kecamatan"] == "Siaga Selatan" and placed["location"]["address"] == "dekat pasar"
    assert placed["routing"]["recommended_units"][0]["callsign"] == "AMB-02"
    assert placed["history"][-1]["detail"]["previous"]["lat"] is None


def test_correcting_the_category_changes_the_agencies(client, writer, demo_city):  # noqa: F811
    incident_id = _create(client, writer, category="general").get_json()["id"]
    corrected = client.patch(f"/api/v1/incidents/{incident_id}", json={"category": "fallen_tree"}, headers=writer).get_json()
    assert [a["code"] for a in corrected["routing"]["agencies"]] == ["dlh", "bpbd"]
    assert corrected["priority"] == 4


def test_a_correction_to_an_impossible_place_is_refused(client, writer):
    incident_id = _create(client, writer).get_json()["id"]
    response = client.patch(f"/api/v1/incidents/{incident_id}", json={"location": {"lat": 0, "lon": 0}}, headers=writer)
    assert response.status_code == 400 and "0, 0" in response.get_json()["error"]["message"]


def test_a_broken_rules_file_does_not_stop_an_incident_from_being_stored(client, writer, runtime, tmp_path):
    broken = tmp_path / "rules.yaml"
    broken.write_text("agencies: [\n")
    runtime.settings.routing_rules = str(broken)
    response = _create(client, writer)
    assert response.status_code == 201
    incident = response.get_json()
    assert incident["category"] == "fire" and incident["routing"]["agencies"] == []
    assert "routing rules cannot be read" in incident["routing"]["warnings"][0]


def test_a_unit_freed_by_closing_an_incident_is_recommended_again_at_once(client, writer, twilio_recorder, demo_city):  # noqa: F811
    first = _create(client, writer).get_json()["id"]
    client.post(f"/api/v1/incidents/{first}/dispatch", json={"units": ["DAMKAR-02"]}, headers=writer)
    client.patch(f"/api/v1/incidents/{first}", json={"status": "closed", "note": "padam"}, headers=writer)
    second = _create(client, writer).get_json()
    assert second["routing"]["recommended_units"][0]["callsign"] == "DAMKAR-02"


KEBONSARI_ADDRESS = "Jl. Melati 3, RT 02/RW 04, Kel. Kebonsari, Kec. Siaga Utara"


def test_an_incident_with_only_an_address_is_placed_there_and_its_units_ranked(client, writer, demo_city):  # noqa: F811
    response = _create(client, writer, location={"address": KEBONSARI_ADDRESS})
    assert response.status_code == 201, response.get_json()
    incident = response.get_json()
    assert (incident["location"]["lat"], incident["location"]["lon"]) == (pytest.approx(-7.97), pytest.approx(112.645))
    assert incident["location"]["address"] == KEBONSARI_ADDRESS
    routing = incident["routing"]
    assert routing["location_source"] == "address"
    assert 1000 < routing["location_accuracy_m"] < 3000
    assert routing["geocode"]["matched"] == {"level": "kelurahan", "name": "Kebonsari", "code": "99.71.01.1002",
                                             "label": "Kelurahan Kebonsari, Kecamatan Siaga Utara, Kota Siaga (demo)"}
    assert routing["jurisdiction"]["kelurahan"] == "Kebonsari" and incident["jurisdiction"]["kecamatan"] == "Siaga Utara"
    assert [u["callsign"] for u in routing["recommended_units"]][:2] == ["DAMKAR-02", "DAMKAR-01"]
    assert all(u["distance_m"] > 0 for u in routing["recommended_units"])
    assert routing["warnings"][0].startswith("Position estimated from the address: the centre of Kelurahan Kebonsari, "
                                             "Kecamatan Siaga Utara")
    assert routing["warnings"][0].endswith("confirm the exact place with the caller.")


def test_an_address_naming_a_hospital_is_placed_at_the_hospital(client, writer, demo_city):  # noqa: F811
    incident = _create(client, writer, category="medical", location={"address": "depan RS Bhakti Husada"}).get_json()
    assert (incident["location"]["lat"], incident["location"]["lon"]) == (-7.9905, 112.648)
    routing = incident["routing"]
    assert routing["location_accuracy_m"] == 50 and routing["hospitals"][0]["name"] == "RS Bhakti Husada"
    assert routing["hospitals"][0]["distance_m"] == 0
    assert "within about 50 m" in routing["warnings"][0]


def test_an_address_that_names_no_known_place_is_kept_without_a_position_and_says_so(client, writer, demo_city):  # noqa: F811
    incident = _create(client, writer, location={"address": "Jl. Melati 3, Kel. Mawar"}).get_json()
    assert incident["location"]["lat"] is None and incident["routing"]["recommended_units"] == []
    assert incident["routing"]["location_source"] is None and incident["routing"]["geocode"]["found"] is False
    assert incident["routing"]["warnings"] == [
        "Only an address is known (Jl. Melati 3, Kel. Mawar). Kelurahan Mawar is not among the places loaded. "
        "Place it on the map to rank units by distance."]


def test_an_address_two_cities_share_is_not_placed_and_the_warning_names_both(client, writer, database):
    with database.session() as session:
        load_real_cities(session)
    incident = _create(client, writer, location={"address": "Kel. Sukoharjo"}).get_json()
    assert incident["location"]["lat"] is None
    assert {c["code"] for c in incident["routing"]["geocode"]["candidates"]} == {"35.73.02.1005", "35.74.04.1002"}
    warning = incident["routing"]["warnings"][0]
    assert "Kecamatan Klojen, Kota Malang" in warning and "Kecamatan Kanigaran, Kota Probolinggo" in warning
    placed = _create(client, writer, location={"address": "Kel. Sukoharjo, Kota Probolinggo"}).get_json()
    assert placed["jurisdiction"] == {"kecamatan": "Kanigaran", "kelurahan": "Sukoharjo",
                                      "police_sector": "Polsek Kanigaran", "kota": "Kota Probolinggo"}


def test_a_position_given_with_the_address_is_used_as_it_is(client, writer, demo_city):  # noqa: F811
    incident = _create(client, writer, location={**FIRE_IN_KEBONSARI, "address": "Kel. Tegalrejo"}).get_json()
    assert (incident["location"]["lat"], incident["location"]["lon"]) == (-7.9705, 112.6450)
    assert incident["routing"]["location_source"] == "given" and "geocode" not in incident["routing"]


def test_a_new_address_places_an_incident_that_had_none_and_the_estimate_is_kept_on_later_changes(client, writer, demo_city):  # noqa: F811
    incident_id = _create(client, writer, category="medical", location={"address": "dekat pasar"}).get_json()["id"]
    placed = client.patch(f"/api/v1/incidents/{incident_id}", json={"location": {"address": "Kel. Tegalrejo, Kota Siaga"}},
                          headers=writer).get_json()
    assert placed["jurisdiction"]["kecamatan"] == "Siaga Selatan" and placed["location"]["lat"] is not None
    assert placed["routing"]["location_source"] == "address" and placed["routing"]["recommended_units"]
    assert placed["routing"]["warnings"][0].startswith("Position estimated from the address")
    recategorised = client.patch(f"/api/v1/incidents/{incident_id}", json={"category": "fire"}, headers=writer).get_json()
    assert (recategorised["location"]["lat"], recategorised["location"]["lon"]) == (placed["location"]["lat"],
                                                                                  placed["location"]["lon"])
    assert recategorised["routing"]["location_source"] == "address"
    assert recategorised["routing"]["warnings"][0] == placed["routing"]["warnings"][0]
    unknown = client.patch(f"/api/v1/incidents/{incident_id}", json={"location": {"address": "Kel. Mawar"}},
                           headers=writer).get_json()
    assert unknown["location"]["lat"] is None and unknown["routing"]["recommended_units"] == []
    assert unknown["routing"]["warnings"][0].startswith("Only an address is known (Kel. Mawar).")


def test_a_new_address_does_not_move_an_incident_placed_from_a_fix(client, writer, demo_city):  # noqa: F811
    incident_id = _create(client, writer).get_json()["id"]
    patched = client.patch(f"/api/v1/incidents/{incident_id}", json={"location": {"address": "Kel. Tegalrejo"}},
                           headers=writer).get_json()
    assert (patched["location"]["lat"], patched["location"]["lon"]) == (-7.9705, 112.6450)
    assert patched["location"]["address"] == "Kel. Tegalrejo" and patched["routing"]["location_source"] == "given"
    assert patched["routing"]["warnings"][0].startswith("The new address did not move the incident: the position given")


def test_units_sent_to_an_estimated_position_are_told_it_is_approximate(client, writer, twilio_recorder, demo_city):  # noqa: F811
    incident_id = _create(client, writer, location={"address": KEBONSARI_ADDRESS}).get_json()["id"]
    client.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"units": ["DAMKAR-01"]}, headers=writer)
    body = next(m["Body"] for m in twilio_recorder.messages if m["To"] == "+6281300000005")  # DAMKAR-01's phone
    assert f"DIKIRIM: {KEBONSARI_ADDRESS} (perkiraan -7.97000,112.64500)" in body


def test_the_incident_page_shows_that_the_position_is_an_estimate(app, client, writer, database, make_user, demo_city):  # noqa: F811
    incident_id = _create(client, writer, location={"address": KEBONSARI_ADDRESS}).get_json()["id"]
    username, _ = make_user("calltaker")
    page = _console_client(app, database, username).get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "-7.970000, 112.645000" in page and KEBONSARI_ADDRESS in page
    assert '<p class="notice">Posisi diperkirakan dari alamat: titik tengah Kelurahan Kebonsari' in page  # in the console's language
