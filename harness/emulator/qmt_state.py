"""State and helpers shared by the MQTT command handlers (qmt_conn.py, qmt_pub.py).

One `QmtState` per power cycle lives in ModuleState.ext["qmt"]; ext["qmt_open"] is the set of
connect IDs with an open network connection, read by the AT+QMTCFG handler (3.3.1 NOTE 6).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from harness.emulator.api import Arg, Command, Context, ModuleState
from harness.emulator.mqtt_client import MqttClient
from harness.emulator.mqtt_config import MqttConfig, configs
from harness.emulator.mqtt_types import ConnState, Delivered, Event, LinkLost, Retry, StatCode
from harness.emulator.profiles import profile_of

INVALID_PARAMETER = 8507  # chapter 4 Table 2 "MQTT invalid parameter"
LINK_LAYER_ERROR = 8503  # chapter 4 Table 2 "MQTT link layer error"
ID_RANGE = (0, 4)  # 3.3.2-3.3.8 <TCP_connectID> "Range: 0–4"
TOPIC_MAX = 256  # 3.3.6-3.3.8 <topic> "Maximum length: 256 bytes"


@dataclass
class Link:
    """One connect ID from AT+QMTOPEN until the connection is closed or lost."""

    connect_id: int
    host: str
    port: int
    client: MqttClient
    opened: bool = False  # TCP established (+QMTOPEN: <id>,0 reported)
    in_flight: set[int] = field(default_factory=set)  # msgIDs awaiting their result


class QmtState:
    def __init__(self, module: ModuleState) -> None:
        self.links: dict[int, Link] = {}
        opened = module.ext.get("qmt_open")
        if not isinstance(opened, set):
            opened = set()
            module.ext["qmt_open"] = opened
        self.open_ids: set[int] = opened

    def drop(self, link: Link) -> None:
        """Forget `link` (only if it is still the current one for its connect ID)."""
        if self.links.get(link.connect_id) is link:
            del self.links[link.connect_id]
            self.open_ids.discard(link.connect_id)

    def connected(self, connect_id: int) -> Link | None:
        link = self.links.get(connect_id)
        if link is None or not link.opened or link.client.state is not ConnState.CONNECTED:
            return None
        return link

    async def power_off(self) -> None:
        """Called by the front end on power-off/reset: every socket closes."""
        links = list(self.links.values())
        self.links.clear()
        self.open_ids.clear()
        await asyncio.gather(*(link.client.close() for link in links), return_exceptions=True)


def state(module: ModuleState) -> QmtState:
    st = module.ext.get("qmt")
    if not isinstance(st, QmtState):
        st = QmtState(module)
        module.ext["qmt"] = st
    return st


def retry_policy(module: ModuleState, connect_id: int) -> Callable[[], Retry]:
    """T1/retries read live from AT+QMTCFG="timeout" (not in NOTE 6's before-open list, so
    a change applies to the next operation)."""

    def policy() -> Retry:
        cfg = configs(module.ext)[connect_id]
        return Retry(module.scaled(cfg.pkt_timeout), cfg.retry_times)

    return policy


# --- parameter parsing -------------------------------------------------------------------


def int_arg(arg: Arg, lo: int, hi: int) -> int | None:
    """An unquoted integer in lo..hi, else None (-> +CME ERROR: 8507)."""
    value = arg.as_int()
    return value if value is not None and lo <= value <= hi else None


def str_arg(arg: Arg, lo: int, hi: int) -> str | None:
    """A quoted string of lo..hi bytes, else None. DECIDED: "String type" parameters must be
    quoted, as every example of chapter 6 does."""
    if not arg.quoted:
        return None
    size = len(encode(arg.text))
    return arg.text if lo <= size <= hi else None


ILLEGAL_UTF8 = 8506  # chapter 4 Table 2 "MQTT illegal UTF8"


def write_form(ctx: Context, cmd: Command, test_line: str,
               read_line: Callable[[int, Link], str] | None = None) -> bool:
    """Answer the test form with its line and, for commands that have one (3.3.2, 3.3.4), the
    read form with `read_line` for every open connect ID in order; refuse any other form with
    ERROR. True when the write form is to be handled."""
    if cmd.form == "test":
        ctx.info(test_line)
        ctx.ok()
        return False
    if cmd.form == "read" and read_line is not None:
        links = state(ctx.module).links
        for cid in sorted(links):
            if links[cid].opened:
                ctx.info(read_line(cid, links[cid]))
        ctx.ok()
        return False
    if cmd.form != "write":
        ctx.error()
        return False
    return True


def close_or_disc_id(ctx: Context, cmd: Command) -> int | None:
    """The one <TCP_connectID> of AT+QMTCLOSE / AT+QMTDISC, or None after answering 8507."""
    cid = int_arg(cmd.args[0], *ID_RANGE) if len(cmd.args) == 1 else None
    if cid is None:
        ctx.error(INVALID_PARAMETER)
    return cid


def not_utf8(args: tuple[Arg, ...]) -> bool:
    """A quoted string that did not arrive as UTF-8: MQTT strings (topics) must be UTF-8
    ([MQTT-1.5.3-1]), and chapter 4 has a code for it. The front end keeps invalid bytes as
    surrogate escapes, so they show here."""
    return any(a.quoted and any("\udc80" <= ch <= "\udcff" for ch in a.text) for a in args)


def encode(text: str) -> bytes:
    """Bytes as they crossed the UART (the front end decodes lines with surrogateescape)."""
    return text.encode("utf-8", "surrogateescape")


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


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
        cfg = configs(module.ext)[link.connect_id]
        if profile_of(module).has("qmtrecv-no-len"):
            cfg = replace(cfg, show_recv_len=0)  # a faulty firmware: 5.2 <payload_len> never shown
        ctx.urc(recv_urc(link.connect_id, event, cfg))
    elif isinstance(event, LinkLost):
        # Chapter 5 Table 3: "the client will close the MQTT connection and report the URC"
        state(module).drop(link)
        code = event.code
        if code is StatCode.PEER_CLOSED and profile_of(module).has("qmtstat-peer-close-7"):
            code = StatCode.LINK_DEAD  # a faulty firmware: the peer's close reported as "link not alive"
        ctx.urc(f"+QMTSTAT: {link.connect_id},{int(code)}")
