"""Fault rules for the proxy: which packet (match) and what happens to it (action).

A case declares rules; the proxy offers every packet to them in the order they were added and
the first rule that fires decides the packet's fate (later rules do not see it). A rule counts the
packets it matches and fires on the ``nth`` of them and the ``count - 1`` that follow
(``count=None``: on every one from the ``nth`` on, i.e. persistent). So "drop the next 2 PUBACKs"
is ``Rule(Drop(), direction="B>C", type=codec.PubAck, count=2)`` and "delay the 3rd PUBLISH" is
``Rule(Delay(5.0), type=codec.Publish, nth=3)``. ``direction`` is a codec.Direction or its value.

Actions are small classes, each knowing what to do with the packet in hand through a ``Hop``:
send bytes on, close or reset both sides, blackhole the connection. The proxy implements the Hop;
nothing here touches sockets. A new fault is a new Action subclass here.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.mqtt import codec
from harness.mqtt.codec import Direction
from harness.proxy.wirelog import type_name

__all__ = ["Action", "Blackhole", "Close", "Corrupt", "Delay", "Drop", "Duplicate", "Forward",
           "Hop", "Reset", "Rule", "RuleError", "RuleSet"]

PACKET_TYPES = frozenset({type_name(t) for t in codec.TYPE_CODES} | {"MALFORMED"})


class RuleError(ValueError):
    """A rule or action was declared wrong; the message is one line."""


class Hop(Protocol):
    """One packet on its way through the proxy, as an action sees it."""

    raw: bytes  # the frame as received from its sender
    packet: codec.Packet | None  # decoded, None when malformed

    async def send(self, data: bytes) -> None:
        """Write ``data`` to the packet's destination (the first write stamps the wire log)."""

    def close(self) -> None:
        """Close both sides gracefully (FIN, or TLS close_notify then FIN)."""

    def reset(self) -> None:
        """Abort both sides with RST (SO_LINGER 0)."""

    def blackhole(self) -> None:
        """From now on forward nothing on this connection, either way; keep both sockets open."""


@dataclass
class Action:
    """What a rule does to the packet it fired on: a subclass implements ``apply``."""

    async def apply(self, hop: Hop) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return repr(self)


@dataclass
class Forward(Action):
    """What happens when no rule fires."""


    async def apply(self, hop: Hop) -> None:
        await hop.send(hop.raw)


@dataclass
class Drop(Action):
    """The packet vanishes (a lost segment); the stream goes on."""


    async def apply(self, hop: Hop) -> None:
        return None


@dataclass
class Delay(Action):
    """Hold the packet ``seconds``, then send it. Later packets of the same direction wait behind it,
    as on a slow TCP link (a stream does not reorder)."""

    seconds: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.seconds, int | float) or not 0 <= self.seconds <= 3600:
            raise RuleError(f"Delay seconds must be a number 0..3600, got {self.seconds!r}")

    async def apply(self, hop: Hop) -> None:
        await asyncio.sleep(self.seconds)
        await hop.send(hop.raw)


@dataclass
class Duplicate(Action):
    """Send the packet ``times`` times in a row (a retransmission the sender did not make)."""

    times: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.times, int) or not 2 <= self.times <= 100:
            raise RuleError(f"Duplicate times must be an integer 2..100, got {self.times!r}")

    async def apply(self, hop: Hop) -> None:
        for _ in range(self.times):
            await hop.send(hop.raw)


@dataclass
class Corrupt(Action):
    """Send a malformed packet instead. ``data``: these bytes verbatim; ``xor``: {offset: mask}
    flipped in the frame (negative offsets count from the end); neither: the packet type becomes
    15, reserved in MQTT 3.1.1 (2.2.1), which every receiver must treat as malformed (4.8)."""

    xor: Mapping[int, int] | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if self.xor is not None and self.data is not None:
            raise RuleError("Corrupt takes xor or data, not both")
        for offset, mask in (self.xor or {}).items():
            if not isinstance(offset, int) or not isinstance(mask, int) or not 0 < mask <= 0xFF:
                raise RuleError(f"Corrupt xor wants {{offset: mask 1..255}}, got {offset!r}: {mask!r}")

    def corrupted(self, raw: bytes) -> bytes:
        if self.data is not None:
            return bytes(self.data)
        out = bytearray(raw)
        if self.xor is None:
            out[0] = 0xF0 | (out[0] & 0x0F)
            return bytes(out)
        for offset, mask in self.xor.items():
            if -len(out) <= offset < len(out):
                out[offset] ^= mask
        return bytes(out)

    async def apply(self, hop: Hop) -> None:
        await hop.send(self.corrupted(hop.raw))


@dataclass
class _EndLink(Action):
    """Ends both sides of the connection; ``forward``: let the packet through first ("close after
    SUBSCRIBE"). Close and Reset differ only in how the link ends (``end``)."""

    forward: bool = False

    async def apply(self, hop: Hop) -> None:
        if self.forward:
            await hop.send(hop.raw)
        self.end(hop)

    def end(self, hop: Hop) -> None:
        raise NotImplementedError


class Close(_EndLink):
    """Close both sides (FIN); ``forward``: let the packet through first ("close after SUBSCRIBE")."""

    def end(self, hop: Hop) -> None:
        hop.close()


class Reset(_EndLink):
    """Abort both sides with RST; ``forward``: let the packet through first."""

    def end(self, hop: Hop) -> None:
        hop.reset()


@dataclass
class Blackhole(Action):
    """This packet and everything after it on the connection vanish, both ways; sockets stay open."""


    async def apply(self, hop: Hop) -> None:
        hop.blackhole()


_ids = itertools.count(1)


@dataclass(eq=False)
class Rule:
    """Match (direction, type, nth, packet id, connection, predicate) plus an action."""

    action: Action
    direction: Direction | str | None = None  # Direction.C2B ("C>B"), Direction.B2C ("B>C"), None: both
    type: type | str | None = None  # a codec class, its name ("PUBACK") or "MALFORMED"
    nth: int = 1  # fire first on the nth matching packet
    count: int | None = 1  # how many matching packets to act on; None: persistent
    packet_id: int | None = None
    conn: int | None = None  # only on this connection number
    where: Callable[[codec.Packet | None], bool] | None = None
    id: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)  # matching packets offered so far
    fired: int = field(default=0, init=False)  # packets the action was applied to

    def __post_init__(self) -> None:
        if not isinstance(self.action, Action):
            raise RuleError(f"Rule action must be an Action (Drop(), Delay(5.0), ...), got {self.action!r}")
        if self.direction is not None:
            if self.direction not in tuple(Direction):
                raise RuleError(f"Rule direction must be {Direction.C2B.value!r}, {Direction.B2C.value!r} or None, "
                                f"got {self.direction!r}")
            self.direction = Direction(self.direction)
        if self.type is not None and type_name(self.type) not in PACKET_TYPES:
            raise RuleError(f"Rule type {self.type!r} is not an MQTT packet type of harness.mqtt.codec")
        if not isinstance(self.nth, int) or self.nth < 1:
            raise RuleError(f"Rule nth must be an integer >= 1, got {self.nth!r}")
        if self.count is not None and (not isinstance(self.count, int) or self.count < 1):
            raise RuleError(f"Rule count must be an integer >= 1 or None (persistent), got {self.count!r}")
        self.id = next(_ids)

    @property
    def done(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches(self, direction: Direction, packet: codec.Packet | None, conn: int) -> bool:
        if self.direction is not None and direction != self.direction:
            return False
        if self.type is not None:
            actual = "MALFORMED" if packet is None else type_name(type(packet))
            if actual != type_name(self.type):
                return False
        if self.packet_id is not None and getattr(packet, "packet_id", None) != self.packet_id:
            return False
        if self.conn is not None and conn != self.conn:
            return False
        return self.where is None or bool(self.where(packet))

    def offer(self, direction: Direction, packet: codec.Packet | None, conn: int) -> bool:
        """Count the packet if it matches; True when the action is to be applied to it."""
        if self.done or not self.matches(direction, packet, conn):
            return False
        self.seen += 1
        if self.seen < self.nth:
            return False
        self.fired += 1
        return True

    def describe(self) -> str:
        return f"rule#{self.id} {self.action.describe()}"


class RuleSet:
    """The proxy's rules: added from the case's thread, consulted on the proxy's loop thread."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._lock = threading.Lock()

    def add(self, rule: Rule) -> Rule:
        if not isinstance(rule, Rule):
            raise RuleError(f"add_rule wants a Rule, got {rule!r}")
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def __iter__(self) -> Any:
        with self._lock:
            return iter(list(self._rules))

    def pick(self, direction: Direction, packet: codec.Packet | None, conn: int) -> Rule | None:
        """The first rule that fires on this packet (rules after it are not offered the packet)."""
        with self._lock:
            for rule in self._rules:
                if rule.offer(direction, packet, conn):
                    return rule
        return None
