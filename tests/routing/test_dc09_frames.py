"""Reading DC-09 frames: the real frames file, frames built by pysiaalarm's code, the code table."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pysiaalarm import SIAAccount

from routing.alarms import dc09
from routing.alarms.dc09 import CONSEQUENCES, build_frame, read_frame, read_reply
from tests.support.alarm_helpers import KEY
from tests.support.data import shared_file

ACCOUNTS = {"1234": SIAAccount("1234"), "1111": SIAAccount("1111", KEY), "AAA": SIAAccount("AAA", KEY),
            "AAAB": SIAAccount("AAAB", KEY), "123F": SIAAccount("123F", KEY), "123456": SIAAccount("123456"),
            "4F39": SIAAccount("4F39"), "12345A": SIAAccount("12345A"), "006969": SIAAccount("006969")}


def real_frames() -> list[dict]:
    data = json.loads(shared_file("messages/sia_dc09_frames.json").read_text())
    return [f for group in ("generated_dc09spt", "pysiaalarm_test_frames", "pysiaalarm_run_re_frames")
            for f in data[group]]


def test_every_real_frame_with_a_wrong_crc_or_length_is_refused_with_nak():
    damaged = [f for f in real_frames() if f.get("crc_ok") is False or f.get("length_ok") is False]
    assert len(damaged) >= 20
    for frame in damaged:
        reading = read_frame(frame["frame"], ACCOUNTS)
        assert not reading.accepted, frame["id"]
        assert read_reply(reading.reply) == "NAK", frame["id"]


def test_generated_contact_id_and_sia_frames_are_accepted_with_the_expected_code():
    for frame in [f for f in real_frames() if f["id"].startswith("dc09spt")]:
        reading = read_frame(frame["frame"], ACCOUNTS)
        assert reading.accepted, frame["id"]
        assert read_reply(reading.reply) == "ACK"
        assert reading.event.code == frame["code"], frame["id"]


@pytest.mark.parametrize("frame_id, action, kind", [
    ("dc09spt-01", "alarm", "panic"),     # Contact ID E120 panic
    ("dc09spt-05", "alarm", "holdup"),    # Contact ID E121 duress
    ("dc09spt-06", "alarm", "panic"),     # SIA-DCS PA
    ("dc09spt-03", "alarm", "fire"),      # Contact ID E110 fire
    ("dc09spt-04", "alarm", "medical"),   # Contact ID E100 medical
    ("dc09spt-02", "restore", "panic"),   # Contact ID R120 restore
    ("dc09spt-09", "alive", None),        # NULL supervision poll
])
def test_panel_codes_map_to_consequences_through_the_table(frame_id, action, kind):
    frame = next(f for f in real_frames() if f["id"] == frame_id)
    consequence = read_frame(frame["frame"], ACCOUNTS).consequence
    assert (consequence.action, consequence.kind) == (action, kind)


def test_panic_duress_and_holdup_are_top_priority_and_fire_and_medical_lower():
    assert CONSEQUENCES["PA"].priority == CONSEQUENCES["HA"].priority == 9
    assert CONSEQUENCES["FA"].priority < 9 and CONSEQUENCES["MA"].priority < 9


def test_contact_id_122_silent_holdup_becomes_a_holdup_alarm():
    reading = read_frame(build_frame("1234", "1122 01 003", message_type="ADM-CID").decode(), ACCOUNTS)
    assert reading.accepted and reading.consequence.kind == "holdup"


def test_a_frame_that_is_not_dc09_is_refused_with_nak():
    reading = read_frame("this is not a parsable event", ACCOUNTS)
    assert (reading.refusal, read_reply(reading.reply)) == ("format", "NAK")


def test_a_readable_frame_from_an_unknown_account_is_answered_duh():
    reading = read_frame(build_frame("9999", "Nri1/PA15").decode(), ACCOUNTS)
    assert (reading.refusal, read_reply(reading.reply)) == ("account", "DUH")
    assert "9999" in reading.reply.decode()


def test_an_unknown_sia_code_is_answered_duh():
    reading = read_frame(build_frame("1234", "Nri1/QQ15").decode(), ACCOUNTS)
    assert (reading.refusal, read_reply(reading.reply)) == ("code", "DUH")


@pytest.mark.parametrize("offset_s, accepted", [(-60, False), (-30, True), (0, True), (15, True), (45, False)])
def test_timestamps_outside_the_dc09_window_are_refused_with_nak(offset_s, accepted):
    at = datetime.now(timezone.utc) + timedelta(seconds=offset_s)
    reading = read_frame(build_frame("1234", "Nri1/PA15", at=at).decode(), ACCOUNTS)
    assert reading.accepted is accepted
    if not accepted:
        assert (reading.refusal, read_reply(reading.reply)) == ("timestamp", "NAK")


def test_an_encrypted_frame_is_read_with_the_accounts_key_and_answered_encrypted():
    reading = read_frame(build_frame("1111", "Nri1/PA15", key=KEY, sequence=42).decode(), ACCOUNTS)
    assert reading.accepted and reading.event.code == "PA"
    assert '"*ACK"0042' in reading.reply.decode()


def test_an_encrypted_frame_with_the_wrong_key_is_refused_with_nak():
    frame = build_frame("1111", "Nri1/PA15", key="BBBBBBBBBBBBBBBB").decode()
    reading = read_frame(frame, ACCOUNTS)
    assert not reading.accepted and read_reply(reading.reply) == "NAK"


def test_a_plain_frame_for_an_encrypted_account_is_refused():
    reading = read_frame(build_frame("1111", "Nri1/PA15").decode(), ACCOUNTS)
    assert (reading.accepted, reading.refusal) == (False, "encryption")


def test_an_oversized_line_is_refused_without_parsing():
    reading = read_frame("A" * (dc09.MAX_FRAME_BYTES + 1), ACCOUNTS)
    assert (reading.refusal, read_reply(reading.reply)) == ("oversize", "NAK")


def test_a_retransmission_has_the_same_key_and_a_new_event_a_different_one():
    first = read_frame(build_frame("1234", "Nri1/PA15", sequence=7).decode(), ACCOUNTS)
    again = read_frame(build_frame("1234", "Nri1/PA15", sequence=7, at=first.event.timestamp).decode(), ACCOUNTS)
    other = read_frame(build_frame("1234", "Nri1/PA15", sequence=8).decode(), ACCOUNTS)
    assert first.retransmission_key == again.retransmission_key != other.retransmission_key


def test_replies_carry_no_receiver_number_when_the_frame_had_none():
    reading = read_frame(build_frame("1234", "Nri1/PA15").decode(), ACCOUNTS)
    assert "None" not in reading.reply.decode()


def test_the_compiled_crc_is_pysiaalarms_crc_on_every_kind_of_frame_body():
    import random

    from pysiaalarm import SIAEvent

    from routing.alarms.dc09 import PYSIAALARM_CRC, crc16

    assert SIAEvent._crc_calc is crc16
    rng = random.Random(112)
    bodies = ["", '"NULL"0000L0#AAA[]', '"SIA-DCS"0001L0#AAA[#AAA|Nri1/PA501]_14:12:04,09-25-2019',
              '"*SIA-DCS"0002R1L0#B01[' + "0F" * 40, '"ADM-CID"0003L0#C7[#C7|1120 01 015]']
    bodies += ["".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(1, 300))) for _ in range(500)]
    for body in bodies:
        assert crc16(body) == PYSIAALARM_CRC(body), body


def test_a_frame_encrypted_with_the_wrong_key_is_refused_whatever_it_decrypts_to():
    # With the wrong key the content decrypts to noise, a different noise every second (the
    # time stamp is encrypted with it); pysiaalarm's reading takes some of it for an event.
    # Two hours of frames: every one is refused with NAK, none is taken as an alarm.
    start = datetime(2026, 11, 23, 19, 0, tzinfo=timezone.utc)
    outcomes = {
        (reading.refusal, read_reply(reading.reply))
        for second in range(7200)
        for reading in [read_frame(build_frame("1111", "Nri1/PA15", key="BBBBBBBBBBBBBBBB",
                                               at=start + timedelta(seconds=second)).decode().strip(), ACCOUNTS)]
    }
    assert outcomes == {("format", "NAK")}
