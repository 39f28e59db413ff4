"""AT+QMTCFG, the optional MQTT parameters per connect ID (application note 3.3.1).

Decisions where the note leaves room (each cites the note):
- The test response prints the parameter placeholders literally (`<will_topic>`), as the note's
  own examples do for other test commands (chapter 6: `+QMTCONN: (0-4),<clientID>,...`), and
  says "echo_mode" where the write command says "echomode" (3.3.1 test vs write form; DESIGN
  lists the contradiction). Only "echomode" is accepted in the write form.
- Item names match case-insensitively (chapter 5.2 writes AT+QMTCFG="SHOWRECVLEN") but must be
  quoted. An item the BC660K-GL does not have ("pdpcid", "clean_session", "recv/mode", ... of
  other Quectel modules) answers plain ERROR, like an unknown command.
- Every bad value (missing connect ID, out of range, wrong type, quoted integer, unquoted
  string, wrong parameter count) answers +CME ERROR: 8507 "MQTT invalid parameter" (chapter 4).
- Query forms print no item name: `+QMTCFG: <values>` as each write form's response shows.
- "will" (NOTE 1): <will_fg>=1 needs all four will fields. <will_fg>=0 "should" omit them:
  accepted with them too (validated, then discarded); a partial list is rejected.
  Query: `+QMTCFG: 0` without a will, `+QMTCFG: 1,<QoS>,<retain>,"<topic>","<msg>"` with one.
- "ssl": query prints `+QMTCFG: 0` when off, `+QMTCFG: 1,<ctx>,<conn>` when on. The context
  and connect IDs are in range 0-10 / 0-4 but "Currently only 0 is supported": others -> 8507.
- "timeout" follows its brackets `[,<pkt_timeout>[,<retry_times>][,<timeout_notice>]]`:
  `<id>,<pkt>`, `<id>,<pkt>,<retry>`, `<id>,<pkt>,<retry>,<notice>` and, with the
  retry field left empty, `<id>,<pkt>,,<notice>`; omitted values keep their previous value
  (3.1.1 "[...]").
- "aliauth" strings are 1-64 bytes (the note gives only the maximum; an empty key is useless).
- NOTE 6: "will", "session", "keepalive", "aliauth", "version" and "ssl" "have to be configured
  before executing AT+QMTOPEN": writing them while connect ID n has an open network
  connection is rejected with 8507 (queries still answer). The MQTT side keeps the
  connections in ModuleState.links (state.Links.is_open).
- `AT+QMTCFG="version",4` is the note's query form for connect ID 4 and answers like one,
  although hosts written for other modules mean "set version 4": the note decides.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.emulator.api import Arg, Command, Context, answer, handles
from harness.emulator.errors import Cme, Refused
from harness.emulator.profiles import Profile
from harness.emulator.qmt_common import INVALID_PARAMETER, int_arg, str_arg
from harness.emulator.state import CONNECT_IDS, AliAuth, MqttConfig

BIT = range(2)

TEST_LINES = (
    '+QMTCFG: "will",(0-4),(0,1),(0-2),(0,1),<will_topic>,<will_msg>',
    '+QMTCFG: "timeout",(0-4),(1-60),(0-10),(0,1)',
    '+QMTCFG: "session",(0-4),(0,1)',
    '+QMTCFG: "keepalive",(0-4),(0-3600)',
    '+QMTCFG: "aliauth",(0-4),<product_key>,<device_name>,<device_secret>',
    '+QMTCFG: "version",(0-4),(0,1)',
    '+QMTCFG: "showrecvlen",(0-4),(0,1)',
    '+QMTCFG: "echo_mode",(0-4),(0,1)',
    '+QMTCFG: "dataformat",(0-4),(0,1),(0,1)',
    '+QMTCFG: "ssl",(0-4),(0,1),(0-10),(0-4)',
)

NOTE6_ITEMS = frozenset({"will", "session", "keepalive", "aliauth", "version", "ssl"})


def _flag(field: str) -> ItemFn:
    """An item with one 0/1 value stored in `field`."""

    def item(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
        if not args:
            return [str(getattr(cfg, field))]
        if len(args) != 1:
            raise Refused(INVALID_PARAMETER)
        setattr(cfg, field, int_arg(args[0], BIT))
        return []

    return item


def _will(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        if cfg.will_fg:
            return [f'1,{cfg.will_qos},{cfg.will_retain},"{cfg.will_topic}","{cfg.will_msg}"']
        return ["0"]
    fg = int_arg(args[0], BIT)
    if len(args) == 1:
        if fg == 1:
            raise Refused(INVALID_PARAMETER)  # NOTE 1: the four will fields "must be specified when <will_fg>=1"
        values = (0, 0, 0, "", "")
    elif len(args) == 5:
        qos, retain = int_arg(args[1], range(3)), int_arg(args[2], BIT)
        topic, msg = str_arg(args[3], 1, 256), str_arg(args[4], 1, 256)
        values = (1, qos, retain, topic, msg) if fg else (0, 0, 0, "", "")
    else:
        raise Refused(INVALID_PARAMETER)
    cfg.will_fg, cfg.will_qos, cfg.will_retain, cfg.will_topic, cfg.will_msg = values
    return []


def _timeout(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        return [f"{cfg.pkt_timeout},{cfg.retry_times},{cfg.timeout_notice}"]
    if len(args) > 3:
        raise Refused(INVALID_PARAMETER)
    pkt = int_arg(args[0], range(1, prof.pkt_timeout_max + 1))  # 3.3.1 <pkt_timeout> "Range: 1–60"
    retry = cfg.retry_times
    if len(args) >= 2 and not (len(args) == 3 and args[1] == Arg("", False)):
        retry = int_arg(args[1], range(11))
    notice = int_arg(args[2], BIT) if len(args) == 3 else cfg.timeout_notice
    cfg.pkt_timeout, cfg.retry_times, cfg.timeout_notice = pkt, retry, notice
    return []


def _keepalive(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        return [str(cfg.keepalive)]
    if len(args) != 1:
        raise Refused(INVALID_PARAMETER)
    cfg.keepalive = int_arg(args[0], range(prof.keepalive_max + 1))  # 3.3.1 "Range: 0–3600"
    return []


def _aliauth(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        a = cfg.aliauth
        return [f'"{a.product_key}","{a.device_name}","{a.device_secret}"'] if a else []
    if len(args) != 3:
        raise Refused(INVALID_PARAMETER)
    cfg.aliauth = AliAuth(*(str_arg(a, 1, 64) for a in args))
    return []


def _dataformat(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        return [f"{cfg.send_format},{cfg.recv_format}"]
    if len(args) != 2:
        raise Refused(INVALID_PARAMETER)
    cfg.send_format, cfg.recv_format = int_arg(args[0], BIT), int_arg(args[1], BIT)
    return []


def _ssl(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        return [f"1,{cfg.ssl_ctx},{cfg.ssl_conn}" if cfg.ssl_enable else "0"]
    enable = int_arg(args[0], BIT)
    if len(args) == 1:
        ctx_id, conn_id = cfg.ssl_ctx, cfg.ssl_conn
    elif len(args) == 3:
        ctx_id, conn_id = int_arg(args[1], range(11)), int_arg(args[2], range(5))
        if ctx_id != 0 or conn_id != 0:
            raise Refused(INVALID_PARAMETER)  # 3.3.1 "Currently only 0 is supported"
    else:
        raise Refused(INVALID_PARAMETER)
    cfg.ssl_enable, cfg.ssl_ctx, cfg.ssl_conn = enable, ctx_id, conn_id
    return []


ItemFn = Callable[[MqttConfig, tuple[Arg, ...], Profile], list[str]]

ITEMS: dict[str, ItemFn] = {
    "will": _will,
    "timeout": _timeout,
    "session": _flag("clean_session"),
    "keepalive": _keepalive,
    "aliauth": _aliauth,
    "version": _flag("version"),
    "showrecvlen": _flag("show_recv_len"),
    "echomode": _flag("echo_mode"),
    "dataformat": _dataformat,
    "ssl": _ssl,
}


answer("+QMTCFG", "test", *TEST_LINES)


@handles("+QMTCFG", "write")
async def qmtcfg(ctx: Context, cmd: Command) -> None:
    if not cmd.args[0].quoted:
        ctx.error()
        return
    name = cmd.args[0].text.lower()
    item = ITEMS.get(name)
    if item is None:
        ctx.error()  # not a BC660K-GL item (e.g. another module's "pdpcid")
        return
    module = ctx.module
    try:
        if len(cmd.args) < 2:
            raise Refused(INVALID_PARAMETER)
        cid = int_arg(cmd.args[1], CONNECT_IDS)
        rest = cmd.args[2:]
        if rest and name in NOTE6_ITEMS and module.links.is_open(cid):
            raise Refused(INVALID_PARAMETER)  # 3.3.1 NOTE 6: configure before AT+QMTOPEN
        scratch = _copy(module.mqtt[cid])
        lines = item(scratch, rest, module.profile)
    except Refused:
        ctx.error(Cme.MQTT_ILLEGAL_PACKET if module.profile.has("wrong-error-code") else INVALID_PARAMETER)
        return
    if rest:  # all or nothing, into the same object the MQTT side reads
        vars(module.mqtt[cid]).update(vars(scratch))
    for line in lines:
        ctx.info(f"+QMTCFG: {line}")
    ctx.ok()


def _copy(cfg: MqttConfig) -> MqttConfig:
    return MqttConfig(**vars(cfg))
