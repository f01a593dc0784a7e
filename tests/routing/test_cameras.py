"""CCTV cameras: listed for the console, nearest first around an incident."""

from __future__ import annotations



def test_cameras_near_a_point_are_listed_nearest_first_within_the_radius(client, make_token, demo_city):  # noqa: F811
    reader = make_token("incidents:write")
    response = client.get("/api/v1/cameras?near=-7.9800,112.6310&radius_m=1500", headers=reader)
    assert response.status_code == 200
    cameras = response.get_json()["cameras"]
    assert [c["name"] for c in cameras] == ["CCTV Alun-alun Kota Siaga"]
    assert cameras[0]["distance_m"] < 150 and cameras[0]["stream_url"].startswith("rtsp://")


def test_every_camera_is_listed_by_name_with_its_urls(client, make_token, demo_city):  # noqa: F811
    cameras = client.get("/api/v1/cameras", headers=make_token("incidents:write")).get_json()["cameras"]
    assert len(cameras) == 3
    terminal = next(c for c in cameras if c["name"] == "CCTV Terminal Tegalrejo")
    assert terminal["stream_url"] is None and terminal["snapshot_url"].endswith(".jpg")


def test_a_new_camera_appears_in_the_next_routing_decision(cli_runner, runtime, session, demo_city):  # noqa: F811
    from routing.service import route

    before = route(runtime, session, "crime", -7.9990, 112.6590)
    assert before["cameras"] == []  # nothing within 2 km of the south-east corner
    result = cli_runner.invoke(["camera", "add", "CCTV Pojok", "--lat", "-7.9985", "--lon", "112.6585",
                                "--stream-url", "https://cctv.example/pojok.m3u8"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    after = route(runtime, session, "crime", -7.9990, 112.6590)
    assert [c["name"] for c in after["cameras"]] == ["CCTV Pojok"]
