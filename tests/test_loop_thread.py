"""harness.loop_thread: the one asyncio-loop-in-a-thread the broker, the scripted peer and the proxy
run on. Start, run with a deadline, stop cleanly, and leave nothing behind."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from leaks import assert_cycles_leak_nothing

from harness.loop_thread import LoopThread

pytestmark = pytest.mark.timeout(30)


class Boom(Exception):
    """The owner's error type, as a ProxyError or PeerError would be."""


def test_runs_coroutines_on_its_own_daemon_thread() -> None:
    runner = LoopThread("demo", thread_name="demo-loop", error=Boom).start()
    try:
        async def where() -> tuple[str, bool]:
            return threading.current_thread().name, threading.current_thread().daemon

        assert runner.running and runner.thread_id is not None
        assert runner.run(where(), 1.0) == ("demo-loop", True)
        with pytest.raises(Boom, match=r"^demo: already running$"):
            runner.start()
    finally:
        assert runner.stop() is True
    assert not runner.running and runner.thread_id is None


def test_a_late_coroutine_is_cancelled_and_named_in_one_line() -> None:
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(Boom, match=r"^demo: no answer from its event loop within 0\.1 s$"):
        runner = LoopThread("demo", error=Boom).start()
        try:
            runner.run(slow(), 0.1)
        finally:
            assert cancelled.wait(1.0)
            runner.stop()


def test_not_running_before_start_and_after_stop() -> None:
    runner = LoopThread("demo", error=Boom)

    async def nothing() -> None:
        return None

    with pytest.raises(Boom, match=r"^demo: not running \(call start\(\) first\)$"):
        runner.run(nothing(), 1.0)  # the coroutine is closed, never left unawaited
    assert runner.stop() is True  # stop before start: nothing to do
    runner.start()
    runner.stop()
    with pytest.raises(Boom, match="not running"):
        runner.run(nothing(), 1.0)
    runner.start()  # a stopped runner starts again
    assert runner.run(nothing(), 1.0) is None
    runner.stop()


def test_stop_runs_the_cleanup_then_cancels_what_is_left() -> None:
    runner = LoopThread("demo").start()
    seen: list[str] = []
    forever = threading.Event()

    async def park() -> None:
        forever.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def cleanup() -> None:
        seen.append("cleanup")

    runner.submit(park())
    assert forever.wait(1.0)
    started = time.monotonic()
    assert runner.stop(cleanup(), timeout=2.0) is True
    assert time.monotonic() - started < 1.0
    assert seen == ["cleanup", "cancelled"]
    assert runner.stop() is True  # idempotent


def test_start_stop_cycles_with_a_server_and_getaddrinfo_leak_nothing() -> None:
    """What the owner opened its cleanup closes (here a listener); the executor thread that
    getaddrinfo started and the loop itself are the LoopThread's to end."""
    def cycle() -> None:
        runner = LoopThread("leak").start()
        servers: list[asyncio.Server] = []

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        async def serve() -> int:
            await asyncio.get_running_loop().getaddrinfo("localhost", 0)  # starts the default executor
            servers.append(await asyncio.start_server(answer, "127.0.0.1", 0))
            return int(servers[0].sockets[0].getsockname()[1])

        async def close() -> None:
            servers[0].close()
            await servers[0].wait_closed()

        port = runner.run(serve(), 2.0)
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as client:
            assert client.recv(1) == b""
        assert runner.stop(close(), timeout=2.0)

    assert_cycles_leak_nothing(cycle, 20)
