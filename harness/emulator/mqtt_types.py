"""The values the MQTT engine and the AT handlers exchange: results, +QMTSTAT codes, states,
events. Kept apart from mqtt_client.py so that the AT side (qmt_*.py) reads the note's codes
without the engine's internals, and the engine stays within one screenful of flows."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import IntEnum


class OpenResult(IntEnum):
    """3.3.2 <result> of +QMTOPEN (the ones the engine can produce)."""

    OK = 0
    FAILED = -1  # refused, unreachable, timed out
    DNS_FAILED = 4  # "Failed to parse the domain name"


class SendResult(IntEnum):
    """3.3.4-3.3.8 <result>: 0 acked, 1 retransmission (reported via on_retry), 2 failed."""

    ACKED = 0
    RETRANSMIT = 1
    FAILED = 2


class StatCode(IntEnum):
    """Chapter 5 Table 4, <err_code> of +QMTSTAT."""

    PEER_CLOSED = 1
    PING_TIMEOUT = 2
    CONNECT_FAILED = 3
    CONNACK_FAILED = 4
    SERVER_CLOSED_AFTER_DISC = 5
    SEND_FAILURES = 6
    LINK_DEAD = 7


class ConnState(IntEnum):
    """3.3.4 <state> of AT+QMTCONN?."""

    INITIALIZING = 1  # TCP open, no CONNECT yet
    CONNECTING = 2
    CONNECTED = 3
    DISCONNECTING = 4


@dataclass(frozen=True)
class Retry:
    """T1 in real seconds and <retry_times>, read from AT+QMTCFG="timeout" per operation."""

    timeout_s: float
    retries: int


@dataclass(frozen=True)
class ClientFaults:
    """Faults of a deliberately faulty firmware inside the MQTT engine (profiles.py); each is read
    from its profile switch in qmt_conn._new_link. All False: the conformant client."""

    lax_fixed_header: bool = False  # accepts packets with invalid fixed-header flags ([MQTT-2.2.2-2])
    puback_on_qos0: bool = False  # answers a QoS 0 PUBLISH with PUBACK ([MQTT-3.3.4-1])
    credentials_before_will: bool = False  # CONNECT payload: user name, password before the will ([MQTT-3.1.3-1])
    session_kept_on_clean: bool = False  # CleanSession 1 keeps and re-sends the old session ([MQTT-3.1.2-6])
    dup_on_pubrel: bool = False  # a re-sent PUBREL with DUP set, flags 1010 ([MQTT-3.6.1-1])


@dataclass(frozen=True)
class Outcome:
    result: SendResult
    values: tuple[int, ...] = ()  # SUBACK granted QoS; CONNACK return code


@dataclass(frozen=True)
class ConnectParams:
    client_id: str
    username: str | None = None
    password: str | None = None
    clean_session: bool = True
    keepalive: int = 120  # module seconds, as sent in CONNECT
    keepalive_s: float = 120.0  # the same interval in real seconds (T2)
    version: int = 1  # AT+QMTCFG "version": 0 -> MQTT 3.1, 1 -> MQTT 3.1.1
    will_topic: str | None = None
    will_payload: bytes = b""
    will_qos: int = 0
    will_retain: bool = False


@dataclass(frozen=True)
class Delivered:
    """An application message the server published to us (-> +QMTRECV)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    packet_id: int  # 0 for QoS 0 (the chapter 6 example shows +QMTRECV: 0,0,...)


@dataclass(frozen=True)
class LinkLost:
    code: StatCode


Event = Delivered | LinkLost


class LinkDown(ConnectionError):
    """The connection went away while an operation waited for its acknowledgement."""


def aliauth_credentials(client_id: str, product_key: str, device_name: str,
                        device_secret: str) -> tuple[str, str, str]:
    """(clientId, username, password) per Alibaba Cloud IoT's MQTT signing scheme
    (securemode=3 = plain TCP, signmethod=hmacsha1), for 3.3.1 AT+QMTCFG="aliauth"."""
    content = f"clientId{client_id}deviceName{device_name}productKey{product_key}"
    sign = hmac.new(device_secret.encode(), content.encode(), hashlib.sha1).hexdigest()
    return (f"{client_id}|securemode=3,signmethod=hmacsha1|", f"{device_name}&{product_key}", sign)
