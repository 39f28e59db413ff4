"""AT+QMTCFG (3.3.1) as data: the connect ID and all ten items, their parameters in command
order, the query responses, the test form's lines, the defaults and the numbered notes.

Defaults: where the note prints "Default value: N" it is cited; the other defaults were marked by
underlining (3.1.1 "Underline Default setting of a parameter."), which the text lost. Those are
decided here, flagged `unclear`, and listed in harness.spec.unclear.
"""

from __future__ import annotations

from .model import CfgItem, Entry, IntParam, StrParam

SECTION = "3.3.1"
S = SECTION
LOST = "default lost with the note's underlining (3.1.1); {} assumed, an observation"

CONNECT_ID = IntParam("TCP_connectID", SECTION, 0, 4, None,
                      "<TCP_connectID> Integer type. MQTT socket identifier. Range: 0–4.")

_QOS_MEANINGS = ((0, "At most once"), (1, "At least once"), (2, "Exactly once"))


def _one_value(name: str, param: IntParam, test_name: str = "") -> CfgItem:
    """An item with one value after <TCP_connectID> ("session", "keepalive", "version", "showrecvlen",
    "echomode"): the note prints their write form and query response alike but for the names."""
    return CfgItem(name, S, (param,), f'AT+QMTCFG="{name}",<TCP_connectID>[,<{param.name}>]',
                   query=f"+QMTCFG: <{param.name}>", test_name=test_name)


WILL = CfgItem(
    "will", S,
    (
        IntParam("will_fg", S, 0, 1, 0, "<will_fg> Integer type. Configuration of Will flag.",
                 unclear=LOST.format("0 (no will)"),
                 meanings=((0, "Ignore Will flag configuration"), (1, "Require Will flag configuration"))),
        IntParam("will_QoS", S, 0, 2, None, "<will_QoS> Integer type. QoS for message delivery.",
                 meanings=_QOS_MEANINGS),
        IntParam("will_retain", S, 0, 1, None,
                 "<will_retain> Integer type. Specifies if the Will message is to be retained when it is published.",
                 meanings=((0, "When a client sends a Will message to a server, the server does not retain"),
                           (1, "When a client sends a Will message to a server, the server retains the message"))),
        StrParam("will_topic", S, 1, 256,
                 "<will_topic> String type. The topic of the Will message. The length range is 1–256 bytes."),
        StrParam("will_msg", S, 1, 256,
                 "<will_msg> String type. The payload of the Will message ... The length range is 1–256 bytes."),
    ),
    'AT+QMTCFG="will",<TCP_connectID>[,<will_fg>[,<will_QoS>,<will_retain>,<will_topic>,<will_msg>]]',
    counts=(0, 1, 5),
    query="+QMTCFG: <will_fg>[,<will_QoS>,<will_retain>,<will_topic>,<will_msg>]",
)

TIMEOUT = CfgItem(
    "timeout", S,
    (
        IntParam("pkt_timeout", S, 1, 60, 30,
                 "<pkt_timeout> ... Timeout of the packet delivery. Range: 1–60. Default value: 30."),
        IntParam("retry_times", S, 0, 10, 0,
                 "<retry_times> ... Range: 0–10. Default value: 0."),
        IntParam("timeout_notice", S, 0, 1, 0,
                 "<timeout_notice> Integer type. Whether to report timeout message ... 0 Not report 1 Report",
                 unclear="default underline lost in the text; 0 (not report) assumed",
                 meanings=((0, "Not report"), (1, "Report"))),
    ),
    'AT+QMTCFG="timeout",<TCP_connectID>[,<pkt_timeout>[,<retry_times>][,<timeout_notice>]]',
    counts=(0, 1, 2, 3),
    query="+QMTCFG: <pkt_timeout>,<retry_times>,<timeout_notice>",
)

SESSION = _one_value("session", IntParam(
    "clean_session", S, 0, 1, 1, "<clean_session> Integer type. Configure the type of a session.",
    unclear=LOST.format("1 (clean session)"), meanings=((0, "Non-clean session"), (1, "Clean session"))))

KEEPALIVE = _one_value("keepalive", IntParam(
    "keep_alive_time", S, 0, 3600, 120, "<keep_alive_time> Integer type. Keep-alive time. Range: 0–3600. "
    "Default value: 120.", meanings=((0, "The client is not disconnected"),)))

ALIAUTH = CfgItem(
    "aliauth", S,
    (
        StrParam("product_key", S, 0, 64,
                 "<product_key> String type. Product key obtained from Alibaba Cloud. Maximum length: 64 bytes."),
        StrParam("device_name", S, 0, 64,
                 "<device_name> String type. Device name obtained from Alibaba Cloud. Maximum length: 64 bytes."),
        StrParam("device_secret", S, 0, 64,
                 "<device_secret> String type. Device secret obtained from Alibaba Cloud. Maximum length: 64 bytes.",
                 secret=True),
    ),
    'AT+QMTCFG="aliauth",<TCP_connectID>[,<product_key>,<device_name>,<device_secret>]',
    counts=(0, 3),
    query="[+QMTCFG: <product_key>,<device_name>,<device_secret>]",
    query_optional=True,
)

VERSION = _one_value("version", IntParam(
    "version_num", S, 0, 1, 1, "<version_num> Integer type. MQTT version number",
    unclear=LOST.format("1 (MQTT 3.1.1)"), meanings=((0, "MQTT version 3.1.0"), (1, "MQTT version 3.1.1"))))

SHOWRECVLEN = _one_value("showrecvlen", IntParam(
    "show_flag", S, 0, 1, 0, "<show_flag> Integer type. Indicates whether to show the length of received data",
    unclear=LOST.format("0 (not shown)"),
    meanings=((0, "Not show the length of received data"), (1, "Show the length of received data"))))

ECHOMODE = _one_value("echomode", IntParam(
    "echo_mode", S, 0, 1, 0, "<echo_mode> Integer type. Whether to echo input data to the UART in data mode.",
    unclear=LOST.format("0 (no echo)"),
    meanings=((0, "Not echo input data to the UART"), (1, "Echo input data to the UART"))),
    test_name="echo_mode")  # 3.3.1 test form: +QMTCFG: "echo_mode",... (harness.spec.unclear)

DATAFORMAT = CfgItem(
    "dataformat", S,
    (
        IntParam("send_format", S, 0, 1, 0, "<send_format> Integer type. The data format for sending.",
                 unclear=LOST.format("0 (text)"), meanings=((0, "Text mode"), (1, "Hex mode"))),
        IntParam("recv_format", S, 0, 1, 0, "<recv_format> Integer type. The data format for receiving.",
                 unclear=LOST.format("0 (text)"), meanings=((0, "Text mode"), (1, "Hex mode"))),
    ),
    'AT+QMTCFG="dataformat",<TCP_conn ... ectID>[,<send_format>,<recv_format>]',  # split by the note's layout
    counts=(0, 2),
    query="+QMTCFG: <send_format>,<recv_format>",
)

SSL = CfgItem(
    "ssl", S,
    (
        IntParam("SSL_enable", S, 0, 1, 0,
                 "<SSL_enable> Integer type. Indicates whether to use SSL/TLS secure connection for MQTT.",
                 unclear=LOST.format("0 (no SSL)"),
                 meanings=((0, "Do not use SSL/TLS TCP secure connection"), (1, "Use SSL/TLS TCP secure connection"))),
        IntParam("SSL_contextID", S, 0, 10, 0,
                 "<SSL_contextID> Integer type. SSL context ID. Range: 0–10. Currently only 0 is supported.",
                 supported=(0,),
                 unclear="range 0-10 but only 0 supported: 1-10 accepted or refused is an observation"),
        IntParam("SSL_connectID", S, 0, 4, 0,
                 "<SSL_connectID> Integer type. SSL connect ID. Range: 0–4. Currently only 0 is supported.",
                 supported=(0,),
                 unclear="range 0-4 but only 0 supported: 1-4 accepted or refused is an observation"),
    ),
    'AT+QMTCFG="ssl",<TCP_connectID>[,<SSL_enable>[,<SSL_contextID>,<SSL_connectID>]]',
    counts=(0, 1, 3),
    query="+QMTCFG: <SSL_enable>[,<SSL_contextID>,<SSL_connectID>]",
)

# In the order of the note's test form (3.3.1), which the test response keeps.
ITEMS = {item.name: item for item in
         (WILL, TIMEOUT, SESSION, KEEPALIVE, ALIAUTH, VERSION, SHOWRECVLEN, ECHOMODE, DATAFORMAT, SSL)}

# The suite's reading of the test form's lines (placeholders printed literally, as chapter 6 does).
TEST_LINES: tuple[str, ...] = tuple(item.test_line(CONNECT_ID) for item in ITEMS.values())
TEST_FORM_QUOTE = "+QMTCFG: \"will\",(range of supported <TCP_connectID>s),(list of supported <will_fg>s)"

# The writes that put one connect ID back to its defaults: the `modem` fixture's known state.
# Where the note prints a default it is cited above; the rest lost their underline in the text
# and are decided here (DESIGN.md "Where the application note is unclear").
DEFAULT_WRITES: tuple[tuple[str, str], ...] = (
    ("will", "0"),  # <will_fg> 0: no will (decided)
    ("timeout", "30,0,0"),  # 30 and 0 printed; timeout_notice 0 decided
    ("session", "1"),  # clean session (decided)
    ("keepalive", "120"),  # printed
    ("version", "1"),  # MQTT 3.1.1 (decided)
    ("showrecvlen", "0"),  # decided
    ("echomode", "0"),  # decided
    ("dataformat", "0,0"),  # text/text (decided)
    ("ssl", "0"),  # no SSL (decided)
)

MAX_RESPONSE_QUOTE = "Maximum Response Time 300 ms"
CHARACTERISTICS = ("The command takes effect immediately.", "The configuration will not be saved.")

# 3.3.1 NOTE, numbered as the note numbers them: (number, quote, what the suite takes from it).
NOTES: tuple[tuple[int, str], ...] = (
    (1, "<will_QoS>, <will_retain>, <will_topic> and <will_msg> must be specified when <will_fg>=1"),
    (2, "<clean_session>=1 is valid only when the server supports session cleaning."),
    (3, "Care must be taken to ensure message delivery does not time out while it is still being sent."),
    (4, 'AT+QMTCFG="aliauth" is only applicable to Alibaba Cloud.'),
    (5, "The configuration of <echo_mode> is only valid in data transmission mode."),
    (6, 'The settings of "will", "session", "keepalive", "aliauth", "version" and "ssl" have to be'),
)


def entries() -> list[Entry]:
    out = [Entry(f"{S}/TCP_connectID", "param", S, CONNECT_ID.quote),
           Entry(f"{S}/test", "form", S, TEST_FORM_QUOTE),
           Entry(f"{S}/max_response_time", "time", S, MAX_RESPONSE_QUOTE)]
    out += [Entry(f"{S}/characteristics/{i}", "note", S, q) for i, q in enumerate(CHARACTERISTICS, 1)]
    for item in ITEMS.values():
        out.append(Entry(f"{S}/{item.name}", "cfg_item", S, item.quote))
        out.append(Entry(f"{S}/{item.name}/query", "form", S, item.query))
        test_unclear = "test form spells the item differently" if item.test_name else None
        out.append(Entry(f"{S}/{item.name}/test_line", "form", S,
                         f'+QMTCFG: "{item.test_name or item.name}"', test_unclear))
        out += [Entry(f"{S}/{item.name}/{p.name}", "param", S, p.quote, p.unclear) for p in item.params]
    out += [Entry(f"{S}/note/{n}", "note", S, q) for n, q in NOTES]
    return out
