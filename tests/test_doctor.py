"""`python -m harness.rig doctor` (harness/rig/doctor.py): a table of what is fine on the rig and
what is not, each failure naming the part, exit 0 only when nothing failed, never a traceback."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.rig.__main__ import main
from harness.rig.doctor import EXIT_FAIL, EXIT_OK, EXIT_RIG_FILE, FAIL, OK, SKIP, Row, print_table, run_doctor

ROOT = Path(__file__).resolve().parents[1]
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


def test_wrong_port_fails_naming_the_file_and_key(tmp_path: Path) -> None:
    path = rig(tmp_path, "dut: {kind: serial, port: /dev/ttyNOSUCH9}\n")
    proc = subprocess.run([sys.executable, "-m", "harness.rig", "doctor", "--rig", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_FAIL
    port = next(ln for ln in proc.stdout.splitlines() if ln.startswith("port"))
    assert port.split()[1] == FAIL and "lab-rig.yaml: dut.port: cannot open serial port '/dev/ttyNOSUCH9'" in port
    assert "needs the port check, which failed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_failing_relay_command_fails_naming_the_relay(tmp_path: Path) -> None:
    rows, status = run_doctor(rig(tmp_path, EMULATOR + "relay: {kind: command, commands: {power_cycle: 'false'}}\n"))
    assert status == EXIT_FAIL
    relay = by_check(rows)["relay"]
    assert relay.status == FAIL and relay.detail.startswith("relay command: power_cycle: false exited 1")
    assert by_check(rows)["identity"].status == OK  # the other parts are still checked


def test_no_power_skips_the_relay(tmp_path: Path) -> None:
    rows, status = run_doctor(rig(tmp_path, EMULATOR), power=False)
    assert status == EXIT_OK
    assert by_check(rows)["relay"] == Row("relay", SKIP, "relay emulated: not switched (--no-power)")


def test_wrong_rig_file_is_one_line_and_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--rig", str(rig(tmp_path, "relay: {kind: usbrelay}\n"))]) == EXIT_RIG_FILE
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
    assert status == EXIT_OK, rows
    checks = by_check(rows)
    assert checks["certificates"].status == OK and "chains to the CA" in checks["certificates"].detail
    assert checks["broker"].status == OK and "(TLS, verified) accepts a client" in checks["broker"].detail
    out = io.StringIO()
    print_table(rows, out)
    assert secret not in out.getvalue()
