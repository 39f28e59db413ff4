"""Every code the note defines: <result> of each result URC, <ret_code> (the CONNACK return code),
<state> of AT+QMTCONN?, the <err> codes of chapter 4 (Table 2) and the +QMTSTAT <err_code>s of
chapter 5.1 (Table 4). Each quote is the note's line for that value."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Entry


@dataclass(frozen=True)
class Code:
    id: str
    section: str
    command: str  # "+QMTOPEN", "+CME ERROR", "+QMTSTAT"
    field: str  # "result", "ret_code", "state", "value", "err", "err_code"
    value: int
    meaning: str
    quote: str
    kind: str = "code"


def _table(section: str, command: str, field: str, rows: tuple[tuple[int, str], ...], kind: str = "code",
           prefix: str | None = None) -> tuple[Code, ...]:
    pre = prefix if prefix is not None else f"{section}/{command.lstrip('+')}/{field}"
    return tuple(Code(f"{pre}/{v}", section, command, field, v, m, f"{v} {m}", kind) for v, m in rows)


_SEND = ((0, "Sent packet successfully and received an ACK from the server"), (1, "Retransmit packet"),
         (2, "Failed to send packet"))

QMTOPEN_RESULT = _table("3.3.2", "+QMTOPEN", "result", (
    (-1, "Failed to open network connection"), (0, "Network connection opened successfully"),
    (1, "Invalid parameter"), (2, "The MQTT socket is occupied"), (3, "Failed to activate the PDP"),
    (4, "Failed to parse the domain name")))
QMTCLOSE_RESULT = _table("3.3.3", "+QMTCLOSE", "result", (
    (-1, "Failed to close network connection"), (0, "Network connection closed successfully")))
QMTCONN_RESULT = _table("3.3.4", "+QMTCONN", "result", _SEND)
QMTCONN_STATE = _table("3.3.4", "+QMTCONN", "state", (
    (1, "MQTT connection is initializing"), (2, "connecting"), (3, "connected"), (4, "disconnecting")))
CONNACK_RET_CODE = _table("3.3.4", "+QMTCONN", "ret_code", (
    (0, "Connection Accepted"), (1, "Connection Refused: Unacceptable Protocol Version"),
    (2, "Connection Refused: Identifier Rejected"), (3, "Connection Refused: Server Unavailable"),
    (4, "Connection Refused: Incorrect User Name or Password"), (5, "Connection Refused: Unauthorized")))
QMTDISC_RESULT = _table("3.3.5", "+QMTDISC", "result", (
    (-1, "Failed to disconnect the client"), (0, "Disconnected the client successfully")))
QMTSUB_RESULT = _table("3.3.6", "+QMTSUB", "result", (
    (0, "Sent packet successfully and received an ACK from server"), (1, "Retransmit packet"),
    (2, "Failed to send packet")))
QMTUNS_RESULT = _table("3.3.7", "+QMTUNS", "result", (
    (0, "Packet sent successfully and ACK received from the server"), (1, "Packet retransmission"),
    (2, "Failed to send the packet")))
QMTPUB_RESULT = _table("3.3.8", "+QMTPUB", "result", (
    (0, "Sent packet successfully and received an ACK from the server"), (1, "Retransmit packet"),
    (2, "Failed to send the packet")))

# 3.3.6 <value>: with <result>=0 the granted QoS of each topic, 128 for a rejected one; with <result>=1
# the retransmission count; absent with <result>=2 (3.3.8: present only with <result>=1).
SUB_REJECTED = Code("3.3.6/QMTSUB/value/128", "3.3.6", "+QMTSUB", "value", 128,
                    "the subscription is rejected by the server", "<value>=128 indicate that the subscription is "
                    "rejected by the server.")
_RETRANSMITTED = "When <result>=1, it is the number of times of packet retransmission."  # 3.3.6 and 3.3.8 alike
# (id, section, the note's line); the section is the id's first part, so it is not written twice.
VALUE_RULES: tuple[tuple[str, str, str], ...] = tuple((i, i.split("/", 1)[0], q) for i, q in (
    ("3.3.6/QMTSUB/value/result0", "When <result>=0, it is a vector of granted QoS levels."),
    ("3.3.6/QMTSUB/value/result1", _RETRANSMITTED),
    ("3.3.6/QMTSUB/value/result2", "When <result>=2, it will not be presented."),
    ("3.3.8/QMTPUB/value/result1", _RETRANSMITTED),
    ("3.3.8/QMTPUB/value/result02", "When <result>=0 or <result>=2, it is not presented."),
))

# Chapter 4, Table 2: <err> of "+CME ERROR: <err>".
ERRORS = _table("4", "+CME ERROR", "err", (
    (8503, "MQTT link layer error"), (8504, "MQTT illegal packet"), (8505, "MQTT illegal character"),
    (8506, "MQTT illegal UTF8"), (8507, "MQTT invalid parameter"),
    (8508, "The length of transmitted data exceeds the size of the remaining"),
    (8509, "MQTT buffer overflow"), (8510, "MQTT out of memory"), (8511, "MQTT memory error"),
    (8600, "MQTT unknown error")), kind="error", prefix="4")
ERROR_BY_CODE = {c.value: c for c in ERRORS}
INVALID_PARAMETER = 8507

# Chapter 5.1, Table 4: +QMTSTAT <err_code>; 8-255 are reserved.
QMTSTAT = _table("5.1", "+QMTSTAT", "err_code", (
    (1, "Connection is closed or reset by its remote peer."),
    (2, "Sending PINGREQ packet timed out or failed."),
    (3, "Sending CONNECT packet timed out or failed"),
    (4, "Receiving CONNACK packet timed out or failed"),
    (5, "The client sent a DISCONNECT packet to the sever but the server took the initiative in closing the"),
    (6, "The client took the initiative in closing the MQTT connection due to constant packet sending failures."),
    (7, "The link is not alive or the server is inaccessible.")), kind="qmtstat", prefix="5.1/QMTSTAT")
QMTSTAT_BY_CODE = {c.value: c for c in QMTSTAT}
QMTSTAT_RESERVED_QUOTE = "8-255 Reserved for future use."

RESULTS: dict[tuple[str, str], tuple[Code, ...]] = {
    ("+QMTOPEN", "result"): QMTOPEN_RESULT, ("+QMTCLOSE", "result"): QMTCLOSE_RESULT,
    ("+QMTCONN", "result"): QMTCONN_RESULT, ("+QMTCONN", "ret_code"): CONNACK_RET_CODE,
    ("+QMTCONN", "state"): QMTCONN_STATE, ("+QMTDISC", "result"): QMTDISC_RESULT,
    ("+QMTSUB", "result"): QMTSUB_RESULT, ("+QMTUNS", "result"): QMTUNS_RESULT,
    ("+QMTPUB", "result"): QMTPUB_RESULT,
}


def values(command: str, field: str = "result") -> list[int]:
    """The values the note defines for a field, e.g. values("+QMTOPEN") -> [-1, 0, 1, 2, 3, 4]."""
    return [c.value for c in RESULTS[(command, field)]]


def all_codes() -> list[Code]:
    return [c for table in RESULTS.values() for c in table] + [SUB_REJECTED, *ERRORS, *QMTSTAT]


def entries() -> list[Entry]:
    out = [Entry(c.id, c.kind, c.section, c.quote) for c in all_codes()]
    out += [Entry(i, "code", s, q) for i, s, q in VALUE_RULES]
    out.append(Entry("5.1/QMTSTAT/8-255", "qmtstat", "5.1", QMTSTAT_RESERVED_QUOTE))
    return out
