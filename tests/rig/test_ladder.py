"""The recovery ladder (harness/rig/ladder.py): each rung against a real emulator and its control
socket, then whole runs (pytest in a subprocess, the real `modem` fixture, tests/rig_cases/) in
which a hung parser, a dead port and a power cut mid-publish are climbed out of and the next case
passes, and a dead emulator ends the run as "rig broken" with exit status 3."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_project import start

from harness.at import ATChannel, Transcript
from harness.emulator.launcher import ROOT, EmulatorProcess
from harness.rig.identity import read_identity
from harness.rig.ladder import RUNG_BY_NAME, RUNGS, Ladder, LadderError, RungFailed, _soft_reset
from harness.rig.relay import build_relay
from harness.rig.relay.emulated import EmulatedRelay
from harness.rig.relay_schema import RelayConfig
from harness.spec.timing import deadline_s

pytestmark = pytest.mark.timeout(60)
SCALE = 0.1
EMULATOR_START = {"control": True}  # tests/conftest.py's `emulator`, with its control socket
CASES = Path(__file__).resolve().parents[1] / "rig_cases"


# -- whole runs: pytest in a subprocess on tests/rig_cases/ modules ---------------------------------


def _run(tmp: Path, module: str, *select: str) -> subprocess.Popen[str]:
    rig = tmp / "rig.yaml"
    rig.write_text(f"dut: {{kind: emulator, time_scale: {SCALE}}}\nreport: {{dir: {tmp / 'reports'}}}\n")
    return start(ROOT, str(CASES / module), "-q", "-rs", "--rig", str(rig), f"--junitxml={tmp / 'junit.xml'}",
                 f"--html={tmp / 'html' / 'index.html'}", f"--alluredir={tmp / 'allure'}",
                 f"--report-dir={tmp / 'reports'}", *select)


RUNS = {
    "hang": ("ladder_recovers.py", "-k", "test_1 or test_2"),
    "dead_port": ("ladder_recovers.py", "-k", "test_3 or test_4"),
    "power_cut": ("ladder_recovers.py", "-k", "test_5 or test_6"),
    "emulator_dies": ("ladder_breaks.py",),
}


class Runs:
    """The whole runs, started together when the module's first test starts (autouse), so they
    run while the rung tests do; a test waits only for the run it reads."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.started = {name: (tmp, _run(tmp, *args)) for name, args in RUNS.items()
                        for tmp in [tmp_path_factory.mktemp(name)]}
        self.done: dict[str, tuple[int, str, Path]] = {}

    def __getitem__(self, name: str) -> tuple[int, str, Path]:
        if name not in self.done:
            tmp, proc = self.started[name]
            out, _ = proc.communicate(timeout=90)
            self.done[name] = (proc.returncode, out, tmp)
        return self.done[name]

    def stop(self) -> None:
        for _, proc in self.started.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module", autouse=True)
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    started = Runs(tmp_path_factory)
    try:
        yield started
    finally:
        started.stop()


# -- rung by rung, against one emulator with its control socket ---------------------------------


# `emulator`: tests/conftest.py's, at SCALE with EMULATOR_START


@pytest.fixture
def relay(emulator: EmulatorProcess) -> Iterator[EmulatedRelay]:
    r = build_relay(RelayConfig(kind="emulated", timeout_s=5, power_off_s=0.1), device=str(emulator.control))
    assert isinstance(r, EmulatedRelay)
    if r.status() == "off":
        r.on()
    yield r
    if r.status() in ("off", "hung"):
        r.cycle()
    r.close()


@pytest.fixture
def ladder(emulator: EmulatorProcess, relay: EmulatedRelay) -> Iterator[Ladder]:
    log = Transcript()
    channel = ATChannel(emulator.url, time_scale=SCALE, transcript=log)
    assert channel.resync()
    lad = Ladder(channel, emulator.url, log, relay=relay, expected=read_identity(channel), time_scale=SCALE)
    yield lad
    lad.channel.close()


def notes(ladder: Ladder) -> list[str]:
    return [e.text for e in ladder.log.entries if e.direction == "NOTE" and e.text.startswith("ladder")]


def test_rungs_are_in_the_documented_order() -> None:
    assert [r.name for r in RUNGS] == ["resync", "software reset", "reset line", "power cycle", "reopen port"]


def test_resync_rung_leaves_a_data_mode(ladder: Ladder) -> None:
    ladder.channel.write_raw(b'AT+QMTCFG="will",0,1,0,0,"t"\r')  # any line, then garbage without <CR>
    ladder.channel.write_raw(b"ATXYZ")
    ident = ladder.climb([RUNG_BY_NAME["resync"]])
    assert ident.imei == ladder.expected.imei
    assert notes(ladder)[0].startswith("ladder: resync: ok")


def test_software_reset_rung_reboots_and_sees_rdy(ladder: Ladder) -> None:
    assert _soft_reset(ladder) == "AT+QRST=1, RDY"
    assert ladder.answers()


def test_software_reset_rung_fails_on_a_hung_parser(ladder: Ladder, relay: EmulatedRelay) -> None:
    relay.hang()
    with pytest.raises(RungFailed, match="no RDY"):
        _soft_reset(ladder)


def test_reset_line_rung_unhangs_the_parser(ladder: Ladder, relay: EmulatedRelay) -> None:
    relay.hang()
    assert not ladder.channel.resync(attempts=1, timeout=deadline_s("AT", SCALE))
    ladder.climb([RUNG_BY_NAME["reset line"]])
    assert notes(ladder)[0].startswith("ladder: reset line: ok (reset pulse, RDY")
    assert relay.status() == "on"


def test_power_cycle_rung_powers_the_module_back(ladder: Ladder, relay: EmulatedRelay) -> None:
    relay.off()
    ladder.climb([RUNG_BY_NAME["reset line"], RUNG_BY_NAME["power cycle"]])
    assert notes(ladder)[0].startswith("ladder: reset line: failed (relay emulated")  # no reset without power
    assert notes(ladder)[1].startswith("ladder: power cycle: ok (power off 0.1 s and on, RDY")


def test_relay_rungs_are_skipped_without_a_relay(ladder: Ladder, relay: EmulatedRelay) -> None:
    ladder.relay = None
    relay.off()
    with pytest.raises(LadderError, match=r"does not answer AT after the recovery ladder \(nothing to try\)"):
        ladder.climb([RUNG_BY_NAME["reset line"], RUNG_BY_NAME["power cycle"]])
    assert notes(ladder) == ["ladder: reset line: skipped (the rig has no relay)",
                             "ladder: power cycle: skipped (the rig has no relay)"]


def test_reopen_rung_replaces_a_dead_channel(ladder: Ladder) -> None:
    old = ladder.channel
    old._port._socket.shutdown(socket.SHUT_RDWR)  # the link is gone under the channel
    assert not ladder.answers()
    ladder.climb([RUNG_BY_NAME["reopen port"]])
    assert ladder.channel is not old and ladder.channel.command("AT").ok
    assert notes(ladder)[0].startswith(f"ladder: reopen port: ok (reopened {ladder.port}")


def test_another_module_answering_is_a_rig_failure(ladder: Ladder) -> None:
    ladder.expected = dataclasses.replace(ladder.expected, imei="866000000000001")
    with pytest.raises(LadderError, match=r"another module answers .*IMEI 866000000000001 -> 8"):
        ladder.climb([RUNG_BY_NAME["resync"]])
    assert notes(ladder)[-1].startswith("ladder: verify identity: FAILED, another module answers")


# -- the whole runs (started by the autouse fixture above) -----------------------------------------


def _record(tmp: Path) -> dict[str, dict]:
    data = json.loads((tmp / "reports" / "record.json").read_text())
    return {c["nodeid"].rsplit("::", 1)[1]: c for c in data["cases"]}


@pytest.mark.parametrize("name, rung", [("hang", "reset line"), ("dead_port", "reopen port"),
                                        ("power_cut", "power cycle")])
def test_run_recovers_and_the_next_case_passes(runs, name: str, rung: str) -> None:
    status, out, tmp = runs[name]
    assert status == 0, out[-3000:]
    cases = _record(tmp)
    assert [c["verdict"] for c in cases.values()] == ["passed", "passed"], out[-3000:]
    junit = (tmp / "junit.xml").read_text()
    assert f"ladder: {rung}: ok" in junit  # the rung that brought it back, in the case's evidence
    assert "ladder: verify identity: ok (IMEI" in junit
    page = (tmp / "html" / "index.html").read_text()
    assert "Recovery ladder" in page


def test_dead_emulator_breaks_the_rig_and_the_rest_is_not_run(runs) -> None:
    status, out, tmp = runs["emulator_dies"]
    assert status == 3, out[-3000:]
    assert "RIG BROKEN: cannot bring the DUT to its known state" in out
    cases = _record(tmp)
    assert cases["test_1_emulator_dies"]["verdict"] == "passed"
    # the case whose setup found the rig broken is skipped with the reason; the run stops there
    assert cases["test_2_would_pass"]["verdict"] == "skipped", cases["test_2_would_pass"]
    assert cases["test_2_would_pass"]["message"].startswith("rig broken: ")
    assert "the emulator process has exited" in cases["test_2_would_pass"]["message"]
    assert cases["test_3_would_pass_too"]["verdict"] == "not-run", cases["test_3_would_pass_too"]
    record = json.loads((tmp / "reports" / "record.json").read_text())
    assert record["complete"] is False and record["incomplete"]["kind"] == "rig-broken", record["incomplete"]
    assert record["incomplete"]["at"].endswith("test_2_would_pass"), record["incomplete"]
    assert "failed" not in out.splitlines()[-1]  # not DUT failures
    junit = (tmp / "junit.xml").read_text()
    assert "ladder: reopen port: failed" in junit and "rig broken:" in junit
    matrix = (tmp / "reports" / "matrix.html").read_text()
    assert "skipped: rig broken" in matrix and "INCOMPLETE" in matrix
