"""Broker side of the rig: the embedded amqtt broker and the observer client (see DESIGN.md).

Exports are resolved lazily so that importing one part of the package (say the fault proxy) does not
pay for importing amqtt or paho.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.broker.embedded import EmbeddedBroker, TlsFiles
    from harness.broker.errors import BrokerError, ObserverError
    from harness.broker.observer import Message, Observer

_EXPORTS = {
    "BrokerError": "harness.broker.errors",
    "ObserverError": "harness.broker.errors",
    "EmbeddedBroker": "harness.broker.embedded",
    "TlsFiles": "harness.broker.embedded",
    "Message": "harness.broker.observer",
    "Observer": "harness.broker.observer",
}

__all__ = ["BrokerError", "EmbeddedBroker", "Message", "Observer", "ObserverError", "TlsFiles"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.broker' has no attribute {name!r}")
    return getattr(import_module(module), name)
