"""What the two real brokers share as things a run starts and stops: a context manager, restart on
the ports of the last good start, how they show themselves in a log line, and the shape of their
capability tables (``capability_table``).

Why a module of its own: EmbeddedBroker (amqtt in this process, embedded.py) and MosquittoBroker (a
subprocess, mosquitto.py) start and stop in wholly different ways, but a restart is the same logic
over their own start and stop: the fault proxy and the DUT dial the ports the broker had (rig file
``broker.restart``), so a restarted broker must never move. Written once here, the two cannot drift.
"""

from __future__ import annotations

import threading
from typing import Self

# What MQTT 3.1.1 asks of a server, as capability -> value: a broker's table states only where it
# differs (capability_table), so the two brokers' tables cannot drift apart in their keys.
_MQTT311_SERVER: dict[str, bool | int] = {
    "mqtt311": True,
    "mqtt31": False,  # MQIsdp / level 3: MQTT 3.1.1 does not ask for it
    "keepalive_enforced": True,  # a silent client is disconnected after 1.5 x keep-alive [MQTT-3.1.2-24]
    "pubrel_retry_ok": True,  # a retransmitted PUBREL gets PUBCOMP again (4.3.3)
    "qos_downgrade": True,  # delivered at min(publish QoS, subscription QoS) (3.8.4)
    "persistent_sessions": True,  # clean_session=0 kept [MQTT-3.1.2-4]
    "client_id_takeover": True,  # a second CONNECT with the same client id closes the first [MQTT-3.1.4-2]
    "retain": True,
    "will": True,
    "max_qos": 2,
    "tls": True,
    "mtls_required": False,  # set per instance: True when TlsFiles.require_client_cert
}


def capability_table(*, duplicate_qos2_limit: int, **deviations: bool | int) -> dict[str, bool | int]:
    """A broker's CAPABILITIES: the MQTT 3.1.1 server's with `deviations` on top (an unknown name is a
    typo, so a KeyError), plus how many duplicate QoS 2 PUBLISHes it answers before PUBREL, which
    MQTT 3.1.1 leaves open."""
    unknown = set(deviations) - set(_MQTT311_SERVER)
    if unknown:
        raise KeyError(f"no such broker capability: {', '.join(sorted(unknown))}")
    return {**_MQTT311_SERVER, **deviations, "duplicate_qos2_limit": duplicate_qos2_limit}


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
