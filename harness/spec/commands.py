"""The MQTT commands of 3.3.1-3.3.8 as data: every form (test, read, write) with its syntax as
the note writes it, the write forms' parameters in order, the response and result URC formats,
and the exact test-form line the suite expects.

Test-form lines are the suite's reading of the note: ranges "(lo-hi)", two-value lists "(0,1)",
string parameters as their placeholder, as chapter 6 prints "+QMTCONN: (0-4),<clientID>,..." and
"+QMTSUB: (0-4),(1-65535),<topic>,(0-2),...". Where that reading is a guess the form says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import qmtcfg
from .model import Entry, IntParam, Param, StrParam
from .timing import RESPONSE_TIMES


@dataclass(frozen=True)
class Form:
    id: str  # e.g. "3.3.2/QMTOPEN/write"
    kind: str  # test | read | write
    syntax: str  # the command as the note writes it
    quote: str  # the note's line for this form
    params: tuple[Param, ...] = ()  # write forms: in command order
    required: int = 0  # how many leading params must be given
    repeat: int = 0  # how many trailing params may repeat (topic lists of 3.3.6/3.3.7)
    response: tuple[str, ...] = ()  # information response before OK, as the note writes it
    urc: str = ""  # the result URC after OK
    test_line: str = ""  # test forms: the exact line the suite expects (AT+QMTCFG=?: its lines, "\n"-joined)
    prompt: bool = False  # "> " then data mode
    unclear: str | None = None


@dataclass(frozen=True)
class Command:
    name: str  # "+QMTOPEN"
    section: str
    title: str  # the heading as the note writes it
    forms: tuple[Form, ...]
    params: tuple[Param, ...]  # the parameter table, in the note's order
    notes: tuple[tuple[int, str], ...] = ()

    @property
    def short(self) -> str:
        return self.name.lstrip("+")

    def form(self, kind: str, label: str = "") -> Form:
        want = f"{self.section}/{self.short}/{kind}" + (f"/{label}" if label else "")
        for f in self.forms:
            if f.id == want:
                return f
        raise KeyError(f"{self.name} has no form {want}")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no parameter <{name}>")


def _cid(sec: str) -> IntParam:
    return IntParam("TCP_connectID", sec, 0, 4, None, qmtcfg.CONNECT_ID.quote)


def _timers(sec: str) -> tuple[IntParam, IntParam]:
    return (IntParam("pkt_timeout", sec, 1, 60, 30, "<pkt_timeout> ... Range: 1–60. Default value: 30."),
            IntParam("retry_times", sec, 0, 10, 0, "<retry_times> ... Range: 0–10. Default value: 0."))


# The form builders: a form's id and the test and read syntax follow from the section and command name,
# so each form below states only what the note prints for it.
def _test(sec: str, name: str, quote: str, test_line: str, unclear: str | None = None) -> Form:
    """The test form AT<name>=? with the note's line and the exact line the suite expects."""
    return Form(f"{sec}/{name.lstrip('+')}/test", "test", f"AT{name}=?", quote, test_line=test_line, unclear=unclear)


def _read(sec: str, name: str, line: str, unclear: str) -> Form:
    """The read form AT<name>?, whose one response line is also the note's line for the form."""
    return Form(f"{sec}/{name.lstrip('+')}/read", "read", f"AT{name}?", line, response=(line,), unclear=unclear)


def _write(sec: str, name: str, syntax: str, params: tuple[Param, ...], required: int, *, label: str = "",
           quote: str = "", **kw: Any) -> Form:
    """A write form; the note's line is the syntax itself unless `quote` is given (3.3.8's three forms)."""
    form_id = f"{sec}/{name.lstrip('+')}/write" + (f"/{label}" if label else "")
    return Form(form_id, "write", syntax, quote or syntax, params, required, **kw)


def _cid_only(name: str, sec: str, title: str) -> Command:
    """A command whose one parameter is <TCP_connectID>: AT+QMTCLOSE (3.3.3) and AT+QMTDISC (3.3.5),
    which the note prints alike but for the name (test form, write form, result URC)."""
    return Command(name, sec, title, (
        _test(sec, name, f"{name}: (range of supported <TCP_connectID>s)", f"{name}: (0-4)"),
        _write(sec, name, f"AT{name}=<TCP_connectID>", (_cid(sec),), 1, urc=f"{name}: <TCP_connectID>,<result>"),
    ), (_cid(sec),))


_QOS = ((0, "At most once"), (1, "At least once"), (2, "Exactly once"))
_ERR = "ERROR Or +CME ERROR: <err>"

# 3.3.1 -------------------------------------------------------------------------------------------
_cfg_forms = [Form("3.3.1/QMTCFG/test", "test", "AT+QMTCFG=?", qmtcfg.TEST_FORM_QUOTE,
                   response=qmtcfg.TEST_LINES, test_line="\n".join(qmtcfg.TEST_LINES))]
_cfg_forms += [Form(f"3.3.1/QMTCFG/write/{it.name}", "write", it.syntax, it.quote,
                    params=(qmtcfg.CONNECT_ID, *it.params), required=1, response=(it.query,))
               for it in qmtcfg.ITEMS.values()]
QMTCFG = Command("+QMTCFG", "3.3.1", "AT+QMTCFG Configure Optional Parameters of MQTT", tuple(_cfg_forms),
                 (qmtcfg.CONNECT_ID, *(p for it in qmtcfg.ITEMS.values() for p in it.params)), qmtcfg.NOTES)

# 3.3.2 -------------------------------------------------------------------------------------------
_S = "3.3.2"
HOST_NAME = StrParam("host_name", _S, 0, 100, "<host_name> String type. The address of the server. ... "
                     "Maximum length: 100 bytes.")
PORT = IntParam("port", _S, 1, 65535, None, "<port> Integer type. The port of the server. Range: 1–65535.")
QMTOPEN = Command("+QMTOPEN", _S, "AT+QMTOPEN Open a Network Connection for MQTT Client", (
    _test(_S, "+QMTOPEN", "+QMTOPEN: (range of supported <TCP_connectID>s),<host_name>,(range of supported <port>s)",
          "+QMTOPEN: (0-4),<host_name>,(1-65535)"),
    _read(_S, "+QMTOPEN", "[+QMTOPEN: <TCP_connectID>,<host_name>,<port>]",
          "one line per open connect ID assumed; chapter 6 prints <host_name> in quotes"),
    _write(_S, "+QMTOPEN", "AT+QMTOPEN=<TCP_connectID>,<host_name>,<port>", (_cid(_S), HOST_NAME, PORT), 3,
           urc="+QMTOPEN: <TCP_connectID>,<result>"),
), (_cid(_S), HOST_NAME, PORT))

# 3.3.3 -------------------------------------------------------------------------------------------
_S = "3.3.3"
QMTCLOSE = _cid_only("+QMTCLOSE", _S, "AT+QMTCLOSE Close a Network Connection for MQTT Client")

# 3.3.4 -------------------------------------------------------------------------------------------
_S = "3.3.4"
CLIENT_ID = StrParam("clientID", _S, 0, 128, "<clientID> String type. The client identifier. Maximum length: "
                     "128 bytes.")
USER_NAME = StrParam("user_name", _S, 0, 256, "<user_name> String type. User name of the client; used for "
                     "authentication. Maximum length: 256 bytes.")
PASS_WORD = StrParam("pass_word", _S, 0, 256, "<pass_word> String type with double quotes. Password corresponding "
                     "to the user name of", secret=True)
STATE = IntParam("state", _S, 1, 4, None, "<state> Integer type. MQTT connection state.",
                 meanings=((1, "MQTT connection is initializing"), (2, "connecting"), (3, "connected"),
                           (4, "disconnecting")))
QMTCONN = Command("+QMTCONN", _S, "AT+QMTCONN Connect a Client to MQTT Server", (
    _test(_S, "+QMTCONN", "+QMTCONN: (range of supported <TCP_connectID>s),<clientID>,<username>,<password>",
          "+QMTCONN: (0-4),<clientID>,<username>,<password>"),  # printed so in 6.1
    _read(_S, "+QMTCONN", "[+QMTCONN: <TCP_connectID>,<state>]",
          "which connect IDs are listed (open ones? connected ones?) is not said"),
    _write(_S, "+QMTCONN", "AT+QMTCONN=<TCP_connectID>,<clientID>[,<username>[,<password>]]",
           (_cid(_S), CLIENT_ID, USER_NAME, PASS_WORD), 2, urc="+QMTCONN: <TCP_connectID>,<result>[,<ret_code>]"),
), (_cid(_S), CLIENT_ID, USER_NAME, PASS_WORD, STATE, *_timers(_S)), (
    (1, "A client already connected to the server must be disconnected from the server before the CONNECT"),))

# 3.3.5 -------------------------------------------------------------------------------------------
_S = "3.3.5"
QMTDISC = _cid_only("+QMTDISC", _S, "AT+QMTDISC Disconnect a Client from MQTT Server")

# 3.3.6 -------------------------------------------------------------------------------------------
_S = "3.3.6"
SUB_MSGID = IntParam("msgID", _S, 1, 65535, None, "<msgID> Integer type. Message identifier of packet. "
                     "Range: 1–65535.")
SUB_TOPIC = StrParam("topic", _S, 0, 256, "<topic> String type. The topic that the client wants to subscribe to. "
                     "Maximum length: 256")
SUB_QOS = IntParam("QoS", _S, 0, 2, None, "<QoS> Integer type. The QoS level at which the client wants to publish "
                   "messages.", meanings=_QOS)
QMTSUB = Command("+QMTSUB", _S, "AT+QMTSUB Subscribe to Topics", (
    _test(_S, "+QMTSUB", "+QMTSUB: (range of supported <TCP_connectID>s),(range of supported <msgID>s),<topic1>",
          "+QMTSUB: (0-4),(1-65535),<topic>,(0-2),<topic>,(0-2),…",  # printed so in 6.1
          "syntax says <topic1>...<QoS2>s)..., 6.1 prints <topic> and a Unicode ellipsis"),
    _write(_S, "+QMTSUB", "AT+QMTSUB=<TCP_connectID>,<msgID>,<topic1>,<QoS1>[,<topic2>,<QoS2>…]",
           (_cid(_S), SUB_MSGID, SUB_TOPIC, SUB_QOS), 4, repeat=2,
           urc="+QMTSUB: <TCP_connectID>,<msgID>,<result>[,<value>…]",
           unclear="the note gives no maximum number of topics per command"),
), (_cid(_S), SUB_MSGID, SUB_TOPIC, SUB_QOS, *_timers(_S)), (
    (1, "<msgID> of each message in the inflight window of a particular communication must be"),))

# 3.3.7 -------------------------------------------------------------------------------------------
_S = "3.3.7"
UNS_MSGID = IntParam("msgID", _S, 1, 65535, None, SUB_MSGID.quote)
UNS_TOPIC = StrParam("topic", _S, 0, 256, "<topic> String type. The topic that the client wants to unsubscribe "
                     "from. Maximum length: 256 bytes.")
QMTUNS = Command("+QMTUNS", _S, "AT+QMTUNS Unsubscribe from Topics", (
    _test(_S, "+QMTUNS",
          "+QMTUNS: (range of supported <TCP_connectID>s),(range of supported <msgID>s),<topic1>,<topic2>…",
          "+QMTUNS: (0-4),(1-65535),<topic>,<topic>,…", "no example; written by analogy with 6.1's AT+QMTSUB=? line"),
    _write(_S, "+QMTUNS", "AT+QMTUNS=<TCP_connectID>,<msgID>,<topic1>[,<topic2>…]", (_cid(_S), UNS_MSGID, UNS_TOPIC),
           3, repeat=1, urc="+QMTUNS: <TCP_connectID>,<msgID>,<result>"),
), (_cid(_S), UNS_MSGID, UNS_TOPIC, *_timers(_S)))

# 3.3.8 -------------------------------------------------------------------------------------------
_S = "3.3.8"
PUB_MSGID = IntParam("msgID", _S, 0, 65535, None, "<msgID> Integer type. Message identifier of packet. "
                     "Range: 0–65535. It should be set to 0", unclear="0 at QoS 0 is a 'should' (harness.spec.unclear)")
PUB_QOS = IntParam("QoS", _S, 0, 2, None, "<QoS> Integer type. The QoS level at which the client wants to publish "
                   "the messages.", meanings=_QOS)
RETAIN = IntParam("retain", _S, 0, 1, None, "<retain> Integer type. Whether or not the message will be retained "
                  "by the server after it has", meanings=((0, "The message will not be retained"),
                                                          (1, "The message will be retained")))
PUB_TOPIC = StrParam("topic", _S, 0, 256, "<topic> String type. Topic to which the message is to be published. "
                     "Maximum length: 256")
MSG = StrParam("msg", _S, 0, None, "<msg> String type. Message to be published.")
MSG_LEN = IntParam("msg_len", _S, 0, 1460, None, "The range of the data length in text mode is 0–1460.")
MSG_LEN_HEX = IntParam("msg_len", _S, 0, 730, None, "The range of the data length in hex mode is 0–730.")
_PUB_URC = "+QMTPUB: <TCP_connectID>,<msgID>,<result>[,<value>]"
_PUB5 = (_cid(_S), PUB_MSGID, PUB_QOS, RETAIN, PUB_TOPIC)
QMTPUB = Command("+QMTPUB", _S, "AT+QMTPUB Publish Messages", (
    _test(_S, "+QMTPUB", "+QMTPUB: (range of supported <TCP_connectID>s),",
          "+QMTPUB: (0-4),(0-65535),(0-2),(0,1),<topic>,(0-1460),<msg>",
          '6.1 prints "+QMTPUB : " with a space; text-mode (0-1460) assumed whatever <send_format>'),
    # The three write forms differ by their trailing parameters, each with its own line in the note.
    *(_write(_S, "+QMTPUB", f"AT+QMTPUB={','.join(f'<{p.name}>' for p in params)}", params, len(params),
             label=label, quote=quote, urc=_PUB_URC, prompt=label != "inline")
      for label, params, quote in (
          ("data_variable", _PUB5, "Publish variable-length messages in data mode"),
          ("data_fixed", (*_PUB5, MSG_LEN), "Publish fixed-length messages in data mode"),
          ("inline", (*_PUB5, MSG_LEN, MSG), "Publish fixed-length messages in non-data mode"))),
), (*_PUB5, MSG, MSG_LEN, *_timers(_S)), (
    (1, "If this command is executed successfully and responded with OK, the client is able to continue to"),
    (2, "The part of data that exceeds 1460 bytes is omitted."),
    (3, "+QMTRECV: <TCP_connectID>,<msgID>,<topic>[,<payload_len>],<payload>"),
    (4, "<result>=2 indicates a packet transmission timeout or a case of stack block."),
    (5, "After entering data mode, if no data is sent in 60 s, the module will exit data mode."),
))

COMMANDS: dict[str, Command] = {c.name: c for c in (QMTCFG, QMTOPEN, QMTCLOSE, QMTCONN, QMTDISC, QMTSUB,
                                                       QMTUNS, QMTPUB)}

DATA_MODE_MAX_BYTES = 1460  # 3.3.8 note 2
DATA_MODE_IDLE_EXIT_S = 60.0  # 3.3.8 note 5, module seconds


def split_args(text: str) -> list[str]:
    """Split a parameter list on commas outside double quotes (quotes kept)."""
    out, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


# Position of secret arguments (3.3.1 <device_secret>, 3.3.4 <pass_word>) in a command's parameter list.
_SECRET_ARGS = {'AT+QMTCFG="ALIAUTH"': 4, "AT+QMTCONN": 3}


def _secret_index(line: str) -> tuple[str, list[str], int | None]:
    head, sep, rest = line.partition("=")
    if not sep or rest.startswith("?"):
        return head, [], None
    args = split_args(rest)
    key = head.strip().upper()
    if key == "AT+QMTCFG" and args and args[0].strip().upper() == '"ALIAUTH"':
        key = 'AT+QMTCFG="ALIAUTH"'
    idx = _SECRET_ARGS.get(key)
    return head, args, idx if idx is not None and len(args) > idx else None


def redact(line: str) -> str:
    """The command line with secret arguments replaced by "***", for transcripts and logs."""
    head, args, idx = _secret_index(line)
    if idx is None:
        return line
    args[idx] = '"***"' if args[idx].strip().startswith('"') else "***"
    return f"{head}={','.join(args)}"


def secrets_in(line: str) -> list[str]:
    """The secret values a command line carries (unquoted), so a transcript can hide them
    wherever they come back: the echo, a query response, a log line."""
    _head, args, idx = _secret_index(line)
    if idx is None:
        return []
    value = args[idx].strip()
    value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return [value] if value else []


def entries() -> list[Entry]:
    out: list[Entry] = []
    for cmd in COMMANDS.values():
        sec, short = cmd.section, cmd.short
        if cmd is not QMTCFG:  # 3.3.1's parameters and notes come from harness.spec.qmtcfg
            out += [Entry(f"{sec}/{short}/{p.name}", "param", sec, p.quote, p.unclear) for p in cmd.params]
            out += [Entry(f"{sec}/{short}/note/{n}", "note", sec, q) for n, q in cmd.notes]
            rt = RESPONSE_TIMES[cmd.name]
            out.append(Entry(f"{sec}/{short}/max_response_time", "time", sec, rt.source))
        out.append(Entry(f"{sec}/{short}", "command", sec, cmd.title))
        if cmd is not QMTCFG:  # 3.3.1's forms are entries of harness.spec.qmtcfg (one per item)
            out += [Entry(f.id, "form", sec, f.quote, f.unclear) for f in cmd.forms]
    out.append(Entry("3.3.8/QMTPUB/msg_len_hex", "param", "3.3.8", MSG_LEN_HEX.quote))
    return out
