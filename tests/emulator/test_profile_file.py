"""Firmware profiles as files a lab writes (harness/emulator/profile_file.py, issue 13 item 3):
`--firmware PATH` for the emulator CLI and for the rig, the shipped observed-a05 file, and one
line naming the file and the key for every mistake in a file.

Why these checks: a lab writes the file by hand, so its mistakes must read like the rig file's
(one line, the file, the key), and a profile must stay data: it can only switch on behaviour the
emulator already has, each switch read in one place (profiles.switches())."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.at.channel import ATChannel
from harness.emulator import profile_file, profiles
from harness.emulator.launcher import ROOT, EmulatorProcess
from harness.peer import ScriptedPeer
from harness.rig.loader import RigError, load_rig

pytestmark = pytest.mark.timeout(30)
EMULATOR_DIR = ROOT / "harness" / "emulator"
OBSERVATIONS = ROOT.parent / "shared" / "observations" / "real-modules.md"
GOOD = {"name": "lab-x", "revision": "BC660KGLAAR01A05_LABX", "summary": "a lab's firmware",
        "deviation": [{"fact": 32, "switch": "open-occupied-cme", "why": "CME 3 at once"}]}


def write(tmp_path: Path, data: object, name: str = "lab.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def one_line_error(path: Path) -> str:
    with pytest.raises(profile_file.ProfileFileError) as info:
        profile_file.load(path)
    text = str(info.value)
    assert "\n" not in text and "pydantic" not in text and info.value.__cause__ is None
    assert text.startswith(f"{path}: "), text  # the file first, as the user gave it
    return text


# --- the shipped file -----------------------------------------------------------------------------


def test_observed_a05_is_shipped_known_and_cites_a_fact_for_every_deviation() -> None:
    p = profile_file.resolve("observed-a05")
    assert "observed-a05" in profiles.known() and p.source.endswith("firmware/observed-a05.toml")
    assert p.revision == "BC660KGLAAR01A05"  # obs. facts 1, 2: what a real A05 reports
    assert p.switches == {"open-occupied-cme", "close-not-open-error", "conn-empty-password-refused",
                          "idle-open-close-7", "cfun-kept"}
    assert p.boot_s == 10.0  # obs. fact 16: RDY about 10 s after a reset
    assert dict(p.cme_text) == {50: "Incorrect parameters"}  # obs. fact 13, mixed case as quoted
    assert dict(p.facts) == {"open-occupied-cme": 32, "close-not-open-error": 32, "conn-empty-password-refused": 37,
                             "cme_text 50": 13, "idle-open-close-7": 33, "cfun-kept": 12, "boot_s": 16}


@pytest.mark.skipif(not OBSERVATIONS.exists(), reason="the observations file is outside this checkout")
def test_every_cited_fact_says_what_the_profile_claims() -> None:
    """Each cited fact exists and mentions the answer the deviation models (a renumbered file shows)."""
    text = OBSERVATIONS.read_text()
    facts = dict(re.findall(r"^(\d+)\. (.*?)(?=^\d+\. |^## |\Z)", text, flags=re.MULTILINE | re.DOTALL))
    claims = {32: "operation not allowed", 37: "Incorrect parameters", 13: "Incorrect parameters",
              33: "+QMTSTAT: 0,7", 12: "The module keeps CFUN across restarts", 16: "more than about 9.7 s"}
    for fact in set(profile_file.resolve("observed-a05").facts.values()):
        assert claims[fact] in " ".join(facts[str(fact)].split()), fact


def test_every_shipped_file_is_named_after_its_profile() -> None:
    for name, path in profiles.shipped().items():
        assert profile_file.load(path).name == name


def test_every_switch_is_read_in_exactly_one_place_named_by_where() -> None:
    """profiles.switches(): what a file may set; each is one `.has("<name>")` in the module it names."""
    sources = {f.stem: f.read_text() for f in EMULATOR_DIR.glob("*.py")}
    for switch, where in profiles.switches().items():
        hits = [m for m, src in sources.items() if f'.has("{switch}")' in src]
        assert hits == [where.partition(".")[0]], (switch, where, hits)
        assert sum(src.count(f'.has("{switch}")') for src in sources.values()) == 1, switch


# --- a lab's file: JSON or TOML, and every mistake in one line ----------------------------------------


def test_json_and_toml_load_the_same_profile(tmp_path: Path) -> None:
    toml = write(tmp_path, 'name = "lab-x"\nrevision = "BC660KGLAAR01A05_LABX"\nsummary = "a lab\'s firmware"\n'
                 '[[deviation]]\nfact = 32\nswitch = "open-occupied-cme"\nwhy = "CME 3 at once"\n', "lab.toml")
    a, b = profile_file.load(write(tmp_path, GOOD)), profile_file.load(toml)
    assert (a.name, a.revision, a.switches, a.where) == (b.name, b.revision, b.switches, b.where)
    assert a.where == "qmt_conn.qmtopen" and a.facts == {"open-occupied-cme": 32}


def test_bounds_and_defaults_load_as_the_built_in_faults_carry_them(tmp_path: Path) -> None:
    data = {**GOOD, "deviation": [{"section": "3.3.1 <keep_alive_time>", "why": "w", "keepalive_max": 3601,
                                   "mqtt_defaults": {"keepalive": 60}}]}
    p = profile_file.load(write(tmp_path, data))
    assert p.keepalive_max == 3601 and dict(p.mqtt_defaults) == {"keepalive": 60} and p.switches == frozenset()


@pytest.mark.parametrize(("change", "expected"), [
    ({"colour": 1}, ": colour: unknown key"),
    ({"name": "Lab X"}, "name: String should match pattern"),
    ({"name": "conformant"}, "(top level): name 'conformant' is a built-in profile"),
    ({"revision": "A05"}, "revision: String should match pattern"),
    ({"summary": None}, "summary: Input should be a valid string"),
    ({"deviation": [{"fact": 32, "switch": "nope", "why": "w"}]},
     "deviation[0].switch: unknown switch 'nope' (known: "),
    ({"deviation": [{"switch": "open-occupied-cme", "why": "w"}]}, "deviation[0]: cite the source: fact"),
    ({"deviation": [{"fact": 1, "why": "w"}]}, "deviation[0]: changes nothing"),
    ({"deviation": [{"fact": 1, "why": "w", "cme_text": {"7": "x"}}]},
     "deviation[0].cme_text: 7 is not a +CME ERROR code the emulator answers"),
    ({"deviation": [{"fact": 1, "why": "w", "mqtt_defaults": {"kepalive": 60}}]},
     "deviation[0].mqtt_defaults: unknown MQTT option 'kepalive'"),
    ({"deviation": [{"fact": 1, "why": "w", "mqtt_defaults": {"keepalive": "60"}}]},
     "deviation[0].mqtt_defaults: keepalive must be int, got '60'"),
    ({"deviation": [{"fact": 1, "why": "w", "switch": "open-occupied-cme", "swtich": "x"}]},
     "deviation[0].swtich: unknown key"),
], ids=["extra", "name", "builtin", "revision", "summary", "switch", "uncited", "empty", "code", "option", "type",
        "typo"])
def test_a_mistake_is_one_line_naming_the_file_and_the_key(tmp_path: Path, change: dict, expected: str) -> None:
    path = write(tmp_path, {**GOOD, **change})
    assert expected in one_line_error(path)


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("bad.toml", 'name = "x"\nrevision =\n', "not valid TOML: Invalid value (at line 2, column 11)"),
    ("bad.json", '{"name": ', "not valid JSON: Expecting value (line 1, column 10)"),
])
def test_unparsable_file_is_one_line_with_where(tmp_path: Path, name: str, text: str, expected: str) -> None:
    assert one_line_error(write(tmp_path, text, name)).endswith(expected)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    text = one_line_error(tmp_path / "nope.toml")
    assert text.endswith("cannot read the firmware profile: No such file or directory")


# --- --firmware PATH: the emulator CLI and the rig ------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.emulator", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=20)


def test_cli_refuses_a_bad_file_in_one_line_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, {**GOOD, "deviation": [{"fact": 1, "switch": "nope", "why": "w"}]})
    proc = run_cli("--firmware", str(path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert f"error: {path}: deviation[0].switch: unknown switch 'nope'" in proc.stderr


def test_cli_plays_the_profile_in_a_file(tmp_path: Path) -> None:
    """The file's revision in ATI, and its switch in effect: a second AT+QMTOPEN on the open ID is
    refused at once (the conformant firmware answers OK, then +QMTOPEN: 0,2)."""
    emu = EmulatorProcess.start(time_scale=0.05, firmware=str(write(tmp_path, GOOD)))
    try:
        with ScriptedPeer(default_timeout=5.0) as peer:
            ch = ATChannel(emu.url, time_scale=0.05)
            try:
                assert ch.command("ATE0").ok and ch.command("AT+CMEE=2").ok
                assert ch.command("ATI").lines[2] == "Revision: BC660KGLAAR01A05_LABX"
                line = f'AT+QMTOPEN=0,"127.0.0.1",{peer.port}'
                assert ch.command(line).ok
                peer.accept(5.0)
                assert ch.wait_urc("+QMTOPEN", 5.0).args == [0, 0]
                assert ch.command(line).final == "+CME ERROR: operation not allowed"
            finally:
                ch.close()
    finally:
        emu.stop()


def test_rig_takes_a_file_path_made_absolute_and_names_its_mistake(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, GOOD)
    rig = load_rig(ROOT / "rig.yaml", {"dut.firmware": "lab.json"}, env={})
    assert rig.dut.firmware == str(tmp_path / "lab.json")  # the emulator runs in the project root
    write(tmp_path, {**GOOD, "revision": "A05"}, "bad.json")
    with pytest.raises(RigError) as info:
        load_rig(ROOT / "rig.yaml", {"dut.firmware": "bad.json"}, env={})
    assert str(info.value).startswith(f"--firmware: {tmp_path / 'bad.json'}: revision: String should match")
    with pytest.raises(RigError, match=r"^--firmware: expected a profile name .* got 'no/such.toml', and no such"):
        load_rig(ROOT / "rig.yaml", {"dut.firmware": "no/such.toml"}, env={})
    assert load_rig(ROOT / "rig.yaml", {"dut.firmware": "observed-a05"}, env={}).dut.firmware == "observed-a05"
