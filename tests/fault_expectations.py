"""Which conformance cases each faulty firmware profile of the emulator must fail, and why.

Patterns are node ids where `*` (the only wildcard) stands for any text: "[*]" is every
parametrization of a case.
`modules` is where the proof runs in CI (the suite modules that hold the expected failures:
every other case in them must pass); `make proof` runs the whole suite for each profile.
`strict_fails` are the cases that fail only under `--strict` (a deviation from the note's plain
reading, harness/spec/plain.py, that the suite otherwise records as an observation): a profile
with any is run a second time with `--strict`, which must fail `fails` and `strict_fails` and
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

P = "suites/test_qmtcfg_params.py::"
T = "suites/test_timers.py::"
G = "suites/test_yardstick_gaps.py"
R = "suites/test_retransmission.py"


@dataclass(frozen=True)
class Expect:
    why: str
    modules: tuple[str, ...]
    fails: tuple[str, ...]
    strict_fails: tuple[str, ...] = ()


EXPECTED: dict[str, Expect] = {
    "keepalive-off-by-one": Expect(
        "3.3.1 <keep_alive_time> Range 0-3600: 3601 must be refused, with the invalid-parameter code",
        ("suites/test_qmtcfg_params.py",),
        (f"{P}test_value_out_of_range_is_rejected_and_changes_nothing[keepalive-keep_alive_time=3601]",
         f"{P}test_refusal_carries_a_chapter_4_code[out of range]")),
    "pkt-timeout-max-61": Expect(
        "3.3.1 <pkt_timeout> Range 1-60: 61 must be refused",
        ("suites/test_qmtcfg_params.py",),
        (f"{P}test_value_out_of_range_is_rejected_and_changes_nothing[timeout-pkt_timeout=61]",)),
    "wrong-error-code": Expect(
        "chapter 4: an invalid parameter is 8507 'MQTT invalid parameter', not 8504",
        ("suites/test_qmtcfg_params.py",),
        (f"{P}test_refusal_carries_a_chapter_4_code[*]",)),
    "wrong-keepalive-default": Expect(
        "3.3.1 <keep_alive_time> 'Default value: 120', visible after a reset",
        ("suites/test_qmtcfg.py",),
        ("suites/test_qmtcfg.py::test_configuration_is_not_saved_across_reset",)),
    "open-occupied-ok": Expect(
        "3.3.2 <result> 2 'The MQTT socket is occupied'",
        ("suites/test_qmtopen.py",),
        ("suites/test_qmtopen.py::test_same_connect_id_twice_is_occupied",
         "suites/test_qmtopen.py::test_connected_id_is_occupied_and_session_survives")),
    "no-truncate-1460": Expect(
        "3.3.8 note 2: 'The part of data that exceeds 1460 bytes is omitted'",
        ("suites/test_qmtpub.py",),
        ("suites/test_qmtpub.py::test_variable_length_data_is_cut_at_1460_bytes[1500]",)),
    "qmtrecv-no-len": Expect(
        "5.2: +QMTRECV carries <payload_len> when showrecvlen is 1",
        ("suites/test_qmtrecv.py",),
        ("suites/test_qmtrecv.py::test_showrecvlen_adds_the_payload_length[*]",)),
    "no-dup-on-retransmit": Expect(
        "Figure 1 Excep2 / [MQTT-3.3.1-1]: a resent PUBLISH carries DUP=1 (also re-sent after a reconnect)",
        ("suites/test_timers.py", R),
        (f"{T}test_withheld_ack_is_retried_then_fails[PUBACK-*]",
         f"{T}test_withheld_ack_is_retried_then_fails[PUBREC-*]",
         f"{T}test_timeout_notice_0_reports_no_retransmission[PUBACK]",
         f"{T}test_late_ack_after_a_retransmission_completes[PUBACK]",
         f"{T}test_late_ack_after_a_retransmission_completes[PUBREC]",
         f"{T}test_dropped_puback_is_recovered_by_a_dup_publish",
         f"{T}test_dropped_pubrec_still_delivers_exactly_once",
         f"{R}::test_unacknowledged_flow_is_resent_after_reconnect[qos1-PUBLISH]",
         f"{R}::test_unacknowledged_flow_is_resent_after_reconnect[qos2-PUBLISH]")),
    "missing-timeout-notice": Expect(
        "3.3.1 <timeout_notice> 1 / 3.3.6-3.3.8 <result> 1: each retransmission is reported",
        ("suites/test_timers.py",),
        (f"{T}test_withheld_ack_is_retried_then_fails[*]",
         f"{T}test_late_ack_after_a_retransmission_completes[*]",
         f"{T}test_dropped_puback_is_recovered_by_a_dup_publish",
         f"{T}test_dropped_sub_or_unsuback_is_recovered[*]")),
    "sub-no-granted-qos": Expect(
        "3.3.6 <value>: result 0 carries the granted QoS vector; every case that subscribes checks it",
        ("suites/test_qmtsub.py", "suites/test_qmtuns.py", "suites/test_qmtrecv.py", "suites/test_qos.py",
         "suites/test_mqtt_flow.py", "suites/test_example_6_1.py", "suites/test_example_6_2.py",
         "suites/test_timers.py"),
        ("suites/test_example_6_1.py::test_example_6_1_replayed",
         "suites/test_example_6_1.py::test_example_topics_with_leading_space_are_observed",
         "suites/test_example_6_2.py::test_example_6_2_replayed",
         "suites/test_mqtt_flow.py::test_broker_publish_arrives_as_qmtrecv",
         "suites/test_qmtrecv.py::*",
         "suites/test_qmtsub.py::*",
         "suites/test_qmtuns.py::test_no_delivery_after_unsubscribe",
         "suites/test_qmtuns.py::test_unsubscribe_carries_msgid_and_reports_result_0[*]",
         "suites/test_qos.py::test_clean_session_forgets_subscriptions",
         "suites/test_qos.py::test_non_clean_session_gets_offline_messages",
         f"{T}test_dropped_sub_or_unsuback_is_recovered[*]",
         f"{T}test_late_ack_after_a_retransmission_completes[*]")),
    "qmtstat-peer-close-7": Expect(
        "5.1 Table 4: '1 Connection is closed or reset by its remote peer.' The suite only requires some "
        "code 1..7 (unclear 'qmtstat_codes'), so the fault is flagged as a deviation and fails under --strict",
        ("suites/test_qmtconn.py", "suites/test_qmtdisc.py", "suites/test_qos.py", "suites/test_timers.py"),
        (),
        ("suites/test_qmtconn.py::test_connect_flow_broken_by_peer[close_before_connect]",
         "suites/test_qmtconn.py::test_same_client_id_on_second_id_with_*",
         "suites/test_qmtdisc.py::test_peer_closes_or_resets[*]",
         "suites/test_qmtdisc.py::test_broker_side_drops_connection[*]",
         "suites/test_qos.py::test_will_is_published_on_ungraceful_loss[*]",
         f"{T}test_peer_closing_the_link_reports_qmtstat[*]")),
    # Issue 15: the yardsticks' client duties (suites/test_yardstick_gaps.py, suites/test_retransmission.py)
    "connack-bad-flags-accepted": Expect(
        "[MQTT-2.2.2-2] / TP_MQTT_Client_CONNACK_01: invalid fixed-header flags close the link; chapter 5 +QMTSTAT",
        (G,),
        (f"{G}::test_connack_with_invalid_flags_closes_the_link",)),
    "puback-on-qos0": Expect(
        "[MQTT-3.3.4-1] / TP_MQTT_Client_PUBLISH_06: nothing answers a QoS 0 PUBLISH",
        (G,),
        (f"{G}::test_qos0_delivery_gets_no_reply",
         f"{G}::test_overlapping_subscriptions_each_copy_is_handled")),
    "connect-will-after-credentials": Expect(
        "[MQTT-3.1.3-1] / TP_MQTT_Client_CONNECT_10: client id, will topic, will message, user name, password",
        (G,),
        (f"{G}::test_connect_payload_has_all_five_fields_in_order",)),
    "empty-client-id-clean-0": Expect(
        "[MQTT-3.1.3-7] / TP_MQTT_Client_CONNECT_12: a zero-byte client id comes with CleanSession 1",
        (G,),
        (f"{G}::test_zero_byte_client_id_with_session_0",)),
    "no-redelivery-on-reconnect": Expect(
        "[MQTT-4.4.0-1]: reconnected with CleanSession 0, the unacknowledged PUBLISH/PUBREL is re-sent",
        (R,),
        (f"{R}::test_unacknowledged_flow_is_resent_after_reconnect[*]",)),
    "inflight-msgid-reused": Expect(
        "[MQTT-2.3.1-2] / TP_MQTT_Client_PUBLISH_10, SUBSCRIBE_03: no new packet with an id still in flight",
        (G,),
        (f"{G}::test_msgid_still_in_flight_is_not_reused_on_the_wire[*]",)),
    "pubrel-dup-on-retransmit": Expect(
        "Figure 1 Excep2 / [MQTT-3.6.1-1]: every re-sent PUBREL has the same packet id and flags 0010 (no DUP)",
        ("suites/test_timers.py", R),
        (f"{T}test_withheld_ack_is_retried_then_fails[PUBCOMP-*]",
         f"{T}test_timeout_notice_0_reports_no_retransmission[PUBCOMP]",
         f"{T}test_late_ack_after_a_retransmission_completes[PUBCOMP]",
         f"{R}::test_unacknowledged_flow_is_resent_after_reconnect[qos2-PUBREL]")),
    "pub-wildcard-topic-sent": Expect(
        "[MQTT-3.3.2-2] / TP_MQTT_Client_PUBLISH_05: a PUBLISH topic name holds no wildcard",
        (G,),
        (f"{G}::test_wildcard_in_publish_topic_never_reaches_the_wire[*]",)),
    "session-kept-on-clean": Expect(
        "[MQTT-3.1.2-6]: reconnected with CleanSession 1, nothing of the previous session is re-sent",
        (R,),
        (f"{R}::test_clean_session_discards_the_unacknowledged_flow",)),
    "utf8-passthrough": Expect(
        "[MQTT-1.5.3-1]/[MQTT-1.5.3-2] / TP_MQTT_Client_CONNECT_11, PUBLISH_04, UNSUBSCRIBE_02: a client id, "
        "topic name or topic filter on the wire is well-formed UTF-8 without U+0000 (the AT+QMTSUB case of "
        "chapter 4 sees the same fault)",
        (G, "suites/test_error_codes.py"),
        (f"{G}::test_client_id_reaches_the_wire_as_utf8[not-utf8]",
         f"{G}::test_ill_formed_publish_topic_never_reaches_the_wire[*]",
         f"{G}::test_ill_formed_unsubscribe_filter_never_reaches_the_wire[*]",
         "suites/test_error_codes.py::test_topic_that_is_not_utf8[*]")),
    # Not a fault but a real module (harness/emulator/firmware/observed-a05.toml): it fails exactly where
    # an A05 contradicts the note; its other deviations are within what the note allows (fact 32's plain
    # ERROR for AT+QMTCLOSE with nothing open) or what the suite leaves unclear (facts 33/53's +QMTSTAT 7).
    "observed-a05": Expect(
        "a real A05 (observations file): fact 32, AT+QMTOPEN on an open ID answers +CME ERROR: operation not "
        "allowed, not 3.3.2 <result> 2 'The MQTT socket is occupied'; fact 37, an explicit empty password is "
        "refused with +CME ERROR: Incorrect parameters, which 3.3.4 <pass_word> (no minimum length) allows; "
        "under --strict, facts 33/53, a peer closing a link before CONNECT is +QMTSTAT 7, not 5.1 Table 4's 1",
        ("suites/test_qmtopen.py", "suites/test_qmtconn.py", "suites/test_qmtclose.py", "suites/test_qmtdisc.py"),
        ("suites/test_qmtopen.py::test_same_connect_id_twice_is_occupied",  # fact 32
         "suites/test_qmtopen.py::test_connected_id_is_occupied_and_session_survives",  # fact 32
         "suites/test_qmtconn.py::test_explicit_empty_password_is_sent"),  # fact 37
        ("suites/test_qmtconn.py::test_connect_flow_broken_by_peer[close_before_connect]",  # facts 33, 53
         "suites/test_qmtdisc.py::test_peer_closes_or_resets[open-*]")),  # facts 33, 53
}
