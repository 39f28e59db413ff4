"""The real brokers of the rig and the observer on their side (see DESIGN.md).

embedded.py      EmbeddedBroker: amqtt 0.12.1 in this process, on a LoopThread (plain, TLS,
                 mutual TLS, users); _amqtt.py holds the glue that leans on amqtt internals.
mosquitto.py     MosquittoBroker: a local mosquitto as a subprocess, with the same surface.
lifecycle.py     RestartableBroker, the base of both: restart on the same ports, context manager, repr.
capabilities.py  what a case may need from a broker (``needs_broker``) and the skip reason when
                 the running one lacks it; each broker class carries its CAPABILITIES table.
observer.py      Observer: a paho-mqtt client on the broker side, with deadline-bound waits.
errors.py        BrokerError, ObserverError: one-line errors.

Not here: the scripted MQTT peer (harness.peer), the fault proxy and wire log (harness.proxy),
certificates and TlsFiles (harness.pki). Arrows: broker -> harness.pki.files, harness.loop_thread,
harness.children. Used by the fixtures, the doctor (harness.rig) and the benchmarks.

Exports are resolved lazily so that importing one part (say the observer) does not pay for
importing amqtt or paho.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.broker.embedded import EmbeddedBroker
    from harness.broker.errors import BrokerError, ObserverError
    from harness.broker.mosquitto import MosquittoBroker
    from harness.broker.observer import Message, Observer

_EXPORTS = {
    "BrokerError": "harness.broker.errors",
    "ObserverError": "harness.broker.errors",
    "EmbeddedBroker": "harness.broker.embedded",
    "MosquittoBroker": "harness.broker.mosquitto",
    "Message": "harness.broker.observer",
    "Observer": "harness.broker.observer",
}

__all__ = [  # noqa: RUF022 - grouped as _EXPORTS
    "BrokerError",
    "ObserverError",
    "EmbeddedBroker",
    "MosquittoBroker",
    "Message",
    "Observer",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.broker' has no attribute {name!r}")
    return getattr(import_module(module), name)
