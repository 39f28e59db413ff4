"""What the two real brokers share as things a run starts and stops: a context manager, restart on
the ports of the last good start, and how they show themselves in a log line.

Why a module of its own: EmbeddedBroker (amqtt in this process, embedded.py) and MosquittoBroker (a
subprocess, mosquitto.py) start and stop in wholly different ways, but a restart is the same logic
over their own start and stop: the fault proxy and the DUT dial the ports the broker had (rig file
``broker.restart``), so a restarted broker must never move. Written once here, the two cannot drift.
"""

from __future__ import annotations

import threading
from typing import Self


class RestartableBroker:
    """Base of the broker classes: each gives `start`, `stop`, `_teardown`, `_pin_ports` and
    keeps `_last_ports` (port, tls_port or 0) of its last good start under `_lock`."""

    host: str
    port: int
    tls_port: int | None
    _lock: threading.Lock
    _last_ports: tuple[int, int] | None

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 10.0) -> Self:
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> None:
        raise NotImplementedError

    def _teardown(self, timeout: float) -> None:
        raise NotImplementedError

    def _pin_ports(self, ports: tuple[int, int]) -> None:
        """From now on start on exactly these (port, tls_port or 0)."""
        raise NotImplementedError

    def _label(self) -> str:
        """What names this broker in its repr beside the class (the kind, a version)."""
        raise NotImplementedError

    def restart(self, timeout: float = 10.0) -> Self:
        """Start a broker that died (stopped, killed, crashed) again on the ports it had, because
        the fault proxy and the DUT dial those (rig file ``broker.restart``); its sessions are
        gone. BrokerError when it cannot (the port taken meanwhile, the binary gone)."""
        with self._lock:
            ports = self._last_ports
            self._teardown(timeout)
            if ports is not None:  # fixed from now on: a restart never moves the broker
                self._pin_ports(ports)
        return self.start(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"{self.host}:{self.port}" if self.running else "stopped"
        return f"<{type(self).__name__} {self._label()} {state}{f' tls:{self.tls_port}' if self.tls_port else ''}>"
