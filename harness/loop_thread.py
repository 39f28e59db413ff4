"""An asyncio event loop in a daemon thread, driven from synchronous code.

Why: the servers the rig runs in this process (the embedded amqtt broker, the scripted MQTT peer,
the fault proxy) are asyncio code, while cases, fixtures and the harness's own tests are plain
synchronous code. Each server owns one ``LoopThread``: it starts the loop, hands coroutines to it
with a deadline, and stops it so that a start/stop cycle leaves no thread, task or socket behind.

    runner = LoopThread("proxy", thread_name="mqtt-proxy", error=ProxyError).start()
    port = runner.run(listen(), timeout=5.0)      # runs on the loop; raises ProxyError when late
    runner.stop(cleanup=close_everything())       # then every leftover task is cancelled
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")
ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class LoopThread:
    """One event loop running forever in one daemon thread, until ``stop``.

    ``label`` starts the one-line messages of the ``error`` type raised when the loop is not
    running or a coroutine misses its deadline. ``exception_handler`` is installed on the loop
    (asyncio's default otherwise)."""

    def __init__(self, label: str, *, thread_name: str | None = None, error: type[Exception] = RuntimeError,
                 exception_handler: ExceptionHandler | None = None) -> None:
        self.label = label
        self.thread_name = thread_name or label.replace(" ", "-")
        self._error = error
        self._handler = exception_handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None and self._thread is not None and self._thread.is_alive()

    @property
    def thread_id(self) -> int | None:
        """The loop thread's ident (for log filters that single the thread out); None before start."""
        return self._thread.ident if self._thread is not None else None

    def start(self) -> LoopThread:
        """Start the thread and return once its loop runs."""
        if self._thread is not None:
            raise self._error(f"{self.label}: already running")
        loop = asyncio.new_event_loop()
        if self._handler is not None:
            loop.set_exception_handler(self._handler)
        ready = threading.Event()
        thread = threading.Thread(target=_run_forever, args=(loop, ready), name=self.thread_name, daemon=True)
        thread.start()
        ready.wait()
        self._loop, self._thread = loop, thread
        return self

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; its future, for a caller that waits in its own way."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self.running:
            coro.close()
            raise self._error(f"{self.label}: not running (call start() first)")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and return its result; a coroutine still running after
        ``timeout`` seconds is cancelled and reported as one line of the ``error`` type."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise self._error(f"{self.label}: no answer from its event loop within {timeout:g} s") from None

    def stop(self, cleanup: Coroutine[Any, Any, object] | None = None, timeout: float = 5.0) -> bool:
        """Run ``cleanup`` on the loop (its errors ignored), cancel every task left, shut down async
        generators and the default executor (getaddrinfo's thread), end the loop and join the thread,
        each step bounded by ``timeout``. True when the thread ended (the loop is then closed) or was
        never started; False when it is still alive. Idempotent."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            if cleanup is not None:
                cleanup.close()
            return True
        if thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_finish(cleanup), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        elif cleanup is not None:
            cleanup.close()
        if thread.is_alive():
            return False
        loop.close()
        return True


def _run_forever(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)  # for library code that asks for "the current loop" (amqtt does)
    loop.call_soon(ready.set)
    loop.run_forever()


async def _finish(cleanup: Coroutine[Any, Any, object] | None) -> None:
    if cleanup is not None:
        with contextlib.suppress(Exception):
            await cleanup
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0)  # let transports run their connection_lost callbacks (which close sockets)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
