"""Open311 GeoReport v2: services, reports routed to the agency, their status visible to the reporter."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from siaga112.models import Reporter, ServiceRequest


def report(client, **fields):
    form = {"service_code": "fallen_tree", "lat": "-7.9666", "long": "112.6326",
            "description": "Pohon besar tumbang menutup jalan", "phone": "081233334444", "first_name": "Budi",
            **fields}
    return client.post("/open311/v2/requests.json", data={k: v for k, v in form.items() if v is not None})


def count_reports(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(ServiceRequest))


def test_services_list_the_non_emergency_reports_we_take(client):
    services = client.get("/open311/v2/services.json").get_json()
    codes = {s["service_code"] for s in services}
    assert {"fallen_tree", "power_outage", "road_damage", "public_order", "flood"} <= codes
    assert all(s["type"] == "realtime" and s["metadata"] is False for s in services)


@pytest.mark.parametrize("code, agency", [("fallen_tree", "DLH"), ("power_outage", "PLN"),
                                          ("road_damage", "PUPR"), ("public_order", "Satpol PP")])
def test_a_report_is_routed_to_the_agency_responsible(client, code, agency):
    response = report(client, service_code=code)
    assert response.status_code == 201
    [created] = response.get_json()
    assert agency in created["agency_responsible"]
    [shown] = client.get(f"/open311/v2/requests/{created['service_request_id']}.json").get_json()
    assert (shown["status"], shown["service_code"], shown["lat"], shown["long"]) == ("open", code, -7.9666, 112.6326)
    assert agency in shown["agency_responsible"]


def test_the_reporter_sees_the_status_change_when_the_report_is_closed(client, make_token):
    request_id = report(client).get_json()[0]["service_request_id"]
    closed = client.patch(f"/api/v1/reports/{request_id}", headers=make_token("incidents:write"),
                          json={"status": "closed", "outcome": "confirmed", "status_notes": "DLH removed the tree"})
    assert closed.status_code == 200
    [shown] = client.get(f"/open311/v2/requests/{request_id}.json").get_json()
    assert (shown["status"], shown["status_notes"]) == ("closed", "DLH removed the tree")


def test_a_confirmed_report_earns_a_point_and_a_false_one_a_strike(client, make_token, database):
    headers = make_token("incidents:write")
    first = report(client).get_json()[0]["service_request_id"]
    second = report(client).get_json()[0]["service_request_id"]
    client.patch(f"/api/v1/reports/{first}", headers=headers, json={"status": "closed", "outcome": "confirmed"})
    client.patch(f"/api/v1/reports/{second}", headers=headers, json={"status": "closed", "outcome": "false_report"})
    client.patch(f"/api/v1/reports/{second}", headers=headers, json={"status": "closed", "outcome": "false_report"})
    with database.session() as session:
        reporter = session.scalar(select(Reporter).where(Reporter.phone == "+6281233334444"))
        assert (reporter.points, reporter.strikes) == (1, 1)


def test_requests_can_be_listed_by_id_and_status(client, make_token):
    a = report(client).get_json()[0]["service_request_id"]
    b = report(client, service_code="power_outage").get_json()[0]["service_request_id"]
    client.patch(f"/api/v1/reports/{a}", headers=make_token("incidents:write"), json={"status": "closed"})
    by_ids = client.get(f"/open311/v2/requests.json?service_request_id={a},{b}").get_json()
    assert {r["service_request_id"] for r in by_ids} == {a, b}
    open_only = client.get("/open311/v2/requests.json?status=open").get_json()
    assert [r["service_request_id"] for r in open_only] == [b]


def test_the_public_listing_shows_no_reporter_contact(client):
    report(client)
    [shown] = client.get("/open311/v2/requests.json").get_json()
    assert "081233334444" not in str(shown) and "+6281233334444" not in str(shown) and "Budi" not in str(shown)


def test_an_address_without_coordinates_is_taken_and_an_anonymous_report_too(client):
    response = report(client, lat=None, long=None, address_string="Jl. Ijen 25, Malang", phone=None)
    assert response.status_code == 201
    [shown] = client.get(f"/open311/v2/requests/{response.get_json()[0]['service_request_id']}.json").get_json()
    assert (shown["address"], shown["lat"], shown["long"]) == ("Jl. Ijen 25, Malang", None, None)  # no places loaded


def test_a_report_with_only_an_address_is_placed_and_routed_from_the_place_it_names(client, database, demo_city):
    response = report(client, lat=None, long=None, address_string="Jl. Melati 3, Kel. Tegalrejo, Kota Siaga")
    assert response.status_code == 201
    request_id = response.get_json()[0]["service_request_id"]
    [shown] = client.get(f"/open311/v2/requests/{request_id}.json").get_json()
    assert (shown["lat"], shown["long"]) == (pytest.approx(-7.99), pytest.approx(112.615))
    with database.session() as session:
        routing = session.get(ServiceRequest, int(request_id)).routing
    assert routing["location_source"] == "address" and routing["location_accuracy_m"] > 0
    assert routing["jurisdiction"]["kelurahan"] == "Tegalrejo"
    assert routing["warnings"][0].startswith("Position estimated from the address: the centre of Kelurahan Tegalrejo")


@pytest.mark.parametrize("fields, code", [
    ({"service_code": "alien_landing"}, "invalid_service_code"),
    ({"lat": "0", "long": "0"}, "invalid_location"),
    ({"lat": "-95", "long": "112.6"}, "invalid_location"),
    ({"lat": None, "long": None}, "missing_location"),
    ({"phone": "not a phone"}, "invalid_phone"),
])
def test_bad_reports_are_refused_with_an_open311_error_and_not_stored(client, database, fields, code):
    response = report(client, **fields)
    assert response.status_code == 400
    [error] = response.get_json()
    assert error["code"] == 400 and error["description"]
    assert count_reports(database) == 0


def test_an_unknown_request_id_is_404_in_the_open311_form(client):
    response = client.get("/open311/v2/requests/12345.json")
    assert response.status_code == 404 and response.get_json()[0]["code"] == 404


def test_closing_a_report_needs_the_incidents_scope(client, make_token):
    request_id = report(client).get_json()[0]["service_request_id"]
    response = client.patch(f"/api/v1/reports/{request_id}", headers=make_token("alarms:write"),
                            json={"status": "closed"})
    assert response.status_code == 403
