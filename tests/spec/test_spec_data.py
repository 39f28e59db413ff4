"""harness.spec against the application note itself: every quote occurs in the note, ids are
unique and stable, ranges are sane, and every command, form and code of chapters 3-5 is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import harness.spec as spec
from harness.emulator import qmtcfg as emulator_qmtcfg
from harness.spec import codes, commands, examples, plain, qmtcfg, unclear, urcs
from harness.spec.model import CfgItem, IntParam, StrParam
from harness.spec.timing import RESPONSE_TIMES

NOTE = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / spec.NOTE_FILE
SECTIONS = {"2", "3.1.1", "3.2", *(f"3.3.{i}" for i in range(1, 9)), "4", "5.1", "5.2", "6.1", "6.2"}
QUOTE_MAX = 120  # "at most a line of the note": the note's lines are about 100 characters


@pytest.fixture(scope="module")
def note_text() -> str:
    if not NOTE.is_file():
        pytest.skip(f"application note not found at {NOTE}: quotes cannot be checked")
    return re.sub(r"\s+", "", NOTE.read_text(encoding="utf-8"))


def occurs(quote: str, text: str) -> bool:
    """Every "..."-separated fragment of `quote` occurs in `text`, in order, whitespace ignored
    (the note's text breaks lines, and sometimes words, where its PDF layout did)."""
    pos = 0
    for frag in quote.split("..."):
        frag = re.sub(r"\s+", "", frag)
        if not frag:
            continue
        pos = text.find(frag, pos)
        if pos < 0:
            return False
        pos += len(frag)
    return True


def all_params():
    for cmd in commands.COMMANDS.values():
        yield from ((cmd.name, p) for p in cmd.params)
    yield "+QMTPUB", commands.MSG_LEN_HEX


# ids -------------------------------------------------------------------------------------------------------

def test_entry_ids_are_unique_and_deterministic():
    ids = [e.id for e in spec.ENTRIES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert [e.id for e in spec._collect()] == ids


@pytest.mark.parametrize("entry_id", [
    "3.3.1/TCP_connectID", "3.3.1/keepalive/keep_alive_time", "3.3.1/timeout/pkt_timeout", "3.3.1/echomode",
    "3.3.1/aliauth/device_secret", "3.3.1/note/6", "3.3.2/QMTOPEN/write", "3.3.2/QMTOPEN/result/-1",
    "3.3.4/QMTCONN/ret_code/5", "3.3.4/QMTCONN/state/4", "3.3.6/QMTSUB/value/128", "3.3.8/QMTPUB/write/inline",
    "3.3.8/QMTPUB/note/5", "3.3.8/QMTPUB/max_response_time", "4/8507", "4/8600", "5.1/QMTSTAT/6",
    "5.1/QMTSTAT/8-255", "5.2/QMTRECV/urc", "unclear/echomode_name", "6.1/01", "6.2/15",
])
def test_documented_ids_exist(entry_id):
    """Ids the coverage report and the cases key on; renaming one is a breaking change."""
    assert entry_id in spec.BY_ID


def test_every_entry_names_a_section_of_the_note_and_its_id_starts_with_it():
    for e in spec.ENTRIES:
        assert e.section in SECTIONS, e
        assert e.kind and e.quote, e
        if e.kind != "unclear":
            assert e.id.split("/")[0] == e.section, e


# quotes ----------------------------------------------------------------------------------------------------

def test_every_entry_quote_occurs_in_the_note(note_text):
    missing = [(e.id, e.quote) for e in spec.ENTRIES if not occurs(e.quote, note_text)]
    assert not missing


def test_quotes_are_at_most_a_line():
    assert [e.id for e in spec.ENTRIES if len(e.quote) > QUOTE_MAX] == []
    assert [q for u in unclear.UNCLEAR for _, q in u.quotes if len(q) > QUOTE_MAX] == []


def test_the_occurs_check_can_fail(note_text):
    assert not occurs("Range: 0–5. Default value: 120.", note_text)
    assert not occurs("Maximum Response Time 300 ms ... 8503 MQTT link layer error ... <will_fg>", note_text)


def test_every_unclear_quote_occurs_in_the_note(note_text):
    missing = [(u.id, q) for u in unclear.UNCLEAR for _, q in u.quotes if not occurs(q, note_text)]
    assert not missing


def test_every_plain_reading_quote_occurs_in_the_note_and_is_at_most_a_line(note_text):
    """harness.spec.plain: what --strict quotes when it fails a case is a real line of the note."""
    missing = [(i, q) for i, (_, q) in plain.LINES.items() if not occurs(q, note_text)]
    assert not missing
    assert [i for i, (_, q) in plain.LINES.items() if len(q) > QUOTE_MAX] == []
    assert {sec for sec, _ in plain.LINES.values()} <= SECTIONS


def test_plain_reading_ids_are_known():
    assert plain.qmtstat(1, cid=0).expected == "+QMTSTAT: 0,1" and plain.qmtstat(7).quote.startswith("7 ")
    with pytest.raises(KeyError, match="no plain reading"):
        plain.reading("5.1/QMTSTAT/9", 9)
    with pytest.raises(ValueError):
        plain.qmtstat(8)


def test_every_form_syntax_and_response_format_occurs_in_the_note(note_text):
    for cmd in commands.COMMANDS.values():
        for f in cmd.forms:
            assert occurs(f.quote, note_text), f.id
            assert occurs(f.syntax, note_text) or f.syntax == f.quote.replace(" ... ", ""), f.id
            if f.kind != "test":  # test forms' lines are the suite's reading, checked below
                assert all(occurs(r, note_text) for r in f.response), f.id
            assert not f.urc or occurs(f.urc, note_text), f.id


def test_every_listed_value_meaning_occurs_in_the_note(note_text):
    missing = [(name, p.name, v, m) for name, p in all_params() if isinstance(p, IntParam)
               for v, m in p.meanings if not occurs(f"{v} {m}", note_text)]
    assert not missing


def test_every_example_line_occurs_in_the_note(note_text):
    for sec, steps in examples.EXAMPLES.items():
        for st in steps:
            for text in (st.command or "", *st.lines, st.data or ""):
                if not text.startswith("<"):  # PEM placeholders of 6.2
                    assert occurs(text, note_text), (sec, text)


def test_qmtpub_space_quirk_is_literally_in_the_example():
    raw = re.sub(r"[ \t]+", " ", NOTE.read_text(encoding="utf-8")) if NOTE.is_file() else pytest.skip("no note")
    assert "+QMTPUB : (0-4)" in raw
    step = next(s for s in examples.EXAMPLE_6_1 if s.command == "AT+QMTPUB=?")
    assert step.quirk and step.lines[0].startswith("+QMTPUB : ")


# ranges ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cmd", "param"), list(all_params()), ids=lambda x: getattr(x, "name", x))
def test_ranges_are_sane(cmd, param):
    if isinstance(param, IntParam):
        assert param.lo <= param.hi
        assert param.default is None or param.lo <= param.default <= param.hi
        assert all(param.lo <= v <= param.hi for v in param.valid_values())
        assert all(not param.lo <= v <= param.hi for v in param.invalid_values())
        assert not param.supported or set(param.supported) <= set(range(param.lo, param.hi + 1))
        listed = [v for v, _ in param.meanings]
        assert all(param.lo <= v <= param.hi for v in listed)
        if param.meanings and param.hi - param.lo < 10 and param.name != "keep_alive_time":
            assert listed == list(range(param.lo, param.hi + 1)), "every listed value has its meaning"
    else:
        assert isinstance(param, StrParam)
        assert param.max_len is None or param.min_len <= param.max_len
        for v in param.valid_values():
            assert max(param.min_len, 1) <= len(v.encode()) <= (param.max_len or len(v))
        for v in param.invalid_values():
            assert len(v) < param.min_len or (param.max_len is not None and len(v) > param.max_len)


def test_ranges_match_the_note():
    """The brief's list, checked against the data (each is a line of 3.3.x)."""
    it = qmtcfg.ITEMS
    assert (it["timeout"].param("pkt_timeout").lo, it["timeout"].param("pkt_timeout").hi) == (1, 60)
    assert it["timeout"].param("pkt_timeout").default == 30 and it["timeout"].param("retry_times").hi == 10
    keep_alive = it["keepalive"].param("keep_alive_time")
    assert (keep_alive.hi, keep_alive.default) == (3600, 120)
    assert [(p.min_len, p.max_len) for p in it["will"].params[3:]] == [(1, 256), (1, 256)]
    assert [p.max_len for p in it["aliauth"].params] == [64, 64, 64]
    assert it["ssl"].param("SSL_contextID").hi == 10 and it["ssl"].param("SSL_contextID").supported == (0,)
    assert it["ssl"].param("SSL_connectID").hi == 4 and it["ssl"].param("SSL_connectID").supported == (0,)
    assert dict(it["version"].param("version_num").meanings) == {0: "MQTT version 3.1.0", 1: "MQTT version 3.1.1"}
    assert (commands.HOST_NAME.max_len, commands.PORT.lo, commands.PORT.hi) == (100, 1, 65535)
    assert (commands.CLIENT_ID.max_len, commands.USER_NAME.max_len, commands.PASS_WORD.max_len) == (128, 256, 256)
    assert (commands.SUB_MSGID.lo, commands.UNS_MSGID.lo, commands.PUB_MSGID.lo) == (1, 1, 0)
    assert (commands.MSG_LEN.hi, commands.MSG_LEN_HEX.hi) == (1460, 730)
    assert RESPONSE_TIMES["+QMTOPEN"].seconds() == 176 and RESPONSE_TIMES["+QMTCONN"].seconds(10, 2) == 30


# completeness ----------------------------------------------------------------------------------------------

FORMS = {
    "+QMTCFG": ["test", *(f"write/{n}" for n in qmtcfg.ITEMS)], "+QMTOPEN": ["test", "read", "write"],
    "+QMTCLOSE": ["test", "write"], "+QMTCONN": ["test", "read", "write"], "+QMTDISC": ["test", "write"],
    "+QMTSUB": ["test", "write"], "+QMTUNS": ["test", "write"],
    "+QMTPUB": ["test", "write/data_variable", "write/data_fixed", "write/inline"],
}


def test_every_command_of_3_3_is_present_with_its_forms():
    assert [(c.name, c.section) for c in commands.COMMANDS.values()] == [
        (n, f"3.3.{i}") for i, n in enumerate(FORMS, 1)]
    for name, forms in FORMS.items():
        cmd = commands.COMMANDS[name]
        assert [f.id.split("/", 2)[2] for f in cmd.forms] == forms
        assert name in RESPONSE_TIMES
        for f in cmd.forms:
            if f.kind == "write":
                assert f.params and f.params[0].name == "TCP_connectID" and 1 <= f.required <= len(f.params)
            if f.kind == "test":
                assert f.test_line.startswith(f"{name}: ")


def test_qmtcfg_items_in_test_form_order_with_their_write_counts():
    assert list(qmtcfg.ITEMS) == ["will", "timeout", "session", "keepalive", "aliauth", "version", "showrecvlen",
                                  "echomode", "dataformat", "ssl"]
    counts = {n: it.allowed_counts() for n, it in qmtcfg.ITEMS.items()}
    assert counts["will"] == (0, 1, 5) and counts["timeout"] == (0, 1, 2, 3) and counts["ssl"] == (0, 1, 3)
    assert counts["aliauth"] == (0, 3) and counts["dataformat"] == (0, 2) and counts["keepalive"] == (0, 1)


def test_test_form_lines_as_the_suite_reads_them():
    # The suite's reading, computed from the parameters, is the ten lines the emulator answers, which
    # it writes out from the note (harness/emulator/qmtcfg.py): two readings that share no code agree.
    assert qmtcfg.TEST_LINES == emulator_qmtcfg.TEST_LINES
    assert len(qmtcfg.TEST_LINES) == 10 and qmtcfg.TEST_LINES[7] == '+QMTCFG: "echo_mode",(0-4),(0,1)'
    c = commands.COMMANDS
    assert c["+QMTOPEN"].form("test").test_line == f"+QMTOPEN: (0-4),<host_name>,{commands.PORT.test_range()}"
    example = {s.command: s.lines[0] for s in examples.EXAMPLE_6_1 if s.command}
    assert c["+QMTCONN"].form("test").test_line == example["AT+QMTCONN=?"]
    assert c["+QMTSUB"].form("test").test_line == example["AT+QMTSUB=?"]
    assert c["+QMTPUB"].form("test").test_line == example["AT+QMTPUB=?"].replace("+QMTPUB : ", "+QMTPUB: ")


def test_every_code_of_chapters_3_to_5_is_present():
    ids = spec.BY_ID
    assert all(f"4/{n}" in ids and ids[f"4/{n}"].kind == "error" for n in [*range(8503, 8512), 8600])
    assert [c.value for c in codes.ERRORS] == [*range(8503, 8512), 8600]
    assert all(f"5.1/QMTSTAT/{n}" in ids for n in range(1, 8)) and sorted(codes.QMTSTAT_BY_CODE) == [*range(1, 8)]
    assert codes.values("+QMTOPEN") == [-1, 0, 1, 2, 3, 4]
    assert codes.values("+QMTCLOSE") == codes.values("+QMTDISC") == [-1, 0]
    assert codes.values("+QMTCONN") == codes.values("+QMTSUB") == codes.values("+QMTUNS") == [0, 1, 2]
    assert codes.values("+QMTPUB") == [0, 1, 2]
    assert codes.values("+QMTCONN", "ret_code") == [0, 1, 2, 3, 4, 5]
    assert codes.values("+QMTCONN", "state") == [1, 2, 3, 4]
    assert codes.ERROR_BY_CODE[codes.INVALID_PARAMETER].meaning == "MQTT invalid parameter"


def test_unclear_covers_design_list_and_says_what_the_suite_does():
    for uid in ["echomode_name", "qmtrcv_name", "qmtpub_test_space", "lost_defaults", "pub_msgid_qos0",
                "cfg_while_open", "qmtstat_codes"]:
        assert f"unclear/{uid}" in unclear.BY_ID
    for u in unclear.UNCLEAR:
        assert u.stance in {"verdict", "observation", "mixed"} and u.decision, u.id
        assert len(u.quotes) >= 2 and all(s in SECTIONS for s, _ in u.quotes), u.id
    lost = [p.name for it in qmtcfg.ITEMS.values() for p in it.params if isinstance(p, IntParam) and p.unclear
            and p.default is not None and p.name not in ("SSL_contextID", "SSL_connectID")]
    assert sorted(lost) == sorted(["will_fg", "timeout_notice", "clean_session", "version_num", "show_flag",
                                   "echo_mode", "send_format", "recv_format", "SSL_enable"])


# behaviour of the data types -------------------------------------------------------------------------------

def test_existing_public_names_keep_working():
    p = IntParam("x", "3.3.1", 0, 4, None, "q")
    assert (p.valid_values(), p.invalid_values(), p.test_range()) == ([0, 2, 4], [-1, 5], "(0-4)")
    item = CfgItem("keepalive", "3.3.1", (qmtcfg.KEEPALIVE.params[0],), "q")
    assert item.test_line(qmtcfg.CONNECT_ID) == '+QMTCFG: "keepalive",(0-4),(0-3600)'
    assert qmtcfg.SECTION == "3.3.1" and qmtcfg.ITEMS["timeout"] is qmtcfg.TIMEOUT
    for name, values in qmtcfg.DEFAULT_WRITES:
        params = qmtcfg.ITEMS[name].params
        vals = [int(v) for v in values.split(",")]
        assert len(vals) in qmtcfg.ITEMS[name].allowed_counts()
        assert vals == [p.default for p in params[:len(vals)]], name


def test_secrets_are_marked_and_never_displayed():
    secret = qmtcfg.ALIAUTH.param("device_secret")
    assert secret.secret and commands.PASS_WORD.secret and not commands.USER_NAME.secret
    assert secret.display("s3cr3t") == '"***"' and commands.HOST_NAME.display("h") == '"h"'
    assert commands.redact('AT+QMTCFG="aliauth",0,"pk","dn","s3cr3t"') == 'AT+QMTCFG="aliauth",0,"pk","dn","***"'
    assert commands.redact('AT+QMTCONN=1,"c","u","p,w"') == 'AT+QMTCONN=1,"c","u","***"'
    assert commands.redact('AT+QMTCONN=1,"c","u"') == 'AT+QMTCONN=1,"c","u"'
    assert commands.redact("AT+QMTCONN=?") == "AT+QMTCONN=?"
    sample = examples.EXAMPLE_6_1[1]
    assert sample.secret and all("wN9Y6pZSIIy7" not in e.quote for e in spec.ENTRIES)


def test_string_values_are_quoted_and_lengths_exact():
    topic = qmtcfg.WILL.param("will_topic")
    assert [len(v) for v in topic.valid_values()] == [1, 256] and [len(v) for v in topic.invalid_values()] == [0, 257]
    assert qmtcfg.WILL.write_line(2, 1, 1, 0, "t", "m") == 'AT+QMTCFG="will",2,1,1,0,"t","m"'
    assert qmtcfg.ALIAUTH.query_line("a", "b", "c") == '+QMTCFG: "a","b","c"'


def test_urc_lines_render_and_parse_with_optional_parts():
    recv, sub, conn = urcs.URCS["+QMTRECV"], urcs.URCS["+QMTSUB"], urcs.URCS["+QMTCONN"]
    line = recv.line(TCP_connectID=0, msgID=0, topic="a/b", payload="x, y")
    assert line == '+QMTRECV: 0,0,"a/b","x, y"'
    assert recv.parse(line) == {"TCP_connectID": 0, "msgID": 0, "topic": "a/b", "payload": "x, y"}
    with_len = recv.line(TCP_connectID=1, msgID=7, topic="t", payload_len=4, payload="1,2,")
    assert with_len == '+QMTRECV: 1,7,"t",4,"1,2,"' and recv.parse(with_len)["payload_len"] == 4
    assert sub.parse("+QMTSUB: 0,1,0,1,128") == {"TCP_connectID": 0, "msgID": 1, "result": 0, "value": [1, 128]}
    assert sub.parse("+QMTSUB: 0,1,2") == {"TCP_connectID": 0, "msgID": 1, "result": 2}
    assert conn.parse("+QMTCONN: 0,2") == {"TCP_connectID": 0, "result": 2}
    assert conn.parse("+QMTCONN: 0,0,5,9") is None and conn.parse("+QMTOPEN: 0,0") is None
    assert urcs.URCS["+QMTSTAT"].line(TCP_connectID=3, err_code=1) == "+QMTSTAT: 3,1"
    assert urcs.URCS["+QMTPUB"].fmt == "+QMTPUB: <TCP_connectID>,<msgID>,<result>[,<value>]"
    with pytest.raises(ValueError, match="needs <result>"):
        urcs.URCS["+QMTOPEN"].line(TCP_connectID=0)


def test_example_urcs_parse_with_the_urc_data():
    for steps in examples.EXAMPLES.values():
        for st in (s for s in steps if not (s.command or "").endswith("?")):  # read forms share the prefix
            for ln in st.lines:
                name = ln.split(":", 1)[0].strip()
                if name in urcs.URCS:
                    assert urcs.URCS[name].parse(ln) is not None, ln


def test_data_mode_steps_start_with_the_prompt():
    for steps in examples.EXAMPLES.values():
        for st in steps:
            assert (st.data is not None) == (st.lines[0] == ">"), st.command
