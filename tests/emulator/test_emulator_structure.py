"""The emulator's own structure (harness/emulator/__init__.py is its map): it never imports our
reading of the note (harness.spec), its modules import only the rooms above them, commands are
registered per (name, form), every result code is defined once, the state a reset keeps is the
explicit list state.SAVED, and a broken handler module stops the start-up."""

from __future__ import annotations

import ast
import asyncio
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import harness.emulator as emulator_pkg
from harness.emulator import api, errors, frontend, profiles, server, state
from harness.emulator.api import Arg, Command, Context, handles
from harness.emulator.launcher import ROOT

pytestmark = pytest.mark.timeout(30)

EMULATOR_DIR = Path(emulator_pkg.__file__).resolve().parent
SOURCES = sorted(EMULATOR_DIR.glob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module `path` imports (top level, in functions, under TYPE_CHECKING), with
    `from X import y` also as X.y (y may be a module), and every string constant naming a
    harness module (importlib.import_module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                parts = ["harness", "emulator"][: max(0, 3 - node.level)]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("harness."):
            found.add(node.value)
    return found


def test_emulator_never_imports_harness_spec() -> None:
    """The emulator cites the application note, not our reading of it: if both imported
    harness.spec, a misreading there would pass the suite against the emulator unnoticed."""
    assert SOURCES and all(p.suffix == ".py" for p in SOURCES)
    offenders = {p.name: sorted(m for m in _imports(p) if m == "harness.spec" or m.startswith("harness.spec."))
                 for p in SOURCES}
    assert not {k: v for k, v in offenders.items() if v}


def _map_order() -> list[str]:
    """The module names in the order of the map in harness/emulator/__init__.py."""
    doc = emulator_pkg.__doc__ or ""
    return re.findall(r"^ {4}(\w+)\.py ", doc, flags=re.MULTILINE)


def test_the_map_lists_every_module_and_each_imports_only_the_rooms_above_it() -> None:
    order = _map_order()
    assert sorted(order) == sorted(p.stem for p in SOURCES if p.stem != "__init__")
    for name in order:
        mine = {m.split(".")[2] for m in _imports(EMULATOR_DIR / f"{name}.py")
                if m.startswith("harness.emulator.") and m.split(".")[2] in order}
        above = set(order[: order.index(name)])
        assert mine <= above, f"{name}.py imports {sorted(mine - above)}, which the map lists below it"


def test_result_codes_are_defined_once_in_errors() -> None:
    """Every code has its AT+CMEE=2 text, and the chapter 4 codes (85xx) appear as numbers in
    errors.py only (the general ones, 3, 4, 50, ..., are too common a number to search for)."""
    codes = {int(c) for c in errors.Cme}
    assert set(errors.TEXT) == codes
    assert errors.TEXT[errors.Cme.MQTT_INVALID_PARAMETER] == "MQTT invalid parameter"  # chapter 4 Table 2
    assert errors.TEXT[errors.Cme.INCORRECT_PARAMETERS] == "incorrect parameters"
    for path in SOURCES:
        if path.name == "errors.py":
            continue
        literal = [n.value for n in ast.walk(ast.parse(path.read_text()))
                   if isinstance(n, ast.Constant) and type(n.value) is int and n.value in codes and n.value >= 8500]
        assert not literal, f"{path.name} writes result codes as numbers: {literal}"


@pytest.mark.parametrize(("text", "quoted", "value"), [
    ("7", False, 7), (" 7 ", False, 7), ("+7", False, 7), ("-1", False, -1), ("007", False, 7),
    ("", False, None), ("  ", False, None), ("+", False, None), ("-", False, None),
    ("7", True, None), ("7a", False, None), ("٣", False, None), ("1.0", False, None),
])
def test_the_one_integer_parser(text: str, quoted: bool, value: int | None) -> None:
    """Arg.as_int("") is None (it never raised IndexError); int_in applies the allowed values."""
    arg = Arg(text, quoted)
    assert arg.as_int() == value
    assert arg.int_in(range(5)) == (value if value is not None and 0 <= value < 5 else None)


def test_str_in_counts_bytes_and_needs_quotes() -> None:
    assert Arg("é", True).str_in(2, 2) == "é"  # two bytes in UTF-8
    assert Arg("é", True).str_in(1, 1) is None
    assert Arg("a", False).str_in(0, 10) is None


def test_every_handler_module_registers_per_form_and_twice_is_an_error() -> None:
    server.load_handlers()
    registered = set(api._REGISTRY)
    for name in ("+QMTCFG", "+QMTOPEN", "+QMTCLOSE", "+QMTCONN", "+QMTDISC", "+QMTSUB", "+QMTUNS",
                 "+QMTPUB", "+QSSLCFG", "+CFUN", "+QRST"):
        assert (name, "test") in registered and (name, "write") in registered, name
    assert ("+QMTOPEN", "read") in registered and ("+QMTCLOSE", "read") not in registered
    with pytest.raises(ValueError, match="registered twice"):
        handles("+QMTCFG", "write")(_noop)
    with pytest.raises(ValueError, match="forms must be"):
        handles("+ZZFORM", "writ")(_noop)  # type: ignore[arg-type]


async def _noop(ctx: Context, cmd: Command) -> None:
    ctx.ok()


handles("+ZZFORMS", "read")(_noop)


def _exchange(lines: bytes, finals: int, *, firmware: str = profiles.DEFAULT_FIRMWARE) -> bytes:
    """Feed `lines` to an in-process engine (echo off) and return its output after `finals`
    final results."""

    async def main() -> bytes:
        out = bytearray()
        got = asyncio.Event()

        def sink(data: bytes) -> None:
            out.extend(data)
            if len(re.findall(rb"\r\n(?:OK|ERROR|\+CME ERROR: [^\r]*)\r\n", bytes(out))) >= finals:
                got.set()

        engine = frontend.ATEngine(time_scale=0.01, firmware=firmware)
        engine.attach(sink)
        engine.module.echo = False
        engine.feed(lines)
        await asyncio.wait_for(got.wait(), 5)
        await engine.close()
        return bytes(out)

    return asyncio.run(main())


def test_a_form_nobody_registered_answers_plain_error_whatever_cmee() -> None:
    out = _exchange(b"AT+CMEE=2\rAT+ZZFORMS?\rAT+ZZFORMS=?\rAT+ZZFORMS\rAT+ZZFORMS=1\r", 5)
    assert out == b"\r\nOK\r\n" * 2 + b"\r\nERROR\r\n" * 3


@handles("+ZZREFUSE", "write")
async def _zz_refuse(ctx: Context, cmd: Command) -> None:
    raise errors.Refused(errors.Cme.MQTT_INVALID_PARAMETER if cmd.args[0].text == "1" else None)


@pytest.mark.parametrize(("cmee", "answer"), [
    (0, b"ERROR"), (1, b"+CME ERROR: 8507"), (2, b"+CME ERROR: MQTT invalid parameter")])
def test_refused_is_answered_by_the_front_end_as_cmee_selects(cmee: int, answer: bytes) -> None:
    out = _exchange(b"AT+CMEE=%d\rAT+ZZREFUSE=1\rAT+ZZREFUSE=0\r" % cmee, 3)
    assert out == b"\r\nOK\r\n\r\n" + answer + b"\r\n\r\nERROR\r\n"


def test_saved_is_an_explicit_list_of_fields_and_power_on_keeps_only_those() -> None:
    """DESIGN "Module facts": echo and the AT+QSSLCFG certificates are non-volatile; every
    other field (3.3.1 "The configuration will not be saved") starts from its default."""
    names = {f.name for f in fields(state.ModuleState)}
    assert set(state.SAVED) == {"echo", "certs"} and set(state.SAVED) <= names
    profile = profiles.get("wrong-keepalive-default")
    old = state.power_on(profile, 0.5, "869181050123452")
    old.echo, old.cmee, old.sleep_mode = False, 2, 1
    old.certs.pem["cacert"] = b"PEM"
    old.ssl.seclevel = 2
    old.network.cfun = 0
    old.mqtt[3].keepalive = 7
    new = state.power_on(profile, 0.5, "869181050123452", saved=old)
    fresh = state.power_on(profile, 0.5, "869181050123452")
    for name in names:
        want = getattr(old if name in state.SAVED else fresh, name)
        assert getattr(new, name) == want, name
    assert new.certs is old.certs and new.mqtt[3].keepalive == 60  # the profile's default, not 7


def test_power_off_hooks_are_registered_explicitly() -> None:
    assert state.close_links in state.POWER_OFF_HOOKS


def test_a_broken_handler_module_stops_the_start_up(tmp_path: Path) -> None:
    """No URL line and a non-zero exit with the module's error on stderr, instead of an
    emulator whose commands answer ERROR."""
    (tmp_path / "zz_broken_handlers.py").write_text('raise RuntimeError("zz handler module is broken")\n')
    code = ("import sys; from harness.emulator import server, __main__ as cli; "
            "server.HANDLER_MODULES += ('zz_broken_handlers',); "
            "sys.exit(cli.main(['--tcp', '127.0.0.1:0']))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "zz handler module is broken" in proc.stderr
    with pytest.raises(ModuleNotFoundError):
        server.load_handlers(["harness.emulator.zz_missing"])


@pytest.mark.parametrize("profile", profiles.faulty(), ids=lambda p: p.name)
def test_each_fault_is_read_where_its_profile_says(profile: profiles.Profile) -> None:
    """`Profile.where` names the one function that reads the fault, so a reader finds it."""
    module_name, _, function = profile.where.partition(".")
    tree = ast.parse((EMULATOR_DIR / f"{module_name}.py").read_text())
    defs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert function in defs, profile.where
    source = ast.unparse(defs[function])
    reads = [f"'{profile.name}'"] if profile.switches else ["mqtt_defaults", "keepalive_max", "pkt_timeout_max"]
    assert any(r in source for r in reads), f"{profile.where} does not read {profile.name}"
