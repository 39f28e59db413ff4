"""AT+QMTCFG (3.3.1) as data. First slice: the connect ID, "keepalive" and "timeout"."""

from __future__ import annotations

from .model import CfgItem, IntParam

SECTION = "3.3.1"

CONNECT_ID = IntParam("TCP_connectID", SECTION, 0, 4, None,
                      "<TCP_connectID> Integer type. MQTT socket identifier. Range: 0–4.")

KEEPALIVE = CfgItem(
    "keepalive", SECTION,
    (IntParam("keep_alive_time", SECTION, 0, 3600, 120,
              "<keep_alive_time> Integer type. Keep-alive time. Range: 0–3600. Default value: 120."),),
    'AT+QMTCFG="keepalive",<TCP_connectID>[,<keep_alive_time>]',
)

TIMEOUT = CfgItem(
    "timeout", SECTION,
    (
        IntParam("pkt_timeout", SECTION, 1, 60, 30,
                 "<pkt_timeout> ... Timeout of the packet delivery. Range: 1–60. Default value: 30."),
        IntParam("retry_times", SECTION, 0, 10, 0,
                 "<retry_times> ... Range: 0–10. Default value: 0."),
        IntParam("timeout_notice", SECTION, 0, 1, 0,
                 "<timeout_notice> Integer type. Whether to report timeout message ... 0 Not report 1 Report",
                 unclear="default underline lost in the text; 0 (not report) assumed"),
    ),
    'AT+QMTCFG="timeout",<TCP_connectID>[,<pkt_timeout>[,<retry_times>][,<timeout_notice>]]',
)

ITEMS = {item.name: item for item in (KEEPALIVE, TIMEOUT)}

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
