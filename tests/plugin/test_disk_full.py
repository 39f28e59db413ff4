"""A full disk ends the run cleanly (issue 19, item 4): a real conformance run against the real
emulator writes its reports onto a 200 KiB tmpfs, which fills after a dozen cases. The run stops
(the rest not run), exits 3 (the rig, not the firmware), says INCOMPLETE and why, prints no
traceback or INTERNALERROR, and leaves no emulator behind. Needs root (mount), as CI runs."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from run_project import make_project, run

pytestmark = [pytest.mark.timeout(200),
              pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")]

CASES = "import os\nfrom pathlib import Path\n\nimport pytest\n\npytestmark = pytest.mark.spec('3.1.2')\n\n\n" \
    "def test_00_note_the_emulator(modem, dut):\n" \
    "    Path(os.environ['EMULATOR_PID_FILE']).write_text(str(dut.emulator.proc.pid))\n" + "".join(
        f"\n\ndef test_{i:02d}(modem):\n    for _ in range(20):\n        assert modem.command('ATI').ok\n"
        for i in range(1, 40))


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def small_disk(tmp_path: Path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_report_disk_stops_the_run_cleanly(tmp_path: Path, small_disk: Path, monkeypatch) -> None:
    (tmp_path / "project").mkdir()
    project = make_project(tmp_path / "project", {"test_many.py": CASES})
    pid_file = tmp_path / "emulator.pid"
    monkeypatch.setenv("EMULATOR_PID_FILE", str(pid_file))
    proc = run(project, "-q", f"--report-dir={small_disk}/reports", timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out[-3000:]
    assert "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    assert "INCOMPLETE" in proc.stdout and "no space left on the disk" in proc.stdout, proc.stdout[-2000:]
    passed = int(proc.stdout.rsplit(" passed", 1)[0].rsplit(None, 1)[-1])
    assert 0 < passed < 40, proc.stdout[-500:]  # it ran, then stopped: the disk filled mid-run
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), f"emulator {pid} outlived the run"
