"""Layered settings: code defaults, config/settings.toml, the SIAGA112_CONFIG file, then SIAGA112_* variables.

Settings hold values only; clients (database, Twilio, speech) are built from them in one place
and passed in, so a test can hand any part its own settings.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULTS_FILE = CONFIG_DIR / "settings.toml"
ENV_PREFIX = "SIAGA112_"


@dataclass
class Settings:
    """Every setting Siaga112 reads; `config/settings.toml` documents each one."""

    data_dir: str = "var"
    database_url: str = ""
    recordings_dir: str = ""
    secret_key: str = ""
    bind_host: str = "127.0.0.1"
    web_port: int = 8112
    web_threads: int = 16
    web_event_streams: int = 400
    web_request_timeout_seconds: float = 30.0
    web_idle_timeout_seconds: int = 120
    web_trusted_proxy: str = ""
    agi_port: int = 4573
    agi_workers: int = 1
    sia_port: int = 10112
    agi_host_for_asterisk: str = "127.0.0.1"

    language: str = "id"
    phone_region: str = "ID"
    timezone: str = "Asia/Jakarta"

    # IVR
    prompts: str = "siaga112"
    statement_max_seconds: int = 20
    statement_silence_seconds: int = 2
    service_choice_timeout_ms: int = 4000
    silent_check_timeout_ms: int = 5000
    repeat_call_window_minutes: int = 10
    agi_env_timeout_seconds: float = 5.0
    agi_command_timeout_seconds: float = 120.0
    ivr_db_timeout_seconds: float = 0.8
    journal_dir: str = ""
    disk_warning_free_percent: float = 10.0

    # Speech
    speech_engine: str = ""
    whisper_model: str = ""
    speech_device: str = "cpu"
    speech_compute_type: str = "int8"
    speech_threads: int = 0
    speech_beam_size: int = 5
    speech_language: str = ""
    vosk_model: str = ""
    keyword_priority_boost: bool = False

    # Recordings
    retention_days: int = 90

    # Console
    session_minutes: int = 720
    session_cookie_secure: bool = False
    login_failures_per_account: int = 10
    login_failures_per_address: int = 50
    login_lock_minutes: int = 15
    rate_limit_storage_url: str = ""
    tile_url: str = ""
    mbtiles_path: str = ""
    answer_warn_seconds: int = 10
    answer_late_seconds: int = 20
    answer_target_10s: float = 0.90
    answer_target_15s: float = 0.90
    answer_target_20s: float = 0.95

    # Routing and units
    routing_rules: str = ""
    unit_speed_kmh: float = 40.0
    unit_stale_seconds: int = 300
    panel_supervision_grace_seconds: int = 60

    # Reporters
    strike_limit: int = 3

    # Twilio (SMS out and text-to-112 in)
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_api_base: str = ""
    public_base_url: str = ""

    # Location link: a link texted to a caller that shares the phone's position, photos and video
    location_link_minutes: int = 30
    location_link_whatsapp_from: str = ""
    location_link_photo_max_bytes: int = 3_000_000
    location_link_photos_max: int = 20
    location_link_requests_per_minute: int = 120
    location_link_video_max_bytes: int = 300_000_000
    evidence_dir: str = ""
    webrtc_stun_urls: str = ""
    webrtc_turn_urls: str = ""
    webrtc_turn_username: str = ""
    webrtc_turn_credential: str = ""

    # Asterisk manager interface (call-back, live monitoring)
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = ""
    ami_secret: str = ""
    ami_timeout_seconds: float = 5.0
    ami_callback_context: str = "siaga112-callback"
    ami_callback_callerid: str = "Siaga112 <112>"

    # SIA DC-09 receiver: frames arriving within this many milliseconds are stored in one
    # transaction, then all acknowledged (every ACK still follows its alarm's commit).
    sia_group_commit_ms: float = 2.0
    # The longest an alarm receiver (DC-09, app SOS, IP buttons) waits for the database before
    # it keeps the alarm in the alarm journal and acknowledges it (see config/settings.toml).
    alarm_db_timeout_seconds: float = 2.0

    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    def finish(self) -> "Settings":
        """Fill the settings that derive from others (paths under data_dir)."""
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_path / 'siaga112.db'}"
        if not self.recordings_dir:
            self.recordings_dir = str(self.data_path / "recordings")
        if not self.journal_dir:
            self.journal_dir = str(self.data_path / "journal")
        if not self.evidence_dir:
            self.evidence_dir = str(self.data_path / "evidence")
        if not self.routing_rules:
            self.routing_rules = str(CONFIG_DIR / "routing_rules.yaml")
        return self


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    """Turn a TOML or environment value into the type the setting declares."""
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (bool, "bool"):
        if isinstance(raw, bool):
            return raw
        value = str(raw).strip().lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"setting {name} wants true or false, not {raw!r}")
    return str(raw)


def _read_toml(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def load_settings(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Build settings from every layer, the later winning: defaults, files, environment, overrides."""
    environ = os.environ if environ is None else environ
    declared = {f.name: f.type for f in fields(Settings) if f.name != "extra"}
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    layers = [DEFAULTS_FILE] if DEFAULTS_FILE.exists() else []
    if environ.get(ENV_PREFIX + "CONFIG"):
        layers.append(Path(environ[ENV_PREFIX + "CONFIG"]))
    for path in layers:
        for key, raw in _read_toml(path).items():
            (values if key in declared else extra)[key] = raw
    for key in declared:
        env_key = ENV_PREFIX + key.upper()
        if env_key in environ:
            values[key] = environ[env_key]
    for key, raw in (overrides or {}).items():
        (values if key in declared else extra)[key] = raw
    typed = {key: _coerce(key, raw, declared[key]) for key, raw in values.items()}
    return Settings(**typed, extra=extra).finish()
