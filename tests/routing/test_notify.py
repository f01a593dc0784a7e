"""Dispatch SMS: failures are shown, retried with growing gaps, and given up on when hopeless."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from routing import notify
from siaga112.db import utcnow
from siaga112.models.incidents import Notification


@pytest.fixture
def dispatched(client, make_token, twilio_recorder, demo_city):  # noqa: F811
    """Dispatch DAMKAR-02 (no phone) to a fire, with the gateway failing the first send."""
    writer = make_token("incidents:write")
    incident_id = client.post("/api/v1/incidents", json={"category": "fire", "location": {"lat": -7.97, "lon": 112.64}},
                              headers=writer).get_json()["id"]

    def go(failures: int = 1, status: int = 500, code: int = 20500):
        twilio_recorder.fail_next(failures, status=status, code=code)
        response = client.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"units": ["DAMKAR-02"]}, headers=writer)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return go


def _time_passes(database) -> None:
    """Make every scheduled retry due now, as if its wait were over."""
    with database.session() as session:
        for notification in session.scalars(select(Notification).where(Notification.next_attempt_at.is_not(None))):
            notification.next_attempt_at = utcnow() - timedelta(seconds=1)


def test_a_failed_send_is_shown_on_the_incident_and_sent_by_the_retry_job(dispatched, runtime, database, twilio_recorder):  # noqa: F811
    incident = dispatched(failures=1, status=503)
    failed = [n for n in incident["notifications"] if n["state"] == "failed"]
    assert len(failed) == 1 and "HTTP 503" in failed[0]["last_error"] and failed[0]["attempts"] == 1
    assert failed[0]["gave_up"] is False and failed[0]["next_attempt_at"]
    assert notify.retry_due(runtime) == 0  # not due yet: waits its backoff
    _time_passes(database)
    assert notify.retry_due(runtime) == 1
    with database.session() as session:
        states = {(n.recipient, n.state, n.attempts) for n in session.scalars(select(Notification))}
    assert {s[1] for s in states} == {"sent"}
    assert max(s[2] for s in states) == 2
    bodies = [m["Body"] for m in twilio_recorder.messages]
    assert len(bodies) == 3 and bodies[0] == bodies[2]  # the same message, sent again


def test_retries_wait_longer_each_time_and_stop_after_the_last_attempt(dispatched, runtime, database, twilio_recorder):  # noqa: F811
    dispatched(failures=100, status=500)  # the gateway stays down
    gaps = []
    for _ in range(notify.MAX_ATTEMPTS - 1):
        with database.session() as session:
            first = session.scalar(select(Notification).order_by(Notification.id).limit(1))
            gaps.append(first.next_attempt_at - utcnow())
        _time_passes(database)
        notify.retry_due(runtime)
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:4]))
    with database.session() as session:
        for hopeless in session.scalars(select(Notification)):
            assert (hopeless.state, hopeless.attempts, hopeless.next_attempt_at) == ("failed", notify.MAX_ATTEMPTS, None)
    _time_passes(database)
    assert notify.retry_due(runtime) == 0


def test_a_number_twilio_rejects_is_not_retried(dispatched, runtime, database):
    incident = dispatched(failures=1, status=400, code=21211)
    failed = [n for n in incident["notifications"] if n["state"] == "failed"][0]
    assert failed["gave_up"] is True and "code 21211" in failed["last_error"]


def test_without_twilio_settings_sends_fail_with_that_reason_and_wait_for_a_retry(client, make_token, runtime, demo_city):  # noqa: F811
    writer = make_token("incidents:write")
    incident_id = client.post("/api/v1/incidents", json={"category": "crime", "location": {"lat": -7.97, "lon": 112.64}},
                              headers=writer).get_json()["id"]
    incident = client.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"units": ["POL-01"]}, headers=writer).get_json()
    assert incident["status"] == "dispatched"  # the dispatch stands; only the SMS waits
    assert {n["state"] for n in incident["notifications"]} == {"failed"}
    assert all("not configured" in n["last_error"] and not n["gave_up"] for n in incident["notifications"])


def test_backoff_doubles_up_to_fifteen_minutes():
    assert [notify.retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 9)] == [30, 60, 120, 240, 900]
