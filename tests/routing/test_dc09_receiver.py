"""The DC-09 receiver over real sockets: stored before ACK, retransmissions once, refusals as DC-09 says."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from routing.alarms.dc09 import build_frame
from siaga112.models import Alarm, AlarmSite, Event
from tests.support.alarm_helpers import KEY, Panel, add_site, count_alarms, read_reply
from tests.support.data import shared_file


def test_a_panic_frame_is_acknowledged_after_a_top_priority_alarm_at_the_site_is_stored(database, receiver):
    site_id = add_site(database, account="1234")
    with Panel(receiver.port) as panel:
        assert panel.send(build_frame("1234", "Nri1/PA15", sequence=1)) == "ACK"
        with database.session() as session:  # the ACK has arrived: the alarm must already be there
            alarm = session.scalar(select(Alarm))
            assert (alarm.source, alarm.kind, alarm.priority, alarm.site_id) == ("panel", "panic", 9, site_id)
            assert (alarm.lat, alarm.lon) == (-7.9797, 112.6304)
            assert [a["code"] for a in alarm.routing["agencies"]] == ["police"]
            assert session.scalar(select(Event).where(Event.kind == "alarm.new")).payload["id"] == alarm.id


def test_a_retransmitted_frame_is_stored_once_and_acknowledged_again(database, receiver):
    add_site(database, account="1234")
    frame = build_frame("1234", "1120 01 015", sequence=3, message_type="ADM-CID")
    with Panel(receiver.port) as panel:
        assert panel.send(frame) == "ACK"
    with Panel(receiver.port) as panel:  # the panel missed the ACK, reconnects and resends
        assert panel.send(frame) == "ACK"
    assert count_alarms(database) == 1
    assert receiver.counts.retransmissions == 1


def test_the_same_sequence_with_new_content_is_a_new_alarm(database, receiver):
    add_site(database, account="1234")
    with Panel(receiver.port) as panel:
        assert panel.send(build_frame("1234", "Nri1/PA15", sequence=5)) == "ACK"
        assert panel.send(build_frame("1234", "Nri2/HA03", sequence=5)) == "ACK"
    assert count_alarms(database) == 2


def test_duress_by_contact_id_121_from_an_encrypted_account_becomes_a_holdup_alarm(database, receiver):
    add_site(database, account="1111", key=KEY)
    with Panel(receiver.port) as panel:
        reply = panel.send_raw(build_frame("1111", "1121 01 003", sequence=9, message_type="ADM-CID", key=KEY))
    assert b'"*ACK"0009' in reply
    assert count_alarms(database, kind="holdup", priority=9) == 1


def test_frames_with_the_wrong_key_an_unknown_account_or_a_stale_time_store_nothing(database, receiver):
    add_site(database, account="1111", key=KEY)
    stale = datetime.now(timezone.utc) - timedelta(minutes=5)
    with Panel(receiver.port) as panel:
        assert panel.send(build_frame("1111", "Nri1/PA15", key="BBBBBBBBBBBBBBBB")) == "NAK"
        assert panel.send(build_frame("7777", "Nri1/PA15")) == "DUH"
        assert panel.send(build_frame("1111", "Nri1/PA15", key=KEY, at=stale)) == "NAK"
        assert panel.send(build_frame("1111", "Nri1/PA15")) == "DUH"  # plain text for an encrypted account
        assert panel.send(build_frame("1111", "Nri1/PA15", key=KEY)) == "ACK"  # the connection still works
    assert count_alarms(database) == 1
    assert receiver.counts.refused["timestamp"] == 1 and receiver.counts.refused["account"] == 1


def test_every_damaged_real_frame_gets_nak_over_the_socket_and_nothing_is_stored(database, receiver):
    for account in ("1111", "AAA", "123456", "4F39", "12345A", "006969"):
        add_site(database, account=account)
    data = json.loads(shared_file("messages/sia_dc09_frames.json").read_text())
    damaged = [f["frame"] for group in ("pysiaalarm_test_frames", "pysiaalarm_run_re_frames") for f in data[group]
               if f.get("crc_ok") is False or f.get("length_ok") is False]
    with Panel(receiver.port) as panel:
        for frame in damaged:
            assert panel.send(b"\n" + frame.encode("utf-8") + b"\r") == "NAK", frame
    assert count_alarms(database) == 0


def test_a_null_poll_updates_supervision_without_raising_an_alarm(database, receiver):
    site_id = add_site(database, account="1234", interval_s=60)
    with Panel(receiver.port) as panel:
        assert panel.send(build_frame("1234", "", sequence=0, message_type="NULL")) == "ACK"
    with database.session() as session:
        assert session.get(AlarmSite, site_id).last_seen_at is not None
    assert count_alarms(database) == 0


def test_a_site_registered_while_the_receiver_runs_is_accepted(database, receiver, cli_runner):
    with Panel(receiver.port) as panel:
        assert panel.send(build_frame("ABC1", "Nri1/PA15", sequence=1)) == "DUH"
    result = cli_runner.invoke(["button", "add", "--account", "ABC1", "--site", "Koperasi Sukun",
                                "--lat", "-8.0", "--lon", "112.61"])
    assert result.exit_code == 0, result.output
    receiver.book.reload_after_miss_s = 0.0  # as if the panel had waited before retrying
    with Panel(receiver.port) as panel:
        assert panel.send(build_frame("ABC1", "Nri1/PA15", sequence=2)) == "ACK"
    assert count_alarms(database) == 1


def test_a_failing_consumer_is_counted_and_the_receiver_goes_on(database, receiver):
    add_site(database, account="1234")
    seen = []
    both_seen = threading.Event()

    def broken(alarms):
        raise RuntimeError("console bridge down")

    def working(alarms):
        seen.extend(alarms)
        if len(seen) == 2:
            both_seen.set()

    receiver.consumers.extend([broken, working])
    with Panel(receiver.port) as panel:
        assert panel.send(build_frame("1234", "Nri1/PA15", sequence=1)) == "ACK"
        assert panel.send(build_frame("1234", "Nri1/PA16", sequence=2)) == "ACK"
    assert both_seen.wait(timeout=10)  # consumers run after the ACK, so wait for them
    assert receiver.counts.consumer_errors == 2
    assert [a["kind"] for a in seen] == ["panic", "panic"]
    assert count_alarms(database) == 2


def test_frames_from_many_panels_at_once_are_stored_in_fewer_commits(database, receiver):
    accounts = [f"{0x100 + n:X}" for n in range(20)]
    for account in accounts:
        add_site(database, account=account)
    start = threading.Barrier(len(accounts))
    replies: list[str] = []

    def panel_run(account: str) -> None:
        with Panel(receiver.port) as panel:
            start.wait(timeout=10)
            for sequence in range(1, 6):
                replies.append(panel.send(build_frame(account, f"Nri1/PA{sequence}", sequence=sequence)))

    threads = [threading.Thread(target=panel_run, args=(a,)) for a in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert replies.count("ACK") == 100
    assert count_alarms(database) == 100
    assert receiver.committer.batches < 100


def test_a_line_too_long_to_be_a_frame_is_refused_and_the_connection_closed(database, receiver):
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as sock:
        sock.sendall(b"\n" + b"A" * 5000)
        reply = sock.recv(1000)
        assert b'"NAK"' in reply
        assert sock.recv(1000) == b""
    assert receiver.counts.refused["oversize"] == 1


def test_a_frame_split_across_packets_is_read_whole(database, receiver):
    add_site(database, account="1234")
    frame = build_frame("1234", "Nri1/PA15", sequence=1)
    with Panel(receiver.port) as panel:
        panel.sock.sendall(frame[:20])
        assert panel.send(frame[20:]) == "ACK"
    assert count_alarms(database) == 1


def test_frames_sent_without_waiting_are_each_stored_and_answered_in_order(database, receiver):
    # A panel should wait for each ACK; one that does not still gets every frame stored and
    # its replies in the order of its frames, never one overtaking another.
    add_site(database, account="1234")
    frames = [build_frame("1234", f"Nri1/PA{n}", sequence=n) for n in range(1, 31)]
    with Panel(receiver.port) as panel:
        panel.sock.sendall(b"".join(frames))
        replies = [panel.reply() for _ in frames]
    assert [read_reply(reply) for reply in replies] == ["ACK"] * 30
    assert [int(reply.split(b'"ACK"')[1][:4]) for reply in replies] == list(range(1, 31))
    assert count_alarms(database) == 30


def test_stop_is_clean_and_releases_the_port(runtime):
    from routing.alarms.receiver import AlarmReceiverService

    service = AlarmReceiverService(runtime)
    service.start()
    port = service.port
    panel = Panel(port)
    service.stop()
    panel.close()
    assert not service._thread.is_alive() and not service.committer.is_alive()
    again = AlarmReceiverService(runtime, port=port)  # a restart binds the same port at once
    again.start()
    again.stop()
