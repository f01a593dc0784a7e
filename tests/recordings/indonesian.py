"""Indonesian test statements spoken by espeak-ng and passed through a telephone line.

A caller's voice reaches Asterisk as 8 kHz G.711 mu-law with the line's hiss: each statement
is spoken (`espeak-ng -v id`, at several speeds and pitches), squeezed to mu-law and back with
sox, and given quiet noise (seeded, so every run hears the same line; sox runs repeatable, `-R`:
its dither is otherwise drawn afresh each time, and whisper-base's words changed with it from
run to run). espeak's Indonesian is
rough and whisper-base mishears it, as it mishears a real line: the tests expect triage to
survive that, not a perfect transcript.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 8000


@dataclass(frozen=True)
class Statement:
    category: str
    text: str
    speed: int = 150  # words a minute
    pitch: int = 50  # 0-99


# One statement for every category of config/routing_rules.yaml, voices varied.
BY_CATEGORY = {
    "crime": Statement("crime", "tolong, rumah saya kemasukan maling. pencurinya masih di dalam.", 140, 40),
    "fire": Statement("fire", "ada kebakaran di rumah saya dekat pasar besar. apinya sudah besar.", 150, 50),
    "medical": Statement("medical", "tolong kirim ambulans. bapak saya pingsan dan sesak napas.", 160, 60),
    "traffic_accident": Statement("traffic_accident", "ada kecelakaan motor di jalan raya. dua orang luka.", 140, 70),
    "flood": Statement("flood", "banjir besar di kelurahan sukun. air masuk ke rumah warga.", 150, 30),
    "landslide": Statement("landslide", "ada tanah longsor di desa kami. dua rumah tertimbun.", 160, 50),
    "earthquake": Statement("earthquake", "gempa bumi kuat sekali. bangunan sekolah runtuh.", 140, 60),
    "disaster": Statement("disaster", "ada angin puting beliung, atap rumah warga terbang.", 140, 50),
    "domestic_violence": Statement("domestic_violence", "saya dipukuli suami saya. ini kekerasan dalam rumah tangga.",
                                   140, 65),
    "public_order": Statement("public_order", "ada keributan orang mabuk di depan warung.", 150, 55),
    "fallen_tree": Statement("fallen_tree", "ada pohon tumbang menutup jalan.", 140, 45),
    "power_outage": Statement("power_outage", "listrik padam di seluruh kampung. kabel putus.", 160, 35),
    "road_damage": Statement("road_damage", "jalan di depan rumah saya rusak, jalan berlubang besar sekali.", 130, 50),
    "general": Statement("general", "halo, saya butuh bantuan. ini darurat.", 150, 50),
}
# About twenty seconds of a caller describing a fire and where it is, with pauses between sentences.
LONG_STATEMENT = Statement(
    "fire",
    "halo, selamat malam. tolong, ada kebakaran di rumah tetangga saya. apinya sudah besar sekali "
    "dan asapnya tebal. rumahnya di kelurahan sukun, dekat pasar besar. ada anak kecil di dalam. "
    "tolong kirim pemadam kebakaran sekarang juga.",
    140, 50)


def telephone(statement: Statement, path: Path, *, noise_rms: float = 60.0, lead_s: float = 0.4,
              tail_s: float = 1.0, sentence_pause_s: float = 0.7, seed: int = 112) -> Path:
    """Speak `statement` into a 16-bit 8 kHz WAV as a telephone line delivers it.

    Each sentence is spoken on its own and the caller draws breath between them
    (`sentence_pause_s`): espeak runs sentences together, people do not.
    """
    parts = [np.zeros(int(lead_s * RATE))]
    for sentence in [s.strip() for s in statement.text.split(".") if s.strip()]:
        parts += [_spoken(sentence, statement, path), np.zeros(int(sentence_pause_s * RATE))]
    parts[-1] = np.zeros(int(tail_s * RATE))
    audio = np.concatenate(parts)
    audio += np.random.default_rng(seed).normal(0.0, noise_rms, audio.size)
    write_pcm(path, np.clip(audio, -32768, 32767).astype(np.int16).tobytes())
    return path


def _spoken(text: str, statement: Statement, path: Path) -> np.ndarray:
    """One sentence through espeak-ng and a G.711 mu-law round trip, as float samples."""
    raw = path.with_suffix(".espeak.wav")
    law = path.with_suffix(".ulaw.wav")
    line = path.with_suffix(".line.wav")
    subprocess.run(["espeak-ng", "-v", "id", "-s", str(statement.speed), "-p", str(statement.pitch),
                    "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["sox", "-R", str(raw), "-r", str(RATE), "-c", "1", "-e", "mu-law", str(law)], check=True,
                   capture_output=True)
    subprocess.run(["sox", "-R", str(law), "-e", "signed-integer", "-b", "16", str(line)], check=True, capture_output=True)
    with wave.open(str(line), "rb") as stream:
        speech = np.frombuffer(stream.readframes(stream.getnframes()), dtype=np.int16).astype(np.float64)
    for temporary in (raw, law, line):
        temporary.unlink()
    return speech


def write_pcm(path: Path, samples: bytes, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes(samples)
    return path


def line_noise(path: Path, seconds: float, *, noise_rms: float = 60.0, seed: int = 7) -> Path:
    """A statement of nothing but the line's hiss: the caller said nothing."""
    audio = np.random.default_rng(seed).normal(0.0, noise_rms, int(seconds * RATE))
    return write_pcm(path, np.clip(audio, -32768, 32767).astype(np.int16).tobytes())
