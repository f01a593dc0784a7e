"""Transcripts found by their words on the recordings page; the call view's words that gave the category
and a place from the caller's words, offered and never the location until confirmed."""

from __future__ import annotations

from siaga112.models import Call, LocationFix, Recording
from tests.support.console_client import csrf_token, sign_in


def test_recordings_are_found_by_words_of_their_transcript_in_any_case(client, database):
    with database.session() as session:
        for uniqueid, transcript in [("a", "Tolong, ada KEBAKARAN di pasar besar"), ("b", "kebakaran di sukun"),
                                     ("c", "ada kecelakaan motor"), ("d", None), ("e", "100% benar_salah")]:
            call = Call(uniqueid=uniqueid, caller="+6281234567890", state="completed")
            session.add(call)
            session.flush()
            session.add(Recording(call_id=call.id, kind="statement", path=f"/{uniqueid}.wav", state="ok",
                                  transcript=transcript, transcript_status="done" if transcript else "pending"))
    sign_in(client, database, "supervisor")

    def found(words: str) -> int:
        page = client.get("/supervisor/recordings", query_string={"words": words}).get_data(as_text=True)
        return page.count("<tr data-recording=")

    assert found("kebakaran") == 2
    assert found("Kebakaran PASAR") == 1  # every word, anywhere
    assert found("motor kecelakaan") == 1
    assert found("banjir") == 0
    assert found("a_a") == 0 and found("benar_salah") == 1  # LIKE's wildcards are text
    assert found("") == 5


def test_the_call_shows_the_words_that_gave_its_category_and_offers_the_place_named(client, database):
    with database.session() as session:
        call = Call(uniqueid="s1", caller="+6281234567890", state="queued", category_hint="fire")
        session.add(call)
        session.flush()
        session.add(Recording(call_id=call.id, kind="statement", path="/s1.wav", state="ok",
                              transcript="anak kemakaran dekat pasar besar", transcript_status="done",
                              transcript_keywords=[{"category": "fire", "keyword": "kebakaran", "heard": "kemakaran",
                                                    "how": "sound", "score": 88.9}],
                              transcript_places=[{"kind": "landmark", "text": "pasar besar"}]))
        session.add(LocationFix(call_id=call.id, source="speech", lat=-7.975, lon=112.615, accuracy_m=50.0,
                                detail={"note": "Pasar Besar, Kota Malang", "offered": True}))
        call_id = call.id
    sign_in(client, database, "calltaker")

    detail = client.get(f"/api/v1/console/calls/{call_id}").get_json()

    assert detail["statement"]["keywords"] == [{"category": "fire", "keyword": "kebakaran", "heard": "kemakaran",
                                                "how": "sound", "score": 88.9}]
    assert detail["statement"]["places"] == [{"kind": "landmark", "text": "pasar besar"}]
    assert [(f["source"], f["accuracy_m"], f["note"]) for f in detail["fixes"]] == [
        ("speech", 50.0, "Pasar Besar, Kota Malang")]
    assert detail["location"] is None  # offered, not taken
    page = client.get(f"/calls/{call_id}").get_data(as_text=True)
    assert 'id="call-keywords"' in page and "Kata yang memberi kategori:" in page

    fix_id = detail["fixes"][0]["id"]
    confirmed = client.post(f"/api/v1/console/calls/{call_id}/confirm-fix", json={"fix_id": fix_id},
                            headers={"X-CSRFToken": csrf_token(client, "/")})
    assert confirmed.status_code == 200
    assert confirmed.get_json()["location"] == {"lat": -7.975, "lon": 112.615, "accuracy_m": 50.0, "source": "speech"}

