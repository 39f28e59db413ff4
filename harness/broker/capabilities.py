"""What a case needs from the broker, and the skip reason when the running broker lacks it.

Why: a case whose verdict rests on broker behaviour that the rig's broker does not have (amqtt's
unenforced keep-alive, say) would blame the DUT for the broker. Such a case declares the need
(``@pytest.mark.needs_broker("keepalive_enforced")`` in harness/plugin/fixtures/broker.py) and is skipped with a
reason naming the broker, its version and, where there is one, the upstream issue - never silently.

The capability tables themselves live with each broker (EmbeddedBroker.CAPABILITIES,
MosquittoBroker.CAPABILITIES) and are checked on the wire by tests/broker/test_broker_embedded.py and
tests/broker/test_mosquitto.py; this module only reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Protocol

__all__ = ["WHY_MISSING", "BrokerLike", "broker_version", "require"]


class BrokerLike(Protocol):
    kind: str
    capabilities: Mapping[str, bool | int]


# (broker kind, capability) -> what the broker does instead, with the upstream issue when one is known.
WHY_MISSING: dict[tuple[str, str], str] = {
    ("amqtt", "keepalive_enforced"): "does not enforce keep-alive: a silent client is not disconnected after "
                                     "1.5 x keep-alive (amqtt issue #308)",
    ("amqtt", "mqtt31"): "drops an MQTT 3.1 (MQIsdp) CONNECT without a CONNACK (amqtt issue #297)",
    ("amqtt", "pubrel_retry_ok"): "answers a retransmitted PUBREL with no PUBCOMP, against [MQTT-4.3.3-2] "
                                  "(amqtt issue #100)",
    ("amqtt", "client_id_takeover"): "does not disconnect the first client when a second connects with the same "
                                     "client id, against [MQTT-3.1.4-2]",
    ("amqtt", "mtls_required"): "cannot require a client certificate: TLS verification is CERT_OPTIONAL "
                                "(amqtt issue #387)",
    ("amqtt", "qos_downgrade"): "delivers at the subscription QoS instead of min(publish, subscription) "
                                "(MQTT 3.1.1 3.8.4)",
    ("mosquitto", "duplicate_qos2_limit"): "closes the connection on the second duplicate QoS 2 PUBLISH before "
                                           "PUBREL (eclipse-mosquitto/mosquitto issue #3602)",
}


_DISTRIBUTIONS = {"amqtt": "amqtt"}  # broker kinds that run in this process, from a Python distribution


def broker_version(broker: object) -> str | None:
    """The broker's version: its ``version`` attribute, else the installed Python distribution's."""
    version = getattr(broker, "version", None)
    if version:
        return str(version)
    distribution = _DISTRIBUTIONS.get(str(getattr(broker, "kind", "")))
    if distribution is None:
        return None
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _name(broker: BrokerLike) -> str:
    version = broker_version(broker)
    return f"{broker.kind} {version}" if version else broker.kind


def require(capability: str, broker: BrokerLike, at_least: int | None = None) -> str | None:
    """None when ``broker`` has ``capability``; otherwise the one-line reason to skip.

    Boolean capabilities must be True. Integer ones (``max_qos``, ``duplicate_qos2_limit``) must be
    at least ``at_least`` (default 1). A capability the broker does not declare counts as missing:
    guessing would let a broker's gap decide a DUT verdict.
    """
    caps = broker.capabilities
    if capability not in caps:
        return f"{_name(broker)} does not declare broker capability {capability!r}"
    value = caps[capability]
    if isinstance(value, bool):
        if at_least is not None:
            raise ValueError(f"broker capability {capability!r} is a yes/no capability; at_least does not apply")
        ok = value
        wanted = ""
    else:
        need = 1 if at_least is None else at_least
        ok = value >= need
        wanted = f" (is {value}, the case needs {need})"
    if ok:
        return None
    why = WHY_MISSING.get((broker.kind, capability))
    if why is None:
        return f"{_name(broker)} lacks broker capability {capability!r}{wanted}"
    return f"{_name(broker)} {why}{wanted}"
