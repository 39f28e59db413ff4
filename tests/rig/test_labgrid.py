"""A labgrid place as the rig (issue 14, 2 and 3), on a loopback lab the tests start: a real
labgrid-coordinator and labgrid-exporter (labgrid's own venv, `make labgrid`), exporting the emulator's
TCP port as a NetworkSerialPort and a fake PDU (tools/labgrid/fake_pdu.py, labgrid's `simplerest`
model) as a NetworkPowerPort whose outlet is the emulator's power, so a power cycle through labgrid is
a real one for the DUT.

Checked: a section of the suite runs on the place and releases it; the recovery ladder's power cycle
goes through labgrid; a second run waits while another user holds the place and proceeds when it is
released (and stops with one line when it is not); SIGTERM of a run releases the place; the doctor's
labgrid row; and the fake PDU speaks what simplerest expects.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import run_project

from harness.at import Transcript
from harness.emulator.launcher import EmulatorProcess
from harness.rig.labgrid import Place, _kill, find_tool, missing_reason, parse_shell_export, port_url
from harness.rig.loader import load_rig
from harness.rig.relay import build_relay
from harness.rig.relay_schema import RelayConfig
from harness.rig.session import open_dut, recover

ROOT = Path(__file__).resolve().parents[2]
FAKE_PDU = ROOT / "tools" / "labgrid" / "fake_pdu.py"
MISSING = missing_reason()
needs_labgrid = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
pytestmark = [pytest.mark.timeout(180)]
SCALE = 0.1
HOST = "lghost"  # LG_HOSTNAME for every client here: lock owners read HOST/USER


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to its process group, SIGKILL after 5 s (as the harness stops labgrid's tools)."""
    if proc.poll() is None:
        _kill(proc, signal.SIGTERM)  # type: ignore[arg-type]


def first_line(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> str:
    assert proc.stdout is not None
    end = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n") and time.monotonic() < end:
        line += proc.stdout.read(1)
    return line.decode().strip()


def user_env(user: str) -> dict[str, str]:
    return {**os.environ, "LG_USERNAME": user, "LG_HOSTNAME": HOST}


def client(coordinator: str, *args: str, user: str = "setup", check: bool = True) -> str:
    tool = find_tool()
    assert tool is not None
    proc = subprocess.run([tool, "-x", coordinator, *args], capture_output=True, text=True, timeout=30,
                          env=user_env(user))
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@dataclass
class Lab:
    tmp: Path
    coordinator: str
    place: str
    emulator: EmulatorProcess
    pdu_log: Path

    def rig(self, **extra: object) -> Path:
        opts = ", ".join(f"{k}: {v}" for k, v in {"acquire_timeout_s": 60, **extra}.items())
        path = self.tmp / f"rig-{len(list(self.tmp.glob('rig-*')))}.yaml"
        path.write_text(f"labgrid: {{coordinator: '{self.coordinator}', place: {self.place}, {opts}}}\n"
                        "relay: {power_off_s: 0.3, boot_s: 5}\n")
        return path

    def holder(self) -> str:
        out = client(self.coordinator, "-p", self.place, "show")
        return next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.strip().startswith("acquired:"))

    def switches(self) -> list[str]:
        return self.pdu_log.read_text().splitlines() if self.pdu_log.exists() else []


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if MISSING is not None:
        pytest.skip(MISSING)
    tmp = tmp_path_factory.mktemp("lab")
    procs: list[subprocess.Popen[bytes]] = []
    emu = EmulatorProcess.start(transport="tcp", time_scale=SCALE, control=True, log_path=tmp / "emulator.log",
                                extra=["-v"])
    try:
        pdu_log = tmp / "pdu.log"
        pdu = subprocess.Popen([sys.executable, str(FAKE_PDU), "--outlet", f"0={emu.control}", "--log", str(pdu_log)],
                               stdout=subprocess.PIPE, stderr=(tmp / "pdu.err").open("wb"), start_new_session=True)
        procs.append(pdu)
        template = first_line(pdu)
        assert template.startswith("http://127.0.0.1:"), template
        coordinator = f"127.0.0.1:{free_port()}"
        procs.append(start([str(find_tool("labgrid-coordinator")), "-l", coordinator], tmp / "coordinator.log", tmp))
        emu_port = emu.url.rsplit(":", 1)[1]
        (tmp / "exporter.yaml").write_text(
            f"bc660k:\n  location: loopback\n  NetworkSerialPort:\n    host: 127.0.0.1\n    port: {emu_port}\n"
            f"    protocol: raw\n  NetworkPowerPort:\n    model: simplerest\n    host: '{template}'\n    index: 0\n")
        end = time.monotonic() + 30
        while "Coordinator ready" not in (tmp / "coordinator.log").read_text():
            assert time.monotonic() < end, (tmp / "coordinator.log").read_text()
            time.sleep(0.1)
        procs.append(start([str(find_tool("labgrid-exporter")), "-c", coordinator, "--name", "host1",
                            str(tmp / "exporter.yaml")], tmp / "exporter.log", tmp))
        while "host1/bc660k/NetworkSerialPort" not in client(coordinator, "resources", check=False):
            assert time.monotonic() < end, (tmp / "exporter.log").read_text()
            time.sleep(0.2)
        place = "bc660k-loop"
        client(coordinator, "-p", place, "create")
        client(coordinator, "-p", place, "add-match", "host1/bc660k/*")
        client(coordinator, "-p", place, "set-tags", "dut=bc660k-gl")
        yield Lab(tmp, coordinator, place, emu, pdu_log)
    finally:
        for proc in reversed(procs):
            stop(proc)
        emu.stop()


def run(lab: Lab, user: str, *args: str) -> subprocess.Popen[str]:
    return run_project.start(ROOT, "-q", "--time-scale", str(SCALE), *args, extra_env=user_env(user))


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


# -- without labgrid ------------------------------------------------------------------------------


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_fake_pdu_speaks_simplerest_and_powers_the_emulator(tmp_path):
    """What labgrid's simplerest driver sends (GET template with value 1/0; GET with the value empty and
    the trailing / stripped, body "1" = on) switches the emulator's power through its control socket."""
    emu = EmulatorProcess.start(transport="tcp", time_scale=SCALE, control=True)
    pdu = subprocess.Popen([sys.executable, str(FAKE_PDU), "--outlet", f"0={emu.control}", "--outlet", "1",
                            "--log", str(tmp_path / "log")], stdout=subprocess.PIPE, start_new_session=True)
    try:
        template = first_line(pdu)
        status = build_relay(RelayConfig(kind="emulated"), device=str(emu.control))
        url = lambda index, value: template.format(index=index, value=value).rstrip("/")  # noqa: E731
        assert get(url(0, "")) == (200, "1")
        assert get(url(0, 0)) == (200, "0") and status.status() == "off"
        assert get(url(0, "")) == (200, "0")
        assert get(url(0, 1)) == (200, "1") and status.status() in ("booting", "on")
        assert get(url(1, 0)) == (200, "0") and get(url(1, "")) == (200, "0")  # an outlet with nothing on it
        assert get(url(7, 1))[0] == 404 and get(url(0, 2))[0] == 400
        assert (tmp_path / "log").read_text().splitlines() == ["0 0", "0 1", "1 0"]
    finally:
        stop(pdu)
        emu.stop()


def test_labgrid_export_becomes_a_pyserial_url():
    text = ("export LG__CLIENT_PID=1\nexport LG__SERIALDRIVER_HOST=127.0.0.1\nexport LG__SERIALDRIVER_PORT=4000\n"
            "export LG__SERIALDRIVER_PROTOCOL=raw\nexport LG__SERIALDRIVER_SPEED=115200\n")
    assert port_url(parse_shell_export(text)) == "socket://127.0.0.1:4000"
    assert port_url(parse_shell_export(text.replace("=raw", "=rfc2217"))) == \
        "rfc2217://127.0.0.1:4000?ign_set_control"


# -- on the loopback lab --------------------------------------------------------------------------


@needs_labgrid
def test_suite_section_runs_on_the_place_and_releases_it(lab, tmp_path):
    code, out = finish(run(lab, "runner", "suites/test_general.py", "--rig", str(lab.rig()),
                           f"--report-dir={tmp_path}"))
    assert code == 0, out[-3000:]
    assert " passed" in out.splitlines()[-1] and "failed" not in out.splitlines()[-1], out[-2000:]
    assert lab.holder() == "None"


@needs_labgrid
def test_recovery_ladder_power_cycles_through_labgrid(lab, monkeypatch):
    """The DUT hangs (its parser stops; AT+QRST cannot help): the ladder's power cycle is labgrid's,
    through the fake PDU, and the same module answers afterwards; the place is released at close."""
    monkeypatch.setenv("LG_USERNAME", "runner")
    monkeypatch.setenv("LG_HOSTNAME", HOST)
    rig = load_rig(lab.rig(), {"dut.time_scale": SCALE})
    before = len(lab.switches())
    dut = open_dut(rig)
    try:
        assert dut.place is not None and lab.holder() == f"{HOST}/runner"
        build_relay(RelayConfig(kind="emulated"), device=str(lab.emulator.control)).hang()
        log = Transcript()
        ident = recover(dut, log)
        notes = "\n".join(e.text for e in log.entries if e.direction == "NOTE")
        assert ident.imei == dut.identity.imei
        assert lab.switches()[before:] == ["0 0", "0 1"], lab.switches()
        assert dut.channel.command("AT").ok
        assert "power cycle: ok" in notes, notes
    finally:
        dut.close()
    assert lab.holder() == "None"


@needs_labgrid
def test_second_run_waits_while_the_place_is_held_then_proceeds(lab, tmp_path):
    client(lab.coordinator, "-p", lab.place, "acquire", user="alice")
    try:
        t0 = time.monotonic()
        proc = run(lab, "runner", "suites/test_general.py", "--rig", str(lab.rig()), f"--report-dir={tmp_path}")
        time.sleep(6)
        assert proc.poll() is None, proc.communicate()[0][-2000:]  # still waiting
        assert lab.holder() == f"{HOST}/alice"
    finally:
        client(lab.coordinator, "-p", lab.place, "release", user="alice")
    code, out = finish(proc)
    assert code == 0, out[-3000:]
    assert time.monotonic() - t0 > 6 and " passed" in out.splitlines()[-1]
    assert lab.holder() == "None"


@needs_labgrid
def test_place_held_past_the_timeout_stops_the_run_with_one_line(lab, tmp_path):
    client(lab.coordinator, "-p", lab.place, "acquire", user="alice")
    try:
        code, out = finish(run(lab, "runner", "suites/test_general.py", "--rig", str(lab.rig(acquire_timeout_s=2)),
                               f"--report-dir={tmp_path}"))
    finally:
        client(lab.coordinator, "-p", lab.place, "release", user="alice")
    assert code == 3, out[-3000:]
    assert "Traceback" not in out
    lines = [ln for ln in out.splitlines() if f"acquired by {HOST}/alice" in ln]
    # the wait is said at once (not held back by capture), then the one line that ends the run
    assert len(lines) == 2, out[-2000:]
    assert lines[0].startswith("waiting for labgrid place") and "(up to 2 s)" in lines[0], lines
    assert "not released within 2 s" in lines[1], lines


@needs_labgrid
def test_sigterm_of_a_run_releases_the_place(lab, tmp_path):
    proc = run(lab, "runner", "suites", "--section", "3.3.2", "--rig", str(lab.rig()), f"--report-dir={tmp_path}")
    try:
        end = time.monotonic() + 60
        while lab.holder() != f"{HOST}/runner":
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()[0][-2000:]
            time.sleep(0.2)
        time.sleep(2)  # into the cases
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        code, out = finish(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code != 0, out[-2000:]
    assert lab.holder() == "None", out[-2000:]


def evidence(rows: dict[str, str], lab: Lab) -> str:
    """What a failed doctor row needs to be understood: its serial exchange and the emulator's log."""
    text = ""
    kept = rows.get("transcript", "").rsplit(" ", 1)[-1]
    if kept.startswith("/") and Path(kept).is_file():
        text += "\n--- doctor transcript\n" + Path(kept).read_text()[-4000:]
    return text + "\n--- emulator log (tail)\n" + (lab.tmp / "emulator.log").read_text()[-4000:]


@needs_labgrid
def test_doctor_checks_the_place(lab):
    proc = subprocess.run([sys.executable, "-m", "harness.rig", "doctor", "--rig", str(lab.rig())], cwd=ROOT,
                          env=user_env("doc"), capture_output=True, text=True, timeout=120)
    rows = {ln.split()[0]: ln for ln in proc.stdout.splitlines() if ln.strip()}
    assert proc.returncode == 0, proc.stdout + proc.stderr + evidence(rows, lab)
    assert "OK" in rows["labgrid"] and "2 resources online" in rows["labgrid"], proc.stdout
    assert "relay labgrid: power off" in rows["relay"] and "same module answers" in rows["relay"], proc.stdout
    assert lab.holder() == "None"
    client(lab.coordinator, "-p", lab.place, "acquire", user="alice")
    try:
        proc = subprocess.run([sys.executable, "-m", "harness.rig", "doctor", "--rig", str(lab.rig())], cwd=ROOT,
                              env=user_env("doc"), capture_output=True, text=True, timeout=60)
    finally:
        client(lab.coordinator, "-p", lab.place, "release", user="alice")
    rows = {ln.split()[0]: ln for ln in proc.stdout.splitlines() if ln.strip()}
    assert proc.returncode == 3 and "FAIL" in rows["labgrid"] and f"acquired by {HOST}/alice" in rows["labgrid"], \
        proc.stdout


def test_place_is_a_one_line_error_when_the_coordinator_is_gone(monkeypatch):
    if MISSING is not None:
        pytest.skip(MISSING)
    place = Place(f"127.0.0.1:{free_port()}", "nowhere", timeout_s=8)
    with pytest.raises(Exception) as info:
        place.acquire(1)
    assert "\n" not in str(info.value) and "nowhere" in str(info.value)


def test_ladder_follows_a_port_that_moved_after_the_power_cycle():
    """labgrid #1387: after power-up the exporter may serve the port elsewhere. The power-cycle rung
    reads the port again (Ladder.resolve, the place's export for a labgrid rig) and reopens there."""
    from harness.at import ATChannel
    from harness.rig.ladder import RUNG_BY_NAME, Ladder

    old = EmulatorProcess.start(transport="tcp", time_scale=SCALE, control=True)
    new = EmulatorProcess.start(transport="tcp", time_scale=SCALE)
    log = Transcript()
    channel = ATChannel(old.url, time_scale=SCALE, transcript=log)
    relay = build_relay(RelayConfig(kind="emulated", power_off_s=0.1, boot_s=3), device=str(old.control))
    asked: list[str] = []

    def resolve() -> str:
        asked.append("export")
        return new.url

    ladder = Ladder(channel, old.url, log, relay=relay, time_scale=SCALE, resolve=resolve)
    try:
        done = RUNG_BY_NAME["power cycle"].run(ladder)
        assert asked == ["export"]
        assert ladder.channel.url == new.url and ladder.port == new.url, done
        assert f"the port moved {old.url} -> {new.url}" in done
        assert ladder.answers()
    finally:
        ladder.channel.close()
        channel.close()
        old.stop()
        new.stop()


@needs_labgrid
def test_reservation_by_tags_gets_the_place(lab, monkeypatch):
    """labgrid.reserve: {dut: bc660k-gl}: the coordinator allocates the tagged place, the session
    acquires it through the reservation's token, and releases it and cancels the reservation at close."""
    monkeypatch.setenv("LG_USERNAME", "runner")
    monkeypatch.setenv("LG_HOSTNAME", HOST)
    rig_path = lab.tmp / "rig-reserve.yaml"
    rig_path.write_text(f"labgrid: {{coordinator: '{lab.coordinator}', reserve: {{dut: bc660k-gl}}, "
                        "acquire_timeout_s: 30}\n")
    dut = open_dut(load_rig(rig_path, {"dut.time_scale": SCALE}))
    try:
        assert dut.place is not None and dut.place.name == lab.place and dut.place.token
        assert lab.holder() == f"{HOST}/runner" and dut.channel.command("AT").ok
    finally:
        dut.close()
    assert lab.holder() == "None"
    assert "Reservation '" not in client(lab.coordinator, "reservations")
