"""The rig file's broker account, tried the two ways a run uses it (the doctor's "account" row).

Why: a broker that refuses the account of the rig file (broker.username, broker.password) makes
every case that connects end in +QMTCONN: <id>,0,4 or 5 (3.3.4 <ret_code>: "Incorrect User Name
or Password", "Unauthorized"), i.e. dozens of DUT failures that are the rig file's doing. The
doctor logs in once from the host (a broker-side MQTT client) and once from the DUT (AT+QMTOPEN,
then AT+QMTCONN with the account, 3.3.2 and 3.3.4, as every case does), and a refusal becomes
one line naming the rig file's keys (`AccountRefused`, exit 4), not the firmware.

The password never appears in what this module says: it is a transcript secret before it is
sent, and no message is built from a line that holds it.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from harness.at import ATError
from harness.at.flows import Account, for_id
from harness.spec.timing import deadline_s

# CONNACK return codes that mean "the account is wrong" (MQTT 3.1.1; the note's 3.3.4 <ret_code>).
REFUSED = {4: "Incorrect User Name or Password", 5: "Unauthorized"}
CLIENT_ID = "rig-doctor-account"


class AccountRefused(Exception):
    """The broker refused the rig's account: the rig file is wrong (the doctor's exit 4)."""


class LoginFailed(Exception):
    """The login did not get as far as the broker's answer: a part of the rig failed (exit 3)."""


def refused(where: str, account: Account, by: str, code: int) -> AccountRefused:
    """The one line for a refused account. `where`: the rig file and key (`rig.yaml: broker.username`)."""
    return AccountRefused(
        f"{where}/broker.password: {by} refused the rig's account {account.user!r} (CONNACK return code {code}, "
        f"3.3.4 <ret_code> {code}: {REFUSED[code]}): check the user name and the value of the password's "
        "${VAR} in this environment")


def host_login(host: str, port: int, account: Account, where: str, tls: ssl.SSLContext | None = None) -> str:
    """Log in to the broker with the account from the host, as a broker-side client would."""
    from harness.broker import Observer, ObserverError  # late: paho only when the doctor gets here

    client = Observer(host, port, client_id=CLIENT_ID, tls=tls, username=account.user, password=account.password)
    try:
        client.connect()
    except ObserverError as exc:
        if client.connack_code in REFUSED:
            raise refused(where, account, f"the broker at {host}:{port}", client.connack_code) from None
        raise LoginFailed(_masked(str(exc), account)) from None
    finally:
        client.close()
    return f"the broker at {host}:{port} accepts it from the host"


def dut_login(channel: Any, host: str, port: int, account: Account, where: str, time_scale: float) -> str:
    """The DUT logs in with the account (AT+QMTOPEN 3.3.2, AT+QMTCONN 3.3.4), then leaves (3.3.5/3.3.3)."""
    if account.password:
        channel.transcript.add_secret(account.password)
    open_line = f'AT+QMTOPEN=0,"{host}",{port}'
    conn_line = f'AT+QMTCONN=0,"{CLIENT_ID}"{account.conn_args()}'
    masked = Account(account.user, None if account.password is None else "***")
    shown = f'AT+QMTCONN=0,"{CLIENT_ID}"{masked.conn_args()}'
    done = None
    try:
        if not channel.command(open_line).ok:
            raise LoginFailed(f"{open_line} was refused by the DUT")
        opened = channel.wait_urc("+QMTOPEN", deadline_s(open_line, time_scale), predicate=for_id(0))
        if opened.args[1:2] != [0]:
            raise LoginFailed(f"the DUT cannot reach {host}:{port} ({opened.line}, 3.3.2)")
        if not channel.command(conn_line).ok:
            raise LoginFailed(f"the DUT refused {shown} (3.3.4: <user_name> and <pass_word> are quoted strings "
                              "of at most 256 bytes)")
        done = channel.wait_urc("+QMTCONN", deadline_s(conn_line, time_scale), predicate=for_id(0))
    except ATError as exc:
        raise LoginFailed(f"the DUT did not log in to {host}:{port}: {_masked(str(exc), account)}") from None
    finally:
        _leave(channel, done is not None and done.args[1:] == [0, 0], time_scale)
    assert done is not None  # every other way out of the try raised
    code = done.args[2] if len(done.args) > 2 else None
    if done.args[1:2] == [0] and code in REFUSED:
        raise refused(where, account, f"the broker the DUT reaches at {host}:{port}", code)
    if done.args[1:] != [0, 0]:
        raise LoginFailed(f"the DUT did not log in to {host}:{port} with the rig's account ({done.line}, 3.3.4)")
    return f"the DUT logs in with it at {host}:{port} ({done.line})"


def _leave(channel: Any, connected: bool, time_scale: float) -> None:
    """AT+QMTDISC after a login, else AT+QMTCLOSE: the DUT's connect ID 0 is free again."""
    line, urc = ("AT+QMTDISC=0", "+QMTDISC") if connected else ("AT+QMTCLOSE=0", "+QMTCLOSE")
    with contextlib.suppress(ATError):
        if channel.command(line).ok:
            channel.wait_urc(urc, deadline_s(line, time_scale), predicate=for_id(0))


def _masked(text: str, account: Account) -> str:
    return text.replace(account.password, "***") if account.password else text
