"""The emulator's UART: a pseudo-terminal or a loopback TCP socket.

Both hand received bytes to ATEngine.feed and give it a sink for output. The engine (the
module) lives across host connections: closing the port is not a power cycle. Output a host
does not read is kept up to overflow.OUT_CAP bytes per buffer, then the newest is lost and the
emulator's log says so (overflow.py says why the newest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import termios
import tty
from collections.abc import Callable
from pathlib import Path

from harness.emulator.frontend import ATEngine
from harness.emulator.overflow import Overflow

log = logging.getLogger("harness.emulator")


class Pacer:
    """Hands output to `sink` no faster than a UART at `baud` (10 bits per byte, 8N1).

    Chunks go out on a schedule (the time the last byte would leave the wire), not after a
    sleep per chunk, so the long-run rate is the baud rate itself rather than drifting slower
    by the event loop's overhead, and never runs faster than the line.

    Its queue is a module's transmit buffer: a module that says more than the baud rate carries
    (input arrives unpaced) fills it, and beyond OUT_CAP bytes the newest output is lost."""

    CHUNK = 64

    def __init__(self, sink: Callable[[bytes], None], baud: int, overflow: Overflow) -> None:
        self._sink = sink
        self._rate = baud / 10.0
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._queued = 0  # bytes in the queue
        self._overflow = overflow
        self._task = asyncio.get_running_loop().create_task(self._drain())

    def __call__(self, data: bytes) -> None:
        data = self._overflow.fit(data, self._queued)
        if data:
            self._queued += len(data)
            self._queue.put_nowait(data)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        line_free = loop.time()  # when the wire has sent everything handed out so far
        while True:
            data = await self._queue.get()
            self._queued -= len(data)
            for i in range(0, len(data), self.CHUNK):
                line_free = max(line_free, loop.time())
                chunk = data[i:i + self.CHUNK]
                self._sink(chunk)
                line_free += len(chunk) / self._rate
                await asyncio.sleep(line_free - loop.time())

    def close(self) -> None:
        self._task.cancel()


class TcpUart:
    """One host at a time: a second connection waits in line until the first closes."""

    def __init__(self, engine: ATEngine, host: str, port: int, pace_baud: int | None) -> None:
        self.engine, self.host, self.port, self.pace_baud = engine, host, port, pace_baud
        self._server: asyncio.Server | None = None
        self._turn = asyncio.Lock()
        self._conns: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        port = self._server.sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socket://{host}:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns[task] = writer
        peer = writer.get_extra_info("peername")
        try:
            async with self._turn:
                log.info("host connected: %s", peer)
                # asyncio buffers what the socket does not take, without bound: cap it here
                unread = Overflow(f"host {peer}", self.engine.output_lost)

                def sink(data: bytes) -> None:
                    if not writer.is_closing():
                        data = unread.fit(data, writer.transport.get_write_buffer_size())
                        if data:
                            writer.write(data)

                pacer = (Pacer(sink, self.pace_baud, Overflow("transmit queue", self.engine.output_lost))
                         if self.pace_baud else None)
                self.engine.attach(pacer or sink)
                try:
                    while data := await reader.read(4096):
                        self.engine.feed(data)
                except (ConnectionError, OSError) as exc:
                    log.info("host connection lost: %r", exc)
                finally:
                    self.engine.detach()
                    if pacer:
                        pacer.close()
                    unread.end()
                    log.info("host disconnected: %s", peer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._conns.pop(task, None)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        # Closing the sockets ends each _serve at EOF (cancelling the tasks instead makes
        # asyncio's stream callback log a CancelledError traceback on 3.11).
        for writer in list(self._conns.values()):
            writer.close()
        if self._conns:
            await asyncio.wait(list(self._conns), timeout=2)


class PtyUart:
    """A pty in raw mode. The emulator keeps the slave side open itself, so a host can close
    and reopen the device (like unplugging a USB-UART cable) without the master seeing EIO."""

    def __init__(self, engine: ATEngine, link: str | None, baud: int, pace: bool) -> None:
        self.engine, self.link, self.baud, self.pace = engine, link, baud, pace
        self._master = self._slave = -1
        self._out = bytearray()
        self._unread = Overflow("pty", engine.output_lost)
        self._writing = False
        self._pacer: Pacer | None = None
        self._loop = asyncio.get_running_loop()

    async def start(self) -> str:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing, no CR/LF translation
        speed = getattr(termios, f"B{self.baud}", None)
        if speed is not None:
            attrs = termios.tcgetattr(self._slave)
            attrs[4] = attrs[5] = speed
            termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        os.set_blocking(self._master, False)
        path = os.ttyname(self._slave)
        self._loop.add_reader(self._master, self._readable)
        queue = Overflow("transmit queue", self.engine.output_lost)
        self._pacer = Pacer(self._send, self.baud, queue) if self.pace else None
        self.engine.attach(self._pacer or self._send)
        if self.link:
            link = Path(self.link)
            if link.is_symlink():
                link.unlink()  # a stale link of an earlier run
            link.symlink_to(path)
            return str(link)
        return path

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.debug("pty read: %r", exc)
            return
        if data:
            self.engine.feed(data)

    def _send(self, data: bytes) -> None:
        self._out += self._unread.fit(data, len(self._out))
        self._flush()

    def _flush(self) -> None:
        try:
            while self._out:
                n = os.write(self._master, self._out)
                del self._out[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            log.debug("pty write: %r", exc)
            self._out.clear()
        want = bool(self._out)
        if want and not self._writing:
            self._loop.add_writer(self._master, self._flush)
        elif not want and self._writing:
            self._loop.remove_writer(self._master)
        self._writing = want

    async def close(self) -> None:
        self.engine.detach()
        if self._pacer:
            self._pacer.close()
        if self._master >= 0:
            self._loop.remove_reader(self._master)
            self._loop.remove_writer(self._master)
        if self.link:
            link = Path(self.link)
            with contextlib.suppress(OSError):
                if link.is_symlink() and os.readlink(link) == os.ttyname(self._slave):
                    link.unlink()
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
