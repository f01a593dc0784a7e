"""The shipped dialplan and the step table agree; the prompts exist; the ivr commands work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.steps import ROUTES
from siaga112.settings import CONFIG_DIR

DIALPLAN = CONFIG_DIR / "asterisk" / "extensions.conf"
SOUNDS = CONFIG_DIR / "asterisk" / "sounds"
PROMPTS = ("welcome", "choose_service", "record_statement", "silent_check", "silent_confirmed",
           "prank_warning", "connecting", "greeting", "statement_request", "silent_noted")
MUSICONHOLD = CONFIG_DIR / "asterisk" / "musiconhold.conf"
QUEUES = CONFIG_DIR / "asterisk" / "queues.conf"


def dialplan_agi_paths(text: str) -> set[str]:
    """Every path of an `AGI(agi://host:port/path...)` in a dialplan, comments left out."""
    code = "\n".join(line.split(";", 1)[0] for line in text.splitlines())
    return {m.group(1) for m in re.finditer(r"AGI\(\s*agi://[^/,)]+/([A-Za-z0-9_.-]+)", code, re.IGNORECASE)}


def test_every_agi_path_of_the_shipped_dialplan_has_a_step():
    if not DIALPLAN.exists():
        pytest.skip("config/asterisk/extensions.conf is not in this checkout yet")
    paths = dialplan_agi_paths(DIALPLAN.read_text())
    assert paths, "the dialplan names no FastAGI path"
    assert paths <= set(ROUTES), f"paths without a step: {sorted(paths - set(ROUTES))}"


def test_the_step_table_holds_the_contract_paths_and_the_queue_first_intake():
    assert set(ROUTES) == {"intake", "ivr", "agent-connected", "call-ended"}


def test_the_shipped_dialplan_runs_nothing_of_ours_on_the_bridge_or_after_the_hang_up():
    code = "\n".join(line.split(";", 1)[0] for line in DIALPLAN.read_text().splitlines())
    calls = [line.split("Queue(", 1)[1].rsplit(")", 1)[0].split(",") for line in code.splitlines() if "Queue(112" in line]
    # Queue(name,options,URL,announce,timeout,AGI,gosub,rule,position): no AGI, no member gosub.
    assert calls and all(len(args) == 9 and args[5] == "" and args[6] == "" for args in calls), calls
    assert dialplan_agi_paths(code) == {"intake", "ivr"}
    assert "membergosub" not in "\n".join(line.split(";", 1)[0] for line in QUEUES.read_text().splitlines())


def test_every_hold_class_plays_shipped_files_greeting_first_and_quiet_last():
    text = MUSICONHOLD.read_text()
    folders = re.findall(r"^directory\s*=\s*sounds/(\S+)", text, re.M)
    assert folders == ["siaga112/hold-id", "siaga112/hold-silent-id"]
    hold = sorted(p.name for p in (SOUNDS / folders[0]).glob("*.wav"))
    assert hold == ["1-greeting.wav", "2-quiet.wav", "3-waiting.wav"]
    assert sorted(p.name for p in (SOUNDS / folders[1]).glob("*.wav")) == ["1-noted.wav", "2-quiet.wav"]
    assert "periodic-announce =" not in QUEUES.read_text()  # an announcement would hold up ringing
    import wave
    with wave.open(str(SOUNDS / "siaga112/hold-id/1-greeting.wav")) as greeting:
        assert greeting.getnframes() / greeting.getframerate() <= 3.0


def test_agi_paths_are_found_in_dialplan_lines():
    text = ("exten => 112,n,AGI(agi://${SIAGA_HOST}:4573/ivr)\n"
            " same => n,AGI(agi://127.0.0.1:4573/call-ended,${UNIQUEID})\n"
            "; exten => x,n,AGI(agi://127.0.0.1/old-path)\n")
    assert dialplan_agi_paths(text) == {"ivr", "call-ended"}


@pytest.mark.parametrize("language", ["id", "en"])
def test_every_prompt_the_ivr_plays_is_shipped(language, settings):
    folder = SOUNDS / settings.prompts / language
    if not folder.is_dir():
        pytest.skip(f"{folder} is not in this checkout yet")
    missing = [name for name in PROMPTS if not (folder / f"{name}.wav").is_file()]
    assert not missing


def test_simulate_call_places_a_call_and_prints_what_happened(cli_runner, agi_server, database):
    result = cli_runner.invoke(["simulate-call", "--from", "081234567890", "--dtmf", "2",
                                "--port", str(agi_server.port), "--host", "127.0.0.1"])

    assert result.exit_code == 0, result.output
    assert "ANSWER" in result.output and "set QUEUE_PRIO = " in result.output
    assert "set SIAGA_SERVICE = fire" in result.output
    assert "AGISTATUS=SUCCESS\ncall 1 waits in the queue" in result.output


def test_simulate_calls_started_together_from_two_terminals_are_two_calls(agi_server, database):
    from siaga112.models import Call

    command = [sys.executable, "-m", "center.cli", "simulate-call", "--dtmf", "2", "--port", str(agi_server.port),
               "--host", "127.0.0.1", "--from"]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    callers = [subprocess.Popen([*command, number], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
               for number in ("081234567801", "081234567802")]  # the same second, two processes
    outputs = [caller.communicate(timeout=60)[0].decode() for caller in callers]

    assert [caller.returncode for caller in callers] == [0, 0], outputs
    with database.session() as session:
        calls = session.query(Call).all()
    assert len(calls) == 2 and len({call.uniqueid for call in calls}) == 2


def test_simulate_call_with_a_pidf_lo_and_a_cell_sends_them_as_the_network_would(cli_runner, agi_server, shared_data):
    document = shared_data / "messages/pidf_lo/dec112/simple-circle__valid-circle.xml"
    result = cli_runner.invoke(["simulate-call", "--from", "+6281234567890", "--geolocation", str(document),
                                "--cell", "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=51010183C357C80B",
                                "--port", str(agi_server.port)])

    assert result.exit_code == 0, result.output
    assert "GET VARIABLE SIAGA_PIDF_LO  ->  200 result=1 (" in result.output


def test_simulate_call_to_a_server_that_is_down_reports_failure(cli_runner, unused_port):
    result = cli_runner.invoke(["simulate-call", "--from", "+6281234567890", "--port", str(unused_port)])
    assert result.exit_code == 0 and "AGISTATUS=FAILURE" in result.output


def test_simulate_call_refuses_keys_a_phone_does_not_have(cli_runner):
    result = cli_runner.invoke(["simulate-call", "--from", "+6281234567890", "--dtmf", "x"])
    assert result.exit_code != 0 and "DTMF" in result.output


def test_import_cells_refuses_a_file_that_is_not_opencellid(cli_runner, tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text("a,b,c\n1,2,3\n")
    result = cli_runner.invoke(["import", "cells", str(path)])
    assert result.exit_code != 0 and "not an OpenCelliD CSV" in result.output


def test_import_cells_skips_rows_with_impossible_positions(cli_runner, tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
                    "LTE,510,10,6204,1,0,112.6,-7.9,1000,3,1,1,1,0\n"
                    "LTE,510,10,6204,2,0,0,0,1000,3,1,1,1,0\n"
                    "LTE,510,10,6204,3,0,nan,-7.9,1000,3,1,1,1,0\n")
    result = cli_runner.invoke(["import", "cells", str(path)])
    assert "1 cells loaded, 2 rows skipped" in result.output


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_settings_default_prompts_folder_matches_the_shipped_one(settings):
    assert Path(settings.prompts).name == "siaga112"
