"""The command-line options that override the rig file, written once: the flag, its help, and
the rig keys it sets. The pytest plugin adds them from here, the loader names them in its errors
(a bad `--firmware` is the option's fault, not rig.yaml's), and the doctor takes `--port` the
same way, so no two places can disagree about what an option means."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RigOption:
    flag: str
    metavar: str
    help: str
    keys: Callable[[str], dict[str, Any]]  # the option's value -> the rig keys it sets
    sets: tuple[str, ...]  # those keys, for error messages


def _report_dir(out: str) -> dict[str, Any]:
    return {"report.dir": out, "report.html": str(Path(out) / "html" / "index.html"),
            "report.allure": str(Path(out) / "allure-results"), "report.junit": str(Path(out) / "junit.xml")}


RIG_OPTIONS: tuple[RigOption, ...] = (
    RigOption("--port", "URL", "pyserial URL of an external DUT (device path, socket://, rfc2217://); "
              "no emulator is started", lambda v: {"dut.kind": "serial", "dut.port": v}, ("dut.kind", "dut.port")),
    RigOption("--time-scale", "F", "one module second lasts F real seconds (overrides dut.time_scale)",
              lambda v: {"dut.time_scale": v}, ("dut.time_scale",)),
    RigOption("--broker", "KIND", "amqtt or mosquitto (overrides broker.kind)",
              lambda v: {"broker.kind": v}, ("broker.kind",)),
    RigOption("--firmware", "NAME|PATH", "emulator firmware profile: a name or a profile file "
              "(.toml/.json) (overrides dut.firmware)",
              lambda v: {"dut.firmware": v}, ("dut.firmware",)),
    RigOption("--network", "NAME|FILE", "emulator uplink: ideal, nbiot, nbiot-poor or a profile file "
              "(overrides dut.network)", lambda v: {"dut.network": v}, ("dut.network",)),
    RigOption("--report-dir", "DIR", "write every report under DIR (overrides report.dir, .html, .allure and .junit)",
              _report_dir, ("report.dir", "report.html", "report.allure", "report.junit")),
)

# Dotted override key -> the command-line option that sets it, so errors name the option.
OPTION_NAMES: dict[str, str] = {key: opt.flag for opt in RIG_OPTIONS for key in opt.sets}


def overrides(values: Mapping[str, Any], options: Iterable[RigOption] = RIG_OPTIONS) -> dict[str, Any]:
    """Rig-key overrides from option values keyed by flag (`{"--port": "socket://..."}`); unset
    (None) options set nothing."""
    out: dict[str, Any] = {}
    for opt in options:
        value = values.get(opt.flag)
        if value is not None:
            out.update(opt.keys(value))
    return out
