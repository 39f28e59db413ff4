"""The rig file's relay section: which driver switches the DUT's power and reset lines, and how.

The kinds live in one registry (RELAY_KINDS). A kind says which of the driver keys
(``device``, ``serial``, ``lines``, ``active_low``, ``commands``) it takes and needs, so a key
written for another driver is an error rather than silently ignored, and a driver added later
registers one RelayKind and its keys are checked the same way. The drivers themselves live in
harness/rig/relay/ (RELAY_DRIVERS); this module only validates.

Command lines are kept as written: their ``${VAR}`` references are checked here but expanded
by the command driver when it runs them, so a PDU password in a command never lands in the
validated config, its repr or a report.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from harness.rig.fields import _VAR, _VAR_NAME, EnvStr, _env, _fail, _field, _lookup, _not_bool, _Section

# -- timing defaults (real seconds; a rig file overrides each) ---------------------------
# Not from the MQTT note: from the BC660K-GL Hardware Design, where known, else rig habits.
# RESET_N is driven low to reset the module; the Hardware Design gives a minimum low time
# well under this (tens of ms, varying between document revisions), so 100 ms is a safe
# pulse for a relay or transistor. Check it against your revision of the Hardware Design.
RESET_PULSE_S = 0.1
# VBAT held off during a power cycle: long enough for the supply's capacitors to discharge
# so the module really browns out. Not from Quectel: a rig habit; big capacitors need more.
POWER_OFF_S = 1.0
# Deadline for RDY after power-on or reset, when the rig file sets it (else the ladder uses
# harness.spec.timing.boot_deadline_s). A real BC660K-GL "routinely" needs more than about 9.7 s
# after PWRKEY before it answers AT, and a host that works on hardware waits up to 30 s for it
# (../shared/observations/real-modules.md fact 16, CF). A deadline, so generous: 30 s.
BOOT_S = 30.0
# A relay command or an operator answer taking longer than this is a failure, not a hang.
TIMEOUT_S = 30.0

DRIVER_KEYS = ("device", "serial", "lines", "active_low", "commands")


@dataclass(frozen=True)
class RelayKind:
    """What the schema needs to know of a relay driver; the driver's kind registers one.

    ``options``: the driver keys (DRIVER_KEYS) this kind takes; ``required``: those it
    needs (``channels`` may be named too); ``check``: extra rules, raising via ``_fail``.
    """

    description: str
    has_channels: bool
    options: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    check: Callable[[RelayConfig], None] | None = None


# The one registry of relay kinds: a driver adds itself here (register_relay_kind) and
# relay.kind accepts it. Checked at validation time, so late registration works.
RELAY_KINDS: dict[str, RelayKind] = {}


def register_relay_kind(name: str, kind: RelayKind) -> None:
    RELAY_KINDS[name] = kind


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """``${VAR}`` -> its value, ``$${`` -> ``${``; KeyError names a missing variable."""
    def one(m: re.Match[str]) -> str:
        return "${" if m.group(0) == "$${" else env[m.group(1)]

    return _VAR.sub(one, text)


def referenced_vars(text: str) -> list[str]:
    """The names of the ``${VAR}`` references in ``text`` (not the ``$${`` escapes)."""
    return [m.group(1) for m in _VAR.finditer(text) if m.group(0) != "$${"]


def _command_line(value: Any, info: ValidationInfo) -> Any:
    """Check a command line as the driver will run it (shlex.split, no shell), unexpanded."""
    if not isinstance(value, str):
        return value
    env = _env(info)
    for name in referenced_vars(value):
        if not _VAR_NAME.fullmatch(name):
            raise PydanticCustomError("rig_env", "bad variable reference ${{name}} (expected ${NAME})",
                                      {"name": name})
        _lookup(name, env)
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise PydanticCustomError("rig_rule_cmd", "not a valid command line: {why}", {"why": str(exc)}) from None
    if not words:
        raise PydanticCustomError("rig_rule_cmd", "expected a command; got an empty string")
    return value


CommandLine = Annotated[str | None, BeforeValidator(_command_line)]
Seconds = Annotated[float, BeforeValidator(_not_bool)]


class RelayCommands(_Section):
    """Shell-free command lines (split with shlex) for relay kind command. The keys are not
    on/off: YAML reads those as true/false."""

    power_on: CommandLine = _field(None, "Switch the DUT's power on.", "a command line")
    power_off: CommandLine = _field(None, "Switch the DUT's power off.", "a command line")
    power_cycle: CommandLine = _field(None, "Power-cycle in one command (default: power_off, wait "
                                      "power_off_s, power_on); gets RELAY_OFF_S in its environment.",
                                      "a command line")
    reset: CommandLine = _field(None, "Pulse the reset line; gets RELAY_WIDTH_S in its environment.",
                                "a command line")

    @model_validator(mode="before")
    @classmethod
    def _yaml_booleans(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(isinstance(k, bool) for k in data):
            raise PydanticCustomError("rig_yaml_bool", "keys on/off read as YAML true/false; write power_on "
                                      "and power_off")
        return data


class RelayConfig(_Section):
    """Power and reset lines of the DUT, for the recovery ladder (a lab rig)."""

    kind: str = _field("none", "relay driver: one of the registered kinds (RELAY_KINDS); none = no relay.")
    channels: dict[Literal["power", "reset"], Annotated[int, BeforeValidator(_not_bool), Field(ge=0)]] = Field(
        default_factory=dict,
        description="line name (power, reset) -> relay channel number (hid: 1..8) or GPIO line offset "
                    "(gpiod), e.g. {power: 0, reset: 1}.",
        json_schema_extra={"expected": "a mapping of power/reset to channel numbers >= 0"},
    )
    device: EnvStr | None = _field(
        None, "gpiod: the chip (/dev/gpiochipN); dtr_rts: the adapter's serial port; hid: the board's "
        "hidraw path (default: the only board); emulated: the emulator's control socket (default: the "
        "one the harness started).")
    serial: EnvStr | None = _field(None, "hid: the board's serial (5 characters, as its feature report "
                                   "gives it), to pick one of several boards.")
    lines: dict[Literal["power", "reset"], Literal["dtr", "rts"]] = Field(
        default_factory=dict, description="dtr_rts: which modem line drives power and reset, e.g. "
        "{power: dtr, reset: rts}.")
    active_low: bool = _field(False, "gpiod: the lines are active low; dtr_rts: power on / reset "
                              "asserted is the modem line deasserted; hid: wired through the normally-closed "
                              "contact (relay energised = off).")
    commands: RelayCommands | None = _field(
        None, "command: the command lines (power_on, power_off, power_cycle, reset).")
    reset_pulse_s: Seconds = _field(RESET_PULSE_S, "How long the reset line is held asserted.",
                                    "a number of seconds > 0 and <= 10", gt=0, le=10)
    power_off_s: Seconds = _field(POWER_OFF_S, "How long power stays off in a power cycle.",
                                  "a number of seconds > 0 and <= 60", gt=0, le=60)
    boot_s: Seconds = _field(BOOT_S, "Deadline for RDY after power-on or reset.",
                             "a number of seconds > 0 and <= 120", gt=0, le=120)
    timeout_s: Seconds = _field(TIMEOUT_S, "Deadline for one relay command, operator answer or control "
                                "request.", "a number of seconds > 0 and <= 600", gt=0, le=600)

    @model_validator(mode="after")
    def _registered(self) -> RelayConfig:
        kind = RELAY_KINDS.get(self.kind)
        if kind is None:
            close = difflib.get_close_matches(self.kind, list(RELAY_KINDS), n=1, cutoff=0.6)
            raise _fail("kind", "expected one of {choices}; got {got}{hint}",
                        choices=", ".join(repr(k) for k in RELAY_KINDS), got=repr(self.kind),
                        hint=f"; did you mean {close[0]!r}?" if close else "")
        if self.channels and not kind.has_channels:
            raise _fail("channels", "relay kind {kind} has no channels; remove them", kind=repr(self.kind))
        for key in DRIVER_KEYS:
            if key in self.model_fields_set and key not in kind.options:
                takers = [repr(n) for n, k in RELAY_KINDS.items() if key in k.options]
                raise _fail(key, "applies to relay.kind {takers} only; remove it for relay.kind {kind}",
                            takers=", ".join(takers) or "(none)", kind=repr(self.kind))
        for key in sorted(kind.required):
            if not getattr(self, key):
                raise _fail(key, "required when relay.kind is {kind}", kind=repr(self.kind), because="kind")
        if kind.check is not None:
            kind.check(self)
        return self


# -- the built-in kinds (drivers in harness/rig/relay/, one module each) -------------------


def _distinct(cfg: RelayConfig, key: str, values: Mapping[str, object]) -> None:
    if len(set(values.values())) < len(values):
        raise _fail(key, "power and reset must use different lines; got {got}", got=dict(values))


def _check_command(cfg: RelayConfig) -> None:
    c = cfg.commands or RelayCommands()
    if (c.power_on is None) != (c.power_off is None):
        raise _fail("commands", "give both power_on and power_off (or neither)")
    if c.power_on is None and c.power_cycle is None and c.reset is None:
        raise _fail("commands", "expected power_on and power_off, power_cycle, or reset")


def _check_hid(cfg: RelayConfig) -> None:
    for name, ch in cfg.channels.items():
        if not 1 <= ch <= 8:
            raise _fail(f"channels.{name}", "expected a relay number 1..8 for relay.kind 'hid'; got {got}", got=ch)
    _distinct(cfg, "channels", cfg.channels)
    if cfg.device and cfg.serial:
        raise _fail("serial", "give device or serial, not both")


for _name, _kind in {
    "none": RelayKind("no power or reset control; recovery stops at the AT-level steps", has_channels=False),
    "command": RelayKind("run a command line per action (a PDU's CLI, a script)", False,
                         frozenset({"commands"}), frozenset({"commands"}), _check_command),
    "manual": RelayKind("ask the operator at the terminal (interactive runs only)", False),
    "dtr_rts": RelayKind("a USB-serial adapter's DTR/RTS lines drive the relay or transistor", False,
                         frozenset({"device", "lines", "active_low"}), frozenset({"device", "lines"}),
                         lambda cfg: _distinct(cfg, "lines", cfg.lines)),
    "gpiod": RelayKind("GPIO lines of a gpiochip (libgpiod v2); channels are line offsets", True,
                       frozenset({"device", "active_low"}), frozenset({"device", "channels"}),
                       lambda cfg: _distinct(cfg, "channels", cfg.channels)),
    "hid": RelayKind("a USB HID relay board (dcttech USBRelay1/2/4/8); channels 1..8", True,
                     frozenset({"device", "serial", "active_low"}), frozenset({"channels"}), _check_hid),
    "emulated": RelayKind("the BC660K-GL emulator's power/reset control socket", False, frozenset({"device"})),
}.items():
    register_relay_kind(_name, _kind)
