"""Advanced Mobile Location: parsing both forms, refusing bad fields, matching to the caller's call."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from ivr.aml import AmlError, parse_https, parse_sms
from ivr.asterisk_peer import Caller, Channel
from siaga112.models import AmlMessage
from tests.ivr.conftest import fixes_of, only_call
from tests.support.data import shared_file

SENDER = "+6281234567890"
VALID_SMS = ('A"ML=1;lt=+54.76397;lg=-0.18305;rd=50;top=20130717141935;lc=90;pm=W;'
             'si=123456789012345;ei=1234567890123456;mcc=234;mnc=30;ml=128')


def samples() -> dict:
    return json.loads(shared_file("messages/aml_samples.json").read_text())


def gridgears_cases():
    try:
        cases = samples()["gridgears_sms_v1_cases"]
    except BaseException:  # no shared data: the test using it is skipped with the reason
        return [pytest.param(None, id="no-shared-data")]
    return [pytest.param(case, id=case["id"]) for case in cases]


# What makes the position wrong refuses the message (coordinates, accuracy, time); a fault that
# leaves it sound keeps the message, with a warning the call view shows. The reference parser
# refuses these whole; we keep the handset's position.
KEPT_WITH_A_WARNING = {
    "gridgears-invalidMessageLength": "ml says 10",
    "gridgears-unknownAttribute": "unknown AML field 'kl'",
    "gridgears-unknownPositioningMethod": "pm (positioning method) 'Z'",
    "gridgears-invalidLevelOfConfidence": "lc (confidence)",
    "gridgears-invalidAttributePair": "not of the form key=value",
    "gridgears-invalidAttribute": "not of the form key=value",
}
REFUSED = {"gridgears-incorrectDateFormat": "top", "gridgears-invalidLatitude": "lt"}


@pytest.mark.parametrize("case", gridgears_cases())
def test_sms_form_refuses_only_what_makes_the_position_wrong(case):
    if case is None:
        shared_file("messages/aml_samples.json")
    if case["id"] in REFUSED:
        with pytest.raises(AmlError, match=REFUSED[case["id"]]):
            parse_sms(case["sms_text"], SENDER)
        return
    report = parse_sms(case["sms_text"], SENDER)
    assert report.caller == SENDER
    if case["id"] in KEPT_WITH_A_WARNING:
        assert KEPT_WITH_A_WARNING[case["id"]] in " | ".join(report.warnings)
        assert (report.lat, report.lon) == (54.76397, -0.18305)
    else:
        assert case["expected_by_test"] == "parses" and report.warnings == []


def test_sms_form_reads_position_radius_time_and_method():
    report = parse_sms(VALID_SMS, "081234567890")
    assert (report.lat, report.lon, report.accuracy_m) == (54.76397, -0.18305, 50.0)
    assert report.observed_at == datetime(2013, 7, 17, 14, 19, 35, tzinfo=timezone.utc)
    assert (report.positioning_method, report.version, report.caller) == ("wifi", 1, SENDER)


def test_sms_form_with_no_location_is_valid_but_has_no_fix():
    case = next(c for c in samples()["gridgears_sms_v1_cases"] if c["id"].endswith("NoLocation"))
    report = parse_sms(case["sms_text"], SENDER)
    assert not report.has_location


def test_sms_form_version_2_reads_the_lo_field():
    case = next(c for c in samples()["aml_lib_cases"] if c["id"] == "aml-lib-from_text_sms_v2")
    report = parse_sms(case["sms_text"], SENDER)
    assert (report.lat, report.lon, report.accuracy_m, report.version) == (-37.42175, -122.08461, 2000.1, 2)


@pytest.mark.parametrize("case_id", ["aml-lib-from_https", "aml-lib-authenticate"])
def test_https_form_reads_the_device_number_and_position(case_id):
    case = next(c for c in samples()["aml_lib_cases"] if c["id"] == case_id)
    report = parse_https(case["https_post_body_form_urlencoded"])
    assert report.has_location and report.caller.startswith("+")
    assert report.positioning_method == "gnss" and report.accuracy_m == 10.4


@pytest.mark.parametrize("text, why", [
    (VALID_SMS.replace("lt=+54.76397", "lt=+95.00000").replace("ml=128", "ml=128"), "out of range"),
    (VALID_SMS.replace("top=20130717141935", "top=20991231235959"), "future"),
    (VALID_SMS.replace("top=20130717141935", "top=20131317141935"), "real time"),
    (VALID_SMS.replace("rd=50", "rd=-5"), "rd .radius. -5 is out of range"),
    (VALID_SMS.replace("lg=-0.18305", "lg=-0.18e05"), "lg"),
    (VALID_SMS + ";lt=+1.0", "twice"),
    ("", "empty"),
    ("x" * 5000, "longer"),
])
def test_sms_form_with_a_wrong_position_accuracy_or_time_is_refused_whole(text, why):
    with pytest.raises(AmlError, match=why):
        parse_sms(text, SENDER)


@pytest.mark.parametrize("sender", [None, "", "abc", "<script>"])
def test_sms_form_without_a_usable_sender_is_refused(sender):
    with pytest.raises(AmlError, match="sender"):
        parse_sms(VALID_SMS, sender)


@pytest.mark.parametrize("body, why", [
    ("v=1&location_latitude=1&location_longitude=2", "device_number"),
    ("v=1&device_number=%2B6281234567890&location_latitude=north&location_longitude=2", "location_latitude"),
    ("v=1&device_number=%2B6281234567890&location_latitude=1&location_longitude=2&location_time=99999999999999",
     "future"),
    ("v=1&device_number=%2B6281234567890&device_number=%2B6281234567891", "twice"),
    ("v=1&device_number=%2B6281234567890&location_latitude=1&location_longitude=2&location_accuracy=-3", "accuracy"),
    ("not a form", "form"),
])
def test_https_form_with_a_bad_field_is_refused_whole(body, why):
    with pytest.raises(AmlError, match=why):
        parse_https(body)


def aml_count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(AmlMessage))


def test_aml_before_the_call_is_kept_and_attached_when_the_call_arrives(client, make_token, place_call, database):
    response = client.post(f"/api/v1/aml?from={SENDER}", data=VALID_SMS, content_type="text/plain",
                           headers=make_token("aml:write"))
    assert response.status_code == 202 and response.get_json() == {"matched_call_id": None, "warnings": []}

    place_call(Channel(caller_id=SENDER), Caller())

    call = only_call(database)
    [fix] = fixes_of(database, call.id)
    assert (fix.source, fix.lat, fix.lon, fix.accuracy_m) == ("aml", 54.76397, -0.18305, 50.0)


def test_aml_during_the_call_is_matched_to_it_at_once(client, make_token, place_call, database):
    record = place_call(Channel(caller_id="+447477593102"), Caller())
    case = next(c for c in samples()["aml_lib_cases"] if c["id"] == "aml-lib-from_https")

    response = client.post("/api/v1/aml", data=case["https_post_body_form_urlencoded"],
                           content_type="application/x-www-form-urlencoded", headers=make_token("aml:write"))

    call_id = int(record.value("SIAGA_CALL_ID"))
    assert response.status_code == 202 and response.get_json() == {"matched_call_id": call_id, "warnings": []}
    [fix] = fixes_of(database, call_id)
    assert (fix.source, fix.lat, fix.lon, fix.accuracy_m) == ("aml", 55.85732, -4.26325, 10.4)


def test_aml_for_an_unknown_number_is_kept_unmatched(client, make_token, database):
    response = client.post("/api/v1/aml?from=+6289999999999", data=VALID_SMS, content_type="text/plain",
                           headers=make_token("aml:write"))
    assert response.get_json() == {"matched_call_id": None, "warnings": []}
    assert aml_count(database) == 1


def test_aml_samples_with_a_wrong_position_or_time_are_answered_400_and_nothing_is_stored(client, make_token, database):
    headers = make_token("aml:write")
    invalid = [c for c in samples()["gridgears_sms_v1_cases"] if c["id"] in REFUSED]
    assert len(invalid) == len(REFUSED)
    for case in invalid:
        response = client.post(f"/api/v1/aml?from={SENDER}", data=case["sms_text"], content_type="text/plain",
                               headers=headers)
        assert response.status_code == 400, case["id"]
        assert response.get_json()["error"]["code"] == "invalid_aml"
    assert aml_count(database) == 0


def test_aml_needs_the_aml_write_scope(client, make_token, database):
    # Without a bearer token the request is a cookie client's, refused before the view (CSRF).
    assert client.post("/api/v1/aml", data=VALID_SMS, content_type="text/plain").status_code in (400, 401)
    response = client.post("/api/v1/aml", data=VALID_SMS, content_type="text/plain", headers=make_token("calls:read"))
    assert response.status_code == 403
    assert aml_count(database) == 0


def test_aml_in_another_media_type_is_refused(client, make_token):
    response = client.post("/api/v1/aml", json={"lat": 1}, headers=make_token("aml:write"))
    assert response.status_code == 415


@pytest.mark.parametrize("text, warning", [
    (VALID_SMS.replace("ml=128", "ml=12"), "ml says 12 characters but the message has 127"),
    (VALID_SMS.replace("ml=128", "ml=12x"), "whole number"),
    (VALID_SMS.replace("lc=90", "lc=900").replace("ml=128", "ml=129"), "lc (confidence) 900 is out of range"),
    (VALID_SMS.replace("ei=1234567890123456", "ei=12ab"), "ei must be"),
    (VALID_SMS.replace('A"ML=1', 'A"ML=7'), "version 7 is newer"),
])
def test_sms_form_with_a_fault_that_leaves_the_position_sound_is_kept_with_a_warning(text, warning):
    report = parse_sms(text, SENDER)
    assert report.has_location and (report.lat, report.lon) == (54.76397, -0.18305)
    assert any(warning in w for w in report.warnings), report.warnings


def test_https_form_with_an_unknown_version_is_kept_with_a_warning():
    case = next(c for c in samples()["aml_lib_cases"] if c["id"] == "aml-lib-from_https")
    report = parse_https(case["https_post_body_form_urlencoded"].replace("v=1", "v=3"))
    assert (report.lat, report.lon, report.accuracy_m, report.version) == (55.85732, -4.26325, 10.4, None)
    assert report.warnings == ["v (version) '3' is not 1 or 2; its fields were read as version 1"]


def test_a_kept_aml_with_a_wrong_length_reaches_the_call_marked_for_the_call_view(
        client, make_token, place_call, database):
    text = VALID_SMS.replace("ml=128", "ml=10")
    response = client.post(f"/api/v1/aml?from={SENDER}", data=text, content_type="text/plain",
                           headers=make_token("aml:write"))
    assert response.status_code == 202
    assert response.get_json()["warnings"] == ["ml says 10 characters but the message has 127"]
    place_call(Channel(caller_id=SENDER), Caller())
    call = only_call(database)
    fix = fixes_of(database, call.id)[0]
    assert (fix.lat, fix.lon) == (54.76397, -0.18305)
    assert fix.detail["warnings"] == ["ml says 10 characters but the message has 127"]
    from tests.support.console_client import sign_in

    console = client.application.test_client()
    sign_in(console, database, "calltaker")
    shown = console.get(f"/api/v1/console/calls/{call.id}").get_json()["fixes"][0]
    assert shown["warnings"] == ["ml says 10 characters but the message has 127"]
