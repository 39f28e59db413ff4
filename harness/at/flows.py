"""The few AT exchanges nearly every MQTT case repeats, written once (3.3.2-3.3.8).

They assert on the DUT's answers with messages that name the command and what came back,
so a case that uses them fails at the step that broke, not three steps later.
"""

from __future__ import annotations

from typing import Any

from harness.at.lines import Response, Urc
from harness.spec.timing import deadline_s


def is_error(resp: Response) -> bool:
    """3.3.x "If there is any error: ERROR Or +CME ERROR: <err>"."""
    return resp.final == "ERROR" or resp.final.startswith("+CME ERROR:")


def urc_deadline(channel: Any, line: str) -> float:
    """Real seconds to wait for the result URC of `line`: the note's maximum response time for
    the DUT's current pkt_timeout/retry_times, scaled, plus transport grace."""
    return deadline_s(line, channel.time_scale, channel.pkt_timeout, channel.retry_times)


def for_id(cid: int) -> Any:
    return lambda u: bool(u.args) and u.args[0] == cid


def result(channel: Any, line: str, urc: str, cid: int, timeout: float | None = None) -> Urc:
    """Send a write command whose result comes as a URC after OK (3.3.2-3.3.8) and wait for it."""
    resp = channel.command(line)
    assert resp.final == "OK", f"{line} answered {resp.final!r}, expected OK then {urc}"
    return channel.wait_urc(urc, urc_deadline(channel, line) if timeout is None else timeout, predicate=for_id(cid))


def open_connect(channel: Any, host: str, port: int, client_id: str, cid: int = 0,
                 user: str | None = None, password: str | None = None) -> None:
    opened = result(channel, f'AT+QMTOPEN={cid},"{host}",{port}', "+QMTOPEN", cid)
    assert opened.args == [cid, 0], f"AT+QMTOPEN: expected +QMTOPEN: {cid},0, got {opened.line}"
    creds = "".join(f',"{v}"' for v in (user, password) if v is not None)
    connected = result(channel, f'AT+QMTCONN={cid},"{client_id}"{creds}', "+QMTCONN", cid)
    assert connected.args == [cid, 0, 0], f"AT+QMTCONN: expected +QMTCONN: {cid},0,0, got {connected.line}"


def publish(channel: Any, cid: int, msg_id: int, qos: int, retain: int, topic: str, payload: bytes,
            form: str = "data") -> Urc:
    """AT+QMTPUB in one of its three forms (3.3.8): "data" (variable length, Ctrl+Z), "fixed"
    (<msg_len> in data mode) or "inline" (<msg_len>,<msg>); returns the +QMTPUB result URC."""
    head = f'AT+QMTPUB={cid},{msg_id},{qos},{retain},"{topic}"'
    if form == "data":
        resp = channel.send_data(head, payload)
        line = head
    elif form == "fixed":
        line = f"{head},{len(payload)}"
        resp = channel.send_data(line, payload, end=None)
    elif form == "inline":
        line = f'{head},{len(payload)},"{payload.decode()}"'
        resp = channel.command(line)
    else:
        raise ValueError(f"publish form must be data, fixed or inline, not {form!r}")
    assert resp.final == "OK", f"{line} answered {resp.final!r}"
    return channel.wait_urc("+QMTPUB", urc_deadline(channel, line),
                            predicate=lambda u: u.args[:2] == [cid, msg_id])


def disconnect(channel: Any, cid: int = 0) -> None:
    done = result(channel, f"AT+QMTDISC={cid}", "+QMTDISC", cid)
    assert done.args == [cid, 0], f"AT+QMTDISC: expected +QMTDISC: {cid},0, got {done.line}"
