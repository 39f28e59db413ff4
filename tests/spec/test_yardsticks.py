"""The yardstick table (harness/spec/yardsticks.py) holds to its sources and to the suite, and its
coverage, like the note's, may only grow.

Sources: the 41 client test purposes of eclipse-iottestware/iottestware.mqtt
(docs/Conformance/mts_tst_mqtt_client_tps.tplan2) and the ten client tests of eclipse/paho.mqtt.testing
(interoperability/client_test.py); the counts below are those files' own. Every case an entry names
must be collected from suites/, so the table cannot claim a case that was renamed or removed.
The floors live in tests/coverage_floor.json beside the note's; raise them when cases are added.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from run_project import ROOT, run

from harness.report.coverage import coverage_map
from harness.report.coverage import write as write_coverage
from harness.report.yardstick_coverage import NOT_SELECTED, CitationError, below_floor, build, cited
from harness.spec import mqtt311
from harness.spec.yardsticks import BY_ID, SOURCES, YARDSTICKS, Yardstick, counts

FLOOR = json.loads((ROOT / "tests" / "coverage_floor.json").read_text())

TP_COUNTS = {"CONNECT": 14, "CONNACK": 1, "PUBLISH": 11, "PUBACK": 2, "PUBREC": 2, "PUBREL": 2, "PUBCOMP": 1,
             "SUBSCRIBE": 3, "UNSUBSCRIBE": 2, "DISCONNECT": 2, "FEAT_KEEPALIVE": 1}
PAHO_TESTS = ("testBasic", "test_retained_messages", "test_zero_length_clientid", "test_offline_message_queueing",
              "test_overlapping_subscriptions", "test_keepalive", "test_redelivery_on_reconnect",
              "test_subscribe_failure", "test_dollar_topics", "test_unsubscribe")


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The suites collected for real (no run): node ids, covers() citations, statement citations."""
    out = tmp_path_factory.mktemp("collect")
    env = {"COVERAGE_DUMP": str(out / "covers.json"), "STATEMENTS_DUMP": str(out / "stm.json")}
    proc = run(ROOT, "suites", "--collect-only", "-q", "-p", "tests.coverage_dump", f"--report-dir={out / 'reports'}",
               timeout=120, extra_env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    covers = json.loads((out / "covers.json").read_text())
    return {"nodeids": [n for n, _ in covers], "covers": covers,
            "statements": json.loads((out / "stm.json").read_text())}


def test_every_tp_id_is_present_exactly_once() -> None:
    ids = [y.id for y in YARDSTICKS]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    expected = {f"TP_MQTT_Client_{group}_{i:02d}" for group, n in TP_COUNTS.items() for i in range(1, n + 1)}
    assert {y.id for y in YARDSTICKS if y.source == "iottestware"} == expected
    assert len(expected) == 41


def test_counts_per_packet_type_are_the_sources() -> None:
    assert dict(counts("iottestware")) == TP_COUNTS
    assert sorted(y.id.rsplit("/", 1)[1] for y in YARDSTICKS if y.source == "paho") == sorted(PAHO_TESTS)
    assert counts("paho") == Counter({"client_test": 10})
    assert set(SOURCES) == {"iottestware", "paho"} and all(len(commit) == 40 for _, _, commit in SOURCES.values())


def test_every_named_case_exists(collected: dict[str, Any]) -> None:
    nodeids = collected["nodeids"]
    gone = [(y.id, case) for y in YARDSTICKS for case in y.cases
            if not any(n == case or ("[" not in case and n.startswith(case + "[")) for n in nodeids)]
    assert gone == [], f"yardsticks name cases that are not collected from suites/: {gone}"


def test_each_entry_is_covered_not_applicable_or_a_gap_that_says_why() -> None:
    for y in YARDSTICKS:
        assert y.requires and y.statements, y.id
        assert y.status in ("covered", "not_applicable", "missing")
        if y.status == "missing":
            assert y.note, f"{y.id}: a gap says what is lacking"
        assert all(s in mqtt311.BY_ID for s in y.statements)
    with pytest.raises(ValueError, match=r"no such MQTT 3\.1\.1 statement"):
        Yardstick("x", "y", ("MQTT-9.9.9-9",))
    with pytest.raises(ValueError, match="names cases and says not applicable"):
        Yardstick("x", "y", ("MQTT-3.3.1-1",), ("suites/a.py::b",), "n/a")


def test_the_statement_table_is_whole() -> None:
    """141 ids of MQTT 3.1.1's Appendix B, no repeats; client side = client, both or content."""
    assert len(mqtt311.STATEMENTS) == len(mqtt311.BY_ID) == 141
    assert {s.side for s in mqtt311.STATEMENTS} == {"client", "both", "content", "server"}
    assert mqtt311.BY_ID["MQTT-3.1.2-23"].side == "client" and mqtt311.BY_ID["MQTT-3.2.2-1"].side == "server"
    assert len(mqtt311.client_side()) == 77


def test_citations_are_read_and_a_wrong_id_is_an_error() -> None:
    assert cited("PUBLISH DUP=1 ([MQTT-3.3.1-1]); MQTT-3.3.1-1 again, MQTT 3.1.1 3.1.2.5") == ["MQTT-3.3.1-1"]
    with pytest.raises(CitationError, match=r"t::x: cites \[MQTT-9.9.9-9\]"):
        build(["t::x"], [("t::x", ["MQTT-9.9.9-9"])])


def _assert_floor(data: dict[str, Any]) -> None:
    dropped = below_floor(data, FLOOR)
    assert not dropped, "coverage dropped: " + "; ".join(dropped) + " (a case lost its citation or was removed)"


def test_coverage_does_not_drop_below_the_floor(collected: dict[str, Any]) -> None:
    data = build(collected["nodeids"], collected["statements"])
    _assert_floor(data)
    assert data["yardsticks"]["summary"]["all"][NOT_SELECTED] == 0  # the whole suite: every named case is there


def test_the_floor_check_fails_when_coverage_drops(collected: dict[str, Any]) -> None:
    """Take away the cases of one covered TP (as if they were deleted) and one cited statement:
    the floor check fails and says which number dropped."""
    tp = BY_ID["TP_MQTT_Client_FEAT_KEEPALIVE_01"]
    removed = {n for n in collected["nodeids"] if any(n.startswith(c) for c in tp.cases)}
    nodeids = [n for n in collected["nodeids"] if n not in removed]
    statements = [(n, s) for n, s in collected["statements"] if n not in removed]
    data = build(nodeids, statements)
    assert data["yardsticks"]["summary"]["all"]["covered"] == FLOOR["yardsticks_covered"] - 1
    with pytest.raises(AssertionError, match=r"yardsticks_covered: \d+ is below the floor") as failed:
        _assert_floor(data)
    assert "statements_exercised" in str(failed.value)  # [MQTT-3.1.2-23] went with them


def test_the_report_carries_both_sections(collected: dict[str, Any], tmp_path: Path) -> None:
    yard = build(collected["nodeids"], collected["statements"])
    js, page = write_coverage(coverage_map(collected["covers"]), tmp_path, yard)
    data = json.loads(js.read_text())
    assert data["summary"]["all"]["covered"] >= FLOOR["all"]  # the note's section is unchanged
    assert data["yardsticks"]["summary"]["iottestware"]["total"] == 41
    assert data["statements"]["summary"]["client_side"] == 77
    text = page.read_text()
    assert "Yardsticks: Eclipse IoT-Testware client test purposes" in text
    assert "MQTT 3.1.1 normative statements, client side" in text
    connack = next(e for e in data["yardsticks"]["entries"] if e["id"] == "TP_MQTT_Client_CONNACK_01")
    assert connack["status"] == "covered" and "TP_MQTT_Client_CONNACK_01" in text
    assert data["yardsticks"]["summary"]["iottestware"]["missing"] == 0  # 41/41 covered or not applicable
    assert data["yardsticks"]["summary"]["paho"]["missing"] == 0
