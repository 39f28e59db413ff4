"""A rig whose broker requires a password (issue 19, item 2): broker.username plus broker.password
written as ${VAR}. Every case that connects to the rig's broker must log in with that account
(AT+QMTCONN=<id>,"<clientID>","<user_name>","<pass_word>", note 3.3.4), or the broker refuses with
+QMTCONN: <id>,0,5 and the DUT is blamed for the rig's doing. Real runs only: the emulator, the
embedded amqtt broker and the doctor, each in a subprocess as a user runs them.

- the 3.3.8 section (suites/test_qmtpub.py) passes against such a broker, and so does the full
  publish at the shortest <pkt_timeout> (3.3.1 NOTE 3): the broker's password check is not slower
  than a CONNACK may be;
- the password is in no file of a run's reports, also when a connect with it fails (pytest prints
  the arguments of the frame that raised, which for AT+QMTCONN is the whole command line);
- the doctor names `rig.yaml: broker.username/broker.password` in one line, exit 4, when the broker
  the DUT reaches refuses the account.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_project import make_project, run, summary_counts

from harness.broker import EmbeddedBroker
from harness.rig.exits import PASSED, USAGE

ROOT = Path(__file__).resolve().parents[2]
VAR = "BC_TEST_PW"
pytestmark = pytest.mark.timeout(150)


def _password() -> str:
    return f"Pw-{secrets.token_hex(8)}"


def _rig_text(reports: Path, broker: str = "") -> str:
    return ("dut: {kind: emulator, time_scale: 0.1}\n"
            f"broker: {{username: dutuser, password: '${{{VAR}}}'{broker}}}\n"
            f"report: {{dir: {reports}, html: {reports / 'html' / 'index.html'}, "
            f"allure: {reports / 'allure-results'}, junit: {reports / 'junit.xml'}}}\n")


def _leaks(reports: Path, password: str) -> list[str]:
    """Every file under `reports` (HTML, JUnit, Allure results, record, matrix, emulator.log...) holding it."""
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert files, f"no report written under {reports}"
    return [str(p.relative_to(reports)) for p in files if password.encode() in p.read_bytes()]


# -- the 3.3.8 section against a broker that requires the rig's password ----------------------------


# 3.3.1 NOTE 3 with <pkt_timeout> 1 s: CONNACK must come within 0.1 s real at time scale 0.1, password check included
SHORTEST = "test_shortest_pkt_timeout_does_not_cut_a_full_publish"


@pytest.fixture(scope="module")
def pub_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, str]:
    tmp = tmp_path_factory.mktemp("pub")
    password, reports, rig = _password(), tmp / "reports", tmp / "rig.yaml"
    rig.write_text(_rig_text(reports))
    proc = run(ROOT, "suites/test_qmtpub.py", f"suites/test_qmtcfg_effects.py::{SHORTEST}", "-q", "--rig", str(rig),
               "--report-dir", str(reports), extra_env={VAR: password}, timeout=140)
    return proc, reports, password


def test_publish_section_passes_against_a_broker_that_requires_a_password(pub_run) -> None:
    proc, reports, _ = pub_run
    assert proc.returncode == PASSED, proc.stdout[-4000:] + proc.stderr[-2000:]
    counts = summary_counts(proc.stdout)
    assert counts.get("passed", 0) > 50 and not counts.keys() & {"failed", "error"}, counts
    junit = (reports / "junit.xml").read_text()
    # the DUT logged in with the rig's account (password masked) and the CONNECT on the wire carried it
    assert re.search(r'AT\+QMTCONN=\d,"dut-pub-[^"]*","dutuser","\*\*\*"', junit), "no AT+QMTCONN with the account"
    assert "user='dutuser'" in junit and "password=***" in junit, "the wire log shows no CONNECT with the account"


def test_password_is_in_no_report_file(pub_run) -> None:
    proc, reports, password = pub_run
    assert _leaks(reports, password) == []
    assert password not in proc.stdout + proc.stderr


# -- a connect with the password that fails: its failure text is a report too ----------------------

CASES = '''
import pytest

from harness.at.flows import open_connect

pytestmark = pytest.mark.spec("3.3.4")


def test_a_without_the_account_the_broker_refuses(modem, wire):
    """The rig's broker really requires the account: anonymous, it answers CONNACK 5 (3.3.4 <ret_code>)."""
    assert wire.account is not None and wire.account.user == "dutuser"
    with pytest.raises(AssertionError, match=r"\\+QMTCONN: 0,0,5"):
        open_connect(modem, wire.dut_host, wire.port, "anonymous")


def test_b_connect_with_the_account_fails(modem, wire):
    """<clientID> over 128 bytes (3.3.4): the DUT answers ERROR to a line that holds the password."""
    open_connect(modem, wire.dut_host, wire.port, "c" * 129, account=wire.account)
'''


def test_a_failed_connect_with_the_password_does_not_show_it(tmp_path: Path) -> None:
    password, reports = _password(), tmp_path / "reports"
    project = make_project(tmp_path, {"test_creds.py": CASES}, rig=_rig_text(reports))
    proc = run(project, "-q", "--report-dir", str(reports), extra_env={VAR: password})
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert summary_counts(proc.stdout) == {"passed": 1, "failed": 1}, proc.stdout[-3000:]
    assert _leaks(reports, password) == []
    assert password not in proc.stdout + proc.stderr
    junit = (reports / "junit.xml").read_text()
    assert re.search(r'AT\+QMTCONN=0,"c{129}","dutuser","\*\*\*" answered', junit), "the failure is not named"


# -- the doctor: a refused account is the rig file's ------------------------------------------------


def _doctor(rig: Path, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.rig", "doctor", "--rig", str(rig), "--no-power"],
                          cwd=ROOT, env={**os.environ, VAR: password}, capture_output=True, text=True, timeout=60)


def _rows(proc: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    rows = [re.split(r"\s{2,}", ln, maxsplit=2) for ln in proc.stdout.splitlines()[1:]]
    return {check: (status, detail) for check, status, detail in rows}


@pytest.fixture
def lab_broker() -> Iterator[EmbeddedBroker]:
    """The broker the DUT logs in to, with its own accounts: the rig file says the DUT reaches it at
    broker.dut_address (127.0.0.2 here, another loopback address than the doctor's own broker)."""
    broker = EmbeddedBroker("127.0.0.2", 0, users={"dutuser": "the-lab-password"}, allow_anonymous=False).start()
    try:
        yield broker
    finally:
        broker.stop()


def test_doctor_names_the_rig_file_when_the_password_is_wrong(tmp_path: Path, lab_broker) -> None:
    rig = tmp_path / "lab.yaml"
    rig.write_text(_rig_text(tmp_path / "reports", f", port: {lab_broker.port}, dut_address: 127.0.0.2"))
    wrong = _password()
    proc = _doctor(rig, wrong)
    assert proc.returncode == USAGE, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and wrong not in proc.stdout + proc.stderr
    rows = _rows(proc)
    assert rows["broker"][0] == "OK", rows
    status, detail = rows["account"]
    assert status == "FAIL" and detail.startswith(f"{rig}: broker.username/broker.password: "), detail
    assert "refused the rig's account 'dutuser' (CONNACK return code 5" in detail, detail
    # and with the lab's password the same rig is fine: the host and the DUT log in
    right = _doctor(rig, "the-lab-password")
    assert right.returncode == PASSED, right.stdout + right.stderr
    assert "the DUT logs in with it" in _rows(right)["account"][1] and "the-lab-password" not in right.stdout
