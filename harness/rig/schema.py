"""The rig file schema: where the DUT is and how the suite reaches it.

Every model forbids unknown keys, because a misspelt key that is silently ignored leaves
the rig running on a default the user thought they had changed. Fields carry a
description (the documentation of the rig file) and, where a plain type name would be
vague, an ``expected`` phrase the loader uses in its one-line errors.

Two annotations carry the environment rules, so a new field picks them up in one place:

- ``Secret`` (``Annotated[str | None, SECRET]``): the value must be written as ``${VAR}``
  and comes from the environment; ``RigConfig.secrets()`` finds every such field, so the
  reports can redact the values. A literal secret in the file is an error.
- ``EnvStr``: a plain string in which ``${VAR}`` is substituted (``$${`` is a literal ``${``).

The environment comes from the validation context (``{"env": mapping}``, see loader.py);
without one, ``os.environ`` is used.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError, core_schema

# -- environment substitution and secrets ----------------------------------------------

_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHOLE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _env(info: ValidationInfo) -> Mapping[str, str]:
    ctx = info.context
    if isinstance(ctx, Mapping) and ctx.get("env") is not None:
        return ctx["env"]
    return os.environ


def _lookup(name: str, env: Mapping[str, str]) -> str:
    if name not in env:
        raise PydanticCustomError("rig_env", "environment variable {name} is not set", {"name": name})
    return env[name]


def substitute(value: Any, info: ValidationInfo) -> Any:
    """Replace each ``${VAR}`` in a string with the environment's value; ``$${`` stays ``${``."""
    if not isinstance(value, str) or "$" not in value:
        return value
    env = _env(info)

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        name = m.group(1)
        if not _VAR_NAME.fullmatch(name):
            raise PydanticCustomError(
                "rig_env", "bad variable reference ${{name}} (expected ${NAME})", {"name": name}
            )
        return _lookup(name, env)

    if re.search(r"\$\{[^}]*$", value.replace("$${", "")):
        raise PydanticCustomError("rig_env", "unclosed ${ in the value (write $${ for a literal ${)")
    return _VAR.sub(one, value)


class _SecretMarker:
    """Annotation metadata: the field is a secret, written only as ``${VAR}``."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], core_schema.CoreSchema]
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_before_validator_function(_secret_from_env, handler(source))

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMarker()


def _secret_from_env(value: Any, info: ValidationInfo) -> Any:
    if value is None or not isinstance(value, str):
        return value  # None is "no secret"; other types fail the str check without echoing the value
    m = _WHOLE_VAR.fullmatch(value)
    if m is None:
        raise PydanticCustomError(
            "rig_secret",
            "secrets are not written in the rig file; name an environment variable as ${VAR}",
        )
    return _lookup(m.group(1), _env(info))


def _not_bool(value: Any) -> Any:
    # YAML `yes`/`true` would otherwise pass as the number 1.
    if isinstance(value, bool):
        raise PydanticCustomError("rig_type", "a number, not true/false")
    return value


Secret = Annotated[str | None, SECRET]
EnvStr = Annotated[str, BeforeValidator(substitute)]
EnvPath = Annotated[Path, BeforeValidator(substitute)]


def is_secret_field(field: Any) -> bool:
    return any(m is SECRET for m in getattr(field, "metadata", ()))


def _fail(path: str, message: str, **ctx: Any) -> PydanticCustomError:
    """An error about one key of the section (``path``), not the whole section.

    ``because`` (ctx) names a sibling key that caused it, so an error caused by an override
    of that key (``dut.kind`` from ``--port``) names the option rather than the file.
    """
    return PydanticCustomError("rig_rule", message, {"path": path, **ctx})


def _field(default: Any, description: str, expected: str | None = None, **kw: Any) -> Any:
    extra = {"expected": expected} if expected else None
    return Field(default, description=description, json_schema_extra=extra, **kw)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    def __repr_args__(self):  # secrets never reach a log through repr()
        for name, value in super().__repr_args__():
            field = type(self).model_fields.get(name) if name else None
            yield name, ("***" if field is not None and is_secret_field(field) and value else value)


# -- dut ------------------------------------------------------------------------------

STANDARD_BAUDS = (4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
PYSERIAL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)")


class DutConfig(_Section):
    """The device under test: our emulator, or an external device on a serial port."""

    kind: Literal["emulator", "serial"] = _field(
        "emulator",
        "emulator: the harness starts the BC660K-GL emulator; serial: an external device at `port`.",
    )
    port: Annotated[str | None, BeforeValidator(substitute)] = _field(
        None,
        "serial: the pyserial URL of the device (/dev/ttyUSB0, /dev/serial/by-id/..., socket://h:p, "
        "rfc2217://h:p); required. emulator: where the harness serves it (socket://127.0.0.1:PORT for "
        "tcp, a symlink path for pty); null picks a free port / a fresh pty.",
    )
    baud: Annotated[int, BeforeValidator(_not_bool)] = _field(
        115200,
        "UART rate; the BC660K-GL default is 115200.",
        "one of " + ", ".join(map(str, STANDARD_BAUDS)),
    )
    transport: Literal["tcp", "pty"] | None = _field(
        None, "emulator only: how the emulator is reached (default tcp)."
    )
    firmware: EnvStr | None = _field(
        None,
        "emulator only: the firmware profile the emulator plays (default conformant).",
        "a profile name of a-z, 0-9, _ and -",
        pattern=r"^[a-z0-9_-]+$",
    )
    time_scale: Annotated[float, BeforeValidator(_not_bool)] = _field(
        1.0,
        "One module second lasts time_scale real seconds (the emulator's clock; deadlines follow it). "
        "Must be 1.0 for kind serial in the file: hardware runs in real time. --time-scale may set it "
        "for serial anyway (an external emulator behind --port).",
        "a number > 0 and <= 1",
        gt=0,
        le=1,
    )

    @model_validator(mode="after")
    def _kind_rules(self, info: ValidationInfo) -> DutConfig:
        if self.baud not in STANDARD_BAUDS:
            raise _fail("baud", "expected one of {bauds}; got {got}",
                        bauds=", ".join(map(str, STANDARD_BAUDS)), got=self.baud)
        if self.kind == "serial":
            self._serial_rules(info)
        else:
            self.transport = self.transport or "tcp"
            self.firmware = self.firmware or "conformant"
            self._emulator_port_rules()
        return self

    def _serial_rules(self, info: ValidationInfo) -> None:
        if not self.port:
            raise _fail("port", "required when dut.kind is serial", because="kind")
        for key in ("transport", "firmware"):
            if getattr(self, key) is not None:
                raise _fail(key, "applies to dut.kind emulator only; remove it for dut.kind serial")
        ctx = info.context if isinstance(info.context, Mapping) else {}
        if self.time_scale != 1.0 and not ctx.get("time_scale_explicit"):
            raise _fail(
                "time_scale",
                "must be 1.0 when dut.kind is serial (hardware runs in real time); "
                "for an external emulator at a time scale, pass --time-scale",
            )
        m = _SCHEME.fullmatch(self.port)
        if m and m.group(1).lower() not in PYSERIAL_SCHEMES:
            raise _fail("port", "unknown pyserial URL scheme {scheme} (expected a device path or one of "
                        "{schemes})", scheme=repr(m.group(1) + "://"),
                        schemes=", ".join(s + "://" for s in PYSERIAL_SCHEMES))
        if m and m.group(1).lower() in ("socket", "rfc2217"):
            _host_port(m.group(2), "port", allow_zero=False)

    def _emulator_port_rules(self) -> None:
        if self.port is None:
            return
        m = _SCHEME.fullmatch(self.port)
        if self.transport == "tcp":
            if not m or m.group(1).lower() != "socket":
                raise _fail("port", "with dut.transport tcp, expected socket://HOST:PORT or null; got {got}",
                            got=repr(self.port))
            _host_port(m.group(2), "port", allow_zero=True)
        elif m:
            raise _fail("port", "with dut.transport pty, expected a path for the pty link or null; got {got}",
                        got=repr(self.port))


def _host_port(text: str, path: str, *, allow_zero: bool) -> None:
    host, sep, port = text.split("/", 1)[0].rpartition(":")
    low = 0 if allow_zero else 1
    if not sep or not host or not port.isdigit() or not low <= int(port) <= 65535:
        raise _fail(path, "expected HOST:PORT after the scheme, PORT {low}..65535; got {got}",
                    low=low, got=repr(text))


# -- relay ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RelayKind:
    """What the schema needs to know of a relay driver; the driver registers one."""

    description: str
    has_channels: bool


# The one registry of relay kinds: a driver adds itself here (register_relay_kind) and
# relay.kind accepts it. Checked at validation time, so late registration works.
RELAY_KINDS: dict[str, RelayKind] = {
    "none": RelayKind("no power or reset control; recovery stops at the AT-level steps", has_channels=False),
}


def register_relay_kind(name: str, kind: RelayKind) -> None:
    RELAY_KINDS[name] = kind


class RelayConfig(_Section):
    """Power and reset lines of the DUT, for the recovery ladder (a lab rig)."""

    kind: str = _field("none", "relay driver: one of the registered kinds (RELAY_KINDS); none = no relay.")
    channels: dict[Literal["power", "reset"], Annotated[int, BeforeValidator(_not_bool), Field(ge=0)]] = Field(
        default_factory=dict,
        description="line name (power, reset) -> relay channel number, e.g. {power: 0, reset: 1}.",
        json_schema_extra={"expected": "a mapping of power/reset to channel numbers >= 0"},
    )

    @model_validator(mode="after")
    def _registered(self) -> RelayConfig:
        if self.kind not in RELAY_KINDS:
            raise _fail("kind", "expected one of {choices}; got {got}",
                        choices=", ".join(repr(k) for k in RELAY_KINDS), got=repr(self.kind))
        if self.channels and not RELAY_KINDS[self.kind].has_channels:
            raise _fail("channels", "relay kind {kind} has no channels; remove them", kind=repr(self.kind))
        return self


# -- broker ---------------------------------------------------------------------------


class BrokerConfig(_Section):
    """The broker the suite starts, and the address the DUT dials to reach it."""

    kind: Literal["amqtt", "mosquitto"] = _field("amqtt", "amqtt: embedded; mosquitto: a local mosquitto.")
    listen: EnvStr = _field(
        "127.0.0.1", "Address the broker binds; a loopback address unless allow_non_loopback is true."
    )
    allow_non_loopback: bool = _field(
        False, "Let the broker listen beyond loopback (a lab rig whose module dials over the network)."
    )
    port: Annotated[int, BeforeValidator(_not_bool)] = _field(
        0,
        "TCP port the broker listens on; 0 picks a free port at run time.",
        "a port 0..65535",
        ge=0,
        le=65535,
    )
    dut_address: EnvStr = _field(
        "127.0.0.1",
        "Host name or IP the DUT puts in AT+QMTOPEN <host_name> (3.3.2: at most 100 bytes).",
    )
    tls: bool = _field(False, "Serve MQTT over TLS (the DUT opens with <SSL_enable> 1, 3.3.2).")
    username: Annotated[str | None, BeforeValidator(substitute)] = _field(
        None, "MQTT user name the broker requires; null: anonymous."
    )
    password: Secret = _field(None, "SECRET: written as ${VAR}; the value comes from the environment.")

    @model_validator(mode="after")
    def _addresses(self) -> BrokerConfig:
        if not self.allow_non_loopback and not _is_loopback(self.listen):
            raise _fail("listen", "expected a loopback address (127.0.0.1, ::1, localhost) unless "
                        "broker.allow_non_loopback is true; got {got}", got=repr(self.listen))
        if not self.listen.strip():
            raise _fail("listen", "expected an address; got an empty string")
        size = len(self.dut_address.encode())
        if not 1 <= size <= 100:
            raise _fail("dut_address", "expected 1..100 bytes (3.3.2 <host_name>); got {size} bytes",
                        size=size)
        if any(c == '"' or ord(c) < 0x20 for c in self.dut_address):
            raise _fail("dut_address", "may not contain quotes or control characters (it is quoted in "
                        "AT+QMTOPEN)")
        if self.password is not None and self.username is None:
            raise _fail("password", "needs broker.username (MQTT 3.1.1 sends a password only with a "
                        "user name)")
        return self


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- report ---------------------------------------------------------------------------


class ReportConfig(_Section):
    """Report locations, relative to the current directory (the project root under make)."""

    dir: EnvPath = _field(Path("reports"), "Directory for report output.")
    html: EnvPath = _field(Path("reports/html/index.html"), "pytest-html report file.")
    allure: EnvPath = _field(Path("reports/allure-results"), "Allure results directory.")
    junit: EnvPath = _field(Path("reports/junit.xml"), "JUnit XML file.")
    title: EnvStr = _field("BC660K-GL MQTT conformance", "Report title.", "a non-empty string", min_length=1)


# -- the rig --------------------------------------------------------------------------

SECTIONS = ("dut", "relay", "broker", "report")


class RigConfig(_Section):
    """A validated rig file. Build it with harness.rig.load_rig, which also checks `source`."""

    dut: DutConfig = Field(default_factory=DutConfig, description="The device under test.")
    relay: RelayConfig = Field(default_factory=RelayConfig, description="Power/reset relay.")
    broker: BrokerConfig = Field(default_factory=BrokerConfig, description="The MQTT broker.")
    report: ReportConfig = Field(default_factory=ReportConfig, description="Report output.")
    source: Path = Field(
        Path("rig.yaml"), description="The rig file this came from (set by the loader, not a user key).",
        exclude=True,
    )

    def secrets(self) -> set[str]:
        """Every non-empty secret value (after substitution), for redaction in reports and logs."""
        found: set[str] = set()
        _collect_secrets(self, found)
        return found

    def redacted_dump(self) -> dict[str, Any]:
        """model_dump() with every secret replaced by "***": safe to put in a report."""
        secrets = self.secrets()

        def scrub(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: scrub(x) for k, x in v.items()}
            if isinstance(v, str) and v in secrets:
                return "***"
            return v

        return scrub(self.model_dump(mode="json"))


def _collect_secrets(model: BaseModel, found: set[str]) -> None:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if is_secret_field(field) and isinstance(value, str) and value:
            found.add(value)
        elif isinstance(value, BaseModel):
            _collect_secrets(value, found)
        elif isinstance(value, dict | list | tuple):
            for item in value.values() if isinstance(value, dict) else value:
                if isinstance(item, BaseModel):
                    _collect_secrets(item, found)
