"""The yardsticks as data: what public MQTT client test suites check, and where this suite checks it.

Why: "the suite covers the note" says nothing about MQTT itself. Two public suites say what a
client's conformance test looks like; each of their client tests is one entry here with the
MQTT 3.1.1 statements it rests on and either the cases of this suite that check it, or why it
cannot apply to a module driven by AT commands. An entry with neither is a gap (issue 15 item 2).
The coverage report lists every entry (harness/report/yardstick_coverage.py); tests/spec/test_yardsticks.py
holds the table to its sources and to the suite (every case it names is collected).

Sources, read through the public-code index (no id here is made up):
- Eclipse IoT-Testware, eclipse-iottestware/iottestware.mqtt, docs/Conformance/
  mts_tst_mqtt_client_tps.tplan2 at commit 141a86ef9758f3947818ed3c9273392b623bfd2c: 41 client
  test purposes; `statements` are the TP's own "Reference" line (duplicates dropped). An older
  draft of the file (commit cc99a328da64ca4d82b23a61d45f73e59b0b2893) has 22; not used.
- Eclipse Paho testing, eclipse/paho.mqtt.testing, interoperability/client_test.py at commit
  be3ecc1bade1e06d13fd3e59c058f724a3f598d7: the ten unittest methods. They are run by a client
  against a server, so most of their verdicts are the server's; `requires` states the module's
  side of each scenario. `statements` are ours (the file cites none). Its `will_message_test`
  lacks the `test` prefix, so unittest never runs it: not an entry.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from harness.spec.mqtt311 import BY_ID as STATEMENT_BY_ID

__all__ = ["BY_ID", "SOURCES", "YARDSTICKS", "Yardstick", "counts"]

SOURCES = {
    "iottestware": ("eclipse-iottestware/iottestware.mqtt", "docs/Conformance/mts_tst_mqtt_client_tps.tplan2",
                    "141a86ef9758f3947818ed3c9273392b623bfd2c"),
    "paho": ("eclipse/paho.mqtt.testing", "interoperability/client_test.py",
             "be3ecc1bade1e06d13fd3e59c058f724a3f598d7"),
}
_TP = re.compile(r"TP_MQTT_Client_(?P<group>[A-Z_]+?)_\d\d")


@dataclass(frozen=True)
class Yardstick:
    id: str  # the source's own id: "TP_MQTT_Client_CONNECT_01", "paho/client_test/testBasic"
    requires: str  # one line: what the test checks of the client
    statements: tuple[str, ...]  # "MQTT-3.1.2-1", ...
    cases: tuple[str, ...] = ()  # node ids under suites/, "[...]" optional (then every parametrization)
    not_applicable: str | None = None  # why no module driven by AT commands can be checked for it
    note: str = ""  # how the cases check it, or what a gap lacks

    def __post_init__(self) -> None:
        if self.cases and self.not_applicable:
            raise ValueError(f"{self.id}: names cases and says not applicable")
        unknown = [s for s in self.statements if s not in STATEMENT_BY_ID]
        if unknown:
            raise ValueError(f"{self.id}: no such MQTT 3.1.1 statement: {unknown}")

    @property
    def source(self) -> str:
        return "iottestware" if self.id.startswith("TP_") else "paho"

    @property
    def group(self) -> str:
        """The packet type of a TP (CONNECT ... FEAT_KEEPALIVE), "client_test" for paho."""
        m = _TP.fullmatch(self.id)
        return m["group"] if m else "client_test"

    @property
    def status(self) -> str:
        return "covered" if self.cases else "not_applicable" if self.not_applicable else "missing"


def _tp(num: str, requires: str, refs: str, cases: str = "", na: str | None = None, note: str = "") -> Yardstick:
    statements = tuple(dict.fromkeys(f"MQTT-{r}" for r in refs.split()))
    return Yardstick(f"TP_MQTT_Client_{num}", requires, statements,
                     tuple(f"suites/{c}" for c in cases.split()), na, note)


def _paho(name: str, requires: str, refs: str, cases: str = "", na: str | None = None, note: str = "") -> Yardstick:
    return Yardstick(f"paho/client_test/{name}", requires, tuple(f"MQTT-{r}" for r in refs.split()),
                     tuple(f"suites/{c}" for c in cases.split()), na, note)


_CONN = "test_qmtconn.py::test_connect_carries_configuration"
_CREDS = "test_qmtconn.py::test_credentials_presence_in_connect"
_PEER_IN = "test_qmtrecv.py::test_peer_publish_each_qos_round_trip"
_WIRE_IN = "test_qmtrecv.py::test_dut_acknowledges_on_the_wire"
_PEER = "verdict of the scripted peer's codec.validate() (conn.assert_conformant())"
_JUDGE = "verdict of the fault proxy's wire judge (every packet through `wire`, issue 15)"
_HOST_IDS = ("the module assigns no packet identifier: the host gives it as <msgID> (3.3.6, 3.3.8) and "
             "keeping it unique in the inflight window is the host's duty (3.3.6 note)")

YARDSTICKS: tuple[Yardstick, ...] = (
    _tp("CONNECT_01", "CONNECT fixed-header flags are 0000", "2.2.2-1",
        f"{_CONN} test_qmtconn.py::test_client_id_up_to_128_bytes_is_sent_as_given", note=_PEER),
    _tp("CONNECT_02", "CONNECT protocol name is the UTF-8 string 'MQTT'", "3.1.2-1",
        f"test_qmtcfg_effects.py::test_known_state_version_is_mqtt_3_1_1 "
        f"test_qmtcfg_effects.py::test_version_is_the_connect_protocol[3.1.1] {_CONN}[version_3_1_1]"),
    _tp("CONNECT_03", "CONNECT protocol level is 4 (MQTT 3.1.1)", "3.1.2-2",
        f"test_qmtcfg_effects.py::test_known_state_version_is_mqtt_3_1_1 "
        f"test_qmtcfg_effects.py::test_version_is_the_connect_protocol[3.1.1] {_CONN}[version_3_1_1]"),
    _tp("CONNECT_04", "CONNECT reserved connect flag is 0", "3.1.2-3", _CONN, note=_PEER),
    _tp("CONNECT_05", "with a will: will flag 1, valid will QoS, will topic and message present",
        "3.1.2-9 3.1.2-14",
        f"{_CONN}[will] {_CONN}[will_qos2] test_qmtcfg_will.py::test_will_reaches_the_connect_packet"),
    _tp("CONNECT_06", "without a will: will flag, QoS and retain 0, no will topic or message",
        "3.1.2-11 3.1.2-13 3.1.2-15", f"{_CONN}[no_will] test_qmtcfg_will.py::test_no_will_after_will_fg_0"),
    _tp("CONNECT_07", "without credentials: user name and password flags 0, neither field present",
        "3.1.2-18 3.1.2-20 3.1.2-22", f"{_CREDS}[none]"),
    _tp("CONNECT_08", "user name only: user name flag 1, password flag 0, user name present",
        "3.1.2-19", f"{_CREDS}[user_only] {_CREDS}[user_256]"),
    _tp("CONNECT_09", "user name and password: both flags 1, both fields present",
        "3.1.2-21", f"{_CREDS}[user_and_password] {_CREDS}[password_256]"),
    _tp("CONNECT_10", "payload order client id, will topic, will message, user name, password (all five)",
        "3.1.3-1", "test_yardstick_gaps.py::test_connect_payload_has_all_five_fields_in_order",
        note="a will and AT+QMTCONN with user name and password: each field decodes as configured and "
        "their bytes stand in the order of [MQTT-3.1.3-1]"),
    _tp("CONNECT_11", "the client identifier is well-formed UTF-8", "3.1.3-4 1.5.3-1",
        "test_qmtconn.py::test_client_id_up_to_128_bytes_is_sent_as_given "
        "test_yardstick_gaps.py::test_client_id_reaches_the_wire_as_utf8",
        note=f"{_PEER}; AT+QMTCONN with a non-ASCII <clientID> (its UTF-8 bytes) and with bytes that are not "
        "UTF-8: accepting or refusing is the module's choice (observed), a CONNECT on the wire carries a "
        "well-formed client id, the typed one when it was well formed"),
    _tp("CONNECT_12", "a zero-byte client identifier comes with CleanSession 1", "3.1.3-7",
        "test_yardstick_gaps.py::test_zero_byte_client_id_with_session_0 "
        "test_qmtconn.py::test_client_id_edge_forms_are_observed[empty]",
        note=f"AT+QMTCONN=0,\"\" with \"session\" 0: refusing it or sending CleanSession 1 is the module's "
        f"choice (observed), CleanSession 0 with a zero-byte id a violation ({_PEER}); a server's CONNACK 2 "
        "to it is reported as <ret_code> 2"),
    _tp("CONNECT_13", "the will topic is well-formed UTF-8", "3.1.3-10",
        "test_qmtcfg_will.py::test_will_reaches_the_connect_packet "
        "test_qmtcfg_will.py::test_longest_will_crosses_the_wire_whole", note=_JUDGE),
    _tp("CONNECT_14", "the user name is well-formed UTF-8", "3.1.3-11",
        f"{_CREDS}[user_only] {_CREDS}[user_256]", note=_PEER),
    _tp("CONNACK_01", "a CONNACK with invalid fixed-header flags (1111) makes the client close the link",
        "2.2.2-1 2.2.2-2 4.8.0-1", "test_yardstick_gaps.py::test_connack_with_invalid_flags_closes_the_link",
        note="the scripted peer answers CONNECT with flags 1111: the module closes before its CONNACK wait "
        "ends, is never connected and reports +QMTSTAT (chapter 5); the code and the +QMTCONN result observed"),
    _tp("PUBLISH_01", "a QoS 0 PUBLISH has DUP 0", "3.3.1-2",
        "test_qos.py::test_qos0_is_a_lone_publish test_qos.py::test_wire_sequence_against_the_broker[0]"),
    _tp("PUBLISH_02", "a new QoS 1 PUBLISH has DUP 0", "3.3.1-1",
        "test_qos.py::test_qos1_result_follows_puback test_qmtpub.py::test_each_form_publishes_at_each_qos"),
    _tp("PUBLISH_03", "a new QoS 2 PUBLISH has DUP 0", "3.3.1-1",
        "test_qos.py::test_qos2_four_way_handshake test_qmtpub.py::test_each_form_publishes_at_each_qos"),
    _tp("PUBLISH_04", "the PUBLISH topic name is well-formed UTF-8", "3.3.2-1",
        "test_qmtpub.py::test_topic_of_256_bytes_crosses_whole "
        "test_mqtt_flow.py::test_publish_crosses_the_wire_and_reaches_a_subscriber "
        "test_yardstick_gaps.py::test_ill_formed_publish_topic_never_reaches_the_wire",
        note=f"{_JUDGE}; AT+QMTPUB with a <topic> holding bytes that are not UTF-8 or U+0000 ([MQTT-1.5.3-1], "
        f"[MQTT-1.5.3-2]): the answer observed, no PUBLISH with an ill-formed topic name on the wire ({_PEER})"),
    _tp("PUBLISH_05", "the PUBLISH topic name holds no wildcard", "3.3.2-2",
        "test_qmtpub.py::test_topic_of_256_bytes_crosses_whole "
        "test_mqtt_flow.py::test_publish_crosses_the_wire_and_reaches_a_subscriber "
        "test_yardstick_gaps.py::test_wildcard_in_publish_topic_never_reaches_the_wire",
        note=f"{_JUDGE}; AT+QMTPUB with '+' or '#' in <topic>: the answer observed, no such PUBLISH on the "
        f"wire ({_PEER})"),
    _tp("PUBLISH_06", "no answer to a received QoS 0 PUBLISH", "3.3.4-1",
        "test_yardstick_gaps.py::test_qos0_delivery_gets_no_reply "
        "test_yardstick_gaps.py::test_overlapping_subscriptions_each_copy_is_handled",
        note="a QoS 1 PUBLISH after the QoS 0 one is the fence: the first packet back is its PUBACK"),
    _tp("PUBLISH_07", "a received QoS 1 PUBLISH is answered with PUBACK (same packet id)", "3.3.4-1",
        f"{_WIRE_IN}[1] {_PEER_IN}[1] test_mqtt_flow.py::test_broker_publish_arrives_as_qmtrecv"),
    _tp("PUBLISH_08", "a received QoS 2 PUBLISH is answered with PUBREC (same packet id)", "3.3.4-1",
        f"{_WIRE_IN}[2] {_PEER_IN}[2] test_qmtrecv.py::test_qos2_resent_before_pubrel_is_reported_once"),
    _tp("PUBLISH_09", "a QoS 1/2 PUBLISH has a non-zero packet identifier", "2.3.1-1",
        "test_qmtpub.py::test_msgid_against_the_qos_rule_is_observed[1-0] "
        "test_qmtpub.py::test_msgid_against_the_qos_rule_is_observed[2-0] "
        "test_qmtpub.py::test_msgid_becomes_the_packet_id"),
    _tp("PUBLISH_10", "each new QoS 1/2 PUBLISH gets a packet identifier not in use", "2.3.1-2",
        "test_yardstick_gaps.py::test_msgid_still_in_flight_is_not_reused_on_the_wire[PUBLISH]",
        note=f"{_HOST_IDS}; the module's side: a host's <msgID> still in flight never makes a new packet "
        f"with that id while the first is unacknowledged (refused or held: observed; {_PEER})"),
    _tp("PUBLISH_11", "a QoS 0 PUBLISH has no packet identifier", "2.3.1-5",
        "test_qos.py::test_qos0_is_a_lone_publish test_qmtpub.py::test_msgid_against_the_qos_rule_is_observed[0-5] "
        "test_qmtpub.py::test_msgid_against_the_qos_rule_is_observed[0-65535]"),
    _tp("PUBACK_01", "PUBACK fixed-header flags are 0000", "2.2.2-1", f"{_PEER_IN}[1] {_WIRE_IN}[1]",
        note=f"{_PEER}; {_JUDGE}"),
    _tp("PUBACK_02", "the PUBACK carries the PUBLISH's packet identifier", "2.3.1-6",
        f"{_WIRE_IN}[1] {_PEER_IN}[1] test_mqtt_flow.py::test_broker_publish_arrives_as_qmtrecv"),
    _tp("PUBREC_01", "PUBREC fixed-header flags are 0000", "2.2.2-1",
        f"{_PEER_IN}[2] test_qmtrecv.py::test_qos2_resent_before_pubrel_is_reported_once", note=_PEER),
    _tp("PUBREC_02", "the PUBREC carries the PUBLISH's packet identifier", "2.3.1-6",
        f"{_WIRE_IN}[2] test_qmtrecv.py::test_qos2_resent_before_pubrel_is_reported_once"),
    _tp("PUBREL_01", "PUBREL fixed-header flags are valid", "2.2.2-1", "test_qos.py::test_qos2_four_way_handshake",
        note="the TP text expects '0000'B, against [MQTT-3.6.1-1] (0010); the case checks 0010"),
    _tp("PUBREL_02", "the PUBREL answering a PUBREC carries its packet identifier", "2.3.1-6",
        "test_qos.py::test_qos2_four_way_handshake test_qos.py::test_wire_sequence_against_the_broker[2]"),
    _tp("PUBCOMP_01", "PUBCOMP fixed-header flags are 0000", "2.2.2-1", f"{_PEER_IN}[2] {_WIRE_IN}[2]",
        note=f"{_PEER}; {_JUDGE}"),
    _tp("SUBSCRIBE_01", "SUBSCRIBE fixed-header flags are 0010", "2.2.2-1 3.8.1-1",
        "test_qmtsub.py::test_value_reports_what_the_server_granted "
        "test_qmtsub.py::test_msgid_may_be_reused_once_acknowledged", note=_PEER),
    _tp("SUBSCRIBE_02", "a SUBSCRIBE has a non-zero packet identifier", "2.3.1-2",
        "test_qmtsub.py::test_msgid_in_range_becomes_the_packet_id "
        "test_qmtsub.py::test_msgid_out_of_range_is_refused[0]",
        note="the TP cites [MQTT-2.3.1-2]; non-zero is [MQTT-2.3.1-1]. <msgID> 0 is refused, 1-65535 go on the wire"),
    _tp("SUBSCRIBE_03", "each new SUBSCRIBE gets a packet identifier not in use", "2.3.1-2",
        "test_yardstick_gaps.py::test_msgid_still_in_flight_is_not_reused_on_the_wire[SUBSCRIBE]",
        note=f"{_HOST_IDS}; the module's side as for TP_MQTT_Client_PUBLISH_10"),
    _tp("UNSUBSCRIBE_01", "UNSUBSCRIBE fixed-header flags are 0010", "2.2.2-1 3.10.1-1",
        "test_qmtuns.py::test_unsubscribe_carries_msgid_and_reports_result_0 "
        "test_timers.py::test_dropped_sub_or_unsuback_is_recovered[UNSUBACK]", note=_JUDGE),
    _tp("UNSUBSCRIBE_02", "UNSUBSCRIBE topic filters are well-formed UTF-8", "3.10.3-1",
        "test_qmtuns.py::test_topic_of_256_bytes_crosses_whole test_qmtuns.py::test_several_topics_in_one_unsubscribe "
        "test_yardstick_gaps.py::test_ill_formed_unsubscribe_filter_never_reaches_the_wire",
        note=f"{_JUDGE}; AT+QMTUNS with a <topic> holding bytes that are not UTF-8 or U+0000 ([MQTT-1.5.3-1], "
        f"[MQTT-1.5.3-2]): the answer observed, no UNSUBSCRIBE with an ill-formed filter on the wire ({_PEER})"),
    _tp("DISCONNECT_01", "DISCONNECT fixed-header flags are 0000", "2.2.2-1",
        "test_qmtdisc.py::test_disconnect_sends_disconnect_then_closes_tcp "
        "test_qmtdisc.py::test_disconnect_each_connect_id",
        note=f"{_PEER}; {_JUDGE}"),
    _tp("DISCONNECT_02", "after DISCONNECT the client closes the link", "3.14.4-1",
        "test_qmtdisc.py::test_disconnect_sends_disconnect_then_closes_tcp"),
    _tp("FEAT_KEEPALIVE_01", "a PINGREQ before the keep-alive runs out with nothing else sent", "3.1.2-23",
        "test_timers.py::test_pingreq_after_keepalive_of_silence_and_not_before "
        "test_qmtdisc.py::test_link_silent_pingresp_lost"),
    _paho("testBasic", "connect, disconnect, connect again; publish at QoS 0/1/2 and receive",
          "3.1.0-1 3.1.0-2 3.1.2-1 3.3.4-1 4.3.2-1 4.3.3-1",
          "test_mqtt_flow.py::test_publish_crosses_the_wire_and_reaches_a_subscriber "
          "test_mqtt_flow.py::test_broker_publish_arrives_as_qmtrecv "
          "test_qmtdisc.py::test_connect_again_after_disconnect",
          note="its refusals of a second CONNECT and of a wrong protocol name are the server's to make"),
    _paho("test_retained_messages", "a retained publish reaches a later subscriber (the server stores it)",
          "3.3.1-5 3.3.1-6 3.3.1-8 3.3.1-10 3.3.1-11",
          "test_qmtpub.py::test_retain_1_is_retained_for_later_subscribers "
          "test_qmtrecv.py::test_retained_message_is_delivered_on_subscribe"),
    _paho("test_zero_length_clientid", "the server refuses a zero-byte client id with CleanSession 0",
          "3.1.3-6 3.1.3-8", na="the server's acceptance or refusal; the module's own duty with a zero-byte "
          "client id is TP_MQTT_Client_CONNECT_12"),
    _paho("test_offline_message_queueing", "CleanSession 0: messages published while away arrive on reconnect",
          "3.1.2-4 3.1.2-5 3.2.2-2", "test_qos.py::test_non_clean_session_gets_offline_messages"),
    _paho("test_overlapping_subscriptions", "overlapping filters: one or two copies arrive, each reported",
          "3.3.5-1 3.3.4-1", "test_yardstick_gaps.py::test_overlapping_subscriptions_each_copy_is_handled",
          note="one AT+QMTSUB with 'ov/#' (QoS 1) and 'ov/+' (QoS 0); the scripted peer sends a copy per "
          "subscription: the QoS 1 copy gets its PUBACK, the QoS 0 one nothing, both are reported"),
    _paho("test_keepalive", "a client silent past 1.5 x keep-alive is dropped and its will published",
          "3.1.2-24 3.1.2-8", na="the server drops a silent client; the module is never silent by its own choice "
          "(its side is TP_MQTT_Client_FEAT_KEEPALIVE_01)"),
    _paho("test_redelivery_on_reconnect", "unfinished QoS 1/2 flows are re-sent after reconnecting",
          "4.4.0-1 3.3.1-1 2.3.1-3", "test_retransmission.py::test_unacknowledged_flow_is_resent_after_reconnect "
          "test_retransmission.py::test_clean_session_discards_the_unacknowledged_flow",
          note="the scripted peer resets the link inside a QoS 1/2 flow on a CleanSession 0 connection: after the "
          "reconnect the PUBLISH (DUP=1) or PUBREL goes out again with its packet id; with CleanSession 1 nothing"),
    _paho("test_subscribe_failure", "a refused subscription comes back as return code 0x80", "3.8.4-5 3.9.3-2",
          "test_qmtsub.py::test_value_reports_what_the_server_granted[rejected] "
          "test_qmtsub.py::test_value_reports_what_the_server_granted[mixed]"),
    _paho("test_dollar_topics", "filters starting with a wildcard do not match '$' topics", "4.7.2-1",
          na="the server's matching rule; the module only passes topics on"),
    _paho("test_unsubscribe", "after unsubscribing one topic, only the others are delivered",
          "3.10.4-1 3.10.4-2", "test_qmtuns.py::test_no_delivery_after_unsubscribe"),
)

BY_ID: dict[str, Yardstick] = {y.id: y for y in YARDSTICKS}


def counts(source: str) -> Counter[str]:
    """Entries per group (packet type for the TPs) of one source."""
    return Counter(y.group for y in YARDSTICKS if y.source == source)
