"""What the suite may assume about the DUT's uplink to the broker: how long a packet can take.

The note bounds the MQTT commands by the network ("Maximum Response Time ... determined by
network", 3.3.2-3.3.8) and lets the host choose T1 (3.3.1 <pkt_timeout>, 1-60 s). A case whose
premise is "the broker's answer comes back within T1" must pick a T1 longer than the link's round
trip, and a case that times packets on the broker's side of the link must allow for how much a
one-way trip varies. On loopback both are nil; under the emulator's `--network` (dut.network)
they come from the profile's figures (harness/emulator/network.py). A serial or labgrid DUT is
taken as it is: a lab on a slow network sets its T1-sensitive expectations through waivers.

The fixtures declare the session's uplink once (harness/plugin/fixtures/dut.py); cases read `current()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.emulator.network import NetworkProfile
from harness.emulator.network import get as get_network

MTU = 1500  # bytes: the largest chunk a one-way figure is computed for (a 1460-byte PUBLISH fits)
PKT_TIMEOUT_MAX = 60  # 3.3.1 <pkt_timeout> range 1-60 s


@dataclass(frozen=True)
class Uplink:
    """One-way trip of a packet, module seconds: at least `one_way_min_s`, at most `one_way_max_s`
    (with one retransmission of a lost segment), and a round trip of at most `round_trip_max_s`
    (one loss per exchange: the profile's loss figure is a few per cent at most)."""

    one_way_min_s: float = 0.0
    one_way_max_s: float = 0.0
    round_trip_max_s: float = 0.0

    @property
    def spread_s(self) -> float:
        """How much two one-way trips can differ: the slack a gap between two packets needs."""
        return self.one_way_max_s - self.one_way_min_s

    def pkt_timeout(self, wanted: int) -> int:
        """The smallest <pkt_timeout> >= `wanted` that still lets an answer come back within T1."""
        if not self.round_trip_max_s:
            return wanted
        return min(max(wanted, math.ceil(self.round_trip_max_s) + 1), PKT_TIMEOUT_MAX)


def from_profile(p: NetworkProfile) -> Uplink:
    serial = MTU * 8 / (p.bandwidth_kbps * 1000) if p.bandwidth_kbps else 0.0
    lost = p.retransmit_s if p.loss else 0.0
    one_way = p.latency_s + p.jitter_s + serial
    return Uplink(p.latency_s, one_way + lost, 2 * one_way + lost)


_current = Uplink()


def declare(kind: str, network: str | None) -> Uplink:
    """The session's DUT: the emulator's `network` profile, or nothing known (a real module)."""
    global _current
    _current = from_profile(get_network(network)) if kind == "emulator" and network else Uplink()
    return _current


def current() -> Uplink:
    return _current
