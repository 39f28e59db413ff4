"""AT+QMTCFG (3.3.1): every integer parameter of every item at each bound, one past each bound and
with the wrong type; how many parameters each write form takes; omitted optional parameters
(3.1.1); the SSL IDs of which "only 0 is supported"; the item names; and the +CME ERROR codes of
chapter 4 the refusals carry. "will" strings: test_qmtcfg_will.py; "aliauth": test_qmtcfg_aliauth.py.
"""

from __future__ import annotations

import pytest
from _cfg_support import KNOWN, OTHER, assert_reads, error_code, expect_error, expect_ok, query, write

from harness.at.flows import is_error
from harness.spec.codes import ERROR_BY_CODE, INVALID_PARAMETER
from harness.spec.model import IntParam
from harness.spec.qmtcfg import ITEMS, SECTION

pytestmark = pytest.mark.spec(SECTION)

# The vector each value is put into: every parameter given, valid, and a will that is complete.
BASE: dict[str, list[int | str]] = {
    "will": [1, 0, 0, "cfg/will", "gone"], "timeout": [30, 0, 0], "session": [1], "keepalive": [120],
    "version": [1], "showrecvlen": [0], "echomode": [0], "dataformat": [0, 0], "ssl": [1, 0, 0],
}
INT_PARAMS = [(name, i, p) for name, item in ITEMS.items() if name in BASE
              for i, p in enumerate(item.params) if isinstance(p, IntParam)]


def _pid(name: str, p: IntParam, value: object) -> str:
    return f"{name}-{p.name}={value}"


def _with(vector: list[int | str], index: int, value: int | str) -> list[int | str]:
    out = list(vector)
    out[index] = value
    return out


def _supported(p: IntParam) -> list[int]:
    """The values a verdict may rely on: the range, or "Currently only 0 is supported"."""
    return list(p.supported) if p.supported is not None else p.valid_values()


# <will_fg>=0 with the four will parameters is an observation (unclear/will_params_with_fg0).
VALID = [(n, i, p, v) for n, i, p in INT_PARAMS for v in _supported(p) if not (p.name == "will_fg" and v == 0)]
INVALID = [(n, i, p, v) for n, i, p in INT_PARAMS for v in p.invalid_values()]
WRONG_TYPE = [(n, i, p, v) for n, i, p in INT_PARAMS for v in (f'"{p.hi}"', "abc", "1.5")]


def _covers(name: str, p: IntParam) -> tuple[str, ...]:
    return (f"3.3.1/{name}/{p.name}", f"3.3.1/{name}")


@pytest.mark.covers(*{c for n, _, p in INT_PARAMS for c in _covers(n, p)}, "3.3.1/characteristics/1")
@pytest.mark.parametrize("cid", [0, 4])
@pytest.mark.parametrize(("name", "index", "param", "value"), VALID, ids=[_pid(n, p, v) for n, _, p, v in VALID])
def test_value_in_range_is_accepted_and_reads_back(modem, name, index, param, value, cid):
    """Each bound (and a middle value) of the parameter table is accepted with OK and, "The command
    takes effect immediately", the next query prints it in the note's format."""
    values = _with(BASE[name], index, value)
    resp = write(modem, name, cid, values)
    assert resp.ok, f"{ITEMS[name].write_line(cid, *values)} answered {resp.final!r}"
    assert_reads(modem, name, cid, values)


@pytest.mark.covers(*{c for n, _, p in INT_PARAMS for c in _covers(n, p)})
@pytest.mark.parametrize(("name", "index", "param", "value"), INVALID, ids=[_pid(n, p, v) for n, _, p, v in INVALID])
def test_value_out_of_range_is_rejected_and_changes_nothing(modem, name, index, param, value):
    """One past each bound is an error, and the setting stays what it was (3.3.1 ranges)."""
    expect_ok(modem, ITEMS[name].write_line(2, *OTHER[name]))
    expect_error(modem, ITEMS[name].write_line(2, *_with(OTHER[name], index, value)), f"<{param.name}> {value}")
    assert_reads(modem, name, 2, OTHER[name])


@pytest.mark.covers(*{c for n, _, p in INT_PARAMS for c in _covers(n, p)})
@pytest.mark.parametrize(("name", "index", "param", "value"), WRONG_TYPE,
                         ids=[_pid(n, p, v) for n, _, p, v in WRONG_TYPE])
def test_value_of_wrong_type_is_rejected_and_changes_nothing(modem, name, index, param, value):
    """Every one of these parameters is "Integer type": a quoted number, letters or a float is an error."""
    expect_ok(modem, ITEMS[name].write_line(3, *OTHER[name]))
    expect_error(modem, ITEMS[name].write_line(3, *_with(OTHER[name], index, value)), f"<{param.name}> {value}")
    assert_reads(modem, name, 3, OTHER[name])


@pytest.mark.covers(*{c for n, _, p in INT_PARAMS for c in _covers(n, p)}, "unclear/omitted_optional",
                    "unclear/timeout_write_nesting")
@pytest.mark.parametrize(("name", "index", "param"), INT_PARAMS, ids=[f"{n}-{p.name}" for n, _, p in INT_PARAMS])
def test_empty_value_changes_nothing(modem, observe, name, index, param):
    """An empty position ("...,," or a trailing ","): refused, or taken as a parameter "not given",
    whose "new value equals to its previous value" (3.1.1). Either way the setting is unchanged;
    which of the two is an observation."""
    expect_ok(modem, ITEMS[name].write_line(1, *OTHER[name]))
    line = ITEMS[name].write_line(1, *_with(OTHER[name], index, ""))
    resp = modem.command(line)
    observe(f"{line} answer", error_code(resp))  # no plain reading: refused and "not given" both fit
    assert resp.ok or is_error(resp), f"{line} answered {resp.final!r}"
    assert_reads(modem, name, 1, OTHER[name])


# How many parameters after <TCP_connectID> each write form may not take (3.3.1 syntax and NOTE 1).
BAD_COUNTS = [(name, n) for name, item in ITEMS.items() if name in BASE and name != "will"
              for n in range(1, len(item.params) + 2) if n not in item.allowed_counts()]


@pytest.mark.covers(*{f"3.3.1/{n}" for n, _ in BAD_COUNTS}, "3.3.1/dataformat/send_format",
                    "3.3.1/dataformat/recv_format", "3.3.1/ssl/SSL_contextID", "3.3.1/ssl/SSL_connectID")
@pytest.mark.parametrize(("name", "count"), BAD_COUNTS, ids=[f"{n}-{c}" for n, c in BAD_COUNTS])
def test_parameter_count_outside_the_syntax_is_rejected(modem, name, count):
    """The write syntax brackets parameters in groups ("[,<send_format>,<recv_format>]",
    "[,<SSL_enable>[,<SSL_contextID>,<SSL_connectID>]]"): half a group, or one parameter more than
    the syntax has, is an error and changes nothing."""
    expect_ok(modem, ITEMS[name].write_line(0, *OTHER[name]))
    values = (OTHER[name] + [0])[:count]
    line = ",".join([f'AT+QMTCFG="{name}"', "0", *map(str, values)])
    expect_error(modem, line, f"{count} parameters after the connect ID")
    assert_reads(modem, name, 0, OTHER[name])


@pytest.mark.covers("unclear/omitted_optional", "unclear/timeout_write_nesting", "3.3.1/timeout/retry_times",
                    "3.3.1/timeout/timeout_notice")
@pytest.mark.parametrize(("given", "expected"), [("12", "12,3,1"), ("12,5", "12,5,1"), ("12,5,0", "12,5,0")])
def test_timeout_positional_values_keep_the_omitted_ones(modem, given, expected):
    """3.3.1: AT+QMTCFG="timeout",<id>[,<pkt_timeout>[,<retry_times>][,<timeout_notice>]]; read
    positionally, and 3.1.1: an omitted optional parameter keeps its previous value."""
    expect_ok(modem, 'AT+QMTCFG="timeout",2,45,3,1')
    expect_ok(modem, f'AT+QMTCFG="timeout",2,{given}')
    assert query(modem, "timeout", 2) == [f"+QMTCFG: {expected}"]


@pytest.mark.covers("unclear/omitted_optional", "3.3.1/ssl/SSL_enable", "3.3.1/ssl/query")
def test_ssl_enable_alone_keeps_the_ids(modem, observe):
    """"ssl",<id>,<SSL_enable> without the IDs (3.3.1 "[,<SSL_enable>[,<SSL_contextID>,<SSL_connectID>]]"):
    the IDs keep their previous value, 0 (3.1.1). Whether the query prints them is an observation."""
    expect_ok(modem, 'AT+QMTCFG="ssl",1,1')
    lines = query(modem, "ssl", 1)
    observe('query after "ssl",1,1', lines)  # no plain reading: the bracketed query fits both
    assert lines in (["+QMTCFG: 1"], ["+QMTCFG: 1,0,0"]), lines


@pytest.mark.covers("unclear/ssl_only_0", "3.3.1/ssl/SSL_contextID", "3.3.1/ssl/SSL_connectID")
@pytest.mark.parametrize(("index", "value"), [(1, 1), (1, 10), (2, 1), (2, 4)], ids=["ctx1", "ctx10", "conn1", "conn4"])
def test_ssl_ids_in_range_but_unsupported(modem, observe, index, value):
    """"Range: 0–10. Currently only 0 is supported." (and 0–4 for the connect ID): whether 1..10 / 1..4
    are accepted is an observation; the verdict is consistency: accepted -> read back, refused ->
    unchanged."""
    values = _with([1, 0, 0], index, value)
    line = ITEMS["ssl"].write_line(0, *values)
    resp = modem.command(line)
    observe(f"{line} answer", error_code(resp))  # "Currently only 0 is supported" names no answer
    assert resp.ok or is_error(resp), f"{line} answered {resp.final!r}"
    assert_reads(modem, "ssl", 0, values if resp.ok else KNOWN["ssl"])


@pytest.mark.covers("unclear/echomode_name", "unclear/item_name_case")
@pytest.mark.parametrize("name", ["echo_mode", "SHOWRECVLEN", "Keepalive", "ECHOMODE"])
def test_item_name_spellings_are_observed(modem, observe, name):
    """The note spells "echomode" (write) and "echo_mode" (test form), and chapter 5 writes
    "SHOWRECVLEN": what other spellings do is an observation. The lower-case names of 3.3.1 work."""
    resp = modem.command(f'AT+QMTCFG="{name}",0')
    observe(f'AT+QMTCFG="{name}",0 answer', [*resp.lines, resp.final])  # no plain reading: spellings disagree
    assert resp.ok or is_error(resp)
    assert query(modem, name.lower().replace("_", ""), 0)


@pytest.mark.covers("3.3.1/QMTCFG")
@pytest.mark.parametrize("line", ['AT+QMTCFG="pdpcid",0', 'AT+QMTCFG="clean_session",0,1', 'AT+QMTCFG=0',
                                  'AT+QMTCFG="",0', 'AT+QMTCFG=keepalive,0', "AT+QMTCFG"])
def test_unknown_item_or_malformed_line_is_rejected(modem, line):
    """Only the ten items of 3.3.1 exist ("will" ... "ssl", quoted); forms of other Quectel modules
    and an execution form (none is defined, 3.1.2 Table 1) are errors."""
    expect_error(modem, line, "not a form of 3.3.1")


ERROR_CASES = [
    ("out of range", 'AT+QMTCFG="keepalive",0,3601', True),
    ("wrong type", 'AT+QMTCFG="keepalive",0,"60"', True),
    ("connect ID out of range", 'AT+QMTCFG="session",5,1', True),
    ("parameter count", 'AT+QMTCFG="dataformat",0,1', True),
    ("will incomplete", 'AT+QMTCFG="will",0,1', True),
    ("string too long", f'AT+QMTCFG="will",0,1,0,0,"{"t" * 257}","m"', True),
    ("unknown item", 'AT+QMTCFG="pdpcid",0', False),
]


@pytest.mark.spec("4")
@pytest.mark.covers(f"4/{INVALID_PARAMETER}", "3.3.1/QMTCFG")
@pytest.mark.parametrize(("situation", "line", "invalid_parameter"), ERROR_CASES, ids=[s for s, _, _ in ERROR_CASES])
def test_refusal_carries_a_chapter_4_code(modem, observe, situation, line, invalid_parameter):
    """Chapter 4: "Final result code +CME ERROR: <err>"; 3.3.1 allows "ERROR Or +CME ERROR: <err>"
    and names no code, so the answer is observed. With AT+CMEE=1 (known state) a +CME ERROR carries
    a number. Where it is one of Table 2's MQTT codes for a parameter outside the note's range,
    type or syntax, it must be the one Table 2 gives that meaning: 8507 "MQTT invalid parameter"
    (not, say, 8504 "MQTT illegal packet"); a general code (e.g. 50) is only observed."""
    resp = modem.command(line)
    assert is_error(resp), f"{line} answered {resp.final!r}"
    observe(f"{situation}: answer", resp.final)  # no plain reading: 3.3.1 names no code
    if resp.cme_error is None:
        return
    assert isinstance(resp.cme_error, int), f"AT+CMEE=1 gives numeric codes, got {resp.final!r}"
    known = ERROR_BY_CODE.get(resp.cme_error)
    observe(f"{situation}: chapter 4 meaning", known.meaning if known else "not in Table 2")
    if invalid_parameter and known is not None:
        assert resp.cme_error == INVALID_PARAMETER, (
            f"{line} ({situation}) answered {resp.final!r}: Table 2 says {resp.cme_error} is "
            f"{known.meaning!r}; an invalid parameter is {INVALID_PARAMETER} "
            f"{ERROR_BY_CODE[INVALID_PARAMETER].meaning!r}")
