"""The alarm intake every source uses: dedupe, location warnings, routing trouble never loses an alarm."""

from __future__ import annotations

from sqlalchemy import select

from routing.alarms.store import AlarmIntake, RouteMemo, take_alarm, take_alarms
from siaga112.models import Event
from tests.support.alarm_helpers import count_alarms


def intake(**fields) -> AlarmIntake:
    values = {"source": "panel", "kind": "panic", "priority": 9, "category": "crime", "lat": -7.98, "lon": 112.63,
              **fields}
    return AlarmIntake(**values)


def test_the_same_key_twice_in_one_batch_stores_one_alarm(session, runtime, database):
    taken = take_alarms(session, runtime, [intake(dedupe_key="k1"), intake(dedupe_key="k1"), intake(dedupe_key="k2")])
    session.commit()
    assert [t.created for t in taken] == [True, False, True]
    assert taken[0].id == taken[1].id != taken[2].id
    assert count_alarms(database) == 2


def test_a_key_stored_earlier_returns_the_first_alarm(session, runtime):
    first, created = take_alarm(session, runtime, intake(dedupe_key="k9"))
    session.commit()
    again, created_again = take_alarm(session, runtime, intake(dedupe_key="k9", kind="holdup"))
    assert (created, created_again, again.id, again.kind) == (True, False, first.id, "panic")


def test_every_new_alarm_is_announced_to_the_consoles(session, runtime):
    taken = take_alarms(session, runtime, [intake(dedupe_key=f"k{n}") for n in range(3)])
    session.commit()
    announced = [e.payload["id"] for e in session.scalars(select(Event).where(Event.kind == "alarm.new"))]
    assert announced == [t.id for t in taken]


def test_a_routing_failure_is_written_on_the_alarm_which_is_still_stored(session, runtime, monkeypatch):
    from routing import service

    def broken(*args, **kwargs):
        raise RuntimeError("engine down")

    monkeypatch.setattr(service, "route", broken)
    alarm, created = take_alarm(session, runtime, intake())
    assert created and alarm.routing == {"category": "crime", "error": "Routing failed; route this alarm by hand."}


def test_a_category_routing_does_not_know_is_said_and_the_alarm_kept(session, runtime):
    alarm, _ = take_alarm(session, runtime, intake(category="alien_landing"))
    assert alarm.id and "error" in alarm.routing


def test_an_impossible_position_is_kept_as_a_warning_with_what_was_sent(session, runtime):
    alarm, _ = take_alarm(session, runtime, intake(lat=float("nan"), lon=112.6))
    assert alarm.lat is None and alarm.flags["reported_location"]["lat"] == "nan"
    assert "finite" in alarm.flags["location_warning"]


def test_a_route_memo_reuses_a_decision_within_its_lifetime(session, runtime, monkeypatch):
    from routing import service

    calls = []
    real = service.route

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "route", counting)
    memo = RouteMemo(ttl_s=60)
    take_alarms(session, runtime, [intake()], routes=memo)
    take_alarms(session, runtime, [intake()], routes=memo)
    assert calls == ["crime"]
    memo.ttl_s = 0
    take_alarms(session, runtime, [intake()], routes=memo)
    assert calls == ["crime", "crime"]


def test_an_alarm_is_visible_to_others_only_once_the_caller_commits(session, runtime, database):
    take_alarms(session, runtime, [intake(dedupe_key="k1")])
    assert count_alarms(database) == 0  # the receiver acknowledges only after this commit
    session.commit()
    assert count_alarms(database) == 1


def test_a_routing_failure_inside_the_database_does_not_lose_the_alarm(session, runtime, database, monkeypatch):
    from sqlalchemy import text

    from routing import service

    def broken(runtime, session, *args, **kwargs):
        session.execute(text("SELECT * FROM no_such_table"))  # on PostgreSQL this spoils the transaction

    monkeypatch.setattr(service, "route", broken)
    take_alarms(session, runtime, [intake(dedupe_key="k1")])
    session.commit()
    assert count_alarms(database) == 1
