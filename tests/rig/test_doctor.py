"""`python -m harness.rig doctor` (harness/rig/doctor.py): a table of what is fine on the rig and
what is not, each failure naming the part, exit 0 only when nothing failed, never a traceback."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from at_peer import AtPeer
from run_project import run

from harness.rig.__main__ import main
from harness.rig.doctor import FAIL, OK, SKIP, Row, print_table, run_doctor
from harness.rig.exits import PASSED, RIG_BROKEN, USAGE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)
EMULATOR = "dut: {kind: emulator, time_scale: 0.1}\n"


def rig(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab-rig.yaml"
    path.write_text(text)
    return path


def by_check(rows: list[Row]) -> dict[str, Row]:
    return {row.check: row for row in rows}


def test_default_rig_is_fine_and_prints_a_table() -> None:
    proc = subprocess.run([sys.executable, "-m", "harness.rig", "doctor"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "DETAIL"]
    status = dict(re.split(r"\s{2,}", ln)[:2] for ln in lines[1:])
    assert status == {"rig file": OK, "port": OK, "identity": OK, "relay": OK, "certificates": SKIP, "broker": OK}
    assert "Quectel_BC660K-GL" in proc.stdout and "the same module answers" in proc.stdout
    assert "+QMTOPEN: 0,0" in proc.stdout  # the DUT itself reached the broker (3.3.2)
    assert proc.stderr == ""


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.rig", "doctor", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def rows_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Row]:
    assert "Traceback" not in proc.stdout + proc.stderr
    rows = [re.split(r"\s{2,}", ln, maxsplit=2) for ln in proc.stdout.splitlines()[1:]]
    return {check: Row(check, status, detail) for check, status, detail in rows}


def test_wrong_port_fails_naming_the_file_and_key(tmp_path: Path) -> None:
    """The DUT is unreachable: the suite's status 3 (README "Exit status"), not 1."""
    path = rig(tmp_path, "dut: {kind: serial, port: /dev/ttyNOSUCH9}\n")
    proc = doctor("--rig", str(path))
    assert proc.returncode == RIG_BROKEN
    port = next(ln for ln in proc.stdout.splitlines() if ln.startswith("port"))
    assert port.split()[1] == FAIL and "lab-rig.yaml: dut.port: cannot open serial port '/dev/ttyNOSUCH9'" in port
    assert "needs the port check, which failed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_failing_relay_command_fails_naming_the_relay(tmp_path: Path) -> None:
    rows, status = run_doctor(rig(tmp_path, EMULATOR + "relay: {kind: command, commands: {power_cycle: 'false'}}\n"))
    assert status == RIG_BROKEN
    relay = by_check(rows)["relay"]
    assert relay.status == FAIL and relay.detail.startswith("relay command: power_cycle: false exited 1")
    assert by_check(rows)["identity"].status == OK  # the other parts are still checked


def test_no_power_skips_the_relay(tmp_path: Path) -> None:
    rows, status = run_doctor(rig(tmp_path, EMULATOR), power=False)
    assert status == PASSED
    assert by_check(rows)["relay"] == Row("relay", SKIP, "relay emulated: not switched (--no-power)")


def test_wrong_rig_file_is_one_line_and_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--rig", str(rig(tmp_path, "relay: {kind: usbrelay}\n"))]) == USAGE
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:3] == ["rig", "file", FAIL]
    assert "lab-rig.yaml: relay.kind: expected one of 'none'" in out[1]
    assert all(ln.split()[1] == SKIP for ln in out[2:])


def test_tls_broker_with_password_checks_certificates_and_hides_the_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Doctor-Pw-7f3a9c"
    monkeypatch.setenv("DOCTOR_TEST_PW", secret)
    rows, status = run_doctor(rig(tmp_path, EMULATOR + "broker: {tls: true, username: lab, "
                                  "password: '${DOCTOR_TEST_PW}'}\n"), power=False)
    assert status == PASSED, rows
    checks = by_check(rows)
    assert checks["certificates"].status == OK and "chains to the CA" in checks["certificates"].detail
    assert checks["broker"].status == OK and "(TLS, verified) accepts a client" in checks["broker"].detail
    out = io.StringIO()
    print_table(rows, out)
    assert secret not in out.getvalue()


# -- --port: an external DUT, in the suite's words and statuses (issue 11, item 4) ----------------


def test_port_option_checks_an_external_dut_and_names_the_option() -> None:
    proc = doctor("--port", "socket://127.0.0.1:1", "--no-power")
    assert proc.returncode == RIG_BROKEN, proc.stdout + proc.stderr
    rows = rows_of(proc)
    assert rows["rig file"].status == OK and "dut serial (socket://127.0.0.1:1)" in rows["rig file"].detail
    assert rows["port"] == Row("port", FAIL, "--port: cannot open serial port 'socket://127.0.0.1:1': "
                                             "[Errno 111] Connection refused")
    assert rows["identity"].status == SKIP


def test_malformed_port_option_is_an_option_error() -> None:
    proc = doctor("--port", "bogus://x")
    assert proc.returncode == USAGE
    assert rows_of(proc)["rig file"].detail.startswith("--port: unknown pyserial URL scheme 'bogus://'")


def test_unknown_firmware_in_the_rig_file_is_exit_4_without_an_emulator(tmp_path: Path) -> None:
    rows, status = run_doctor(rig(tmp_path, "dut: {kind: emulator, firmware: nope}\n"))
    assert status == USAGE
    assert "lab-rig.yaml: dut.firmware: unknown firmware profile 'nope'" in by_check(rows)["rig file"].detail
    assert by_check(rows)["port"].status == SKIP


def test_garbage_and_silence_get_the_suites_lines() -> None:
    with AtPeer(echo=False) as peer:
        peer.on(lambda line: True, b"\x00\xfe\xffNOISE" * 40)
        proc = doctor("--port", peer.url, "--no-power")
    assert proc.returncode == RIG_BROKEN
    identity = rows_of(proc)["identity"]
    assert identity.status == FAIL
    assert identity.detail.startswith(f"DUT at {peer.url} answered garbage to AT: b'\\x00\\xfe\\xffNOISE"), identity
    kept = rows_of(proc)["transcript"]  # the evidence of a failure that may not come back
    assert kept.status == "SAVED" and kept.detail.startswith("the serial exchange is in "), kept
    path = Path(kept.detail.rsplit(" ", 1)[1])
    text = path.read_text()
    path.unlink()
    assert "TX  AT<CR>" in text and "NOISE" in text, text
    with AtPeer(echo=False) as peer:
        peer.silent = True
        proc = doctor("--port", peer.url, "--no-power")
    assert proc.returncode == RIG_BROKEN
    identity = rows_of(proc)["identity"]
    assert identity.status == FAIL and identity.detail.startswith(f"DUT at {peer.url} did not answer AT within ")


def test_unknown_option_is_exit_4() -> None:
    proc = doctor("--prot", "/dev/ttyUSB0")
    assert proc.returncode == USAGE and "unrecognized arguments: --prot" in proc.stderr


def test_the_doctor_and_a_suite_run_bring_the_dut_up_through_the_same_function(tmp_path: Path) -> None:
    """Issue 16: one bring-up (harness/rig/session.py's open_port) for the doctor and the `dut`
    fixture, so the doctor's port row for a DUT that cannot be opened and the suite run's one stop
    line are the same words, made in the same place; a doctor with a bring-up of its own would drift
    from what the suite does, and this would show it. (Garbage and silence: the test above and
    tests/plugin/test_plugin_cli.py's, the same words from session.identify.)"""
    path = rig(tmp_path, "dut: {kind: serial, port: /dev/ttyNOSUCH9}\n")
    row = rows_of(doctor("--rig", str(path), "--no-power"))["port"]
    assert row.status == FAIL, row
    words = row.detail.split("; check the rig")[0]
    assert words.startswith(f"{path}: dut.port: cannot open serial port '/dev/ttyNOSUCH9'"), words
    suite = run(ROOT, "suites/test_general.py", "-q", "--rig", str(path), f"--report-dir={tmp_path / 'reports'}",
                timeout=60, extra_env={"COLUMNS": "4000"})  # pytest cuts its stop line to the terminal's width
    assert suite.returncode == RIG_BROKEN, suite.stdout[-2000:] + suite.stderr[-2000:]
    assert words in suite.stdout + suite.stderr, (words, suite.stdout[-2000:])
