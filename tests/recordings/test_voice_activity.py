"""Cutting a growing recording into utterances: speech against the line's noise, pauses, long talk."""

from __future__ import annotations

import numpy as np

from recordings.voice_activity import VadSettings, VoiceActivity

RATE = 8000


def line(*parts: tuple[str, float], noise: float = 60.0, seed: int = 1) -> bytes:
    """("speech" | "pause", seconds) parts: a 300 Hz voice rising and falling four times a second
    (syllables), or only the line's hiss."""
    rng = np.random.default_rng(seed)
    chunks = []
    for kind, seconds in parts:
        n = int(seconds * RATE)
        audio = rng.normal(0.0, noise, n)
        if kind == "speech":
            t = np.arange(n) / RATE
            audio += 4000 * (0.55 - 0.45 * np.cos(2 * np.pi * 4 * t)) * np.sin(2 * np.pi * 300 * t)
        chunks.append(audio)
    return np.clip(np.concatenate(chunks), -32768, 32767).astype(np.int16).tobytes()


def cuts_of(data: bytes, piece_s: float = 0.5, settings: VadSettings | None = None):
    vad = VoiceActivity(RATE, settings)
    step = int(piece_s * RATE) * 2
    cuts = [cut for offset in range(0, len(data), step) for cut in vad.push(data[offset:offset + step])]
    return cuts, vad.flush()


def seconds(cut) -> tuple[float, float, bool]:
    return round(cut.start / RATE, 2), round(cut.end / RATE, 2), cut.final


def test_a_pause_first_asks_for_a_provisional_decode_then_closes_on_exactly_that_audio():
    cuts, left = cuts_of(line(("pause", 1.0), ("speech", 2.0), ("pause", 2.0)))

    assert [seconds(c) for c in cuts] == [(0.8, 3.24, False), (0.8, 3.24, True)]
    assert left is None


def test_a_pause_ends_a_long_utterance_at_once_and_a_short_one_waits_past_a_breath():
    cuts, left = cuts_of(line(("speech", 4.5), ("pause", 0.4), ("speech", 1.0), ("pause", 1.0),
                              ("speech", 1.0), ("pause", 1.0), ("speech", 1.0)))

    # 4.5 s of speech then a breath: final at once, its decode started while the caller breathes.
    assert [seconds(c) for c in cuts if c.final] == [(0.0, 4.66, True)]
    assert cuts[0].voiced_end / RATE == 4.42  # where the voice stopped, before the post-roll
    # One second of speech is too little to decode alone: a pause longer than a breath shows it
    # provisionally, and it waits for what follows, to the end.
    assert [seconds(c) for c in cuts if not c.final][0] == (4.76, 6.08, False)
    assert seconds(left) == (4.76, 9.9, True)


def test_how_the_recording_arrives_does_not_change_the_cuts():
    data = line(("pause", 0.5), ("speech", 1.3), ("pause", 0.9), ("speech", 0.7), ("pause", 2.0))

    assert cuts_of(data, 0.02) == cuts_of(data, 0.5) == cuts_of(data, 10.0)


def test_long_talk_without_pauses_is_cut_at_its_quietest_moment_and_shown_as_it_goes():
    data = line(("speech", 9.0), ("pause", 0.15), ("speech", 9.0), ("pause", 1.0))
    cuts, _left = cuts_of(data, settings=VadSettings(max_segment_s=12.0))

    finals = [seconds(c) for c in cuts if c.final]
    assert len(finals) == 2 and 9.0 <= finals[0][1] <= 9.3 and finals[1][0] == finals[0][1]
    provisional = [seconds(c) for c in cuts if not c.final]
    assert any(end >= 5.0 for _start, end, _ in provisional[:1])  # a tail every 5 s of talk


def test_the_line_s_hiss_alone_is_no_speech_however_loud_the_line_is():
    for noise in (30.0, 150.0, 600.0):
        cuts, left = cuts_of(line(("pause", 5.0), noise=noise))
        assert cuts == [] and left is None


def test_speech_over_a_noisy_line_is_still_found():
    cuts, left = cuts_of(line(("pause", 3.0), ("speech", 2.0), ("pause", 2.0), noise=500.0))

    assert [seconds(c)[2] for c in cuts] == [False, True] and left is None
    assert 2.7 <= seconds(cuts[-1])[0] <= 3.0
