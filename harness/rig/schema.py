"""The rig file schema: where the DUT is and how the suite reaches it.

Every model forbids unknown keys, because a misspelt key that is silently ignored leaves
the rig running on a default the user thought they had changed. Fields carry a
description (the documentation of the rig file) and, where a plain type name would be
vague, an ``expected`` phrase the loader uses in its one-line errors.

The sections live here but two: the DUT's (dut_schema.py, the one with the most rules) and the
relay's (relay_schema.py, one kind per driver); both are re-exported here with the others.

Two annotations carry the environment rules (defined in fields.py, re-exported here), so a new
field picks them up in one place:

- ``Secret`` (``Annotated[str | None, SECRET]``): the value must be written as ``${VAR}``
  and comes from the environment; ``RigConfig.secrets()`` finds every such field, so the
  reports can redact the values. A literal secret in the file is an error.
- ``EnvStr``: a plain string in which ``${VAR}`` is substituted (``$${`` is a literal ``${``).

The environment comes from the validation context (``{"env": mapping}``, see loader.py);
without one, ``os.environ`` is used.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, PrivateAttr, model_validator

from harness.rig.dut_schema import DutConfig  # re-exported: the dut section lives in its own module
from harness.rig.fields import (  # re-exported: the schema's public names live here
    SECRET,
    EnvPath,
    EnvStr,
    Secret,
    _fail,
    _field,
    _not_bool,
    _Section,
    is_secret_field,
    substitute,
)
from harness.rig.relay_schema import RELAY_KINDS, RelayConfig, RelayKind, register_relay_kind

__all__ = [
    "RELAY_KINDS", "SECRET", "SECTIONS", "BrokerConfig", "DutConfig", "EnvPath", "EnvStr", "LabgridConfig",
    "RelayConfig",
    "RelayKind", "ReportConfig", "RigConfig", "Secret", "is_secret_field", "register_relay_kind", "substitute",
]

# -- labgrid --------------------------------------------------------------------------

_TAG = re.compile(r"[a-z][a-z0-9_]*")  # labgrid's TAG_KEY
_TAG_VALUE = re.compile(r"[a-z0-9_]?[a-z0-9_-]*")  # labgrid's TAG_VAL
_PLACE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class LabgridConfig(_Section):
    """A labgrid place as the rig (harness/rig/labgrid.py): the harness acquires it, takes the DUT's
    port from its NetworkSerialPort, drives power through labgrid (relay.kind labgrid) and releases it."""

    coordinator: EnvStr = _field(
        ..., "The labgrid coordinator, HOST:PORT (labgrid-client -x).", "HOST:PORT")
    place: EnvStr | None = _field(
        None, "The place to acquire; or give `reserve` instead.", "a place name of A-Z, a-z, 0-9, _, . and -")
    reserve: dict[str, EnvStr] | None = _field(
        None, "Tags to reserve a place by (labgrid-client reserve), e.g. {dut: bc660k-gl}: the coordinator "
              "allocates a matching free place.", "a mapping of tag names to values")
    acquire_timeout_s: Annotated[float, BeforeValidator(_not_bool)] = _field(
        600.0, "How long to wait while someone else holds the place (or no reserved place is free).",
        "a number of seconds > 0", gt=0)
    client: EnvStr | None = _field(
        None, "Path of labgrid-client; default: labgrid's venv (make labgrid), then PATH.")

    @model_validator(mode="after")
    def _place_rules(self) -> LabgridConfig:
        host, sep, port = self.coordinator.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise _fail("coordinator", "expected HOST:PORT, PORT 1..65535 (labgrid's default is 20408); got {got}",
                        got=repr(self.coordinator))
        if (self.place is None) == (self.reserve is None):
            raise _fail("place", "give either place (a name) or reserve (tags), not both or neither")
        if self.place is not None and not _PLACE_NAME.fullmatch(self.place):
            raise _fail("place", "expected a place name of A-Z, a-z, 0-9, _, . and -; got {got}", got=repr(self.place))
        if self.reserve is not None:
            if not self.reserve:
                raise _fail("reserve", "expected at least one tag, e.g. dut: bc660k-gl")
            for k, v in self.reserve.items():
                if not _TAG.fullmatch(k):
                    raise _fail(f"reserve.{k}", "expected a tag name of a-z, 0-9 and _ (starting with a letter)")
                if not v or not _TAG_VALUE.fullmatch(v):
                    raise _fail(f"reserve.{k}", "expected a tag value of a-z, 0-9, _ and -; got {got}", got=repr(v))
        return self


register_relay_kind("labgrid", RelayKind(
    "a labgrid place's power (labgrid-client power): every labgrid power driver; set by the labgrid section",
    False))


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
    restart: bool = _field(
        False,
        "When the broker dies mid-run: true restarts it on the same host and port (once per death; the "
        "case that saw the death is an error 'rig fault' and the run goes on); false stops the run as "
        "rig broken (exit 3). A broker that cannot be restarted stops the run either way.",
    )

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
    waivers: Annotated[Path | None, BeforeValidator(substitute)] = _field(
        None, "YAML file of waivers (known deviations per firmware, each with reason, ticket and expiry "
              "date; README 'Waivers'); --waivers overrides it. null: no waivers.")


# -- the rig --------------------------------------------------------------------------

SECTIONS = ("dut", "duts", "relay", "broker", "report", "labgrid")


class DutSlot(_Section):
    """One of several DUTs on a rig (`duts:`): the device and its own power/reset relay."""

    dut: DutConfig = Field(default_factory=DutConfig, description="The device under test.")
    relay: RelayConfig = Field(default_factory=RelayConfig, description="Its power/reset relay.")


class RigConfig(_Section):
    """A validated rig file. Build it with harness.rig.load_rig, which also checks `source`."""

    dut: DutConfig = Field(default_factory=DutConfig, description="The device under test.")
    duts: list[DutSlot] = Field(
        default_factory=list,
        description="Several DUTs instead of `dut` (and `relay`): `pytest -n N` gives xdist worker i "
                    "the i-th entry; without -n the first one is used.")
    relay: RelayConfig = Field(default_factory=RelayConfig, description="Power/reset relay.")
    broker: BrokerConfig = Field(default_factory=BrokerConfig, description="The MQTT broker.")
    report: ReportConfig = Field(default_factory=ReportConfig, description="Report output.")
    labgrid: LabgridConfig | None = Field(
        None, description="A labgrid place as the rig, instead of dut.port and a relay: "
                          "{coordinator: HOST:PORT, place: NAME} or {coordinator: ..., reserve: {tag: value}}.")
    source: Path = Field(
        Path("rig.yaml"), description="The rig file this came from (set by the loader, not a user key).",
        exclude=True,
    )
    # Set by the loader: the file as the user named it, and which dotted keys a command-line
    # option set (key -> the option, "--port"); by for_worker: the `duts:` entry this rig is.
    _path_as_given: str = PrivateAttr(default="rig.yaml")
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _slot: int | None = PrivateAttr(default=None)

    @property
    def path_as_given(self) -> str:
        """The rig file as the user named it (`rig.yaml`, `rigs/lab.yaml`): how errors name it."""
        return self._path_as_given

    def origin(self, key: str) -> str:
        """Where the value of the dotted `key` came from, as an error names it: the option that set
        it (`--port`) or the file and key (`rig.yaml: dut.port`, `rig.yaml: duts.1.dut.port`)."""
        if key in self._origins:
            return self._origins[key]
        if self._slot is not None and key.split(".", 1)[0] in ("dut", "relay"):
            key = f"duts.{self._slot}.{key}"
        return f"{self._path_as_given}: {key}"

    def given_by_option(self, key: str) -> str | None:
        """The option that set `key` on the command line (`--port`), None when the file did."""
        return self._origins.get(key)

    @model_validator(mode="before")
    @classmethod
    def _labgrid_dut(cls, data: Any) -> Any:
        """With a labgrid section and no dut.kind, the DUT is the place's."""
        if isinstance(data, dict) and data.get("labgrid") is not None:
            dut = data.get("dut")
            if dut is None:
                data = {**data, "dut": {"kind": "labgrid"}}
            elif isinstance(dut, dict) and "kind" not in dut:
                data = {**data, "dut": {**dut, "kind": "labgrid"}}
        return data

    @model_validator(mode="after")
    def _one_way_to_name_duts(self) -> RigConfig:
        if self.duts and self.model_fields_set & {"dut", "relay"}:
            raise _fail("duts", "use either dut/relay (one DUT) or duts (several), not both")
        if self.labgrid is not None:
            if self.duts:
                raise _fail("duts", "a labgrid rig is one place: use the labgrid section or duts, not both")
            if self.dut.kind != "labgrid":
                raise _fail("dut.kind", "the rig's labgrid section names a place, whose port and power the run "
                            "takes: remove that section to name another DUT (dut.kind {got})", got=repr(self.dut.kind))
            if self.relay.kind not in ("none", "labgrid") or self.relay.device is not None:
                raise _fail("relay", "a labgrid place is powered through labgrid; remove relay (or keep only its "
                            "timings: power_off_s, boot_s, timeout_s)")
            self.relay = self.relay.model_copy(update={"kind": "labgrid"})
        elif self.dut.kind == "labgrid":
            raise _fail("dut.kind", "labgrid needs a labgrid section naming the coordinator and the place")
        elif self.relay.kind == "labgrid":
            raise _fail("relay.kind", "labgrid needs a labgrid section naming the coordinator and the place")
        return self

    def for_worker(self, index: int, workers: int) -> RigConfig:
        """This rig as xdist worker `index` of `workers` sees it: one DUT and its relay."""
        if not self.duts:
            return self
        if workers > len(self.duts):
            raise ValueError(f"{self.source.name}: duts: {len(self.duts)} DUTs listed but {workers} workers "
                             "asked for (pytest -n): one DUT per worker")
        slot = self.duts[index]
        worker = self.model_copy(update={"dut": slot.dut, "relay": slot.relay})
        worker._slot = index
        return worker

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
