"""What the MQTT command handlers share (qmtcfg.py, qmt_conn.py, qmt_pub.py): the parameter
parsers with the MQTT error code, the read form listing open connections, the retry policy,
and the URCs of a link's events. The connections themselves are state (state.Links).
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import replace

from harness.emulator.api import Arg, Command, Context, decode, handles
from harness.emulator.errors import Cme, Refused, need
from harness.emulator.mqtt_types import ConnState, Delivered, Event, LinkLost, Retry, StatCode
from harness.emulator.state import Link, ModuleState, MqttConfig

INVALID_PARAMETER = Cme.MQTT_INVALID_PARAMETER
TOPIC_MAX = 256  # 3.3.6-3.3.8 <topic> "Maximum length: 256 bytes"


def int_arg(arg: Arg, allowed: Container[int]) -> int:
    """An unquoted integer among `allowed`, else +CME ERROR: 8507 (chapter 4)."""
    return need(arg.int_in(allowed), INVALID_PARAMETER)


def str_arg(arg: Arg, lo: int, hi: int) -> str:
    """A quoted string of lo..hi bytes, else +CME ERROR: 8507."""
    return need(arg.str_in(lo, hi), INVALID_PARAMETER)


def refuse_not_utf8(module: ModuleState, args: tuple[Arg, ...]) -> None:
    """+CME ERROR: 8506 for a quoted string that did not arrive as UTF-8: MQTT strings (topics,
    client identifier, user name) must be UTF-8 ([MQTT-1.5.3-1]), and chapter 4 has a code for
    it. The front end keeps invalid bytes as surrogate escapes, so they show here.
    DECIDED (the note is silent): a string holding U+0000, well-formed UTF-8 but barred from an
    MQTT string ([MQTT-1.5.3-2]), is refused with 8505 "MQTT illegal character". Well-formed
    non-ASCII text is taken as it is (the front end decodes the line as UTF-8, and the MQTT
    string is encoded as UTF-8 again: the same bytes). This is the one check between the AT
    line and an MQTT string: the `utf8-passthrough` fault skips it, the raw bytes go out."""
    if module.profile.has("utf8-passthrough"):
        return
    quoted = [a.text for a in args if a.quoted]
    if any("\udc80" <= ch <= "\udcff" for text in quoted for ch in text):
        raise Refused(Cme.MQTT_ILLEGAL_UTF8)
    if any("\x00" in text for text in quoted):
        raise Refused(Cme.MQTT_ILLEGAL_CHARACTER)


def read_open_links(name: str, line: Callable[[Link], str]) -> None:
    """Register the read form of `name` (3.3.2, 3.3.4): `line(link)` for every open
    connection in connect ID order, then OK."""

    @handles(name, "read")
    async def read_form(ctx: Context, cmd: Command) -> None:
        for link in ctx.module.links.opened():
            ctx.info(line(link))
        ctx.ok()


def retry_policy(module: ModuleState, connect_id: int) -> Callable[[], Retry]:
    """T1/retries read live from AT+QMTCFG="timeout" (not in NOTE 6's before-open list, so
    a change applies to the next operation)."""

    def policy() -> Retry:
        cfg = module.mqtt[connect_id]
        return Retry(module.scaled(cfg.pkt_timeout), cfg.retry_times)

    return policy


# --- URCs ----------------------------------------------------------------------------------


def recv_urc(connect_id: int, msg: Delivered, cfg: MqttConfig) -> str:
    """Chapter 5.2 `+QMTRECV: <id>,<msgID>,<topic>[,<payload_len>],<payload>`, topic and
    payload quoted as chapter 6 prints them. <payload_len> only with AT+QMTCFG="showrecvlen"
    1, and it counts payload bytes (DECIDED: also in hex mode, where the text is twice as
    long). recv_format 1 prints the payload as upper-case hex text. Figure 1 spells the
    URC +QMTRCV; chapter 5 and the examples say +QMTRECV (DESIGN "unclear" list)."""
    payload = msg.payload.hex().upper() if cfg.recv_format == 1 else decode(msg.payload)
    length = f",{len(msg.payload)}" if cfg.show_recv_len == 1 else ""
    return f'+QMTRECV: {connect_id},{msg.packet_id},"{msg.topic}"{length},"{payload}"'


def on_link_event(ctx: Context, module: ModuleState, link: Link, event: Event) -> None:
    """The engine's events for one link: inbound messages and link loss become URCs."""
    if isinstance(event, Delivered):
        cfg = module.mqtt[link.connect_id]
        if module.profile.has("qmtrecv-no-len"):
            cfg = replace(cfg, show_recv_len=0)  # a faulty firmware: 5.2 <payload_len> never shown
        ctx.urc(recv_urc(link.connect_id, event, cfg))
    elif isinstance(event, LinkLost):
        # Chapter 5 Table 3: "the client will close the MQTT connection and report the URC"
        module.links.drop(link)
        code = event.code
        if code is StatCode.PEER_CLOSED and module.profile.has("qmtstat-peer-close-7"):
            code = StatCode.LINK_DEAD  # a faulty firmware: the peer's close reported as "link not alive"
        elif (code is StatCode.PEER_CLOSED and link.client.state is ConnState.INITIALIZING
              and module.profile.has("idle-open-close-7")):
            # observed-a05 (observations facts 33, 53): the broker dropping a link opened but never
            # sent CONNECT is reported +QMTSTAT: <id>,7, not 1.
            code = StatCode.LINK_DEAD
        ctx.urc(f"+QMTSTAT: {link.connect_id},{int(code)}")
