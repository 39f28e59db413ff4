"""The few AT exchanges an MQTT session is made of (3.3.2-3.3.8), pytest-free, over an ATChannel.

Used by the rig (harness/rig/account.py, the doctor) and the harness's own tests; the suites take
the same exchanges through the `qmt` steps object (harness/plugin/fixtures/qmt.py), which adds the deadlines per
connect ID. No verdict is given here: a step that does not get the answer it needs to go on (OK,
or "+QMTOPEN: <id>,0" for an open meant to succeed) raises StepFailed, naming the command and
what came back, so a case fails at the step that broke, not three steps later; what the answers
mean for the note is the cases' to judge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.at.errors import ATError
from harness.at.lines import Response, Urc
from harness.spec.timing import deadline_s

if TYPE_CHECKING:
    from harness.at.channel import ATChannel


class StepFailed(AssertionError):
    """A step did not get the answer it needs to go on; the message names the command and the answer.
    An AssertionError, so pytest and every report count it as the case's failure, not a harness error."""


@dataclass(frozen=True)
class Account:
    """An MQTT account the DUT logs in with: <user_name> and <pass_word> of AT+QMTCONN (3.3.4).

    The rig file's broker account (broker.username, broker.password) reaches the cases as one of
    these (``wire.account``, ``broker.account``): a broker that requires it refuses a CONNECT
    without it (+QMTCONN: <id>,0,5), which is the rig's doing, not the firmware's. The password is
    left out of repr, so a failure that shows an Account never shows the password.
    """

    user: str
    password: str | None = field(default=None, repr=False)

    def conn_args(self) -> str:
        """What follows <clientID> in AT+QMTCONN: `,"<user_name>"[,"<pass_word>"]` (3.3.4)."""
        return "".join(f',"{v}"' for v in (self.user, self.password) if v is not None)


def conn_args(account: Account | None) -> str:
    """`account`'s AT+QMTCONN arguments, or none (anonymous: the rig has no broker.username)."""
    return account.conn_args() if account is not None else ""


def is_error(resp: Response) -> bool:
    """3.3.x "If there is any error: ERROR Or +CME ERROR: <err>"."""
    return resp.final == "ERROR" or resp.final.startswith("+CME ERROR:")


def urc_deadline(channel: ATChannel, line: str) -> float:
    """Real seconds to wait for the result URC of `line`: the note's maximum response time for
    the DUT's current pkt_timeout/retry_times, scaled, plus transport grace."""
    return deadline_s(line, channel.time_scale, channel.pkt_timeout, channel.retry_times)


def for_id(cid: int) -> Callable[[Urc], bool]:
    return lambda u: bool(u.args) and u.args[0] == cid


def result(channel: ATChannel, line: str, urc: str, cid: int, timeout: float | None = None) -> Urc:
    """Send a write command whose result comes as a URC after OK (3.3.2-3.3.8) and wait for it."""
    resp = channel.command(line)
    if resp.final != "OK":
        raise StepFailed(f"{line} answered {resp.final!r}, expected OK then {urc}")
    return channel.wait_urc(urc, urc_deadline(channel, line) if timeout is None else timeout, predicate=for_id(cid))


def open_connect(channel: ATChannel, host: str, port: int, client_id: str, cid: int = 0,
                 user: str | None = None, password: str | None = None, *, account: Account | None = None) -> None:
    """AT+QMTOPEN (3.3.2) then AT+QMTCONN (3.3.4), each to success.

    `account`: the rig's broker account (``wire.account``; None when the broker takes anonymous
    clients); `user`/`password`: credentials a case chose itself. Not both.
    """
    if account is not None and (user is not None or password is not None):
        raise ValueError("open_connect: give either account (the rig's) or user/password, not both")
    if user is not None:
        account = Account(user, password)
    elif password is not None:
        raise ValueError("open_connect: a password needs a user name (3.3.4 <user_name>[,<pass_word>])")
    opened = result(channel, f'AT+QMTOPEN={cid},"{host}",{port}', "+QMTOPEN", cid)
    if opened.args != [cid, 0]:
        raise StepFailed(f"AT+QMTOPEN: expected +QMTOPEN: {cid},0, got {opened.line}")
    connected = connect(channel, cid, client_id, account)
    if connected.args != [cid, 0, 0]:
        raise StepFailed(f"AT+QMTCONN: expected +QMTCONN: {cid},0,0, got {connected.line}")


def connect(channel: ATChannel, cid: int, client_id: str, account: Account | None = None,
            timeout: float | None = None) -> Urc:
    """AT+QMTCONN=<id>,"<clientID>"[,"<user_name>"[,"<pass_word>"]] and its +QMTCONN URC (3.3.4).

    The password is a transcript secret before the line is sent, and a failure is re-raised from
    here with it masked: pytest prints the arguments of the frame that raised, and the frame of
    `result` would show the whole command line in the report.
    """
    line = f'AT+QMTCONN={cid},"{client_id}"{conn_args(account)}'
    secret = account.password if account is not None else None
    if not secret:
        return result(channel, line, "+QMTCONN", cid, timeout)
    channel.transcript.add_secret(secret)
    try:
        return result(channel, line, "+QMTCONN", cid, timeout)
    except (AssertionError, ATError) as exc:
        exc.args = (str(exc).replace(secret, "***"),)
        raise exc.with_traceback(None)  # noqa: B904 - the same failure, without the frames that hold the password


def publish(channel: ATChannel, cid: int, msg_id: int, qos: int, retain: int, topic: str, payload: bytes,
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
    if resp.final != "OK":
        raise StepFailed(f"{line} answered {resp.final!r}")
    return channel.wait_urc("+QMTPUB", urc_deadline(channel, line),
                            predicate=lambda u: u.args[:2] == [cid, msg_id])


def disconnect(channel: ATChannel, cid: int = 0) -> None:
    """AT+QMTDISC (3.3.5) to success."""
    done = result(channel, f"AT+QMTDISC={cid}", "+QMTDISC", cid)
    if done.args != [cid, 0]:
        raise StepFailed(f"AT+QMTDISC: expected +QMTDISC: {cid},0, got {done.line}")
