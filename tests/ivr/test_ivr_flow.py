"""The `ivr` path end to end: the real FastAGI server, a faithful Asterisk peer, the database."""

from __future__ import annotations

from sqlalchemy import select

from ivr import channel_vars as var
from ivr.asterisk_peer import Caller, Channel, HangUp, Press
from ivr.priority import BASE, POINTS
from siaga112.models import Recording, Reporter
from tests.ivr.conftest import call_row, events_of, only_call


def recordings_of(database, call_id):
    with database.session() as session:
        return {r.kind: r for r in session.scalars(select(Recording).where(Recording.call_id == int(call_id)))}


def test_key_pressed_during_the_prompt_chooses_the_service_and_queues_the_call(place_call, database, speech_wav, hook_log):
    record = place_call(Channel(caller_id="081234567890", caller_name="Budi Santoso"),
                        Caller(presses=[Press("3", during="choose_service", after=0.1)], speech=speech_wav))

    assert record.agi_status == "SUCCESS"
    call = only_call(database)
    assert (call.state, call.service_choice, call.caller, call.caller_name) == \
        ("queued", "medical", "+6281234567890", "Budi Santoso")
    assert call.queued_at is not None and call.ivr_step == "connect" and call.ivr_error is None
    assert record.value(var.SIAGA_CALL_ID) == str(call.id)
    assert record.value(var.QUEUE_PRIO) == str(call.priority) == str(BASE + POINTS["service_choice"])
    assert record.value(var.SIAGA_SERVICE) == "medical"
    # The key ended the prompt: no separate wait for a key was needed.
    assert not any(c.startswith("WAIT FOR DIGIT") for c in record.commands)
    assert [e.payload["id"] for e in events_of(database, "call.queued")] == [call.id]
    files = recordings_of(database, call.id)
    assert set(files) == {"full", "statement"} and files["statement"].state == "expected"
    assert [r.path for r in record.recordings] == [__import__("pathlib").Path(files["statement"].path)]
    assert [kind for kind, _id, _path in hook_log.statements] == ["started", "ended"]


def test_no_key_is_no_choice_and_the_call_is_queued_all_the_same(place_call, database, speech_wav):
    record = place_call(Channel(), Caller(speech=speech_wav))

    call = only_call(database)
    assert (call.state, call.service_choice, call.silent) == ("queued", None, False)
    assert any(c.startswith("WAIT FOR DIGIT") for c in record.commands)
    assert record.value(var.QUEUE_PRIO) == str(BASE)
    assert record.value(var.SIAGA_SERVICE) is None


def test_silent_caller_pressing_5_twice_is_a_silent_emergency_with_higher_priority(place_call, database):
    record = place_call(Channel(), Caller(presses=[Press("55", during="silent_check")]))

    call = only_call(database)
    assert (call.state, call.silent, call.silent_emergency) == ("queued", True, True)
    assert call.priority == BASE + POINTS["silent_emergency"]
    assert "siaga112/id/silent_confirmed" in record.played


def test_silent_caller_who_presses_nothing_is_queued_marked_silent(place_call, database):
    record = place_call(Channel(), Caller())

    call = only_call(database)
    assert (call.state, call.silent, call.silent_emergency, call.priority) == ("queued", True, False, BASE)
    assert "siaga112/id/silent_check" in record.played
    assert record.value(var.QUEUE_PRIO) == str(BASE)


def test_hang_up_before_the_first_command_leaves_an_abandoned_call_at_answer(place_call, database):
    record = place_call(Channel(), Caller(hangup=HangUp(during="start")))

    assert record.agi_status == "HANGUP"
    call = only_call(database)
    assert (call.state, call.ivr_step) == ("abandoned", "answer")
    assert call.ended_at is not None and call.queued_at is None
    assert [e.payload["state"] for e in events_of(database, "call.ended")] == ["abandoned"]


def test_hang_up_during_the_welcome_prompt_leaves_an_abandoned_call_at_greet(place_call, database):
    place_call(Channel(), Caller(hangup=HangUp(during="welcome", after=0.2)))

    call = only_call(database)
    assert (call.state, call.ivr_step) == ("abandoned", "greet")


def test_hang_up_during_the_statement_keeps_the_partial_recording_on_record(place_call, database, speech_wav, hook_log):
    record = place_call(Channel(), Caller(speech=speech_wav, hangup=HangUp(during="record", after=1.0)))

    call = only_call(database)
    assert (call.state, call.ivr_step) == ("abandoned", "record_statement")
    assert record.recordings[0].stopped_by == "hangup"
    assert "statement" in recordings_of(database, call.id)
    assert [kind for kind, _id, _path in hook_log.statements] == ["started", "ended"]


def test_prank_flagged_number_hears_a_warning_and_is_queued_lower(place_call, database, speech_wav):
    with database.session() as session:
        session.add(Reporter(phone="+6281234567890", strikes=2))
    record = place_call(Channel(caller_id="+6281234567890"), Caller(speech=speech_wav))

    call = only_call(database)
    assert (call.state, call.prank_suspect) == ("queued", True)
    assert call.priority < BASE
    assert "siaga112/id/prank_warning" in record.played
    assert record.value(var.QUEUE_PRIO) == str(call.priority)


def test_blocked_number_is_still_queued(place_call, database, speech_wav):
    with database.session() as session:
        session.add(Reporter(phone="+6285712345678", blocked=True, strikes=3))
    record = place_call(Channel(caller_id="+6285712345678"), Caller(speech=speech_wav))

    assert only_call(database).state == "queued"
    assert record.value(var.QUEUE_PRIO) is not None


def test_repeat_call_from_the_same_number_raises_the_priority(place_call, database, speech_wav):
    first = place_call(Channel(caller_id="+6281234567890"), Caller(speech=speech_wav))
    second = place_call(Channel(caller_id="+6281234567890"), Caller(speech=speech_wav))

    earlier, later = call_row(database, first.value(var.SIAGA_CALL_ID)), call_row(database, second.value(var.SIAGA_CALL_ID))
    assert later.repeat_count == 1
    assert later.priority == earlier.priority + POINTS["repeat_call"]


def test_withheld_number_is_queued_without_a_caller(place_call, database, speech_wav):
    record = place_call(Channel(caller_id=None), Caller(speech=speech_wav))

    call = only_call(database)
    assert (call.state, call.caller, call.caller_name, call.repeat_count) == ("queued", None, None, 0)
    assert record.value(var.QUEUE_PRIO) == str(BASE)


def test_statement_is_recorded_into_the_recordings_folder(place_call, database, speech_wav, settings):
    record = place_call(Channel(), Caller(speech=speech_wav))

    path = record.recordings[0].path
    assert str(path).startswith(settings.recordings_dir) and path.exists()
    assert f"RECORD FILE {path.with_suffix('')} wav" in " ".join(record.commands)
    assert any(c.endswith(f"s={settings.statement_silence_seconds}") for c in record.commands)


def test_calls_in_the_ivr_when_the_server_stops_are_stored_queued(runtime, database, monkeypatch):
    import asyncio

    from ivr import server
    from ivr.asterisk_peer import AsteriskPeer, Sounds
    from ivr.server import AgiService

    monkeypatch.setattr(server, "STOP_GRACE_SECONDS", 0.2)
    service = AgiService(runtime)
    service.start()

    async def main():
        # A real-time caller still listening to the prompts when the server is told to stop.
        caller = AsteriskPeer("127.0.0.1", service.port, Channel(), Caller(), realtime=True,
                              sounds=Sounds(dirs=[], missing_length=8000 * 2), timeout=10)
        running = asyncio.ensure_future(caller.run())
        while not any(c.startswith("STREAM FILE") for c in caller.record.commands):
            await asyncio.sleep(0.01)
        await asyncio.get_running_loop().run_in_executor(None, service.stop)
        return await running

    record = asyncio.run(main())
    call = only_call(database)
    assert call.state == "queued" and call.ivr_step in ("greet", "choose_service")
    assert "stopped" in call.ivr_error
    assert record.value(var.SIAGA_CALL_ID) == str(call.id)
