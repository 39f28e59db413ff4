"""Where the application note gives no single answer (DESIGN.md "Where the application note is
unclear"): each entry quotes the lines that disagree and says what the suite does about it.

`stance` is "verdict" when the suite still passes/fails on its reading (the note's weight is
clearly on one side), "observation" when a case only records what the firmware does (per
firmware, diffed between firmware versions), "mixed" when part is a verdict and part recorded;
`decision` says which part is which.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Entry


@dataclass(frozen=True)
class Unclear:
    id: str
    topic: str
    quotes: tuple[tuple[str, str], ...]  # (section, at most one line of the note)
    decision: str
    stance: str  # verdict | observation | mixed

    @property
    def section(self) -> str:
        return self.quotes[0][0]


U = Unclear
_LOST = ("3.1.1", "Underline Default setting of a parameter.")

UNCLEAR: tuple[Unclear, ...] = (
    U("unclear/echomode_name", '"echomode" in the write form, "echo_mode" in the test form', (
        ("3.3.1", '+QMTCFG: "echo_mode",(range of supported <TCP_'),
        ("3.3.1", 'AT+QMTCFG="echomode",<TCP_connectID>[,<echo_mode>]')),
        'Verdict: writes and queries use "echomode"; the test form prints "echo_mode" as the note prints it. '
        'Observation: whether a write with "echo_mode" is accepted.', "mixed"),
    U("unclear/qmtrcv_name", "Figure 1 names the receive URC +QMTRCV, the rest of the note +QMTRECV", (
        ("2", "+QMTRCV:"),
        ("5.2", "+QMTRECV: <TCP_connectID>,<msgID>,<topic>[,<payload_len>],<payload>")),
        "Verdict: +QMTRECV (3.3.8 note 3, chapter 5, both examples); Figure 1 is taken as a typo. A +QMTRCV "
        "line is recorded as an observation and fails the case that waited for +QMTRECV.", "verdict"),
    U("unclear/qmtpub_test_space", 'the example prints "+QMTPUB : " with a space before the colon', (
        ("6.1", "+QMTPUB : (0-4),(0-65535),(0-2),(0,1),<topic>,(0-1460),<msg>"),
        ("3.3.8", "+QMTPUB: (range of supported <TCP_connectID>s),")),
        'Verdict on the ranges after the colon; the suite expects "+QMTPUB: " like 3.3.8 and every other '
        'response, and records a space before the colon as an observation.', "mixed"),
    U("unclear/lost_defaults", "defaults marked only by underlining, lost in the text", (
        _LOST, ("3.3.1", "<version_num> Integer type. MQTT version number"),
        ("3.3.1", "<clean_session> Integer type. Configure the type of a session."),
        ("3.3.1", "<timeout_notice> Integer type. Whether to report timeout message")),
        "harness.spec.qmtcfg decides will_fg 0, timeout_notice 0, clean_session 1, version_num 1, show_flag 0, "
        "echo_mode 0, send/recv_format 0, SSL_enable 0; the known state writes them. What a fresh module "
        "(after reset) reads back for these is an observation; printed defaults (30, 0, 120) are verdicts.",
        "mixed"),
    U("unclear/pub_msgid_qos0", "<msgID> other than 0 at QoS 0; <msgID> 0 at QoS 1/2", (
        ("3.3.8", "Range: 0–65535. It should be set to 0 when <QoS>=0."),
        ("3.3.6", "The <msgID> is only present in messages where the QoS bits in the fixed header indicate that")),
        "Observation: the AT answer to a non-zero <msgID> at QoS 0 and to <msgID> 0 at QoS 1/2. Verdict on the "
        "wire only: a QoS 0 PUBLISH carries no packet identifier and a QoS 1/2 PUBLISH never carries 0 "
        "(MQTT 3.1.1 2.3.1).", "mixed"),
    U("unclear/cfg_while_open", 'changing "will"/"session"/"keepalive"/"aliauth"/"version"/"ssl" while open', (
        ("3.3.1", 'The settings of "will", "session", "keepalive", "aliauth", "version" and "ssl" have to be'),
        ("3.3.1", "The command takes effect immediately.")),
        "Observation: the AT answer (OK or error) and whether the next CONNECT uses the new value. Verdict cases "
        "configure these items only before AT+QMTOPEN.", "observation"),
    U("unclear/qmtstat_codes", "which +QMTSTAT code follows which failure; +QMTSTAT after AT+QMTDISC", (
        ("5.1", "When the state of the MQTT link layer is changed, the client will close the MQTT connection"),
        ("5.1", "The client sent a DISCONNECT packet to the sever but the server took the initiative in closing")),
        "Verdict: after a link failure some +QMTSTAT: <id>,<1..7> arrives and the connect ID is closed. The code "
        "is an observation against the suite's expectation (peer close 1, PINGRESP lost 2, CONNECT not sent 3, "
        "CONNACK lost 4, retries exhausted 6, server unreachable 7); whether +QMTSTAT: <id>,5 follows "
        "AT+QMTDISC is an observation.", "mixed"),
    U("unclear/timeout_notice_format", "Figure 1's timeout reports vs the result URCs of 3.3.6-3.3.8", (
        ("2", "+QMT***: <TCP_connectID>,<type>,…"),
        ("3.3.6", "When <result>=1, it is the number of times of packet retransmission.")),
        "Verdict: a retransmission report has the 3.3.x shape <id>,<msgID>,1,<count>; Figure 1's order "
        "(<id>,1,<msgId>) and its +QMTPUBREL line are recorded as observations if seen.", "verdict"),
    U("unclear/timeout_write_nesting", "[,<pkt_timeout>[,<retry_times>][,<timeout_notice>]] nests oddly", (
        ("3.3.1", 'AT+QMTCFG="timeout",<TCP_connectI'),
        ("2", 'AT+QMTCFG="timeout",<TCP_connectID>,<pkt_timeout>,<retry_times')),
        "Verdict on the positional reading: 1, 2 or 3 values are pkt_timeout[,retry_times[,timeout_notice]]; "
        "omitted ones keep their previous value (3.1.1). Empty positions (30,,1) are an observation.", "verdict"),
    U("unclear/omitted_optional", "an omitted optional parameter: previous value or default", (
        ("3.1.1", "When an optional parameter is"),
        ("3.1.1", "not given in a command, the new value equals to its previous value or the default")),
        "Read as one rule: the value it had before, which is the default until it is set. Verdict.", "verdict"),
    U("unclear/ssl_only_0", "SSL context/connect ID ranges wider than what is supported", (
        ("3.3.1", "<SSL_contextID> Integer type. SSL context ID. Range: 0–10. Currently only 0 is supported."),
        ("3.3.1", "<SSL_connectID> Integer type. SSL connect ID. Range: 0–4. Currently only 0 is supported.")),
        "Verdict: 0 accepted, 11 and 5 refused, the test form prints (0-10) and (0-4). Observation: whether "
        "1-10 / 1-4 are accepted and what AT+QMTOPEN does with them.", "mixed"),
    U("unclear/conn_test_names", "test form <username>,<password> vs parameters <user_name>,<pass_word>", (
        ("6.1", "+QMTCONN: (0-4),<clientID>,<username>,<password>"),
        ("3.3.4", "<user_name> String type. User name of the client; used for authentication.")),
        "Verdict: the test form prints the line of 6.1 exactly; the names mean the same parameters.", "verdict"),
    U("unclear/sub_test_line", "AT+QMTSUB=? syntax vs the example's line", (
        ("3.3.6", "of supported <msgID>s),<topic1>,(range of supported <QoS"),
        ("6.1", "+QMTSUB: (0-4),(1-65535),<topic>,(0-2),<topic>,(0-2),…")),
        'Verdict on the prefix "+QMTSUB: (0-4),(1-65535),<topic>,(0-2)"; the rest of the line (placeholder '
        "names, ASCII or Unicode ellipsis) is an observation. Same for AT+QMTUNS=?, which has no example.",
        "mixed"),
    U("unclear/pub_test_msg_len", "(0-1460) in the test form whatever <send_format>", (
        ("3.3.8", "The range of the data length in text mode is 0–1460."),
        ("3.3.8", "The range of the data length in hex mode is 0–730.")),
        "Verdict: (0-1460) with the default text format; with hex <send_format> the test line is an "
        "observation. msg_len 731-1460 in hex mode: refused is the verdict (the range says 0-730).", "mixed"),
    U("unclear/pub_fixed_example", "6.2 labels the 7-parameter form 'in data mode'; its <msg> holds quotes", (
        ("6.2", "//Publish fixed-length messages in data mode"),
        ("3.3.8", "Publish fixed-length messages in non-data mode")),
        "The 7-parameter form is the non-data-mode form (3.3.8). A <msg> with embedded double quotes (6.2's "
        '{"a":"1","b":"2"}) is an observation; verdicts use <msg> without quotes.', "mixed"),
    U("unclear/pub_fixed_length_mismatch", "data-mode fixed length: fewer or more bytes than <msg_len>", (
        ("3.3.8", "After > is responded, input the data to be sent. Length of"),
        ("3.3.8", "the data must be equal to <msg_len>.")),
        "Observation: what the module does with short or long input (wait, send at <msg_len>, error).",
        "observation"),
    U("unclear/will_params_with_fg0", "will parameters given with <will_fg>=0", (
        ("3.3.1", "<will_QoS>, <will_retain>, <will_topic> and <will_msg> must be specified when <will_fg>=1"),
        ("3.3.1", "and should be omitted when <will_fg>=0.")),
        "Verdict: will_fg=1 without the four parameters is refused ('must'). Observation: will_fg=0 with them "
        "('should').", "mixed"),
    U("unclear/quoted_strings", "only <pass_word> is called a string 'with double quotes'", (
        ("3.3.4", "<pass_word> String type with double quotes."),
        ("3.3.4", "<clientID> String type. The client identifier. Maximum length: 128 bytes.")),
        "Verdict: every string parameter in double quotes is accepted (all examples quote them). Unquoted "
        "strings are an observation.", "mixed"),
    U("unclear/read_form_lines", "read forms show one optional line; several IDs may be open", (
        ("3.3.2", "[+QMTOPEN: <TCP_connectID>,<host_name>,<port>]"),
        ("3.3.4", "[+QMTCONN: <TCP_connectID>,<state>]")),
        "Verdict: one line per open (AT+QMTOPEN?) / connected (AT+QMTCONN?) connect ID, <host_name> in quotes "
        "as 6.1 prints it. Observation: whether AT+QMTCONN? lists IDs that are open but not connected, and "
        "their <state>.", "mixed"),
    U("unclear/conn_ret_code_presence", "when +QMTCONN carries <ret_code>", (
        ("3.3.4", "+QMTCONN: <TCP_connectID>,<result>[,<ret_code>]"),
        ("3.3.4", "<ret_code> Integer type. Connection status code.")),
        "Verdict: present with <result>=0 (a CONNACK arrived, also for a refusal), absent with 2 (no CONNACK). "
        "With <result>=1 it is an observation.", "mixed"),
    U("unclear/sub_topics_max", "the note gives no maximum number of topics per AT+QMTSUB/AT+QMTUNS", (
        ("3.3.6", "AT+QMTSUB=<TCP_connectID>,<msgID>,<topic1>,<QoS1>[,<topic2>,<QoS2>…]"),
        ("3.3.7", "AT+QMTUNS=<TCP_connectID>,<msgID>,<topic1>[,<topic2>…]")),
        "Verdict: two topics in one command work. The largest count accepted is an observation.", "mixed"),
    U("unclear/disc_close_time", "300 ms for AT+QMTDISC/AT+QMTCLOSE, whose result URC follows network work", (
        ("3.3.5", "Maximum Response Time 300 ms"),
        ("3.3.2", "Maximum Response Time 176 s, determined by network")),
        "Verdict: the 300 ms (x time scale, plus harness.spec.timing.GRACE_S) bounds OK and the result URC.",
        "verdict"),
    U("unclear/recv_hex_payload", "+QMTRECV with <recv_format>=1 and <payload_len>'s unit", (
        ("3.3.1", "<recv_format> Integer type. The data format for receiving."),
        ("5.2", "<payload_len> Integer type. Length of the payload.")),
        "Verdict in text mode: <payload_len> is the payload's byte count. In hex mode the payload's shape "
        "and the unit of <payload_len> are observations.", "mixed"),
    U("unclear/item_name_case", 'chapter 5 writes AT+QMTCFG="SHOWRECVLEN" in capitals', (
        ("5.2", 'You can configure with AT+QMTCFG="SHOWRECVLEN" whether to display'),
        ("3.3.1", 'AT+QMTCFG="showrecvlen",<TCP_con')),
        "Verdict on the lower-case names of 3.3.1; whether capitals are accepted is an observation.",
        "observation"),
    U("unclear/sub_qos0_wording", "3.3.6 says QoS 0 parties 'take additional steps', 3.3.8 'no additional'", (
        ("3.3.6", "take additional steps to acknowledge delivery"),
        ("3.3.8", "take no additional steps to acknowledge delivery")),
        "A typo in 3.3.6; QoS 0 means MQTT's at-most-once everywhere. No case depends on it.", "verdict"),
    U("unclear/examples_quirks", "chapter 6 topics start with a space and reuse <msgID> 1", (
        ("6.1", 'AT+QMTSUB=0,1," /oyjtmPl5a5j/S2fXbFBKh4NSwwyIjSC4/user/get",1'),
        ("6.1", '+QMTRECV: 0,0,"/oyjtmPl5a5j/S2fXbFBKh4NSwwyIjSC4/user/update"')),
        "Examples are illustrations (3.2): the suite replays them with topics without the leading space "
        "and fresh <msgID>s; the literal transcript is kept in harness.spec.examples.", "observation"),
)

BY_ID = {u.id: u for u in UNCLEAR}


def entries() -> list[Entry]:
    return [Entry(u.id, "unclear", u.section, u.quotes[0][1], u.decision) for u in UNCLEAR]
