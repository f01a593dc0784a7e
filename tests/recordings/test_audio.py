"""Reading recordings as PCM: Asterisk's WAV as it is, everything else through pydub."""

from __future__ import annotations

import shutil
import struct
import subprocess
import wave

import numpy as np
import pytest

from recordings.audio import AudioError, is_silent, load_pcm, parse_wav_header
from tests.recordings.speech_samples import AsteriskWav


def tone(seconds: float, rate: int, channels: int = 1, level: float = 0.3) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * level * 32767).astype("<i2")
    return np.repeat(samples, channels).tobytes()


def write_wav(path, data: bytes, rate: int, channels: int = 1):
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(channels)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes(data)
    return path


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def test_asterisk_header_written_while_recording_is_read_up_to_the_end_of_the_file(tmp_path):
    writer = AsteriskWav(tmp_path / "statement.wav")
    writer.write(tone(0.5, 8000))

    fmt = parse_wav_header((tmp_path / "statement.wav").read_bytes())
    pcm = load_pcm(tmp_path / "statement.wav")

    assert (fmt.rate, fmt.channels, fmt.sample_width, fmt.data_offset, fmt.data_size) == (8000, 1, 2, 44, None)
    assert fmt.is_native
    assert pcm.rate == 8000 and len(pcm.data) == 8000
    writer.close()


def test_closed_asterisk_file_has_its_sizes_filled_in(tmp_path):
    writer = AsteriskWav(tmp_path / "statement.wav")
    writer.write(tone(0.25, 8000))
    writer.close()

    fmt = parse_wav_header((tmp_path / "statement.wav").read_bytes())

    assert fmt.data_size == 4000


@pytest.mark.parametrize("cut", [0, 3, 11, 20, 36, 43])
def test_header_cut_short_reads_as_not_yet_written(tmp_path, cut):
    writer = AsteriskWav(tmp_path / "statement.wav")
    writer.close()
    head = (tmp_path / "statement.wav").read_bytes()[:cut]

    assert parse_wav_header(head) is None


def test_header_of_another_format_is_refused():
    with pytest.raises(AudioError, match="not a WAV file"):
        parse_wav_header(b"ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")


def test_wav_with_extra_chunks_before_the_samples_is_read_natively(tmp_path):
    samples = tone(0.2, 16000)
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    info = b"INFOISFT\x06\x00\x00\x00sox14\x00"
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"LIST" + struct.pack("<I", len(info)) + info
    body += b"data" + struct.pack("<I", len(samples)) + samples
    (tmp_path / "listed.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)

    pcm = load_pcm(tmp_path / "listed.wav")

    assert pcm.rate == 16000 and pcm.data == samples


@needs_ffmpeg
def test_stereo_44k_recording_is_converted_to_mono_16k(tmp_path):
    path = write_wav(tmp_path / "stereo.wav", tone(1.0, 44100, channels=2), 44100, channels=2)

    pcm = load_pcm(path)

    assert pcm.rate == 16000
    assert pcm.duration_s == pytest.approx(1.0, abs=0.01)
    assert not is_silent(pcm.data, pcm.rate)


@needs_ffmpeg
def test_compressed_recording_is_decoded_through_ffmpeg(tmp_path):
    source = write_wav(tmp_path / "source.wav", tone(1.0, 8000), 8000)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(source), str(tmp_path / "statement.flac")], check=True
    )

    pcm = load_pcm(tmp_path / "statement.flac")

    assert pcm.rate == 8000
    assert pcm.duration_s == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "the recording file was not found"),
        (b"", "the recording file is empty"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00"
         b"data\x00\x00\x00\x00", "the recording holds no audio"),
        (bytes(range(256)) * 64, "the recording is not a readable audio file"),
    ],
    ids=["missing", "empty", "header-only", "corrupt"],
)
@needs_ffmpeg
def test_unreadable_recording_says_why(tmp_path, content, reason):
    path = tmp_path / "statement.wav"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(AudioError) as raised:
        load_pcm(path)

    assert raised.value.reason == reason


def test_silence_and_speech_level_are_told_apart():
    assert is_silent(bytes(16000), 8000)
    assert is_silent(tone(1.0, 8000, level=0.001), 8000)
    assert not is_silent(bytes(8000) + tone(0.1, 8000), 8000)
