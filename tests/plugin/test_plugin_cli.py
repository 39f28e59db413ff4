"""The run stops before any case, with one clear line and a non-zero exit, when the rig is
wrong (issue: "A rig.yaml with a misspelt key, a relay kind that does not exist, or a port that
does not open each gives one clear line and a non-zero exit")."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from at_peer import AtPeer
from run_project import ROOT, run

from harness.emulator import profiles
from harness.report.lock import hold, release

GOOD = (ROOT / "rig.yaml").read_text()


def run_suite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real pytest run of the suite, as a lab engineer types it; reports go to tmp_path."""
    return run(ROOT, "suites", "-q", f"--report-dir={tmp_path}", f"--junitxml={tmp_path / 'junit.xml'}",
               f"--html={tmp_path / 'report.html'}", f"--alluredir={tmp_path / 'allure'}", *args, timeout=120)


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return [ln for ln in out.splitlines() if ln.strip()]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("  kind: emulator", "  kidn: emulator"), "dut.kidn"),
        (("  kind: none", "  kind: gpio-magic"), "relay.kind"),
        (("  kind: amqtt", "  kind: mosquito"), "broker.kind"),
    ],
    ids=["misspelt-key", "unknown-relay-kind", "unknown-broker-kind"],
)
def test_broken_rig_file_stops_with_one_line(tmp_path, edit, expected):
    old, new = edit
    assert old in GOOD, f"rig.yaml no longer contains {old!r}: update this test"
    rig = tmp_path / "broken-rig.yaml"
    rig.write_text(GOOD.replace(old, new, 1))
    proc = run_suite(tmp_path, "--rig", str(rig))
    assert proc.returncode == 4
    lines = [ln for ln in error_lines(proc) if "broken-rig.yaml" in ln]
    assert len(lines) == 1 and expected in lines[0], proc.stdout + proc.stderr
    assert not (tmp_path / "junit.xml").exists() or "testcase" not in (tmp_path / "junit.xml").read_text()


def one_line(proc: subprocess.CompletedProcess[str], *parts: str) -> str:
    """The one line of the run's output that holds every part."""
    lines = [ln for ln in error_lines(proc) if all(p in ln for p in parts)]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return lines[0]


def doctor_hint(*args: str) -> str:
    return "python -m harness.rig doctor " + shlex.join(args)


@contextlib.contextmanager
def fake_dut(reply: bytes | None) -> Iterator[str]:
    """A device at socket://127.0.0.1:PORT that answers every line with `reply`, or never."""
    with AtPeer(echo=False) as peer:
        if reply is None:
            peer.silent = True
        else:
            peer.on(lambda line: True, reply)
        yield peer.url


def timed(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = run_suite(tmp_path, *args)
    return proc, time.monotonic() - start


def test_unknown_firmware_option_is_exit_4_at_once_without_an_emulator(tmp_path):
    """Within 2 s on a quiet machine (issue 11); on a loaded one, pytest's own start-up is the
    measure: a usage error found at load, before and after, bounds it (starting an emulator and
    waiting for it took about 2.5 times that)."""
    before = timed(tmp_path / "before", "--time-scale", "fast")
    proc, elapsed = timed(tmp_path, "--firmware", "nope")
    after = timed(tmp_path / "after", "--time-scale", "fast")
    assert before[0].returncode == after[0].returncode == 4
    assert proc.returncode == 4, proc.stdout + proc.stderr
    line = one_line(proc, "nope")
    # a usage error from loading the rig (pytest_configure): no fixture, so no emulator, ever ran
    assert line.startswith("ERROR: --firmware: unknown firmware profile 'nope' (known: "), line
    assert all(name in line for name in profiles.known()), line
    assert elapsed < max(2.0, 1.5 * max(before[1], after[1])), (elapsed, before[1], after[1])


def test_unknown_firmware_in_the_rig_file_names_the_file_and_key(tmp_path):
    rig = tmp_path / "broken-rig.yaml"
    assert "firmware: conformant" in GOOD
    rig.write_text(GOOD.replace("firmware: conformant", "firmware: nope", 1))
    proc = run_suite(tmp_path, "--rig", str(rig))
    assert proc.returncode == 4
    line = one_line(proc, "broken-rig.yaml")
    assert line.startswith("ERROR: ") and "conformant" in line, line  # at load: no emulator started
    assert "broken-rig.yaml: dut.firmware: unknown firmware profile 'nope'" in line


@pytest.mark.parametrize("port", ["ttyNOPE", "socket://127.0.0.1:1"], ids=["absent-device", "refused-socket"])
def test_port_that_does_not_open_is_exit_3_naming_the_option(tmp_path, port):
    """The DUT is unreachable (3), not a wrong option (4); the line names --port and the doctor."""
    port = str(tmp_path / port) if port == "ttyNOPE" else port
    proc = run_suite(tmp_path, "--port", port, "-k", "bare_at")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    line = one_line(proc, "cannot open serial port")
    assert f"--port: cannot open serial port '{port}'" in line and "rig.yaml" not in line, line
    assert doctor_hint("--port", port) in line, line


def test_rig_file_port_that_does_not_open_names_the_file_and_key(tmp_path):
    rig = tmp_path / "lab-rig.yaml"
    rig.write_text("dut: {kind: serial, port: 'socket://127.0.0.1:1'}\n")
    proc = run_suite(tmp_path, "--rig", str(rig), "-k", "bare_at")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    line = one_line(proc, "cannot open serial port")
    assert "lab-rig.yaml: dut.port: cannot open serial port 'socket://127.0.0.1:1'" in line
    assert doctor_hint("--rig", str(rig)) in line and "--port" not in line, line


@pytest.mark.parametrize(("port", "expected"), [
    ("bogus://x", "--port: unknown pyserial URL scheme 'bogus://'"),
    ("rfc2217://127.0.0.1:1?bogus", "--port: not a URL pyserial can open"),
])
def test_malformed_port_url_is_exit_4_naming_the_option(tmp_path, port, expected):
    proc = run_suite(tmp_path, "--port", port, "-k", "bare_at")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert expected in one_line(proc, "--port")


def test_garbage_and_silence_from_the_dut_get_different_lines(tmp_path):
    with fake_dut(b"\x00\xfe\xffNOISE\x07" * 40) as url:
        proc = run_suite(tmp_path / "garbage", "--port", url, "-k", "bare_at")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    line = one_line(proc, f"DUT at {url} answered garbage to AT: b'\\x00\\xfe\\xffNOISE\\x07")
    assert doctor_hint("--port", url) in line and len(line) < 400, line  # the bytes quoted are bounded
    with fake_dut(None) as url:
        proc = run_suite(tmp_path / "silence", "--port", url, "-k", "bare_at")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    line = one_line(proc, f"DUT at {url} did not answer AT within")
    assert "garbage" not in line and doctor_hint("--port", url) in line, line


def test_bad_time_scale_option_names_the_option(tmp_path):
    proc = run_suite(tmp_path, "--time-scale", "fast")
    assert proc.returncode == 4
    assert any("--time-scale" in ln for ln in error_lines(proc)), proc.stdout + proc.stderr


def test_section_option_selects_by_the_notes_numbering(tmp_path):
    proc = run_suite(tmp_path, "--collect-only", "--section", "3.3.1")
    assert proc.returncode == 0, proc.stdout[-2000:]
    ids = {ln for ln in proc.stdout.splitlines() if "::" in ln}
    everything = {ln for ln in run_suite(tmp_path, "--collect-only").stdout.splitlines() if "::" in ln}
    assert ids < everything
    assert {i for i in everything if i.startswith("suites/test_qmtcfg.py::")} <= ids  # all marked 3.3.1
    assert not any(i.startswith("suites/test_general.py::") for i in ids)  # 3.1.2 only


def test_report_dir_option_puts_every_report_there(tmp_path):
    out = tmp_path / "run"
    proc = run(ROOT, "suites", "-q", f"--report-dir={out}", "-k", "bare_at", timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for name in ("html/index.html", "junit.xml", "record.json", "matrix.html", "history/index.html"):
        assert (out / name).is_file(), name
    assert list((out / "allure-results").glob("*-result.json"))


def test_second_run_on_a_busy_report_dir_stops_with_one_line(tmp_path):
    """Two runs on one report directory would clean each other's Allure results: the second stops."""
    held = hold(tmp_path)
    try:
        proc = run_suite(tmp_path, "-k", "bare_at")
    finally:
        release(held)
    assert proc.returncode == 4
    lines = [ln for ln in error_lines(proc) if "report directory" in ln]
    assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and "--report-dir" in lines[0], lines
    assert run_suite(tmp_path, "-k", "bare_at").returncode == 0  # free again once released
