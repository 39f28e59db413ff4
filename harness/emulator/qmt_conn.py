"""AT+QMTOPEN, AT+QMTCLOSE, AT+QMTCONN, AT+QMTDISC (3.3.2-3.3.5) and, through qmt_pub,
AT+QMTSUB/UNS/PUB (3.3.6-3.3.8). Importing this module registers all of them.

Conventions decided once for all MQTT handlers here:
- DECIDED: a form the note does not define (e.g. AT+QMTCLOSE?, the bare AT+QMTOPEN)
  answers plain ERROR, like an unknown command.
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

from harness.emulator import (
    qmt_pub,  # noqa: F401  (registers +QMTSUB, +QMTUNS, +QMTPUB)
    qsslcfg,  # registers +QSSLCFG; builds the TLS context for SSL opens
)
from harness.emulator.api import Command, Context, ModuleState, command
from harness.emulator.general import network
from harness.emulator.mqtt_client import MqttClient
from harness.emulator.mqtt_config import configs
from harness.emulator.mqtt_types import (
    ConnectParams,
    ConnState,
    Event,
    OpenResult,
    SendResult,
    aliauth_credentials,
)
from harness.emulator.profiles import profile_of
from harness.emulator.qmt_state import (
    ID_RANGE,
    INVALID_PARAMETER,
    LINK_LAYER_ERROR,
    Link,
    close_or_disc_id,
    int_arg,
    on_link_event,
    retry_policy,
    state,
    str_arg,
    write_form,
)

log = logging.getLogger("harness.emulator")

OPEN_RESPONSE_S = 176.0  # 3.3.2 "Maximum Response Time 176 s, determined by network"
HOST_MAX = 100  # 3.3.2 <host_name> "Maximum length: 100 bytes"
# DECIDED: 3.3.2 <result> 1 "Invalid parameter" is a host name that is neither an IP
# literal nor a DNS name by its characters (empty, spaces, control characters, "/"...);
# range and type errors of the command line are +CME ERROR: 8507 instead.
_HOST_CHARS = re.compile(r"[A-Za-z0-9._:\-\[\]%]+")
OPEN_PDP_FAILED = 3  # 3.3.2 <result> 3: the radio is off or detached (AT+CFUN=0, AT+CGATT=0)


# --- AT+QMTOPEN (3.3.2) ------------------------------------------------------------------


@command("+QMTOPEN")
async def qmtopen(ctx: Context, cmd: Command) -> None:
    module = ctx.module
    st = state(module)
    # 3.3.2 read: `[+QMTOPEN: <TCP_connectID>,<host_name>,<port>]`, host quoted as in ch. 6
    if not write_form(ctx, cmd, "+QMTOPEN: (0-4),<host_name>,(1-65535)",
                      lambda cid, link: f'+QMTOPEN: {cid},"{link.host}",{link.port}'):
        return
    if len(cmd.args) != 3:
        ctx.error(INVALID_PARAMETER)
        return
    cid = int_arg(cmd.args[0], *ID_RANGE)
    host = str_arg(cmd.args[1], 0, HOST_MAX)
    port = int_arg(cmd.args[2], 1, 65535)
    if cid is None or host is None or port is None:
        ctx.error(INVALID_PARAMETER)
        return
    ctx.ok()
    if cid in st.links:
        # 3.3.2 <result> 2 "The MQTT socket is occupied" (opening or open)
        occupied = 0 if profile_of(module).has("open-occupied-ok") else 2
        ctx.urc(f"+QMTOPEN: {cid},{occupied}")
        return
    if not _HOST_CHARS.fullmatch(host):
        ctx.urc(f"+QMTOPEN: {cid},1")
        return
    if network(ctx).stat == 0:
        # 3.3.2 <result> 3 "Failed to activate the PDP": with the radio off (AT+CFUN=0) or detached
        # (AT+CGATT=0) there is no packet data context to activate.
        ctx.urc(f"+QMTOPEN: {cid},{OPEN_PDP_FAILED}")
        return
    link = _new_link(ctx, module, cid, host, port)
    st.links[cid] = link
    ctx.spawn(_open_and_run(ctx, module, link))


def _new_link(ctx: Context, module: ModuleState, cid: int, host: str, port: int) -> Link:
    link: Link | None = None

    def on_event(event: Event) -> None:
        if link is not None:
            on_link_event(ctx, module, link, event)

    def radio_up() -> bool:
        # The uplink needs the bearer the open activated: after AT+CFUN=0 or AT+CGATT=0 every send
        # fails, and each packet's failure gets its Table 4 code (CONNECT 3, PINGREQ 2, others 7).
        return network(ctx).stat != 0

    # Figure 1 Excep2 / [MQTT-3.3.1-1]: a resent PUBLISH carries DUP=1 (not on "no-dup-on-retransmit")
    dup = not profile_of(module).has("no-dup-on-retransmit")
    client = MqttClient(cid, retry_policy(module, cid), on_event, dup_on_retransmit=dup, uplink=radio_up)
    link = Link(cid, host, port, client)
    return link


async def _open_and_run(ctx: Context, module: ModuleState, link: Link) -> None:
    """The whole life of one network connection, as one task the module owns (power-off
    cancels it and MqttClient.run closes the socket in its finally)."""
    st = state(module)
    try:
        cfg = configs(module.ext)[link.connect_id]
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
        if st.links.get(link.connect_id) is not link:
            await link.client.close()  # closed (or module reset) while opening
            return
        ctx.urc(f"+QMTOPEN: {link.connect_id},{int(result)}")
        if result is not OpenResult.OK:
            return
        link.opened = True
        st.open_ids.add(link.connect_id)
        await link.client.run()
    finally:
        st.drop(link)


# --- AT+QMTCLOSE (3.3.3) -----------------------------------------------------------------


@command("+QMTCLOSE")
async def qmtclose(ctx: Context, cmd: Command) -> None:
    if not write_form(ctx, cmd, "+QMTCLOSE: (0-4)"):
        return
    cid = close_or_disc_id(ctx, cmd)
    if cid is None:
        return
    st = state(ctx.module)
    link = st.links.get(cid)
    ctx.ok()
    if link is None or not link.opened:
        # DECIDED: closing an ID that is not open answers OK then <result> -1 "Failed to
        # close network connection" (3.3.3 has the code; ERROR would hide the URC hosts wait for).
        ctx.urc(f"+QMTCLOSE: {cid},-1")
        return
    # 3.3.3: the TCP connection is dropped as is; no DISCONNECT (that is AT+QMTDISC).
    st.drop(link)
    await link.client.close()
    ctx.urc(f"+QMTCLOSE: {cid},0")


# --- AT+QMTCONN (3.3.4) ------------------------------------------------------------------


@command("+QMTCONN")
async def qmtconn(ctx: Context, cmd: Command) -> None:
    module = ctx.module
    st = state(module)
    # test line literal as in ch. 6; 3.3.4 read: `[+QMTCONN: <TCP_connectID>,<state>]` per open ID
    if not write_form(ctx, cmd, "+QMTCONN: (0-4),<clientID>,<username>,<password>",
                      lambda cid, link: f"+QMTCONN: {cid},{int(link.client.state)}"):
        return
    args = cmd.args
    if not 2 <= len(args) <= 4:
        ctx.error(INVALID_PARAMETER)
        return
    cid = int_arg(args[0], *ID_RANGE)
    client_id = str_arg(args[1], 0, 128)  # 3.3.4 <clientID> "Maximum length: 128 bytes"
    user = str_arg(args[2], 0, 256) if len(args) > 2 else None  # <user_name> max 256 bytes
    password = str_arg(args[3], 0, 256) if len(args) > 3 else None  # <pass_word> max 256
    if (cid is None or client_id is None or (len(args) > 2 and user is None)
            or (len(args) > 3 and password is None)):
        ctx.error(INVALID_PARAMETER)
        return
    link = st.links.get(cid)
    if link is None or not link.opened or link.client.state is not ConnState.INITIALIZING:
        # DECIDED: not open, or CONNECT already sent on this connection ([MQTT-3.1.0-2]
        # forbids a second CONNECT) -> +CME ERROR: 8503 "MQTT link layer error".
        ctx.error(LINK_LAYER_ERROR)
        return
    cfg = configs(module.ext)[cid]
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


@command("+QMTDISC")
async def qmtdisc(ctx: Context, cmd: Command) -> None:
    if not write_form(ctx, cmd, "+QMTDISC: (0-4)"):
        return
    cid = close_or_disc_id(ctx, cmd)
    if cid is None:
        return
    st = state(ctx.module)
    link = st.connected(cid)
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
    st.drop(link)
    await link.client.disconnect()
    ctx.urc(f"+QMTDISC: {cid},0")
