"""The radio bearer between the emulated module and the broker, as data (`--network`).

A network profile gives the module's uplink (the TCP connections of AT+QMTOPEN, module <->
broker) a one-way latency, a jitter, a bandwidth and a loss figure, in module seconds, so they
run on the scaled clock like every module timer (DESIGN "Time"). The application note bounds
the MQTT commands' response times by the network ("Maximum Response Time ... determined by
network", 3.3.2 176 s, 3.3.4-3.3.8 <pkt_timeout> x (<retry_times> + 1)), so an emulator on an
ideal loopback link hides exactly what a host meets on NB-IoT: replies that come seconds later.

Profiles are TOML files: the shipped ones in networks/ (`ideal`, `nbiot`, `nbiot-poor`) and any
file a lab writes from its own measurements, given as a path. Each figure names its source in
the file's [sources] table. Loading is stdlib only (tomllib), so the CLI can validate a file
before anything starts; a bad file is one line naming the file and the key (NetworkFileError).

How the figures are applied is bearer.py's business; what they mean is fixed here:
- latency_s: one-way delay of every chunk of bytes, each direction;
- jitter_s: an extra delay drawn uniformly from 0..jitter_s per chunk (never reordering: TCP
  delivers in order, so a chunk never arrives before the one written before it);
- bandwidth_kbps: the bottleneck rate per direction (0: unlimited), bytes queue behind it;
- loss: the probability that a chunk is lost on the air. TCP never loses data: a lost segment is
  resent after the retransmission timeout, so loss is modelled as that delay (retransmit_s) on
  the chunk, and everything behind it waits too (head-of-line blocking).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFAULT_NETWORK = "ideal"
SHIPPED_DIR = Path(__file__).with_name("networks")
_NAME = re.compile(r"[a-z0-9_-]+")
FIGURES = ("latency_s", "jitter_s", "bandwidth_kbps", "loss", "retransmit_s")


class NetworkFileError(ValueError):
    """A network profile that cannot be used; str() is one line naming the file and the key."""


@dataclass(frozen=True)
class NetworkProfile:
    """One bearer's figures, in module seconds (scaled by the time scale where applied)."""

    name: str
    latency_s: float = 0.0
    jitter_s: float = 0.0
    bandwidth_kbps: float = 0.0  # 0: unlimited
    loss: float = 0.0  # probability per chunk, 0 <= loss < 1
    retransmit_s: float = 0.0  # what one loss costs: the TCP retransmission timeout
    seed: int = 0  # jitter and loss are drawn from a generator seeded with this: runs repeat
    summary: str = ""
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    source: str = ""  # the file it was loaded from

    @property
    def ideal(self) -> bool:
        """Nothing to shape: the bearer passes bytes straight through (loopback as before)."""
        return self.latency_s == self.jitter_s == self.bandwidth_kbps == self.loss == 0.0

    def describe(self) -> str:
        """One line for logs and reports."""
        if self.ideal:
            return f"{self.name} (no delay)"
        bw = f"{self.bandwidth_kbps:g} kbit/s" if self.bandwidth_kbps else "unlimited"
        return (f"{self.name} (one-way {self.latency_s:g} s + 0..{self.jitter_s:g} s, {bw}, "
                f"loss {self.loss:g} -> +{self.retransmit_s:g} s)")


def shipped() -> dict[str, Path]:
    """The profiles that come with the emulator, by name (the file's stem)."""
    return {f.stem: f for f in sorted(SHIPPED_DIR.glob("*.toml"))}


def known() -> list[str]:
    return sorted(shipped())


def is_name(network: str) -> bool:
    """A profile name (a-z, 0-9, _ and -); anything else given as --network is a file path."""
    return _NAME.fullmatch(network) is not None


def get(network: str) -> NetworkProfile:
    """The shipped profile called `network`, or the profile file at the path `network`.
    NetworkFileError (one line) for an unknown name or a file that cannot be used."""
    if is_name(network) and network in shipped():
        return load(shipped()[network])
    if is_name(network) and not Path(network).exists():
        raise NetworkFileError(f"unknown network {network!r}; known: {', '.join(known())}, or a profile file")
    return load(Path(network))


def load(path: Path) -> NetworkProfile:
    """Read and check one profile file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NetworkFileError(f"network file {path}: cannot read it: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise NetworkFileError(f"network file {path}: not TOML: {exc}") from None
    return _profile(path, data)


def _profile(path: Path, data: Mapping[str, Any]) -> NetworkProfile:
    def fail(key: str, why: str) -> NetworkFileError:
        return NetworkFileError(f"network file {path}: {key}: {why}")

    allowed = {*FIGURES, "name", "summary", "seed", "sources"}
    for key in data:
        if key not in allowed:
            raise fail(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")
    figures: dict[str, float] = {}
    for key in FIGURES:
        if key not in data:
            raise fail(key, "missing (every figure is required, 0 where the link has none)")
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise fail(key, f"expected a number >= 0, got {value!r}")
        figures[key] = float(value)
    if figures["loss"] >= 1:
        raise fail("loss", f"expected a probability below 1, got {figures['loss']!r}")
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) and v.strip() for v in sources.values()):
        raise fail("sources", "expected a table of figure = \"where it comes from\"")
    for key in FIGURES:
        if figures[key] and key not in sources:
            raise fail("sources", f"no source for {key} (say where the figure comes from)")
    name, seed, summary = data.get("name", path.stem), data.get("seed", 0), data.get("summary", "")
    if not isinstance(name, str) or not name:
        raise fail("name", f"expected a non-empty string, got {name!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise fail("seed", f"expected an integer, got {seed!r}")
    if not isinstance(summary, str):
        raise fail("summary", f"expected a string, got {summary!r}")
    return NetworkProfile(name=name, seed=seed, summary=summary, sources=MappingProxyType(dict(sources)),
                          source=str(path), **figures)


# The bearer of this emulator process: one process is one module in one place, so --network is
# set once at start (use()) and kept across AT+QRST and power cycles, unlike ModuleState.
_active: tuple[NetworkProfile, float] = (NetworkProfile(DEFAULT_NETWORK), 1.0)


def use(profile: NetworkProfile, time_scale: float) -> None:
    """Make `profile` the bearer of every connection opened from now on, on `time_scale`."""
    global _active
    _active = (profile, time_scale)


def active() -> tuple[NetworkProfile, float]:
    """The bearer profile and the time scale it runs on."""
    return _active
