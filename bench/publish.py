"""Measure 3: publishes per second through the AT interface against paho-mqtt publishing directly.

Why: the end-to-end cases push every message along emulator -> broker -> subscriber; if the AT
path (a command line, the emulator's MQTT client, its +QMTPUB result URC) were far slower than an
MQTT client on the same broker, the harness, not the module, would set the pace of those cases.
Both paths publish the same messages, one at a time (the next after the previous one's
+QMTPUB result, or paho's wait_for_publish: after PUBACK/PUBCOMP at QoS 1/2), to the same
embedded amqtt broker, and the same paho subscriber counts arrivals; the rate is messages over the
time from the first publish to the last arrival. Subscriptions are at the publish QoS (amqtt
delivers at the subscription's QoS). Loopback only; every wait has a deadline.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from bench.common import median
from harness.at import ATChannel
from harness.at.flows import open_connect, publish
from harness.broker import EmbeddedBroker
from harness.emulator.launcher import EmulatorProcess

ARRIVAL_TIMEOUT_S = 30.0


def payload(i: int) -> bytes:
    return (b"m%06d-" % i).ljust(32, b"x")  # printable, no quote or comma: fits the inline form


class Counter:
    """A paho subscriber counting arrivals per topic and noting when the last one came."""

    def __init__(self, host: str, port: int, topics: dict[str, int]) -> None:
        self._cond = threading.Condition()
        self.counts: dict[str, int] = dict.fromkeys(topics, 0)
        self.last: dict[str, float] = dict.fromkeys(topics, 0.0)
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-counter")
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect(host, port)
        self._client.loop_start()
        self._client.subscribe([(t, q) for t, q in topics.items()])
        if not subscribed.wait(10):
            raise RuntimeError("bench subscriber: no SUBACK within 10 s")

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.counts[msg.topic] = self.counts.get(msg.topic, 0) + 1
            self.last[msg.topic] = time.perf_counter()
            self._cond.notify_all()

    def reset(self, topic: str) -> None:
        with self._cond:
            self.counts[topic] = 0

    def wait(self, topic: str, n: int, timeout: float = ARRIVAL_TIMEOUT_S) -> tuple[int, float]:
        """(arrivals, time of the last one) once n arrived or the timeout passed."""
        with self._cond:
            self._cond.wait_for(lambda: self.counts[topic] >= n, timeout)
            return self.counts[topic], self.last[topic]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _at_rate(ch: ATChannel, sub: Counter, qos: int, n: int, form: str) -> float:
    topic = f"bench/at/{form}/q{qos}"
    sub.reset(topic)
    t0 = time.perf_counter()
    for i in range(n):
        urc = publish(ch, 0, (i % 65535) + 1 if qos else 0, qos, 0, topic, payload(i), form=form)
        assert urc.args[2] == 0, f"+QMTPUB result {urc.line}"
    got, last = sub.wait(topic, n)
    return got / (last - t0)


def _paho_rate(pub: mqtt.Client, sub: Counter, qos: int, n: int) -> float:
    topic = f"bench/paho/q{qos}"
    sub.reset(topic)
    t0 = time.perf_counter()
    for i in range(n):
        pub.publish(topic, payload(i), qos).wait_for_publish(10)
    got, last = sub.wait(topic, n)
    return got / (last - t0)


def publish_path(n: int = 200, rounds: int = 2, data_form_n: int = 50) -> dict[str, Any]:
    """Messages per second at QoS 0/1/2 through AT (inline form) and through paho, and the ratio;
    also QoS 1 in the data form (the '>' prompt) that most suite cases use."""
    topics = {f"bench/{p}/q{q}": q for p in ("at/inline", "paho") for q in (0, 1, 2)} | {"bench/at/data/q1": 1}
    broker = EmbeddedBroker().start()
    emu = EmulatorProcess.start(transport="tcp", time_scale=1.0)
    sub = Counter(broker.host, broker.port, topics)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho")
    rows: dict[str, Any] = {}
    try:
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        with ATChannel(emu.url, time_scale=1.0) as ch:
            ch.resync()
            assert ch.command("ATE0").ok and ch.command("AT+CMEE=1").ok
            open_connect(ch, broker.host, broker.port, "bench-at")
            for qos in (0, 1, 2):
                at: list[float] = []
                direct: list[float] = []
                for _ in range(rounds):  # alternating, so a busy moment hits both
                    at.append(_at_rate(ch, sub, qos, n, "inline"))
                    direct.append(_paho_rate(pub, sub, qos, n))
                a, d = median(at), median(direct)
                rows[f"qos{qos}"] = {"at_msg_s": round(a, 1), "paho_msg_s": round(d, 1),
                                     "at_over_paho": round(a / d, 2)}
            data = _at_rate(ch, sub, 1, data_form_n, "data")
            rows["qos1_data_form"] = {"at_msg_s": round(data, 1), "prompt_delay_s": ch.data_prompt_delay,
                                      "at_over_paho": round(data / rows["qos1"]["paho_msg_s"], 2)}
    finally:
        pub.disconnect()
        pub.loop_stop()
        sub.close()
        emu.stop()
        broker.stop()
    return {"messages_each": n, "rounds": rounds, "payload_bytes": len(payload(0)), **rows}
