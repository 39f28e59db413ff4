"""The plugin is a package loaded through its pytest11 entry point (issue 16, item 6), active where
a rig is (harness/plugin/__init__.py): no conftest.py loads it, and a pytest run of another
project in the same environment reads no rig, writes no report and says so in one line when a
case asks for a product fixture."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from run_project import ROOT, case_module, make_project, passes, run

OTHER_PROJECT = '''
def test_unrelated():
    assert 1 + 1 == 2


def test_asks_for_the_modem(modem):
    pass
'''


def test_the_entry_point_names_the_plugin_package_and_no_conftest_loads_it() -> None:
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "bc660k"]
    assert [ep.value for ep in found] == ["harness.plugin"], found
    assert not (ROOT / "conftest.py").exists()
    assert not (ROOT / "fixtures").exists()  # no generic top-level package beside harness


def test_another_project_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text(OTHER_PROJECT)
    proc = run(tmp_path, "-q", "-rE", timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 passed, 1 error" in out, out
    assert "the BC660K-GL conformance plugin is not active here: no rig.yaml in the rootdir" in out, out
    assert "rig.yaml: file not found" not in out and "Traceback" not in out, out
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == ["test_other.py"]


def test_a_project_with_a_rig_file_is_a_conformance_run_without_a_conftest(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"test_one.py": case_module(passes("test_at"))})
    assert not (project / "conftest.py").exists()
    proc = run(project, timeout=90)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "| DUT: emulator (" in proc.stdout  # the plugin's report header: the rig was read
    assert (project / "reports" / "record.json").is_file()
