"""Firmware profiles a lab writes: a TOML or JSON file that `--firmware PATH` loads.

Why a file: a lab that meets a firmware the emulator does not know (a new revision, a module that
answers differently from the note) records it without touching the emulator's code, and the
emulator then plays that firmware for host developers and for the suite. The file can only
combine what the emulator already models (the switches of profiles.switches(), the option
bounds and defaults, the AT+CMEE=2 texts), so a profile stays data and every behaviour still
has one place in the code (DESIGN: a profile is data, never a code path).

Every difference from the conformant firmware is one `[[deviation]]` that says where it comes
from (`fact`, a number in the observations file, or `section`, the note's section it breaks) and
why, so the file is its own documentation:

    name = "observed-a05"
    revision = "BC660KGLAAR01A05"
    summary = "a real BC660K-GL A05 as observed"

    [[deviation]]
    fact = 32
    switch = "open-occupied-cme"
    why = "AT+QMTOPEN on an open connect ID: +CME ERROR: operation not allowed at once"

Keys of a deviation (at least one besides fact/section/why): `switch`, `cme_text` (a table
code -> text), `mqtt_defaults` (state.MqttConfig field -> value at power-on), `keepalive_max`,
`pkt_timeout_max`, `boot_s` (module seconds from a reset to RDY). A mistake is one line naming
the file and the key (ProfileFileError).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.emulator import profiles
from harness.emulator.errors import Cme
from harness.emulator.state import MqttConfig

# The profile's numbers a deviation may set (profiles.Profile fields of the same name).
_BOUNDS = ("keepalive_max", "pkt_timeout_max", "boot_s")
# The AT+QMTCFG options a profile may give another power-on default (plain int/str fields only).
_MQTT_FIELDS = {f.name: f.type for f in dataclasses.fields(MqttConfig) if f.type in ("int", "str")}


class ProfileFileError(ValueError):
    """A profile file that cannot be used; str() is one line: `<file>: <key>: <problem>`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deviation(_Strict):
    """One difference from the conformant firmware, with its source."""

    fact: int | None = Field(None, ge=1, description="the observations file's fact number")
    section: str = Field("", description="the note's section the behaviour breaks")
    why: str = Field(min_length=1, description="what the firmware does instead, in one line")
    switch: str | None = None
    cme_text: dict[int, str] = Field(default_factory=dict)
    mqtt_defaults: dict[str, int | str] = Field(default_factory=dict)
    keepalive_max: int | None = Field(None, ge=0)
    pkt_timeout_max: int | None = Field(None, ge=1)
    boot_s: float | None = Field(None, ge=0, le=120, description="module seconds from a reset to RDY")

    @field_validator("switch")
    @classmethod
    def _known_switch(cls, v: str | None) -> str | None:
        if v is not None and v not in (known := profiles.switches()):
            raise ValueError(f"unknown switch {v!r} (known: {', '.join(sorted(known))})")
        return v

    @field_validator("cme_text")
    @classmethod
    def _known_codes(cls, v: dict[int, str]) -> dict[int, str]:
        for code, text in v.items():
            if code not in set(Cme):
                raise ValueError(f"{code} is not a +CME ERROR code the emulator answers "
                                 f"(known: {', '.join(str(int(c)) for c in Cme)})")
            if not text or "\r" in text or "\n" in text:
                raise ValueError(f"the text for {code} must be one non-empty line")
        return v

    @field_validator("mqtt_defaults")
    @classmethod
    def _known_fields(cls, v: dict[str, int | str]) -> dict[str, int | str]:
        for name, value in v.items():
            if name not in _MQTT_FIELDS:
                raise ValueError(f"unknown MQTT option {name!r} (known: {', '.join(sorted(_MQTT_FIELDS))})")
            want = int if _MQTT_FIELDS[name] == "int" else str
            if type(value) is not want:
                raise ValueError(f"{name} must be {want.__name__}, got {value!r}")
        return v

    @field_validator("why")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v:
            raise ValueError("must be one line")
        return v

    @model_validator(mode="after")
    def _cited_and_not_empty(self) -> Deviation:
        if self.fact is None and not self.section:
            raise ValueError("cite the source: fact (observations file) or section (the note)")
        if not (self.switch or self.cme_text or self.mqtt_defaults
                or any(getattr(self, k) is not None for k in _BOUNDS)):
            raise ValueError("changes nothing: give switch, cme_text, mqtt_defaults, keepalive_max, "
                             "pkt_timeout_max or boot_s")
        return self


class ProfileFile(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_-]+$", description="what --firmware and the reports call it")
    revision: str = Field(pattern=r"^BC660KGL\w+$", description="what ATI and AT+CGMR report")
    summary: str = Field(min_length=1)
    deviation: list[Deviation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _name_free(self) -> ProfileFile:
        if self.name in profiles.PROFILES:
            raise ValueError(f"name {self.name!r} is a built-in profile; choose another")
        switches = [d.switch for d in self.deviation if d.switch]
        if len(set(switches)) != len(switches):
            raise ValueError("a switch is set by more than one deviation")
        return self


def resolve(firmware: str) -> profiles.Profile:
    """Any --firmware value: a built-in profile's name, a shipped file's name (firmware/<name>.toml),
    or the path of a profile file. KeyError (an unknown name) and ProfileFileError are one line."""
    if firmware in profiles.PROFILES:
        return profiles.PROFILES[firmware]
    if profiles.is_name(firmware):
        if (path := profiles.shipped().get(firmware)) is None:
            return profiles.get(firmware)  # raises the one-line KeyError naming the known profiles
        return load(path)
    return load(Path(firmware))


def load(path: Path) -> profiles.Profile:
    """The profile in `path` (.toml, else JSON), validated; ProfileFileError on any mistake."""
    raw = _read(path)
    try:
        spec = ProfileFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _key(err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise ProfileFileError(f"{path}: {key}: {msg}") from None
    return _profile(spec, path)


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProfileFileError(f"{path}: cannot read the firmware profile: {why}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileFileError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileFileError(f"{path}: not valid TOML: {exc}") from None


def _key(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as the file's key: deviation[2].switch."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) and out else (f".{part}" if out else str(part))
    return out


def _profile(spec: ProfileFile, path: Path) -> profiles.Profile:
    """Fold the deviations into one Profile; `where` lists the places that read its switches."""
    switches = frozenset(d.switch for d in spec.deviation if d.switch)
    cme_text: dict[int, str] = {}
    mqtt_defaults: dict[str, object] = {}
    facts: dict[str, int] = {}
    bounds: dict[str, float] = {}
    sections: list[str] = []
    for d in spec.deviation:
        cme_text.update(d.cme_text)
        mqtt_defaults.update(d.mqtt_defaults)
        bounds.update({k: v for k in _BOUNDS if (v := getattr(d, k)) is not None})
        if d.section:
            sections.append(d.section)
        if d.fact is not None:
            keys = [d.switch] if d.switch else []
            keys += [f"cme_text {c}" for c in d.cme_text] + [f"mqtt_defaults {k}" for k in d.mqtt_defaults]
            keys += [k for k in _BOUNDS if getattr(d, k) is not None]
            facts.update(dict.fromkeys(keys, d.fact))
    where = profiles.switches()
    return profiles.Profile(
        spec.name, spec.revision, spec.summary, "; ".join(sections), ", ".join(sorted({where[s] for s in switches})),
        mqtt_defaults=MappingProxyType(mqtt_defaults), switches=switches,
        cme_text=MappingProxyType(cme_text), facts=MappingProxyType(facts), source=str(path), **bounds)
