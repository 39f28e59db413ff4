"""AT+QMTOPEN, AT+QMTCLOSE, AT+QMTCONN, AT+QMTDISC (3.3.2-3.3.5); AT+QMTSUB/UNS/PUB are in
qmt_pub.py. Their state is ModuleState.links (state.Links).

Conventions decided once for all MQTT handlers here and in qmt_pub.py:
- DECIDED: a form the note does not define (e.g. AT+QMTCLOSE?, the bare AT+QMTOPEN) is not
  registered, so it answers plain ERROR, like an unknown command.
- DECIDED: a parameter of the wrong type, count or range answers +CME ERROR: 8507
  ("MQTT invalid parameter", chapter 4) before anything is attempted, as the note lists
  ERROR for "any error" of the command line itself.
- DECIDED: a command that needs a connection state the connect ID is not in (CONN on an ID
  that is not open, SUB/UNS/PUB without an MQTT connection) answers +CME ERROR: 8503
  ("MQTT link layer error"): the note has no <result> for "not open" in those commands.
- Test responses print placeholders in angle brackets, as chapter 6 prints
  `+QMTCONN: (0-4),<clientID>,<username>,<password>`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from harness.emulator import qsslcfg
from harness.emulator.api import Command, Context, answer, handles
from harness.emulator.errors import Cme, Refused
from harness.emulator.mqtt_client import MqttClient
from harness.emulator.mqtt_types import (
    ClientFaults,
    ConnectParams,
    ConnState,
    Event,
    OpenResult,
    SendResult,
    aliauth_credentials,
)
from harness.emulator.qmt_common import (
    INVALID_PARAMETER,
    int_arg,
    on_link_event,
    read_open_links,
    refuse_not_utf8,
    retry_policy,
    str_arg,
)
from harness.emulator.state import CONNECT_IDS, Link, ModuleState

log = logging.getLogger("harness.emulator")

OPEN_RESPONSE_S = 176.0  # 3.3.2 "Maximum Response Time 176 s, determined by network"
HOST_MAX = 100  # 3.3.2 <host_name> "Maximum length: 100 bytes"
# DECIDED: 3.3.2 <result> 1 "Invalid parameter" is a host name that is neither an IP
# literal nor a DNS name by its characters (empty, spaces, control characters, "/"...);
# range and type errors of the command line are +CME ERROR: 8507 instead.
_HOST_CHARS = re.compile(r"[A-Za-z0-9._:\-\[\]%]+")
OPEN_PDP_FAILED = 3  # 3.3.2 <result> 3: the radio is off or detached (AT+CFUN=0, AT+CGATT=0)


# --- AT+QMTOPEN (3.3.2) ------------------------------------------------------------------


answer("+QMTOPEN", "test", "+QMTOPEN: (0-4),<host_name>,(1-65535)")
# 3.3.2 read: `[+QMTOPEN: <TCP_connectID>,<host_name>,<port>]`, host quoted as in ch. 6
read_open_links("+QMTOPEN", lambda link: f'+QMTOPEN: {link.connect_id},"{link.host}",{link.port}')


@handles("+QMTOPEN", "write")
async def qmtopen(ctx: Context, cmd: Command) -> None:
    module = ctx.module
    if len(cmd.args) != 3:
        raise Refused(INVALID_PARAMETER)
    cid = int_arg(cmd.args[0], CONNECT_IDS)
    host = str_arg(cmd.args[1], 0, HOST_MAX)
    port = int_arg(cmd.args[2], range(1, 65536))
    if cid in module.links.by_id and module.profile.has("open-occupied-cme"):
        # observed-a05 (observations fact 32): a session left open makes AT+QMTOPEN fail at once
        # with "+CME ERROR: operation not allowed", no +QMTOPEN: <id>,2.
        raise Refused(Cme.OPERATION_NOT_ALLOWED)
    ctx.ok()
    if cid in module.links.by_id:
        # 3.3.2 <result> 2 "The MQTT socket is occupied" (opening or open)
        occupied = 0 if module.profile.has("open-occupied-ok") else 2
        ctx.urc(f"+QMTOPEN: {cid},{occupied}")
        return
    if not _HOST_CHARS.fullmatch(host):
        ctx.urc(f"+QMTOPEN: {cid},1")
        return
    if module.network.stat == 0:
        # 3.3.2 <result> 3 "Failed to activate the PDP": with the radio off (AT+CFUN=0) or detached
        # (AT+CGATT=0) there is no packet data context to activate.
        ctx.urc(f"+QMTOPEN: {cid},{OPEN_PDP_FAILED}")
        return
    link = _new_link(ctx, module, cid, host, port)
    module.links.by_id[cid] = link
    ctx.spawn(_open_and_run(ctx, module, link))


def _new_link(ctx: Context, module: ModuleState, cid: int, host: str, port: int) -> Link:
    link: Link | None = None

    def on_event(event: Event) -> None:
        if link is not None:
            on_link_event(ctx, module, link, event)

    def radio_up() -> bool:
        # The uplink needs the bearer the open activated: after AT+CFUN=0 or AT+CGATT=0 every send
        # fails, and each packet's failure gets its Table 4 code (CONNECT 3, PINGREQ 2, others 7).
        return ctx.module.network.stat != 0

    # Figure 1 Excep2 / [MQTT-3.3.1-1]: a resent PUBLISH carries DUP=1 (not on "no-dup-on-retransmit")
    dup = not module.profile.has("no-dup-on-retransmit")
    faults = ClientFaults(
        lax_fixed_header=module.profile.has("connack-bad-flags-accepted"),
        puback_on_qos0=module.profile.has("puback-on-qos0"),
        credentials_before_will=module.profile.has("connect-will-after-credentials"),
        session_kept_on_clean=module.profile.has("session-kept-on-clean"),
        dup_on_pubrel=module.profile.has("pubrel-dup-on-retransmit"))
    # [MQTT-4.4.0-1]: the session states of the connect ID by client ID, kept across its connections (none kept
    # on "no-redelivery-on-reconnect")
    session = None if module.profile.has("no-redelivery-on-reconnect") else module.links.sessions.setdefault(cid, {})
    client = MqttClient(cid, retry_policy(module, cid), on_event, dup_on_retransmit=dup, uplink=radio_up,
                        faults=faults, session=session)
    link = Link(cid, host, port, client)
    return link


async def _open_and_run(ctx: Context, module: ModuleState, link: Link) -> None:
    """The whole life of one network connection, as one task the module owns (power-off
    cancels it and MqttClient.run closes the socket in its finally)."""
    links = module.links
    try:
        cfg = module.mqtt[link.connect_id]
        tls: dict[str, Any] = {}
        if cfg.ssl_enable:
            # 3.3.1 "ssl" + AT+QSSLCFG (qsslcfg.py): TLS with the SSL context's settings.
            # DECIDED there: an unusable SSL context fails the open like a failed handshake, -1.
            try:
                client = qsslcfg.client_context(module, cfg.ssl_ctx, cfg.ssl_conn)
            except qsslcfg.TlsSetupError as exc:
                log.info("connect %d: TLS not set up: %s", link.connect_id, exc)
                ctx.urc(f"+QMTOPEN: {link.connect_id},{int(OpenResult.FAILED)}")
                return
            tls = {"ssl_context": client.context, "handshake_timeout_s": client.handshake_timeout_s}
        result = await link.client.open(link.host, link.port, module.scaled(OPEN_RESPONSE_S), **tls)
        if links.by_id.get(link.connect_id) is not link:
            await link.client.close()  # closed (or module reset) while opening
            return
        ctx.urc(f"+QMTOPEN: {link.connect_id},{int(result)}")
        if result is not OpenResult.OK:
            return
        link.opened = True
        await link.client.run()
    finally:
        links.drop(link)


# --- AT+QMTCLOSE (3.3.3) -----------------------------------------------------------------


answer("+QMTCLOSE", "test", "+QMTCLOSE: (0-4)")


@handles("+QMTCLOSE", "write")
async def qmtclose(ctx: Context, cmd: Command) -> None:
    cid = _one_connect_id(cmd)
    links = ctx.module.links
    link = links.by_id.get(cid)
    if (link is None or not link.opened) and ctx.module.profile.has("close-not-open-error"):
        raise Refused()  # observed-a05 (observations fact 32): nothing open answers plain ERROR
    ctx.ok()
    if link is None or not link.opened:
        # DECIDED: closing an ID that is not open answers OK then <result> -1 "Failed to
        # close network connection" (3.3.3 has the code; ERROR would hide the URC hosts wait for).
        ctx.urc(f"+QMTCLOSE: {cid},-1")
        return
    # 3.3.3: the TCP connection is dropped as is; no DISCONNECT (that is AT+QMTDISC).
    links.drop(link)
    await link.client.close()
    ctx.urc(f"+QMTCLOSE: {cid},0")


def _one_connect_id(cmd: Command) -> int:
    """The one <TCP_connectID> of AT+QMTCLOSE / AT+QMTDISC (else 8507)."""
    if len(cmd.args) != 1:
        raise Refused(INVALID_PARAMETER)
    return int_arg(cmd.args[0], CONNECT_IDS)


# --- AT+QMTCONN (3.3.4) ------------------------------------------------------------------

# test line literal as in ch. 6; 3.3.4 read: `[+QMTCONN: <TCP_connectID>,<state>]` per open ID
answer("+QMTCONN", "test", "+QMTCONN: (0-4),<clientID>,<username>,<password>")
read_open_links("+QMTCONN", lambda link: f"+QMTCONN: {link.connect_id},{int(link.client.state)}")


@handles("+QMTCONN", "write")
async def qmtconn(ctx: Context, cmd: Command) -> None:
    module = ctx.module
    args = cmd.args
    if not 2 <= len(args) <= 4:
        raise Refused(INVALID_PARAMETER)
    cid = int_arg(args[0], CONNECT_IDS)
    # <clientID> and <user_name> become MQTT UTF-8 strings ([MQTT-3.1.3-4], [MQTT-3.1.3-11]); the
    # password is binary data in MQTT 3.1.1 (3.1.3.5): any bytes.
    refuse_not_utf8(module, args[1:3])
    client_id = str_arg(args[1], 0, 128)  # 3.3.4 <clientID> "Maximum length: 128 bytes"
    user = str_arg(args[2], 0, 256) if len(args) > 2 else None  # <user_name> max 256 bytes
    password = str_arg(args[3], 0, 256) if len(args) > 3 else None  # <pass_word> max 256
    if password == "" and module.profile.has("conn-empty-password-refused"):
        # observed-a05 (observations fact 37): an explicit "" password is refused at once with
        # "+CME ERROR: Incorrect parameters"; leaving the field out works.
        raise Refused(Cme.INCORRECT_PARAMETERS)
    if client_id == "" and module.mqtt[cid].clean_session == 0 and not module.profile.has("empty-client-id-clean-0"):
        # [MQTT-3.1.3-7] a zero-byte client identifier needs CleanSession 1. DECIDED: with
        # AT+QMTCFG="session" 0 it is refused (8507) rather than sent with the session changed.
        raise Refused(INVALID_PARAMETER)
    link = module.links.by_id.get(cid)
    if link is None or not link.opened or link.client.state is not ConnState.INITIALIZING:
        # DECIDED: not open, or CONNECT already sent on this connection ([MQTT-3.1.0-2]
        # forbids a second CONNECT) -> +CME ERROR: 8503 "MQTT link layer error".
        raise Refused(Cme.MQTT_LINK_LAYER_ERROR)
    cfg = module.mqtt[cid]
    if user is None and cfg.aliauth is not None:
        # 3.3.1 NOTE 4: with "aliauth" configured, user name and password may be omitted;
        # DECIDED: they are then derived by Alibaba Cloud's signing scheme, and explicit
        # credentials, when given, win.
        a = cfg.aliauth
        client_id, user, password = aliauth_credentials(
            client_id, a.product_key, a.device_name, a.device_secret)
    will = cfg.will_fg == 1
    params = ConnectParams(
        client_id, user, password, clean_session=cfg.clean_session == 1,
        keepalive=cfg.keepalive, keepalive_s=module.scaled(cfg.keepalive), version=cfg.version,
        will_topic=cfg.will_topic if will else None,
        will_payload=cfg.will_msg.encode("utf-8", "surrogateescape") if will else b"",
        will_qos=cfg.will_qos, will_retain=cfg.will_retain == 1)
    ctx.ok()
    ctx.spawn(_connect(ctx, link, params))


async def _connect(ctx: Context, link: Link, params: ConnectParams) -> None:
    outcome = await link.client.connect(params)
    if outcome.result is SendResult.ACKED:
        # 3.3.4 `+QMTCONN: <id>,<result>[,<ret_code>]`: result 0 (an ACK came) with the
        # CONNACK return code 0..5 passed through; a refusal is followed by +QMTSTAT: <id>,4.
        ctx.urc(f"+QMTCONN: {link.connect_id},0,{outcome.values[0]}")
    else:
        # CONNACK timed out / CONNECT could not be sent: result 2, then +QMTSTAT 4 / 3.
        ctx.urc(f"+QMTCONN: {link.connect_id},{int(SendResult.FAILED)}")


# --- AT+QMTDISC (3.3.5) ------------------------------------------------------------------


answer("+QMTDISC", "test", "+QMTDISC: (0-4)")


@handles("+QMTDISC", "write")
async def qmtdisc(ctx: Context, cmd: Command) -> None:
    cid = _one_connect_id(cmd)
    links = ctx.module.links
    link = links.connected(cid)
    ctx.ok()
    if link is None:
        # DECIDED: no MQTT connection on that ID -> OK then <result> -1 "Failed to
        # disconnect the client"; an open-but-unconnected TCP link is left open.
        ctx.urc(f"+QMTDISC: {cid},-1")
        return
    # 3.3.5: DISCONNECT, then the client closes the TCP connection ([MQTT-3.14.4-1]), which
    # frees the connect ID (chapter 6 does not AT+QMTCLOSE after AT+QMTDISC).
    # DECIDED: no +QMTSTAT follows: chapter 6 shows only `+QMTDISC: 0,0`; Table 4 code 5 is
    # for a server that closes first, which cannot be seen once we have closed ourselves.
    links.drop(link)
    await link.client.disconnect()
    ctx.urc(f"+QMTDISC: {cid},0")
