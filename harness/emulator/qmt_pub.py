"""AT+QMTSUB, AT+QMTUNS, AT+QMTPUB (3.3.6-3.3.8), with the conventions of qmt_conn.py.

Result URCs follow the <result>/<value> tables of each section: 0 with the ACK's data,
1 for each retransmission when AT+QMTCFG="timeout" <timeout_notice> is 1, 2 when the
retries ran out (then +QMTSTAT: <id>,6, chapter 5 Table 4, follows).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from harness.emulator.api import Arg, Command, Context, answer, encode, handles
from harness.emulator.errors import Cme, Refused, need
from harness.emulator.mqtt_client import MqttClient
from harness.emulator.mqtt_types import Outcome, SendResult
from harness.emulator.qmt_common import INVALID_PARAMETER, TOPIC_MAX, int_arg, refuse_not_utf8, str_arg
from harness.emulator.state import CONNECT_IDS, Link, ModuleState

TEXT_MAX = 1460  # 3.3.8 <msg_len> "in text mode is 0–1460"; NOTE 2 data mode limit
HEX_MAX = 730  # 3.3.8 <msg_len> "in hex mode is 0–730"


def _notice(ctx: Context, module: ModuleState, link: Link, prefix: str,
            with_count: bool) -> Callable[[int], None]:
    """on_retry for the engine: `<prefix>,1[,<count>]` when timeout_notice is 1 (read live)."""

    silent = module.profile.has("missing-timeout-notice")
    retransmit = int(SendResult.RETRANSMIT)

    def on_retry(count: int) -> None:
        if module.mqtt[link.connect_id].timeout_notice == 1 and not silent:
            ctx.urc(f"{prefix},{retransmit},{count}" if with_count else f"{prefix},{retransmit}")

    return on_retry


async def _finish(ctx: Context, link: Link, msg_id: int, prefix: str,
                  op: Awaitable[Outcome], values: bool) -> None:
    try:
        outcome = await op
    finally:
        link.in_flight.discard(msg_id)
    if outcome.result is SendResult.ACKED:
        tail = "".join(f",{v}" for v in outcome.values) if values else ""
        ctx.urc(f"{prefix},0{tail}")
    else:
        ctx.urc(f"{prefix},{int(SendResult.FAILED)}")  # <value> "will not be presented"


def _claim(ctx: Context, cid: int, msg_id: int) -> Link:
    """The connected link for `cid` with `msg_id` reserved (else 8503 / 8507).
    DECIDED: a msgID still in flight on the connect ID is +CME ERROR: 8507 (3.3.6 NOTE:
    "<msgID> of each message in the inflight window ... must be unique")."""
    link = ctx.module.links.connected(cid)
    if link is None:
        raise Refused(Cme.MQTT_LINK_LAYER_ERROR)
    if msg_id and msg_id in link.in_flight and not ctx.module.profile.has("inflight-msgid-reused"):
        raise Refused(INVALID_PARAMETER)
    return link


def _exchange(ctx: Context, name: str, args: tuple[Arg, ...],
              op: Callable[[MqttClient, int, Callable[[int], None]], Awaitable[Outcome]],
              *, with_count: bool, values: bool) -> None:
    """AT+QMTSUB / AT+QMTUNS after their topics: claim <TCP_connectID>,<msgID>, answer OK and
    run `op(client, msgID, on_retry)`, whose outcome becomes the `<name>: <id>,<msgID>,...` URC."""
    cid, msg_id = int_arg(args[0], CONNECT_IDS), int_arg(args[1], range(1, 65536))
    link = _claim(ctx, cid, msg_id)
    link.in_flight.add(msg_id)
    prefix = f"{name}: {link.connect_id},{msg_id}"
    on_retry = _notice(ctx, ctx.module, link, prefix, with_count=with_count)
    ctx.ok()
    ctx.spawn(_finish(ctx, link, msg_id, prefix, op(link.client, msg_id, on_retry), values=values))


# --- AT+QMTSUB (3.3.6) -------------------------------------------------------------------

# Chapter 6 prints `+QMTSUB: (0-4),(1-65535),<topic>,(0-2),<topic>,(0-2),…`;
# DECIDED: "..." in ASCII (the "…" is the document's typography, not UART output).
answer("+QMTSUB", "test", "+QMTSUB: (0-4),(1-65535),<topic>,(0-2),<topic>,(0-2),...")


@handles("+QMTSUB", "write")
async def qmtsub(ctx: Context, cmd: Command) -> None:
    args = cmd.args
    refuse_not_utf8(ctx.module, args)
    if len(args) < 4 or len(args) % 2:
        raise Refused(INVALID_PARAMETER)
    topics = [(str_arg(t_arg, 1, TOPIC_MAX), int_arg(q_arg, range(3)))
              for t_arg, q_arg in zip(args[2::2], args[3::2], strict=True)]
    granted = not ctx.module.profile.has("sub-no-granted-qos")  # 3.3.6 <value>: granted QoS list
    _exchange(ctx, "+QMTSUB", args, lambda client, msg_id, on_retry: client.subscribe(msg_id, topics, on_retry),
              with_count=True, values=granted)


# --- AT+QMTUNS (3.3.7) -------------------------------------------------------------------

answer("+QMTUNS", "test", "+QMTUNS: (0-4),(1-65535),<topic>,<topic>,...")


@handles("+QMTUNS", "write")
async def qmtuns(ctx: Context, cmd: Command) -> None:
    args = cmd.args
    refuse_not_utf8(ctx.module, args)
    if len(args) < 3:
        raise Refused(INVALID_PARAMETER)
    topics = [str_arg(a, 1, TOPIC_MAX) for a in args[2:]]
    # DECIDED: 3.3.7 `+QMTUNS: <id>,<msgID>,<result>` has no <value>, so a retransmission
    # is reported as `+QMTUNS: <id>,<msgID>,1` without a count.
    _exchange(ctx, "+QMTUNS", args, lambda client, msg_id, on_retry: client.unsubscribe(msg_id, topics, on_retry),
              with_count=False, values=False)


# --- AT+QMTPUB (3.3.8) -------------------------------------------------------------------


def _inline_message(cmd: Command) -> str | None:
    """The <msg> of the non-data-mode form, taken from the raw line after the sixth comma
    outside quotes, so a payload with quotes and commas (chapter 6's
    `17,"{"a":"1","b":"2"}"`) arrives intact. None when it is not quoted."""
    raw = cmd.raw
    eq = raw.find("=")
    text: str | None = None
    if eq >= 0:
        commas, quoted = 0, False
        for i, ch in enumerate(raw[eq + 1:], start=eq + 1):
            if ch == '"':
                quoted = not quoted
            elif ch == "," and not quoted:
                commas += 1
                if commas == 6:
                    text = raw[i + 1:].strip()
                    break
    if text is None:  # no raw line: fall back to the parsed argument
        arg = cmd.args[6]
        return arg.text if arg.quoted else None
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return None


def _payload(data: bytes, hex_mode: bool) -> bytes | None:
    """Input as typed -> payload. In hex mode (AT+QMTCFG="dataformat" send_format 1) the
    host types hex digits; None when they are not valid hex."""
    if not hex_mode:
        return data
    try:
        return bytes.fromhex(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def _pub_args(args: tuple[Arg, ...], hex_mode: bool) -> tuple[int, int, int, str, int | None]:
    """<msgID>, <qos>, <retain>, <topic>, <msg_len> (None when absent), else 8507."""
    msg_id = int_arg(args[1], range(65536))  # 3.3.8 <msgID> "Range: 0–65535"
    qos = int_arg(args[2], range(3))
    retain = int_arg(args[3], range(2))
    topic = str_arg(args[4], 1, TOPIC_MAX)
    length = int_arg(args[5], range((HEX_MAX if hex_mode else TEXT_MAX) + 1)) if len(args) > 5 else None
    # DECIDED: <msgID> 0 at QoS 1/2 is an error ([MQTT-2.3.1-1]: packet ids are non-zero);
    # a non-zero <msgID> at QoS 0 is accepted ("should be set to 0") and echoed in the URC,
    # the PUBLISH carries no packet id.
    if qos and not msg_id:
        raise Refused(INVALID_PARAMETER)
    return msg_id, qos, retain, topic, length


# DECIDED: chapter 6 prints `+QMTPUB : (0-4),...` with a space before the colon
# (DESIGN "unclear" list); we print `+QMTPUB: ` like every other response.
answer("+QMTPUB", "test", "+QMTPUB: (0-4),(0-65535),(0-2),(0,1),<topic>,(0-1460),<msg>")


@handles("+QMTPUB", "write")
async def qmtpub(ctx: Context, cmd: Command) -> None:
    args = cmd.args
    if len(args) < 5:
        raise Refused(INVALID_PARAMETER)
    refuse_not_utf8(ctx.module, args[4:5])  # the topic; the message is payload, any bytes
    module = ctx.module
    cid = int_arg(args[0], CONNECT_IDS)
    cfg = module.mqtt[cid]
    hex_mode = cfg.send_format == 1
    msg_id, qos, retain, topic, length = _pub_args(args, hex_mode)
    if ("+" in topic or "#" in topic) and not module.profile.has("pub-wildcard-topic-sent"):
        # [MQTT-3.3.2-2] a topic name holds no wildcard. DECIDED: chapter 4 8505 "MQTT illegal
        # character" before anything is sent (the note says nothing of wildcards in <topic>).
        raise Refused(Cme.MQTT_ILLEGAL_CHARACTER)
    inline = _inline_message(cmd) if len(args) > 6 else None
    if len(args) > 6 and inline is None:
        raise Refused(INVALID_PARAMETER)
    link = _claim(ctx, cid, msg_id if qos else 0)
    if qos:
        link.in_flight.add(msg_id)
    try:
        payload = await _read_payload(ctx, cfg.echo_mode == 1, hex_mode, length, inline)
    except BaseException:
        link.in_flight.discard(msg_id)
        raise
    if payload is None:
        # DECIDED: Esc (or the 60 s data-mode limit, 3.3.8 NOTE 5) cancels: OK, nothing
        # is published and no +QMTPUB URC follows ("tap Esc to cancel the operation").
        link.in_flight.discard(msg_id)
        ctx.ok()
        return
    if module.links.connected(cid) is not link:
        # the link was lost while the host typed the data: nothing to publish on
        link.in_flight.discard(msg_id)
        raise Refused(Cme.MQTT_LINK_LAYER_ERROR)
    prefix = f"+QMTPUB: {cid},{msg_id}"
    on_retry = _notice(ctx, module, link, prefix, with_count=True)
    ctx.ok()
    # 3.3.8 NOTE 1: the host may publish again after the final result; the flow runs on.
    ctx.spawn(_finish(ctx, link, msg_id, prefix,
                      link.client.publish(msg_id, topic, payload, qos, retain == 1, on_retry),
                      values=False))


async def _read_payload(ctx: Context, echo: bool, hex_mode: bool, length: int | None,
                        inline: str | None) -> bytes | None:
    """The payload bytes, None when cancelled; 8507 when it is not what <msg_len> and the
    data format ask for."""
    if inline is not None:
        # DECIDED: as in the fixed-length data-mode form ("Length of the data must be equal
        # to <msg_len>"), the inline <msg> must be exactly <msg_len> bytes (after hex decoding).
        payload = _payload(encode(inline), hex_mode)
        if payload is None or len(payload) != length:
            raise Refused(INVALID_PARAMETER)
        return payload
    if length is None:
        data = await ctx.read_data(echo=echo)
        if data is None:
            return None
        # 3.3.8 NOTE 2: "The part of data that exceeds 1460 bytes is omitted." In hex mode
        # the 1460 typed characters carry 730 bytes (<msg_len> "hex mode is 0–730").
        limit = None if ctx.module.profile.has("no-truncate-1460") else TEXT_MAX
        return need(_payload(data[:limit], hex_mode), INVALID_PARAMETER)
    if length == 0:
        # DECIDED: <msg_len> 0 publishes an empty message without entering data mode
        # (there is nothing to wait for).
        return b""
    # DECIDED: in hex mode <msg_len> counts payload bytes, so the host types 2 x <msg_len>
    # hex digits.
    data = await ctx.read_data(length=length * 2 if hex_mode else length, echo=echo)
    if data is None:
        return None
    return need(_payload(data, hex_mode), INVALID_PARAMETER)
