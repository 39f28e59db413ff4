"""Issue 19 (5): a password given to a case as a pytest parameter reads *** in every report
field, Allure's parameters included (allure-pytest wrote it in plain text into *-result.json
while the transcript beside it showed ***). A real conformance run against the emulator, then
every file of its report directory is searched for the passwords."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from run_project import make_project, run, summary_counts

from harness.report.allure_meta import MASK, shows_secret

pytestmark = pytest.mark.timeout(180)

CASES = '''
import pytest

SENT, HELD, UNSENT = {sent!r}, {held!r}, {unsent!r}


def connect_line(user, password):
    return f'AT+QMTCONN=0,"secret-params","{{user}}","{{password}}"'


@pytest.mark.spec("3.3.4")
@pytest.mark.parametrize(("user", "password"), [("u", SENT), ("u", None)], ids=["user_and_password", "user_only"])
def test_password_parameter(modem, user, password):
    """Named password: masked by its name (and the transcript learned it)."""
    line = connect_line(user, password) if password else 'AT+QMTCONN=0,"secret-params","u"'
    assert modem.command(line).final  # no connection is open: any final result will do


@pytest.mark.spec("3.3.4")
@pytest.mark.parametrize("creds", [("u", HELD)], ids=["tuple"])
def test_credentials_in_a_neutral_parameter(modem, creds):
    """A neutral name holding the password: masked as a value the transcript learned."""
    assert modem.command(connect_line(*creds)).final


@pytest.mark.spec("3.3.4")
def test_a_failure_that_prints_the_password(modem):
    """Its assertion message shows the password the DUT was given: the failure is the verdict,
    the password in it is masked in the console and in every report."""
    line = connect_line("u", SENT)
    answer = modem.command(line).final
    assert answer == "never this", f"{{line}} answered {{answer}}"


@pytest.mark.spec("3.3.1")
@pytest.mark.parametrize("device_secret", [UNSENT], ids=["never-sent"])
def test_secret_never_sent(modem, device_secret):
    """Stopped before the DUT saw it: only its name says it is a secret."""
    pytest.skip("stops before sending the secret")
'''


def test_parametrized_passwords_are_in_no_report_file(tmp_path: Path) -> None:
    sent, held, unsent = (f"{kind}{secrets.token_hex(6)}" for kind in ("PwSent", "PwHeld", "PwUnsent"))
    project = make_project(tmp_path, {"test_secret_params.py": CASES.format(sent=sent, held=held, unsent=unsent)})
    proc = run(project, "-q")
    assert summary_counts(proc.stdout) == {"passed": 3, "failed": 1, "skipped": 1}, \
        proc.stdout[-3000:] + proc.stderr[-2000:]
    assert 'AT+QMTCONN=0,"secret-params","u","***" answered' in proc.stdout, proc.stdout[-3000:]

    reports = project / "reports"
    files = [p for p in reports.rglob("*") if p.is_file()]
    names = {p.relative_to(reports).parts[0] for p in files}
    assert {"allure-results", "html", "junit.xml", "record.json", "matrix.html"} <= names, names
    results = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    params = {(r["name"], p["name"]): p["value"] for r in results for p in r.get("parameters", [])}
    # masked, and told apart by the case's id (Allure 2 would merge cases whose parameters read alike)
    assert params[("test_password_parameter[user_and_password]", "password")] == f"{MASK} (user_and_password)", params
    assert params[("test_password_parameter[user_only]", "password")] == "None"  # no secret to hide
    assert params[("test_password_parameter[user_and_password]", "user")] == "'u'"
    assert params[("test_credentials_in_a_neutral_parameter[tuple]", "creds")] == f"{MASK} (tuple)"
    assert params[("test_secret_never_sent[never-sent]", "device_secret")] == f"{MASK} (never-sent)"
    leaks = [(str(p.relative_to(reports)), pw) for p in files for pw in (sent, held, unsent)
             if pw.encode() in p.read_bytes()]
    assert not leaks, leaks
    assert sent not in proc.stdout + proc.stderr and held not in proc.stdout + proc.stderr


def test_which_values_count_as_secrets() -> None:
    known = {"s3cret", "p"}
    assert shows_secret("password", "anything", ()) and shows_secret("device_secret", b"x", ())
    assert not shows_secret("password", None, ()) and not shows_secret("pass_word", "", ())
    assert shows_secret("creds", ("u", "s3cret"), known) and shows_secret("m", {"pw": b"s3cret"}, known)
    assert not shows_secret("line", 'AT+QMTCONN=0,"c","u","pass"', known)  # "p" is a whole-value match only
    assert not shows_secret("which", "pass_word", known)  # the name of a secret is no secret


IDS_CASES = '''
import pytest

NAMED, PAIRED, BYTES = {named!r}, {paired!r}, {as_bytes!r}


@pytest.mark.spec("3.3.4")
@pytest.mark.parametrize("password", [NAMED, None])
def test_auto_id(modem, password):
    """pytest's own id of a string parameter is the string: here the password."""
    if password is not None:
        line = f'AT+QMTCONN=0,"secret-ids","u","{{password}}"'
        assert modem.command(line).final == "never this"  # fails: listed by node id in the summary


@pytest.mark.spec("3.3.4")
@pytest.mark.parametrize(("user", "pass_word"), [("u", PAIRED), ("v", PAIRED)])
def test_two_arguments(modem, user, pass_word):
    assert modem.command(f'AT+QMTCONN=0,"secret-ids","{{user}}","{{pass_word}}"').final


@pytest.mark.spec("3.3.1")
@pytest.mark.parametrize("device_secret", [BYTES])
def test_bytes_secret(modem, device_secret):
    assert modem.command("AT").ok
'''


def test_parametrize_ids_never_carry_a_password(tmp_path: Path) -> None:
    """pytest's generated ids (`test_auto_id[<the password>]`) are the node ids every report keys
    on: the console's summary lines, JUnit names, Allure's name, fullName and historyId, the HTML
    report's rows, record.json's cases. A secret parameter's id reads *** there."""
    named, paired, raw = (f"{kind}{secrets.token_hex(6)}" for kind in ("PwNamed", "PwPaired", "PwBytes"))
    project = make_project(tmp_path, {"test_secret_ids.py": IDS_CASES.format(named=named, paired=paired,
                                                                              as_bytes=raw.encode())})
    proc = run(project, "-q", "-rA")
    assert summary_counts(proc.stdout) == {"passed": 4, "failed": 1}, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    assert not [pw for pw in (named, paired, raw) if pw in out], out[-3000:]
    assert "FAILED suites/test_secret_ids.py::test_auto_id[***]" in proc.stdout, proc.stdout[-3000:]

    reports = project / "reports"
    record = json.loads((reports / "record.json").read_text())
    ids = sorted(c["nodeid"].split("::", 1)[1] for c in record["cases"])
    expected = sorted(["test_auto_id[None]", "test_auto_id[***]", "test_bytes_secret[***]",
                       "test_two_arguments[u-***]", "test_two_arguments[v-***]"])
    assert ids == expected, ids
    results = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    names = sorted(r["name"] for r in results)
    assert names == expected, names
    assert len({r["historyId"] for r in results}) == 5  # still one history per case
    junit = (reports / "junit.xml").read_text()
    assert 'name="test_auto_id[***]"' in junit and 'name="test_two_arguments[v-***]"' in junit, junit[:2000]
    assert "test_two_arguments[u-***]" in (reports / "html" / "index.html").read_text()
    # nothing was masked after the fact: the ids were born masked (no file holds a password at all)
    leaks = [(str(p.relative_to(reports)), pw) for p in reports.rglob("*") if p.is_file()
             for pw in (named, paired, raw) if pw.encode() in p.read_bytes()]
    assert not leaks, leaks
