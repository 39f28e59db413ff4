"""Remote serial ports as a lab exports them (issue 14, 1): Debian's ser2net 4 serving the emulator's
pty on loopback, raw (`socket://`) and telnet with RFC 2217 (`rfc2217://`, with its options), and a
section of the suite passing over each, from `--port` and from a rig file; the doctor too.

`rfc2217://` without `?ign_set_control` cannot open as pyserial opens it against a pty: pyserial sets
DTR/RTS at open and waits for the server's answer, and ser2net sends none when the device has no modem
lines (its TIOCMSET on the pty fails with ENOTTY). harness/at/port.py then opens the URL again with the
option, as labgrid always does, and says so once.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_project import ROOT
from run_project import run as run_pytest

from harness.emulator.launcher import EmulatorProcess

SER2NET = shutil.which("ser2net") or ("/usr/sbin/ser2net" if Path("/usr/sbin/ser2net").exists() else None)
pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(SER2NET is None, reason="ser2net is not installed: make deps (or apt-get install ser2net)"),
]
SCALE = "0.1"  # the emulator's clock and the run's: the same section in a tenth of the time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"ser2net exited {proc.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"ser2net is not listening on 127.0.0.1:{port}")


class Exported:
    def __init__(self, raw: int, rfc2217: int) -> None:
        self.raw, self.rfc2217 = raw, rfc2217

    def url(self, mode: str, options: str = "") -> str:
        return f"socket://127.0.0.1:{self.raw}" if mode == "raw" else f"rfc2217://127.0.0.1:{self.rfc2217}{options}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """One emulator on a pty, exported by one ser2net on two loopback ports: raw and telnet(rfc2217)."""
    tmp = tmp_path_factory.mktemp("ser2net")
    emu = EmulatorProcess.start(transport="pty", time_scale=float(SCALE), log_path=tmp / "emulator.log")
    ports = Exported(free_port(), free_port())
    connector = f"serialdev,{emu.url},115200n81,local"
    (tmp / "ser2net.yaml").write_text(
        "%YAML 1.1\n---\n"
        f"connection: &raw\n  accepter: tcp,127.0.0.1,{ports.raw}\n  enable: on\n"
        f"  options:\n    kickolduser: true\n  connector: {connector}\n"
        f"connection: &rfc2217\n  accepter: telnet(rfc2217),tcp,127.0.0.1,{ports.rfc2217}\n  enable: on\n"
        f"  options:\n    kickolduser: true\n  connector: {connector}\n")
    log = open(tmp / "ser2net.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(SER2NET), "-n", "-d", "-c", str(tmp / "ser2net.yaml")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_listening(ports.raw, proc)
        wait_listening(ports.rfc2217, proc)
        yield ports
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        emu.stop()


def run(tmp: Path, *args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    """pytest `args` in the repository, quietly, reports in `tmp`, at the emulator's clock."""
    return run_pytest(ROOT, "-q", f"--report-dir={tmp}", "--time-scale", SCALE, *args, timeout=timeout)


def assert_passed(proc: subprocess.CompletedProcess[str]) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    last = [ln for ln in proc.stdout.splitlines() if " passed" in ln][-1]
    assert " failed" not in last and " error" not in last and " skipped" not in last, last


def test_raw_socket_section_3_3_2(exported, tmp_path):
    assert_passed(run(tmp_path, "suites", "--section", "3.3.2", "--port", exported.url("raw")))


@pytest.mark.parametrize("options", ["?ign_set_control", "?ign_set_control&timeout=3"])
def test_rfc2217_with_ign_set_control_runs_general(exported, tmp_path, options):
    assert_passed(run(tmp_path, "suites/test_general.py", "--port", exported.url("rfc2217", options)))


def test_rfc2217_url_with_options_in_the_rig_file(exported, tmp_path):
    rig = tmp_path / "lab.yaml"
    rig.write_text(f'dut:\n  kind: serial\n  port: "{exported.url("rfc2217", "?ign_set_control&timeout=3")}"\n')
    assert_passed(run(tmp_path, "suites/test_general.py", "--rig", str(rig)))


def test_rfc2217_without_ign_set_control_runs_general_and_says_so_once(exported, tmp_path):
    """ser2net on a pty never answers pyserial's SET_CONTROL (DTR/RTS): the section still runs, over
    the URL reopened with ?ign_set_control, and the report's header says which URL was opened as what."""
    url = exported.url("rfc2217")
    assert_passed(run(tmp_path, "suites/test_general.py", "--port", url))
    junit = next(tmp_path.rglob("junit.xml")).read_text()
    assert f'name="DUT URL opened as" value="{url}?ign_set_control"' in junit, junit[:2000]


@pytest.mark.parametrize(("mode", "options"), [("raw", ""), ("rfc2217", "?ign_set_control&timeout=3"),
                                               ("rfc2217", "")])
def test_doctor_over_ser2net(exported, mode, options):
    url = exported.url(mode, options)
    proc = subprocess.run([sys.executable, "-m", "harness.rig", "doctor", "--port", url], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {ln.split()[0]: ln for ln in proc.stdout.splitlines() if ln.strip()}
    assert rows["port"].split()[1] == "OK" and url in rows["port"], proc.stdout
    assert rows["identity"].split()[1] == "OK", proc.stdout
    assert ("does not acknowledge DTR/RTS" in rows["port"]) == (mode == "rfc2217" and not options), proc.stdout
