"""The byte pipe under one MQTT connection of the emulator: straight through on the ideal link,
or shaped by the process's network profile (network.py, `--network`) on the scaled clock.

MqttClient (mqtt_client.py) reads, writes and closes through a Bearer only, so the engine's
flows and timers are the same on every link; only when bytes arrive differs. The shaped bearer
delays each direction on its own pacer: bytes wait for the bottleneck (bandwidth), then travel
the one-way latency plus jitter, and a chunk "lost" on the air arrives a retransmission timeout
later, because TCP resends what the radio lost rather than losing it (network.py). Arrivals
never overtake each other, and the FIN travels behind the data, as in one TCP stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import deque

from harness.emulator.network import NetworkProfile, active

READ_CHUNK = 65536
_CONNECTIONS = itertools.count()
_EOF = b""


class Bearer:
    """The ideal link: the connection's streams as they are (loopback, no delay)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer: asyncio.StreamWriter | None = writer

    def connect_delay(self) -> float:
        """Real seconds the TCP handshake takes beyond the loopback connect (one round trip)."""
        return 0.0

    def write(self, data: bytes) -> None:
        if self._writer is not None:
            self._writer.write(data)

    async def drain(self) -> None:
        if self._writer is not None:
            await self._writer.drain()

    async def read(self) -> bytes:
        """The next bytes from the server; b"" at the end of the stream or once closed."""
        try:
            return await self._reader.read(READ_CHUNK)
        except OSError:
            return _EOF

    def close(self) -> None:
        """Stop reading now; the FIN goes after whatever was written (transport.close())."""
        if self._writer is not None:
            self._writer.close()  # also fine when the peer is gone
            self._writer = None

    def abort(self) -> None:
        """Power-off or reset: what was not yet on its way is gone (on loopback, nothing waits)."""
        self.close()

    async def closed(self) -> None:
        """Return once the FIN has left, behind every byte written before close()."""


class _Pacer:
    """One direction of a shaped link: when each chunk written now arrives (loop time)."""

    def __init__(self, profile: NetworkProfile, scale: float, rng: random.Random) -> None:
        self._p = profile
        self._scale = scale
        self._rng = rng
        self._free = 0.0  # when the bottleneck has sent everything queued so far
        self._last = 0.0  # arrival of the previous chunk: TCP delivers in order

    def arrival(self, size: int, now: float) -> float:
        p, s = self._p, self._scale
        start = max(now, self._free)
        self._free = start + (s * size * 8 / (p.bandwidth_kbps * 1000) if p.bandwidth_kbps else 0.0)
        delay = p.latency_s + self._rng.uniform(0.0, p.jitter_s)
        if p.loss and self._rng.random() < p.loss:
            delay += p.retransmit_s  # the chunk is resent after the RTO, never dropped
        self._last = max(self._free + s * delay, self._last)
        return self._last


class ShapedBearer(Bearer):
    """A link with latency, jitter, bandwidth and loss (network.py), each direction paced apart.
    Outbound bytes are written to the socket when they would reach the broker; inbound bytes are
    read from the socket at once (so nothing waits in the kernel) and handed to the engine when
    they would reach the module. Timers run on the loop clock, scaled by the time scale."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 profile: NetworkProfile, scale: float) -> None:
        super().__init__(reader, writer)
        self._p = profile
        self._scale = scale
        # one generator per connection, seeded by the profile and the connection's number: a run
        # repeats exactly, yet a loss does not always hit the same packet of every connection
        rng = random.Random(f"{profile.seed}:{next(_CONNECTIONS)}")
        self._up = _Pacer(profile, scale, rng)
        self._down = _Pacer(profile, scale, rng)
        self._out: deque[tuple[float, bytes | None]] = deque()  # None: close after the data
        self._out_wake = asyncio.Event()
        self._in: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self._closed = False
        self._tasks = [asyncio.create_task(self._pump_in()), asyncio.create_task(self._pump_out())]

    def connect_delay(self) -> float:
        # SYN up, SYN-ACK down: the module's connect completes one round trip later
        return self._scale * (2 * self._p.latency_s + self._p.jitter_s / 2)

    def write(self, data: bytes) -> None:
        if self._closed or not data:
            return
        now = asyncio.get_running_loop().time()
        self._out.append((self._up.arrival(len(data), now), data))
        self._out_wake.set()

    async def drain(self) -> None:
        """The module's send completes when the bytes are in its own buffer, as on TCP."""

    async def read(self) -> bytes:
        if self._closed:
            return _EOF
        when, data = await self._in.get()
        loop = asyncio.get_running_loop()
        if (wait := when - loop.time()) > 0:
            await asyncio.sleep(wait)
        return _EOF if self._closed else data

    def close(self) -> None:
        """The module stops reading at once (a pending read() returns b""); its FIN follows the
        bytes still in flight toward the broker."""
        if self._closed:
            return
        self._closed = True
        self._tasks[0].cancel()
        self._in.put_nowait((0.0, _EOF))
        last = self._out[-1][0] if self._out else 0.0
        self._out.append((last, None))
        self._out_wake.set()

    def abort(self) -> None:
        """Power-off or reset: bytes still waiting for the air never leave; the socket closes now."""
        self._out.clear()
        self.close()

    async def closed(self) -> None:
        """The module's close completes once its last bytes and the FIN reached the broker (a
        +QMTDISC/+QMTCLOSE result is not reported while a DISCONNECT is still in the air)."""
        await asyncio.shield(self._tasks[1])

    async def _pump_in(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await Bearer.read(self)
            self._in.put_nowait((self._down.arrival(len(data), loop.time()), data))
            if not data:
                return

    async def _pump_out(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not self._out:
                    self._out_wake.clear()
                    await self._out_wake.wait()
                when, data = self._out[0]
                if (wait := when - loop.time()) > 0:
                    await asyncio.sleep(wait)
                self._out.popleft()
                if data is None:
                    return
                super().write(data)
        finally:
            with contextlib.suppress(Exception):
                super().close()


def bearer_for(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Bearer:
    """The bearer of a new connection under the process's --network (network.use())."""
    profile, scale = active()
    if profile.ideal:
        return Bearer(reader, writer)
    return ShapedBearer(reader, writer, profile, scale)
