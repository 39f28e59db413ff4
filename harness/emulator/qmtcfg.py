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
  connection is rejected with 8507 (queries still answer). The MQTT side keeps the open IDs
  in ModuleState.ext["qmt_open"] (a set of ints; missing means none is open).
- `AT+QMTCFG="version",4` is the note's query form for connect ID 4 and answers like one,
  although hosts written for other modules mean "set version 4": the note decides.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.emulator.api import Arg, Command, Context, command
from harness.emulator.mqtt_config import CONNECT_IDS, AliAuth, MqttConfig, configs
from harness.emulator.profiles import Profile, profile_of

INVALID = 8507  # chapter 4 Table 2 "MQTT invalid parameter"
ILLEGAL_PACKET = 8504  # chapter 4 Table 2: only the "wrong-error-code" firmware profile answers it here
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


class Invalid(Exception):
    """A parameter the note does not allow: answered with +CME ERROR: 8507."""


def _int(arg: Arg, allowed: range) -> int:
    v = arg.as_int() if arg.text.strip() else None  # api.Arg.as_int("") raises IndexError
    if v is None or v not in allowed:
        raise Invalid
    return v


def _str(arg: Arg, lo: int, hi: int) -> str:
    if not arg.quoted or not lo <= len(arg.text.encode("utf-8", "surrogateescape")) <= hi:
        raise Invalid
    return arg.text


def _flag(field: str) -> ItemFn:
    """An item with one 0/1 value stored in `field`."""

    def item(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
        if not args:
            return [str(getattr(cfg, field))]
        if len(args) != 1:
            raise Invalid
        setattr(cfg, field, _int(args[0], BIT))
        return []

    return item


def _will(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        if cfg.will_fg:
            return [f'1,{cfg.will_qos},{cfg.will_retain},"{cfg.will_topic}","{cfg.will_msg}"']
        return ["0"]
    fg = _int(args[0], BIT)
    if len(args) == 1:
        if fg == 1:
            raise Invalid  # NOTE 1: the four will fields "must be specified when <will_fg>=1"
        values = (0, 0, 0, "", "")
    elif len(args) == 5:
        qos, retain = _int(args[1], range(3)), _int(args[2], BIT)
        topic, msg = _str(args[3], 1, 256), _str(args[4], 1, 256)
        values = (1, qos, retain, topic, msg) if fg else (0, 0, 0, "", "")
    else:
        raise Invalid
    cfg.will_fg, cfg.will_qos, cfg.will_retain, cfg.will_topic, cfg.will_msg = values
    return []


def _timeout(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        return [f"{cfg.pkt_timeout},{cfg.retry_times},{cfg.timeout_notice}"]
    if len(args) > 3:
        raise Invalid
    pkt = _int(args[0], range(1, prof.pkt_timeout_max + 1))  # 3.3.1 <pkt_timeout> "Range: 1–60"
    retry = cfg.retry_times
    if len(args) >= 2 and not (len(args) == 3 and args[1] == Arg("", False)):
        retry = _int(args[1], range(11))
    notice = _int(args[2], BIT) if len(args) == 3 else cfg.timeout_notice
    cfg.pkt_timeout, cfg.retry_times, cfg.timeout_notice = pkt, retry, notice
    return []


def _keepalive(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        return [str(cfg.keepalive)]
    if len(args) != 1:
        raise Invalid
    cfg.keepalive = _int(args[0], range(prof.keepalive_max + 1))  # 3.3.1 "Range: 0–3600"
    return []


def _aliauth(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        a = cfg.aliauth
        return [f'"{a.product_key}","{a.device_name}","{a.device_secret}"'] if a else []
    if len(args) != 3:
        raise Invalid
    cfg.aliauth = AliAuth(*(_str(a, 1, 64) for a in args))
    return []


def _dataformat(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        return [f"{cfg.send_format},{cfg.recv_format}"]
    if len(args) != 2:
        raise Invalid
    cfg.send_format, cfg.recv_format = _int(args[0], BIT), _int(args[1], BIT)
    return []


def _ssl(cfg: MqttConfig, args: tuple[Arg, ...], prof: Profile) -> list[str]:
    if not args:
        return [f"1,{cfg.ssl_ctx},{cfg.ssl_conn}" if cfg.ssl_enable else "0"]
    enable = _int(args[0], BIT)
    if len(args) == 1:
        ctx_id, conn_id = cfg.ssl_ctx, cfg.ssl_conn
    elif len(args) == 3:
        ctx_id, conn_id = _int(args[1], range(11)), _int(args[2], range(5))
        if ctx_id != 0 or conn_id != 0:
            raise Invalid  # 3.3.1 "Currently only 0 is supported"
    else:
        raise Invalid
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


def open_ids(ext: dict[str, object]) -> set[int]:
    """Connect IDs with an open network connection, as the MQTT side records them."""
    ids = ext.get("qmt_open")
    return set(ids) if isinstance(ids, set | frozenset) else set()


@command("+QMTCFG")
async def qmtcfg(ctx: Context, cmd: Command) -> None:
    if cmd.form == "test":
        for line in TEST_LINES:
            ctx.info(line)
        ctx.ok()
        return
    if cmd.form != "write" or not cmd.args[0].quoted:
        ctx.error()
        return
    name = cmd.args[0].text.lower()
    item = ITEMS.get(name)
    if item is None:
        ctx.error()  # not a BC660K-GL item (e.g. another module's "pdpcid")
        return
    try:
        if len(cmd.args) < 2:
            raise Invalid
        cid = _int(cmd.args[1], CONNECT_IDS)
        rest = cmd.args[2:]
        if rest and name in NOTE6_ITEMS and cid in open_ids(ctx.module.ext):
            raise Invalid  # 3.3.1 NOTE 6: configure before AT+QMTOPEN
        scratch = _copy(configs(ctx.module.ext)[cid])
        lines = item(scratch, rest, profile_of(ctx.module))
    except Invalid:
        ctx.error(ILLEGAL_PACKET if profile_of(ctx.module).has("wrong-error-code") else INVALID)
        return
    if rest:  # all or nothing, into the same object the MQTT side reads
        vars(configs(ctx.module.ext)[cid]).update(vars(scratch))
    for line in lines:
        ctx.info(f"+QMTCFG: {line}")
    ctx.ok()


def _copy(cfg: MqttConfig) -> MqttConfig:
    return MqttConfig(**vars(cfg))
