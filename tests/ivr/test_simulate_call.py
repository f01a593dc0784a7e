"""`simulate-call` as a new user meets it in the README: its examples work as printed (issue 16, finding 12)."""

from __future__ import annotations

from siaga112 import auth
from siaga112.models import Call, User


def _simulate(cli_runner, agi_server, *args):
    result = cli_runner.invoke(["simulate-call", "--from", "+6281234567890", *args,
                                "--port", str(agi_server.port), "--host", "127.0.0.1"])
    assert result.exit_code == 0, result.output
    return result


def _last_call(database) -> Call:
    with database.session() as session:
        call = session.query(Call).order_by(Call.id.desc()).first()
        session.expunge(call)
        return call


def test_the_first_demo_call_is_not_taken_for_a_silent_one(cli_runner, agi_server, database):
    result = _simulate(cli_runner, agi_server, "--dtmf", "2")
    call = _last_call(database)
    assert call.state == "queued" and call.service_choice in ("2", "fire") and not call.silent
    assert "waits in the queue" in result.output


def test_dtmf_55_confirms_a_silent_emergency_as_printed_in_the_help(cli_runner, agi_server, database):
    _simulate(cli_runner, agi_server, "--dtmf", "55")
    call = _last_call(database)
    assert call.silent and call.silent_emergency
    _simulate(cli_runner, agi_server, "--dtmf", "255")
    call = _last_call(database)
    assert call.silent_emergency and call.service_choice in ("2", "fire")


def test_answer_as_a_users_phone_pops_the_call_and_hangs_up(cli_runner, agi_server, database):
    with database.session() as session:
        auth.create_user(session, "ani", "calltaker", "correct horse battery", phone_interface="PJSIP/1001")
    result = _simulate(cli_runner, agi_server, "--dtmf", "2", "--answer-as", "ani", "--talk", "0")
    assert "answered on PJSIP/1001" in result.output and result.output.rstrip().endswith("ended")
    call = _last_call(database)
    assert call.state == "completed" and call.agent_interface == "PJSIP/1001" and call.answered_at
    with database.session() as session:
        assert session.query(User).filter_by(username="ani").one().status == "wrap_up"
    _simulate(cli_runner, agi_server, "--answer-as", "PJSIP/1001", "--talk", "0")
    assert _last_call(database).state == "completed"


def test_a_caller_can_give_up_in_the_queue(cli_runner, agi_server, database):
    _simulate(cli_runner, agi_server, "--abandon-after", "0")
    assert _last_call(database).state == "abandoned"


def test_answer_as_an_unknown_user_is_refused_before_the_call(cli_runner, agi_server, database):
    result = cli_runner.invoke(["simulate-call", "--from", "+6281234567890", "--answer-as", "nobody",
                                "--port", str(agi_server.port)])
    assert result.exit_code != 0 and "no console user 'nobody'" in result.output
