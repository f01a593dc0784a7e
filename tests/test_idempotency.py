"""`Idempotency-Key` on POST: one record however often the same request arrives, even at once."""

from __future__ import annotations

import threading

from siaga112.models import Incident, IdempotencyKey


def test_three_simultaneous_posts_with_one_key_make_one_incident(app, database, make_token):
    headers = {**make_token("incidents:write"), "Idempotency-Key": "ctrl-enter-x3"}
    answers, start = [], threading.Barrier(3)

    def send():
        client = app.test_client()
        start.wait()
        answers.append(client.post("/api/v1/incidents", json={"category": "fire"}, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.get_json()["id"] for a in answers}) == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true", "true"]
    with database.session() as session:
        assert session.query(Incident).count() == 1


def test_a_refused_request_gives_its_key_back(client, database, make_token):
    headers = {**make_token("incidents:write"), "Idempotency-Key": "form-7"}
    refused = client.post("/api/v1/incidents", json={"category": ""}, headers=headers)
    assert refused.status_code == 400
    made = client.post("/api/v1/incidents", json={"category": "fire"}, headers=headers)
    assert made.status_code == 201  # the corrected form, sent with the same key, is made


def test_keys_belong_to_their_principal_and_are_checked(client, database, make_token):
    first = client.post("/api/v1/incidents", json={"category": "fire"},
                        headers={**make_token("incidents:write"), "Idempotency-Key": "same"})
    other = client.post("/api/v1/incidents", json={"category": "fire"},
                        headers={**make_token("incidents:write"), "Idempotency-Key": "same"})
    assert first.get_json()["id"] != other.get_json()["id"]
    bad = client.post("/api/v1/incidents", json={"category": "fire"},
                      headers={**make_token("incidents:write"), "Idempotency-Key": "has space"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_idempotency_key"


def test_old_keys_are_purged(runtime, database, client, make_token):
    from datetime import timedelta

    from siaga112.db import utcnow
    from siaga112.idempotency import purge

    client.post("/api/v1/incidents", json={"category": "fire"},
                headers={**make_token("incidents:write"), "Idempotency-Key": "old"})
    with database.session() as session:
        session.query(IdempotencyKey).update({"created_at": utcnow() - timedelta(hours=25)})
    assert purge(runtime) == 1
