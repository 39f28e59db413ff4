"""Checks and malformed lines that several command suites share, written once so they cannot drift.

- every MQTT command's test form answers exactly the line harness.spec.commands expects (3.3.2-3.3.5);
- AT+QMTCLOSE (3.3.3) and AT+QMTDISC (3.3.5) take <TCP_connectID> as their only parameter, printed
  alike but for the name (harness.spec.commands._cid_only): the same bad arguments for both;
- AT+QMTSUB (3.3.6) and AT+QMTUNS (3.3.7) write forms start <TCP_connectID>,<msgID>,<topic1>: the same
  <msgID> misuses and the same forms cut short for both.
"""

from __future__ import annotations

from harness.plugin.fixtures.qmt import Qmt
from harness.spec.commands import Command
from harness.spec.model import IntParam


def assert_test_form_line(qmt: Qmt, command: Command) -> None:
    """The test form answers one line, exactly the suite's reading of the note (Form.test_line)."""
    form = command.form("test")
    assert qmt.lines(form.syntax) == [form.test_line]


# <TCP_connectID> "Integer type ... Range: 0–4" as the only parameter: out of range both ways, not an
# integer, missing, quoted, one parameter too many.
BAD_ONLY_CID_IDS = ["below", "above", "not_integer", "missing", "quoted", "extra"]


def bad_only_cid_args(cid: IntParam) -> list[str]:
    """The arguments of BAD_ONLY_CID_IDS, in that order, for a command whose one parameter is `cid`."""
    return [*map(str, cid.invalid_values()), "a", "", '"0"', "0,1"]


def msgid_misuses(command: str, rest: str) -> dict[str, str]:
    """<msgID> "Integer type" given as text, quoted and as a fraction: AT<command>=0,<msgID>,<rest>."""
    return {f"msgID {kind}": f"AT{command}=0,{bad},{rest}"
            for kind, bad in (("text", "abc"), ("quoted", '"7"'), ("fraction", "1.5"))}


def cut_short(command: str) -> dict[str, str]:
    """The write form AT<command>=<TCP_connectID>,<msgID>,<topic1>... without its topic, then with the
    connect ID alone, then with no parameter at all."""
    return {"topic missing": f"AT{command}=0,7", "all missing": f"AT{command}=0", "no parameters": f"AT{command}="}
