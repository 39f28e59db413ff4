"""Broker side of the rig: the embedded amqtt broker and the observer client (see DESIGN.md).

Exports are resolved lazily so that importing one part of the package (say the fault proxy) does not
pay for importing amqtt or paho.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.broker.certs import TestPki
    from harness.broker.embedded import EmbeddedBroker, TlsFiles
    from harness.broker.errors import BrokerError, ObserverError
    from harness.broker.mosquitto import MosquittoBroker
    from harness.broker.observer import Message, Observer
    from harness.broker.peer import (
        Capture,
        Connection,
        Match,
        PeerError,
        PeerMismatch,
        PeerTimeout,
        PeerViolation,
        ScriptedPeer,
        predicate,
    )
    from harness.broker.proxy import FaultProxy, ProxyError
    from harness.broker.rules import Blackhole, Close, Corrupt, Delay, Drop, Duplicate, Reset, Rule, RuleError
    from harness.broker.wirelog import WireLog

_EXPORTS = {
    "BrokerError": "harness.broker.errors",
    "ObserverError": "harness.broker.errors",
    "EmbeddedBroker": "harness.broker.embedded",
    "TlsFiles": "harness.broker.embedded",
    "Message": "harness.broker.observer",
    "Observer": "harness.broker.observer",
    "MosquittoBroker": "harness.broker.mosquitto",
    "TestPki": "harness.broker.certs",
    "ScriptedPeer": "harness.broker.peer",
    "Connection": "harness.broker.peer",
    "Match": "harness.broker.peer",
    "Capture": "harness.broker.peer",
    "predicate": "harness.broker.peer",
    "PeerError": "harness.broker.peer",
    "PeerTimeout": "harness.broker.peer",
    "PeerMismatch": "harness.broker.peer",
    "PeerViolation": "harness.broker.peer",
    "FaultProxy": "harness.broker.proxy",
    "ProxyError": "harness.broker.proxy",
    "WireLog": "harness.broker.wirelog",
    "Rule": "harness.broker.rules",
    "RuleError": "harness.broker.rules",
    "Drop": "harness.broker.rules",
    "Delay": "harness.broker.rules",
    "Duplicate": "harness.broker.rules",
    "Corrupt": "harness.broker.rules",
    "Close": "harness.broker.rules",
    "Reset": "harness.broker.rules",
    "Blackhole": "harness.broker.rules",
}

__all__ = [  # noqa: RUF022 - grouped as _EXPORTS
    "BrokerError",
    "ObserverError",
    "EmbeddedBroker",
    "TlsFiles",
    "Message",
    "Observer",
    "MosquittoBroker",
    "TestPki",
    "ScriptedPeer",
    "Connection",
    "Match",
    "Capture",
    "predicate",
    "PeerError",
    "PeerTimeout",
    "PeerMismatch",
    "PeerViolation",
    "FaultProxy",
    "ProxyError",
    "WireLog",
    "Rule",
    "RuleError",
    "Drop",
    "Delay",
    "Duplicate",
    "Corrupt",
    "Close",
    "Reset",
    "Blackhole",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.broker' has no attribute {name!r}")
    return getattr(import_module(module), name)
