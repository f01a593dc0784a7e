"""A throw-away Asterisk 22 running the shipped `config/asterisk`, and SIPp as trunk and phones.

`tests/asterisk/README.md` says how to use it; `conftest.py` turns it into fixtures. Here:

- `find_tools()`: the Asterisk and SIPp that `scripts/asterisk` built (or the user's own), or why not.
- `Asterisk`: installs the shipped files into a temporary etc folder as `config/asterisk/README.md`
  tells an administrator to (prompts copied, contexts and sections merged, `SIAGA112_HOST`, the
  FastAGI port and the recordings folder set, trunk and phone addresses and passwords filled in),
  adds the few files any Asterisk needs to start quietly (asterisk.conf with every path inside the
  temporary folder, logger, rtp, musiconhold...), starts it in the foreground on loopback ports
  nobody else uses, and waits until it says it has fully booted.
- `Sipp`: runs SIPp scenarios from `scenarios/` (templates: the `{{name}}` placeholders are
  filled here; `[name]` ones are SIPp's own). `trunk_call()` places 112 calls from the operator trunk's
  address (127.0.0.2); `phone()` starts a call-taker's phone that registers from its own
  address (127.0.0.3 and up) and answers what Asterisk sends it; `network()` stands for the
  public network behind the trunk (the citizen's handset for a call-back).
- `AmiWatcher`: one AMI session with events on, for tests to wait on what Asterisk reports.
- `ConsoleSession`: a call-taker signed in to the real web console over HTTP, reading its event
  stream (the screen-pop).
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import requests

from agent_console.ami import BANNER_PREFIX, Message, format_action, parse_message

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "asterisk"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"

TRUNK_IP = "127.0.0.2"
FIRST_PHONE_IP = 3  # phone n registers from 127.0.0.(3 + n)
PHONE_PASSWORD = "test-phone-secret-{name}"
AMI_SECRET = "test-ami-secret"
SPEECH_PCAP = "pcap/g711a.pcap"
SPEECH_PCAP_MS = 7100  # g711a.pcap holds 7.05 s of speech
BOOT_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def cache_dir() -> Path:
    return Path(os.environ.get("SIAGA112_CACHE") or Path.home() / ".cache" / "siaga112")


# --- Finding Asterisk and SIPp ------------------------------------------------------------

@dataclass(frozen=True)
class Tools:
    """Where the Asterisk and SIPp binaries are, and what they need beside them."""

    asterisk: Path
    modules: Path
    sipp: Path
    pcap: Path
    core_sounds: Path | None  # Asterisk's own prompts (queue announcements), if installed
    documentation: Path | None = None  # its XML documentation: modules register options from it

    def describe(self) -> str:
        return f"Asterisk {self.asterisk}, SIPp {self.sipp}"


def _asterisk_prefix() -> tuple[Path | None, str]:
    for variable in ("SIAGA112_ASTERISK_PREFIX", "ASTERISK_PREFIX"):
        value = os.environ.get(variable)
        if value:
            return Path(value), variable
    built = cache_dir() / "asterisk"
    if (built / ".siaga112-stamp").exists():
        return built, "scripts/asterisk's cache"
    on_path = shutil.which("asterisk")
    if on_path:
        return Path(os.path.realpath(on_path)).parent.parent, "the PATH"
    return None, ""


def _modules_dir(prefix: Path) -> Path | None:
    for candidate in [prefix / "lib" / "asterisk" / "modules", prefix / "lib64" / "asterisk" / "modules",
                      *map(Path, sorted(glob.glob(str(prefix / "lib" / "*" / "asterisk" / "modules"))))]:
        if (candidate / "chan_pjsip.so").exists():
            return candidate
    return None


def find_tools() -> Tools | str:
    """The tools, or a sentence saying why the Asterisk tests cannot run here."""
    prefix, source = _asterisk_prefix()
    if prefix is None:
        return ("no Asterisk: run scripts/asterisk (it builds one from ../shared/asterisk/kit or "
                "SIAGA112_ASTERISK_KIT), or set ASTERISK_PREFIX, or put asterisk on the PATH")
    binary = prefix / "sbin" / "asterisk"
    if not os.access(binary, os.X_OK):
        return f"no Asterisk binary at {binary} (from {source})"
    modules = _modules_dir(prefix)
    if modules is None:
        return f"the Asterisk in {prefix} has no chan_pjsip module (PJSIP is needed)"
    sipp = os.environ.get("SIAGA112_SIPP") or ""
    if not sipp:
        built = cache_dir() / "sipp" / "sipp"
        sipp = str(built) if built.exists() else (shutil.which("sipp") or "")
    if not sipp or not os.access(sipp, os.X_OK):
        return "no SIPp: run scripts/asterisk (it builds SIPp from the kit), or put sipp on the PATH"
    pcap = next((p for p in (Path(sipp).parent / "pcap", Path("/usr/share/sipp/pcap"), Path("/usr/local/share/sipp/pcap"))
                 if (p / "g711a.pcap").exists()), None)
    if pcap is None:
        return f"SIPp's pcap/g711a.pcap (the caller's speech) is not beside {sipp}"
    sounds = next((p for p in (prefix / "var" / "lib" / "asterisk" / "sounds" / "en",
                               Path("/usr/share/asterisk/sounds/en"), Path("/var/lib/asterisk/sounds/en"))
                   if (p / "queue-youarenext.gsm").exists() or (p / "queue-youarenext.wav").exists()), None)
    documentation = next((p for p in (prefix / "var" / "lib" / "asterisk" / "documentation",
                                      prefix / "share" / "asterisk" / "documentation",
                                      Path("/usr/share/asterisk/documentation"), Path("/var/lib/asterisk/documentation"))
                          if (p / "core-en_US.xml").exists()), None)
    if documentation is None:
        return f"the Asterisk in {prefix} has no documentation/core-en_US.xml (its modules need it to start)"
    return Tools(asterisk=binary, modules=modules, sipp=Path(sipp), pcap=pcap, core_sounds=sounds,
                 documentation=documentation)


# --- Ports ----------------------------------------------------------------------------------

def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def free_port_block(size: int, host: str = "127.0.0.1", low: int | None = None, high: int | None = None) -> int:
    """The first port of `size` consecutive even-aligned UDP ports that are free now (RTP ranges).

    Chosen below the kernel's ephemeral range: a port free now in that range can be taken a
    moment later by any outgoing connection of another test (seen in CI: a phone's RTP port
    gone, its 200 OK went out with an invalid media line and it never answered)."""
    if low is None or high is None:
        low, high = 10_000, min(32_000, _ephemeral_ports()[0])
    for _ in range(200):
        base = random.randrange(low, high - size) & ~1
        if all(_udp_free(host, port) for port in range(base, base + size, max(1, size // 16))):
            return base
    raise RuntimeError(f"no {size} free UDP ports found on {host}")


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def _udp_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


# --- Asterisk -------------------------------------------------------------------------------

LOG_PROBLEM = re.compile(r"\] (WARNING|ERROR)\[")


@dataclass
class PhoneAccount:
    """A call-taker's (or supervisor's) phone as pjsip.conf knows it."""

    name: str
    password: str
    ip: str

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.name}"


class Asterisk:
    """One Asterisk with the shipped configuration, in a temporary folder, on loopback ports.

    `globals_` overrides `[globals]` of the shipped extensions.conf (as the README tells an
    administrator to set SIAGA112_HOST); `queue_members` adds call-takers' phones beyond the
    three the sample lists (pjsip.conf sections made from its templates, and queue members);
    `recordings` is the folder shared with Siaga112 (its recordings_dir).
    """

    def __init__(self, tools: Tools, *, agi_port: int, globals_: dict[str, str] | None = None,
                 call_takers: int = 3, recordings: str | Path | None = None, root: Path | None = None) -> None:
        self.tools = tools
        # Short: the control socket's path must fit in a sockaddr_un.
        self.root = Path(root or tempfile.mkdtemp(prefix="siaga112-ast-"))
        self.etc = self.root / "etc"
        # The folder Asterisk and Siaga112 share (README step 2); its own one when not given.
        self.recordings = Path(recordings) if recordings else self.root / "recordings"
        self.log_dir = self.root / "log"
        self.run_dir = self.root / "run"
        self.agi_port = agi_port
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.ami_port = free_port()
        self.rtp_start = free_port_block(2000)
        self.network_port = free_port(socket.SOCK_DGRAM, TRUNK_IP)  # where the trunk's aor points
        self.globals = {"SIAGA112_HOST": "127.0.0.1", "SIAGA112_AGI_PORT": str(agi_port),
                        "SIAGA112_RECORDINGS_DIR": str(self.recordings), **(globals_ or {})}
        self.phones = [PhoneAccount(str(1000 + n), PHONE_PASSWORD.format(name=1000 + n), f"127.0.0.{FIRST_PHONE_IP + n - 1}")
                       for n in range(1, call_takers + 1)]
        self.supervisor = PhoneAccount("2001", PHONE_PASSWORD.format(name=2001), "127.0.0.40")
        self.process: subprocess.Popen | None = None
        self.console_log = self.root / "console.log"
        self.boot_log_end = 0

    # -- installing the shipped files

    def install(self) -> None:
        for folder in (self.etc, self.recordings, self.log_dir, self.run_dir, self.root / "lib" / "sounds",
                       self.root / "spool", self.root / "moh", self.root / "cache", self.root / "db", self.root / "keys", self.root / "agi"):
            folder.mkdir(parents=True, exist_ok=True)
        # README step 1: the prompts into Asterisk's sounds folder.
        shutil.copytree(SHIPPED / "sounds" / "siaga112", self.root / "lib" / "sounds" / "siaga112")
        if self.tools.documentation is not None:
            (self.root / "lib" / "documentation").symlink_to(self.tools.documentation)
        if self.tools.core_sounds is not None:
            (self.root / "lib" / "sounds" / "en").symlink_to(self.tools.core_sounds)
        # Something to play as the default music on hold (a stock install has Asterisk's own).
        shutil.copy(SHIPPED / "sounds" / "siaga112" / "en" / "connecting.wav", self.root / "moh" / "hold.wav")
        # README step 3: the shipped files, merged into (here: making up) /etc/asterisk.
        self._write("extensions.conf", self._extensions())
        self._write("pjsip.conf", self._pjsip())
        self._write("queues.conf", self._queues())
        self._write("manager.conf", self._manager())
        self._write("modules.conf", (SHIPPED / "modules.conf").read_text())
        self._write("geolocation.conf", (SHIPPED / "geolocation.conf").read_text())
        # What any Asterisk has in /etc/asterisk besides Siaga112's part.
        for name, text in self._base_files().items():
            self._write(name, text)

    def _write(self, name: str, text: str) -> None:
        (self.etc / name).write_text(text)

    def _extensions(self) -> str:
        text = (SHIPPED / "extensions.conf").read_text()
        for name, value in self.globals.items():
            text, count = re.subn(rf"(?m)^{re.escape(name)}=.*$", lambda _m: f"{name}={value}", text)
            if not count:
                text = text.replace("[globals]\n", f"[globals]\n{name}={value}\n", 1)
        return text

    def _pjsip(self) -> str:
        text = (SHIPPED / "pjsip.conf").read_text()
        text = re.sub(r"(?m)^bind = .*$", f"bind = 127.0.0.1:{self.sip_port}", text)
        text = re.sub(r"(?m)^contact = sip:192\.0\.2\.10:5060$", f"contact = sip:{TRUNK_IP}:{self.network_port}", text)
        text = re.sub(r"(?m)^match = 192\.0\.2\.10$", f"match = {TRUNK_IP}", text)
        for phone in [*self.phones, self.supervisor]:
            text = re.sub(rf"(?m)^password = CHANGE-ME-.*-for-{phone.name}$", f"password = {phone.password}", text)
        shipped = set(re.findall(r"(?m)^\[(\d+)\]\(phone-endpoint\)", text))
        for phone in self.phones:
            if phone.name not in shipped:
                # As the sample says: more call-takers are more copies of the three sections.
                text += (f"\n[{phone.name}](phone-endpoint)\nauth = {phone.name}\naors = {phone.name}\n"
                         f"callerid = \"Call-taker {phone.name}\" <{phone.name}>\n"
                         f"[{phone.name}](phone-auth)\nusername = {phone.name}\npassword = {phone.password}\n"
                         f"[{phone.name}](phone-aor)\n")
        # The sample's phones this test does not start still get a password (they stay unregistered).
        text = re.sub(r"(?m)^password = CHANGE-ME-.*-for-(\d+)$", lambda m: f"password = {PHONE_PASSWORD.format(name=m[1])}", text)
        assert "CHANGE-ME" not in text, "a phone password of the sample pjsip.conf was left unset"
        return text

    def _queues(self) -> str:
        text = (SHIPPED / "queues.conf").read_text()
        listed = set(re.findall(r"(?m)^member => PJSIP/(\d+),", text))
        extra = "".join(f"member => PJSIP/{p.name},0,Call-taker {p.name}\n" for p in self.phones if p.name not in listed)
        return text.rstrip("\n") + "\n" + extra

    def _manager(self) -> str:
        text = (SHIPPED / "manager.conf").read_text()
        text = re.sub(r"(?m)^port = 5038$", f"port = {self.ami_port}", text)
        return re.sub(r"(?m)^secret = CHANGE-ME.*$", f"secret = {AMI_SECRET}", text)

    def _base_files(self) -> dict[str, str]:
        r = self.root
        return {
            "asterisk.conf": (
                "[directories]\n"
                f"astcachedir => {r}/cache\nastetcdir => {self.etc}\nastmoddir => {self.tools.modules}\nastvarlibdir => {r}/lib\n"
                f"astdbdir => {r}/db\nastkeydir => {r}/keys\nastdatadir => {r}/lib\nastagidir => {r}/agi\n"
                f"astspooldir => {r}/spool\nastrundir => {self.run_dir}\nastlogdir => {self.log_dir}\n"
                f"astsbindir => {self.tools.asterisk.parent}\n"
                "[options]\n"
                # No runuser: the test runs as whoever runs pytest. No console colours in logs.
                "nocolor = yes\n"
                "hideconnect = yes\n"
            ),
            "logger.conf": (
                "[general]\ndateformat = %F %T.%3q\n"
                "[logfiles]\n"
                "messages.log => notice,warning,error,verbose(3)\n"
            ),
            "rtp.conf": f"[general]\nrtpstart = {self.rtp_start}\nrtpend = {self.rtp_start + 1999}\n",
            # A stock default class, and the shipped hold classes merged in (README step 3).
            "musiconhold.conf": f"[default]\nmode = files\ndirectory = {r}/moh\n\n"
                                + (SHIPPED / "musiconhold.conf").read_text(),
            # Without these Asterisk warns at start-up that they are missing; each holds what
            # a stock install's sample sets (or nothing: the defaults).
            "cdr.conf": "[general]\nenable = no\n",
            "cel.conf": "[general]\nenable = no\n",
            "features.conf": "[general]\n",
            "ccss.conf": "[general]\n",
            "udptl.conf": "[general]\n",
            "acl.conf": "; no named ACLs\n",
            "pjproject.conf": "; pjproject's defaults\n",
            "indications.conf": ("[general]\ncountry = id\n[id]\ndescription = Indonesia\n"
                                 "ringcadence = 1000,4000\ndial = 425\nbusy = 425/500,0/500\n"
                                 "ring = 425/1000,0/4000\ncongestion = 425/250,0/250\n"
                                 "callwaiting = 425/150,0/150,425/150,0/10000\nrecord = 1400/500,0/15000\n"
                                 "info = !950/330,!1400/330,!1800/330,0\n"),
        }

    # -- running

    @property
    def config_file(self) -> Path:
        return self.etc / "asterisk.conf"

    def start(self) -> None:
        """Start Asterisk in the foreground (no console) and return once it has fully booted."""
        self.install()
        self.console = open(self.console_log, "wb")
        self.process = subprocess.Popen(
            [str(self.tools.asterisk), "-C", str(self.config_file), "-f", "-n", "-vvv"],
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT, cwd=self.root,
            start_new_session=True)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"Asterisk exited with {self.process.returncode} while starting:\n{self.tail()}")
            if (self.run_dir / "asterisk.ctl").exists():
                done = self._rx("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()), check=False)
                if done.returncode == 0:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Asterisk did not boot within {BOOT_TIMEOUT:.0f} s:\n{self.tail()}")
            time.sleep(0.05)
        self.boot_log_end = self.log_size()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self._rx("core stop now", timeout=5, check=False)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.console.close()
        self.process = None

    def _rx(self, command: str, *, timeout: float = 10.0, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(self.tools.asterisk), "-C", str(self.config_file), "-rx", command],
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r} failed: {result.stderr or result.stdout}")
        return result

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command on the running Asterisk and return what it printed."""
        return self._rx(command, timeout=timeout).stdout

    # -- what it logged

    @property
    def messages_log(self) -> Path:
        return self.log_dir / "messages.log"

    def log_size(self) -> int:
        try:
            return self.messages_log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self, start: int = 0, end: int | None = None) -> str:
        try:
            with open(self.messages_log, "rb") as handle:
                handle.seek(start)
                data = handle.read() if end is None else handle.read(max(0, end - start))
        except FileNotFoundError:
            return ""
        return data.decode("utf-8", "replace")

    def problems(self, start: int = 0, end: int | None = None, *, ignore: Iterable[str] = ()) -> list[str]:
        """The WARNING and ERROR lines logged between two offsets, less those matching `ignore`."""
        patterns = [re.compile(p) for p in ignore]
        return [line for line in self.log_text(start, end).splitlines()
                if LOG_PROBLEM.search(line) and not any(p.search(line) for p in patterns)]

    def boot_problems(self) -> list[str]:
        return self.problems(0, self.boot_log_end)

    def tail(self, lines: int = 40) -> str:
        text = self.log_text() or (self.console_log.read_text(errors="replace") if self.console_log.exists() else "")
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_log(self, pattern: str, *, start: int = 0, timeout: float = 30.0) -> re.Match:
        """Wait until a line matching `pattern` is in the log after `start`."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = compiled.search(self.log_text(start))
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"Asterisk never logged /{pattern}/ in {timeout:.0f} s; log tail:\n{self.tail()}")
            time.sleep(0.1)

    def wait_until(self, predicate: Callable[[], object], *, timeout: float = 30.0, what: str = "") -> object:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}; log tail:\n{self.tail()}")
            time.sleep(0.1)

    def contact_reachable(self, name: str) -> bool:
        """Whether `name` (an AOR) has a registered contact that answered Asterisk's qualify."""
        return any(f" {name}/sip:" in line and "Avail" in line for line in self.cli("pjsip show contacts").splitlines())


# --- SIPp -----------------------------------------------------------------------------------

def talk_block(total_ms: int | None, *, audio: bool = True) -> str:
    """SIPp steps for the talking part of a call: speech from the pcap, repeated, while waiting
    for Asterisk's BYE (then on to `remote_bye`); after `total_ms` on to `hangup` (None: never)."""
    total_ms = 3_600_000 if total_ms is None else max(1, int(total_ms))
    steps, elapsed = [], 0
    for index in itertools.count():
        chunk = min(SPEECH_PCAP_MS, total_ms - elapsed)
        if chunk <= 0:
            break
        steps.append(f'  <label id="talk{index}"/>')
        if audio and chunk > 500 and index < 60:
            steps.append(f'  <nop><action><exec play_pcap_audio="{SPEECH_PCAP}"/></action></nop>')
        elapsed += chunk
        following = f"talk{index + 1}" if elapsed < total_ms else "hangup"
        steps.append(f'  <recv request="BYE" timeout="{chunk}" ontimeout="{following}" next="remote_bye"/>')
        if index >= 60 and elapsed < total_ms:
            # An hour of speech is not needed: wait out the rest in one silent step.
            steps.append(f'  <label id="talk{index + 1}"/>')
            steps.append(f'  <recv request="BYE" timeout="{total_ms - elapsed}" ontimeout="hangup" next="remote_bye"/>')
            break
    return "\n".join(steps)


def keys(digits: str, *, after_ms: int = 0, label: str = "keys") -> str:
    """SIPp steps that wait `after_ms` in silence, then press `digits` (RFC 4733 events SIPp makes,
    each with its own time stamp, so "55" is two presses); hang-ups by Asterisk meanwhile go to
    `remote_bye`."""
    steps = []
    if after_ms:
        steps.append(f'  <recv request="BYE" timeout="{after_ms}" ontimeout="{label}" next="remote_bye"/>')
    steps.append(f'  <label id="{label}"/>')
    steps.append(f'  <nop><action><exec play_dtmf="{digits}"/></action></nop>')
    steps.append(f'  <recv request="BYE" timeout="{400 * len(digits) + 200}" ontimeout="{label}-done" next="remote_bye"/>')
    steps.append(f'  <label id="{label}-done"/>')
    return "\n".join(steps)


def pidf_lo(lat: float, lon: float, radius_m: float, *, confidence: int = 95, method: str = "GPS",
            entity: str = "pres:caller@operator.invalid") -> str:
    """A PIDF-LO (RFC 4119/5491) with one Circle, as a handset's network would send by value."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<presence entity="{entity}" xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy" '
        'xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" '
        'xmlns:con="urn:ietf:params:xml:ns:geopriv:conf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model">\n'
        '<dm:device id="handset">\n<gp:geopriv>\n<gp:location-info>\n'
        '<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">\n'
        f'<gml:pos>{lat} {lon}</gml:pos>\n'
        f'<gs:radius uom="urn:ogc:def:uom:EPSG::9001">{radius_m}</gs:radius>\n'
        '</gs:Circle>\n'
        f'<con:confidence pdf="normal">{confidence}</con:confidence>\n'
        '</gp:location-info>\n<gp:usage-rules>\n'
        '<gbp:retransmission-allowed>yes</gbp:retransmission-allowed>\n'
        f'</gp:usage-rules>\n<gp:method>{method}</gp:method>\n</gp:geopriv>\n'
        '<dm:deviceID>mac:1234567890ab</dm:deviceID>\n'
        '<dm:timestamp>2026-01-01T12:00:00Z</dm:timestamp>\n</dm:device>\n</presence>'
    )


# telephone-event at payload type 96: the one SIPp's play_dtmf sends its RFC 4733 events with.
SDP = """v=0
o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [auto_media_port] RTP/AVP 8 96
a=rtpmap:8 PCMA/8000
a=rtpmap:96 telephone-event/8000
a=fmtp:96 0-15
a=sendrecv
"""


@dataclass
class SippRun:
    """One running SIPp process; `wait()` gives its exit status (0: every call succeeded)."""

    name: str
    process: subprocess.Popen
    folder: Path
    command: list[str]

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"SIPp {self.name} still running after {timeout:.0f} s\n{self.report()}") from None

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)  # SIPp: quit after the calls in progress
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _read(self, pattern: str) -> str:
        return "".join(Path(p).read_text(errors="replace") for p in sorted(glob.glob(str(self.folder / pattern))))

    def logs(self) -> str:
        """What the scenario's <log> actions wrote (`<call-id> answered`, `registered 1001`, ...)."""
        return self._read("*_logs.log")

    def log_lines(self, word: str) -> list[str]:
        return [line for line in self.logs().splitlines() if line.endswith(" " + word) or line.startswith(word)]

    def errors(self) -> str:
        return self._read("*_errors.log")

    def report(self) -> str:
        stdout = (self.folder / "stdout.txt").read_text(errors="replace") if (self.folder / "stdout.txt").exists() else ""
        return (f"$ {' '.join(self.command)}\n--- output\n{stdout[-3000:]}\n--- errors\n{self.errors()[-3000:]}"
                f"\n--- logs\n{self.logs()[-2000:]}")


@dataclass
class Phone:
    """A call-taker's phone: a SIPp process registered as `account`, answering after `answer_ms`."""

    account: PhoneAccount
    run: SippRun

    @property
    def interface(self) -> str:
        return self.account.interface

    def answered(self) -> int:
        return len(self.run.log_lines("answered"))


class Sipp:
    """SIPp processes against one Asterisk; every process is stopped by `stop_all()`."""

    def __init__(self, tools: Tools, asterisk: Asterisk, folder: Path) -> None:
        self.tools = tools
        self.asterisk = asterisk
        self.folder = folder
        self.runs: list[SippRun] = []
        self._count = itertools.count(1)
        (folder / "pcap").parent.mkdir(parents=True, exist_ok=True)
        if not (folder / "pcap").exists():
            (folder / "pcap").symlink_to(tools.pcap)

    def _scenario(self, name: str, **values: object) -> Path:
        text = (SCENARIOS / f"{name}.xml").read_text()
        for key, value in values.items():
            text = text.replace("{{%s}}" % key, str(value))
        missing = re.findall(r"\{\{(\w+)\}\}", text)
        assert not missing, f"scenario {name}: no value for {missing}"
        path = self.folder / f"{name}-{next(self._count)}.xml"
        path.write_text(text)
        return path

    def _start(self, name: str, scenario: Path, ip: str, options: list[str], *, ooc: Path | None = None,
               port: int | None = None) -> SippRun:
        work = self.folder / f"{name}-run{next(self._count)}"
        work.mkdir()
        (work / "pcap").symlink_to(self.tools.pcap)
        port = port or free_port(socket.SOCK_DGRAM, ip)
        command = [str(self.tools.sipp), f"127.0.0.1:{self.asterisk.sip_port}", "-sf", str(scenario),
                   "-i", ip, "-p", str(port), "-mi", ip, "-mp", str(free_port_block(1200, ip)),
                   "-nostdin", "-aa", "-trace_err", "-trace_logs", *options]
        if ooc is not None:
            command += ["-oocsf", str(ooc)]
        with open(work / "stdout.txt", "wb") as stdout:
            process = subprocess.Popen(command, cwd=work, stdin=subprocess.DEVNULL, stdout=stdout,
                                       stderr=subprocess.STDOUT)
        run = SippRun(name, process, work, command)
        self.runs.append(run)
        return run

    def trunk_call(self, *, caller: str = "+6281234567890", caller_name: str = "Budi Santoso", calls: int = 1,
                   rate: float | None = None, hangup_ms: int | None = 60_000, audio: bool = True,
                   pidf: str | None = None, access_network_info: str | None = None,
                   extra_headers: Iterable[str] = (), timeout_s: int = 300, talk: str | None = None) -> SippRun:
        """`calls` 112 calls from the operator trunk's address, all at once unless `rate` (calls/s).

        The caller talks (SIPp's speech pcap) and hangs up after `hangup_ms` (None: only when
        Asterisk hangs up). With `pidf` the INVITE carries `Geolocation: <cid:...>` and the
        document by value in a multipart/mixed body (RFC 6442); `access_network_info` becomes a
        P-Access-Network-Info header. `talk` replaces the talking part with SIPp steps of its own
        (`talk_block()`, `keys()`), ending with a jump to `hangup` or a wait for Asterisk's BYE.
        """
        headers = list(extra_headers)
        if access_network_info:
            headers.append(f"P-Access-Network-Info: {access_network_info}")
        if pidf:
            headers += ["Geolocation: <cid:location[call_number]@operator.invalid>", "Geolocation-Routing: yes"]
            content_type = "multipart/mixed;boundary=siaga112-boundary"
            body = ("--siaga112-boundary\nContent-Type: application/sdp\n\n" + SDP + "\n"
                    "--siaga112-boundary\nContent-Type: application/pidf+xml\n"
                    "Content-ID: <location[call_number]@operator.invalid>\n\n" + pidf + "\n--siaga112-boundary--\n")
        else:
            content_type, body = "application/sdp", SDP
        scenario = self._scenario(
            "trunk_call", caller=caller, caller_name=caller_name, content_type=content_type, body=body,
            extra_headers="".join("\n      " + h for h in headers), talk=talk if talk is not None else talk_block(hangup_ms, audio=audio))
        rate = rate if rate is not None else calls
        return self._start("trunk", scenario, TRUNK_IP,
                           ["-s", "112", "-m", str(calls), "-l", str(calls), "-r", f"{rate:g}", "-rp", "1000",
                            "-timeout", f"{timeout_s}s", "-max_recv_loops", "10000", "-max_sched_loops", "10000"])

    def phone(self, account: PhoneAccount, *, answer_ms: int = 1000, talk_ms: int | None = 3000,
              stay_ms: int = 600_000, register: bool = True) -> Phone:
        """A phone registered as `account` from its own address: rings `answer_ms` ms, answers,
        talks for `talk_ms` ms and hangs up (None: until Asterisk hangs up)."""
        main = self._scenario("phone_register" if register else "network", user=account.name,
                              password=account.password, stay_ms=stay_ms)
        ooc = self._scenario("phone_answer", user=account.name, answer_ms=answer_ms, talk=talk_block(talk_ms))
        run = self._start(f"phone-{account.name}", main, account.ip, ["-m", "1", "-l", "1"], ooc=ooc)
        return Phone(account, run)

    def network(self, *, answer_ms: int = 500, talk_ms: int | None = None) -> Phone:
        """The public network at the trunk's contact address: answers calls Asterisk places out
        through the operator trunk (the citizen's handset, for a call-back)."""
        account = PhoneAccount("citizen", "", TRUNK_IP)
        main = self._scenario("network", stay_ms=600_000)
        ooc = self._scenario("phone_answer", user="citizen", answer_ms=answer_ms, talk=talk_block(talk_ms))
        run = self._start("network", main, TRUNK_IP, ["-m", "1", "-l", "1"], ooc=ooc, port=self.asterisk.network_port)
        return Phone(account, run)

    def stop_all(self) -> None:
        for run in self.runs:
            run.stop()


class StalledServer:
    """A TCP server on loopback that accepts every connection, keeps it open, and never writes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="stalled-agi", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self.listener.close()
        self._thread.join(5)
        for connection in self.connections:
            connection.close()


# --- AMI ------------------------------------------------------------------------------------

class AmiWatcher:
    """One AMI session with events on: every message kept, tests wait for the ones they need."""

    def __init__(self, port: int, username: str = "siaga112", secret: str = AMI_SECRET) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = self.sock.makefile("rb")
        banner = self.reader.readline().decode()
        assert banner.startswith(BANNER_PREFIX), banner
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._read, name="ami-watcher", daemon=True)
        self._thread.start()
        reply = self.action("Login", Username=username, Secret=secret, Events="on")
        assert reply.get("Response") == "Success", reply

    def _read(self) -> None:
        lines: list[str] = []
        self.sock.settimeout(None)
        try:
            for raw in self.reader:
                lines = self._take(raw, lines)
        except (OSError, ValueError):
            return  # closed

    def _take(self, raw: bytes, lines: list[str]) -> list[str]:
        """One more line: kept until the empty line that ends the message."""
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line:
            lines.append(line)
            return lines
        if lines:
            with self._changed:
                self.messages.append(parse_message(lines))
                self._changed.notify_all()
        return []

    def action(self, name: str, *pairs: tuple[str, str], timeout: float = 10.0, **fields: str) -> Message:
        action_id = f"test-{next(self._ids)}"
        self.sock.sendall(format_action([("Action", name), ("ActionID", action_id), *fields.items(), *pairs]))
        return self.wait(lambda m: m.is_response and m.get("ActionID") == action_id, timeout=timeout,
                         what=f"the reply to {name}")

    def events(self, name: str, **match: str) -> list[Message]:
        with self._changed:
            return [m for m in self.messages if m.get("Event") == name
                    and all(m.get(k) == v for k, v in match.items())]

    def wait(self, predicate: Callable[[Message], bool], *, timeout: float = 30.0, what: str = "") -> Message:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"AMI: no {what or 'matching message'} within {timeout:.0f} s\n"
                                         f"{self._queue_story()}")
                self._changed.wait(left)

    def wait_event(self, name: str, *, timeout: float = 30.0, **match: str) -> Message:
        return self.wait(lambda m: m.get("Event") == name and all(m.get(k) == v for k, v in match.items()),
                         timeout=timeout, what=f"{name} event {match or ''}")

    def wait_count(self, name: str, count: int, *, timeout: float = 60.0, **match: str) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(name, **match)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"AMI: {len(found)} {name} events of {count} within {timeout:.0f} s\n"
                                     f"{self._queue_story()}")
            with self._changed:
                self._changed.wait(0.2)

    STORY_EVENTS = ("Newstate", "QueueCallerJoin", "AgentCalled", "AgentRingNoAnswer", "AgentConnect",
                    "AgentComplete", "QueueCallerAbandon", "QueueMemberStatus", "ContactStatus", "Hangup")

    def _queue_story(self, last: int = 40) -> str:
        """The last queue and phone events, for a failure to say where a call stopped (a ring
        nobody answered, a member Asterisk thought unavailable, a contact that went away)."""
        with self._changed:
            told = [m for m in self.messages if m.get("Event") in self.STORY_EVENTS][-last:]
        lines = [" ".join(f"{key}={m.get(key)}" for key in
                          ("Timestamp", "Event", "Channel", "Uniqueid", "ChannelStateDesc", "Interface",
                           "Status", "Paused", "ContactStatus", "AOR", "RingTime", "Cause")
                          if m.get(key) not in (None, "")) for m in told]
        return "AMI events before it (last %d):\n  %s" % (len(lines), "\n  ".join(lines) or "none")

    def close(self) -> None:
        try:
            self.sock.sendall(format_action([("Action", "Logoff")]))
            self.sock.shutdown(socket.SHUT_RDWR)  # the reading thread sees the end and stops
        except OSError:
            pass
        self._thread.join(5)
        self.reader.close()
        self.sock.close()


# --- The console ------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


class ConsoleSession:
    """A console user signed in over HTTP to the running web service, reading its event stream."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        page = self.http.get(f"{self.base_url}/login", timeout=10)
        token = self._csrf(page.text)
        reply = self.http.post(f"{self.base_url}/login", data={"username": username, "password": password,
                                                               "csrf_token": token}, timeout=10, allow_redirects=False)
        assert reply.status_code in (302, 303), f"sign-in as {username} failed: {reply.status_code}"
        self.events: list[dict] = []
        self._changed = threading.Condition()
        self._stream: requests.Response | None = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def _csrf(html: str) -> str:
        match = _CSRF.search(html)
        assert match, "no CSRF token on the page"
        return match.group(1) or match.group(2)

    def csrf(self, path: str = "/") -> str:
        return self._csrf(self.http.get(f"{self.base_url}{path}", timeout=10).text)

    def listen(self) -> None:
        """Open the event stream (`/api/v1/events`) now; events arrive in `self.events`."""
        self._stream = self.http.get(f"{self.base_url}/api/v1/events", stream=True, timeout=(10, 120))
        assert self._stream.status_code == 200, self._stream.status_code
        self._thread = threading.Thread(target=self._read, name="console-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    event = json.loads(line[6:])
                    if "kind" not in event:  # the stream's heartbeat ({"at": ...}), no event
                        continue
                    with self._changed:
                        self.events.append(event)
                        self._changed.notify_all()
        except (requests.RequestException, AttributeError, ValueError):
            return

    def wait_event(self, kind: str, *, timeout: float = 30.0, **payload: object) -> dict:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if event["kind"] == kind and all(event["payload"].get(k) == v for k, v in payload.items()):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the console got no {kind} event {payload or ''} within {timeout:.0f} s: "
                                         f"{[e['kind'] for e in self.events]}")
                self._changed.wait(left)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self.http.close()


@dataclass
class Timer:
    """Wall time of a block, for the tests' own budget."""

    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started
