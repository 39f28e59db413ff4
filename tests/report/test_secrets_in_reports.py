"""Secrets never reach a report: a run with the broker password given as ${VAR} in the rig file
(broker.username + broker.password), a case that connects with it (3.3.4 AT+QMTCONN <password>)
and one that sets an aliauth device secret (3.3.1), then every file the run wrote (HTML, JUnit,
Allure results, record.json, matrix, history, emulator.log) is searched for the real values."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from run_project import ROOT, run

pytestmark = pytest.mark.timeout(120)


def test_no_secret_in_any_report_file(tmp_path: Path) -> None:
    password = f"BrokerPw{secrets.token_hex(8)}"
    device_secret = f"DevSecret{secrets.token_hex(8)}"
    reports = tmp_path / "reports"
    rig = tmp_path / "rig.yaml"
    rig.write_text("dut: {kind: emulator, time_scale: 0.1}\n"
                   "broker: {username: lab-user, password: '${SECRETS_TEST_BROKER_PW}'}\n"
                   f"report: {{dir: {reports}, html: {reports / 'html' / 'index.html'}, "
                   f"allure: {reports / 'allure-results'}, junit: {reports / 'junit.xml'}}}\n")
    env = {"SECRETS_TEST_BROKER_PW": password, "SECRETS_TEST_DEVICE_SECRET": device_secret}
    proc = run(ROOT, "suites/test_general.py", "tests/rig_cases/secret_steps.py", "-q", "--rig", str(rig),
               "--report-dir", str(reports), "-k", "bare_at or ati_identifies or secret", timeout=110, extra_env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "4 passed" in proc.stdout.splitlines()[-1], proc.stdout[-2000:]

    files = [p for p in reports.rglob("*") if p.is_file()]
    names = {p.relative_to(reports).parts[0] for p in files}
    assert {"html", "allure-results", "junit.xml", "record.json", "matrix.html", "emulator.log"} <= names, names
    # the steps were really recorded (so a missing secret means redaction, not absence)
    junit = (reports / "junit.xml").read_text()
    assert 'AT+QMTCONN=0,"secrets-case","lab-user","***"' in junit
    assert 'AT+QMTCFG="aliauth",0,"a1Product","dev-01","***"' in junit
    for path in files:
        data = path.read_bytes()
        for name, value in (("broker password", password), ("device secret", device_secret)):
            assert value.encode() not in data, f"the {name} is in {path.relative_to(reports)}"
    assert password not in proc.stdout + proc.stderr and device_secret not in proc.stdout + proc.stderr
