"""The normative statements of MQTT 3.1.1 as data: every [MQTT-x.y.z-n] id, whom it binds, one line
of what it asks (our words, not the standard's), so the coverage report can say which of the
client's duties the suites exercise.

Source of the ids: the list of Appendix B of the OASIS standard (mqtt-v3.1.1-os) as transcribed in
anyflow/lannister, src/site/markdown/specification.md (commit 1f88aae6fc93ef446065cd06db22abb2f3ad6e82),
read through the public-code index; its two typos are corrected here ("MQTT-3.1.2.7" is 3.1.2-7,
"MQTT-3-8.3-4" is 3.8.3-4). 141 ids.

`side` says whom a statement binds, read from its text:
- ``client``: the Client alone (3.1.0-1 the first packet is CONNECT, 3.1.2-23 keep-alive, ...);
- ``both``: Client and Server alike (DUP, packet ids, UTF-8, QoS flows, protocol violations);
- ``content``: worded as the Server's check of a field the Client sends (3.1.2-1 protocol name,
  3.1.2-3 reserved flag, 3.8.3-4 requested QoS, 3.14.1-1 DISCONNECT flags): a client breaks it by
  sending that field wrong, so it is the client's duty too (IoT-Testware's client TPs rest on them);
- ``server``: the Server alone (session storage, retained messages, matching, CONNACK codes).
Client-side means client, both or content. `not_applicable`: a client-side statement no module
driven by AT commands can meet or break (chapter 6: the module has no WebSocket transport).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BY_ID", "CLIENT_SIDE", "STATEMENTS", "Statement", "client_side"]

CLIENT_SIDE = ("client", "both", "content")


@dataclass(frozen=True)
class Statement:
    id: str  # "MQTT-3.3.1-1", as cases cite it between brackets
    side: str  # client | both | content | server
    says: str  # one line, paraphrased
    not_applicable: str | None = None

    @property
    def section(self) -> str:
        return self.id.removeprefix("MQTT-").rsplit("-", 1)[0]


_NO_WS = "WebSocket transport (chapter 6): the module speaks MQTT over TCP or TLS only"

_TABLE: tuple[tuple[str, str, str], ...] = (
    ("1.5.3-1", "both", "strings are well-formed UTF-8 (no surrogates); ill-formed UTF-8 received closes the link"),
    ("1.5.3-2", "both", "strings hold no U+0000; receiving one closes the link"),
    ("1.5.3-3", "both", "a receiver keeps a BOM (EF BB BF) as U+FEFF, never strips it"),
    ("2.2.2-1", "both", "reserved fixed-header flag bits carry the values of Table 2.2"),
    ("2.2.2-2", "both", "a receiver of invalid fixed-header flags closes the link"),
    ("2.3.1-1", "both", "SUBSCRIBE, UNSUBSCRIBE and QoS>0 PUBLISH carry a non-zero packet id"),
    ("2.3.1-2", "client", "a new SUBSCRIBE/UNSUBSCRIBE/QoS>0 PUBLISH gets a packet id not in use"),
    ("2.3.1-3", "client", "a re-sent packet keeps its packet id; the id is free after its final ack"),
    ("2.3.1-4", "server", "the same packet-id rules for the Server's QoS>0 PUBLISH"),
    ("2.3.1-5", "both", "a QoS 0 PUBLISH carries no packet id"),
    ("2.3.1-6", "both", "PUBACK, PUBREC and PUBREL carry the packet id of their PUBLISH"),
    ("2.3.1-7", "server", "SUBACK and UNSUBACK carry the packet id of their SUBSCRIBE/UNSUBSCRIBE"),
    ("3.1.0-1", "client", "the first packet a Client sends on a new link is CONNECT"),
    ("3.1.0-2", "server", "a second CONNECT on one link is a protocol violation; the Server disconnects"),
    ("3.1.2-1", "content", "the protocol name is 'MQTT' (else the Server may drop or treat it otherwise)"),
    ("3.1.2-2", "content", "an unsupported protocol level gets CONNACK 0x01 and a disconnect"),
    ("3.1.2-3", "content", "the CONNECT reserved flag is 0 (the Server disconnects otherwise)"),
    ("3.1.2-4", "both", "CleanSession 0: session resumed or created, and kept by both sides after disconnect"),
    ("3.1.2-5", "server", "CleanSession 0: the Server stores QoS 1/2 messages for the absent client"),
    ("3.1.2-6", "both", "CleanSession 1: both sides drop the previous session; the new one ends with the link"),
    ("3.1.2-7", "server", "retained messages are not session state and survive the session"),
    ("3.1.2-8", "server", "a will is stored with the link and published when it ends without DISCONNECT"),
    ("3.1.2-9", "client", "will flag 1: will topic and will message are in the payload"),
    ("3.1.2-10", "server", "the will is removed once published or on DISCONNECT"),
    ("3.1.2-11", "client", "will flag 0: will QoS and retain 0, no will topic or message in the payload"),
    ("3.1.2-12", "server", "will flag 0: no will is published when the link ends"),
    ("3.1.2-13", "client", "will flag 0: will QoS is 0"),
    ("3.1.2-14", "client", "will flag 1: will QoS is 0, 1 or 2, never 3"),
    ("3.1.2-15", "client", "will flag 0: will retain is 0"),
    ("3.1.2-16", "server", "will retain 0: the will is published not retained"),
    ("3.1.2-17", "server", "will retain 1: the will is published retained"),
    ("3.1.2-18", "client", "user name flag 0: no user name in the payload"),
    ("3.1.2-19", "client", "user name flag 1: a user name in the payload"),
    ("3.1.2-20", "client", "password flag 0: no password in the payload"),
    ("3.1.2-21", "client", "password flag 1: a password in the payload"),
    ("3.1.2-22", "client", "user name flag 0: password flag 0"),
    ("3.1.2-23", "client", "the Client never stays silent longer than the keep-alive: it sends PINGREQ"),
    ("3.1.2-24", "server", "no packet within 1.5 x keep-alive: the Server drops the client"),
    ("3.1.3-1", "client", "payload order: client id, will topic, will message, user name, password"),
    ("3.1.3-2", "both", "the client id names the session state both sides keep"),
    ("3.1.3-3", "client", "the client id is present and the first payload field"),
    ("3.1.3-4", "client", "the client id is a UTF-8 string"),
    ("3.1.3-5", "server", "the Server accepts 1-23 byte alphanumeric client ids"),
    ("3.1.3-6", "server", "a zero-byte client id, if allowed, gets a unique id from the Server"),
    ("3.1.3-7", "client", "a zero-byte client id comes with CleanSession 1"),
    ("3.1.3-8", "server", "a zero-byte client id with CleanSession 0 gets CONNACK 0x02 and a close"),
    ("3.1.3-9", "server", "a rejected client id gets CONNACK 0x02 and a close"),
    ("3.1.3-10", "client", "the will topic is a UTF-8 string"),
    ("3.1.3-11", "client", "the user name is a UTF-8 string"),
    ("3.1.4-1", "server", "a CONNECT not conforming to 3.1 closes the link without CONNACK"),
    ("3.1.4-2", "server", "a second client with a connected client id disconnects the first"),
    ("3.1.4-3", "server", "after a valid CONNECT the Server applies CleanSession"),
    ("3.1.4-4", "server", "a valid CONNECT gets CONNACK with return code 0"),
    ("3.1.4-5", "server", "after a refused CONNECT nothing more from the client is processed"),
    ("3.2.0-1", "server", "the Server's first packet is CONNACK"),
    ("3.2.2-1", "server", "CleanSession 1 accepted: session present 0"),
    ("3.2.2-2", "server", "CleanSession 0 with a stored session: session present 1"),
    ("3.2.2-3", "server", "CleanSession 0 without a stored session: session present 0"),
    ("3.2.2-4", "server", "a non-zero CONNACK return code has session present 0"),
    ("3.2.2-5", "server", "a non-zero CONNACK return code is followed by a close"),
    ("3.2.2-6", "server", "no applicable return code: close without CONNACK"),
    ("3.3.1-1", "both", "a re-delivered PUBLISH has DUP 1"),
    ("3.3.1-2", "both", "a QoS 0 PUBLISH has DUP 0"),
    ("3.3.1-3", "server", "the outgoing DUP flag depends only on whether that PUBLISH is a re-send"),
    ("3.3.1-4", "both", "QoS is never 3; a PUBLISH with QoS 3 received closes the link"),
    ("3.3.1-5", "server", "RETAIN 1 from a client: the Server stores the message for future subscribers"),
    ("3.3.1-6", "server", "a new subscription gets the matching retained messages"),
    ("3.3.1-7", "server", "a retained QoS 0 message replaces the previous retained one"),
    ("3.3.1-8", "server", "a message sent because of a new subscription has RETAIN 1"),
    ("3.3.1-9", "server", "a message sent to an established subscription has RETAIN 0"),
    ("3.3.1-10", "server", "a zero-byte retained PUBLISH is delivered and clears the retained message"),
    ("3.3.1-11", "server", "a zero-byte retained message is not stored"),
    ("3.3.1-12", "server", "RETAIN 0: the Server neither stores nor clears a retained message"),
    ("3.3.2-1", "both", "the topic name is the first variable-header field and a UTF-8 string"),
    ("3.3.2-2", "both", "a PUBLISH topic name holds no wildcard"),
    ("3.3.2-3", "server", "the Server's PUBLISH topic matches the subscription's filter"),
    ("3.3.4-1", "both", "the receiver of a PUBLISH answers as Table 3.4 says for its QoS"),
    ("3.3.5-1", "server", "delivery uses the highest QoS of the matching subscriptions"),
    ("3.3.5-2", "server", "an unauthorized PUBLISH is acknowledged as usual or the link is closed"),
    ("3.6.1-1", "both", "PUBREL fixed-header flags are 0010"),
    ("3.8.1-1", "client", "SUBSCRIBE fixed-header flags are 0010"),
    ("3.8.3-1", "client", "SUBSCRIBE topic filters are UTF-8 strings"),
    ("3.8.3-2", "server", "a Server without wildcard support rejects filters that hold one"),
    ("3.8.3-3", "client", "a SUBSCRIBE carries at least one filter/QoS pair"),
    ("3.8.3-4", "content", "requested QoS 0-2 and reserved bits 0 (the Server treats others as malformed)"),
    ("3.8.4-1", "server", "a SUBSCRIBE gets a SUBACK"),
    ("3.8.4-2", "server", "the SUBACK has the SUBSCRIBE's packet id"),
    ("3.8.4-3", "server", "an identical filter replaces the subscription and re-sends retained messages"),
    ("3.8.4-4", "server", "several filters are handled as several SUBSCRIBEs with one SUBACK"),
    ("3.8.4-5", "server", "the SUBACK has one return code per filter: granted QoS or failure"),
    ("3.8.4-6", "server", "delivered QoS is the lower of published and granted QoS"),
    ("3.9.3-1", "server", "SUBACK return codes follow the order of the filters"),
    ("3.9.3-2", "server", "SUBACK return codes are 0x00, 0x01, 0x02 or 0x80 only"),
    ("3.10.1-1", "client", "UNSUBSCRIBE fixed-header flags are 0010"),
    ("3.10.3-1", "client", "UNSUBSCRIBE topic filters are UTF-8 strings, packed"),
    ("3.10.3-2", "client", "an UNSUBSCRIBE carries at least one filter"),
    ("3.10.4-1", "server", "unsubscribe compares filters character by character and deletes exact matches"),
    ("3.10.4-2", "server", "after an unsubscribe no new messages are queued for it"),
    ("3.10.4-3", "server", "QoS 1/2 deliveries already started are completed"),
    ("3.10.4-4", "server", "an UNSUBSCRIBE gets an UNSUBACK with its packet id"),
    ("3.10.4-5", "server", "an UNSUBACK comes even when nothing was deleted"),
    ("3.10.4-6", "server", "several filters are handled as several UNSUBSCRIBEs with one UNSUBACK"),
    ("3.12.4-1", "server", "a PINGREQ gets a PINGRESP"),
    ("3.14.1-1", "content", "DISCONNECT reserved bits are 0 (the Server disconnects otherwise)"),
    ("3.14.4-1", "client", "after DISCONNECT the Client closes the link"),
    ("3.14.4-2", "client", "after DISCONNECT the Client sends nothing more on that link"),
    ("3.14.4-3", "server", "a DISCONNECT discards the will without publishing it"),
    ("4.1.0-1", "both", "both sides keep session state for the whole session"),
    ("4.1.0-2", "both", "a session lasts at least as long as its link"),
    ("4.3.1-1", "both", "QoS 0 sender: one PUBLISH, QoS 0, DUP 0"),
    ("4.3.2-1", "both", "QoS 1 sender: unused id, DUP 0, unacknowledged until PUBACK"),
    ("4.3.2-2", "both", "QoS 1 receiver: PUBACK with the id; later PUBLISH with that id is a new message"),
    ("4.3.3-1", "both", "QoS 2 sender: unused id, DUP 0, PUBREL on PUBREC, no PUBLISH re-send after PUBREL"),
    ("4.3.3-2", "both", "QoS 2 receiver: PUBREC with the id, PUBCOMP on PUBREL, no duplicate onward delivery"),
    ("4.4.0-1", "both", "reconnecting with CleanSession 0: unacknowledged PUBLISH and PUBREL are re-sent"),
    ("4.5.0-1", "server", "an accepted message joins the sessions of matching subscribers"),
    ("4.5.0-2", "client", "the Client acknowledges every PUBLISH by its QoS, whether it uses it or not"),
    ("4.6.0-1", "client", "re-sent PUBLISH packets go in their original order"),
    ("4.6.0-2", "client", "PUBACKs go in the order their PUBLISHes arrived"),
    ("4.6.0-3", "client", "PUBRECs go in the order their PUBLISHes arrived"),
    ("4.6.0-4", "client", "PUBRELs go in the order their PUBRECs arrived"),
    ("4.6.0-5", "server", "topics are ordered topics by default"),
    ("4.6.0-6", "server", "an ordered topic is delivered in the order received from each client"),
    ("4.7.1-1", "both", "wildcards may be in topic filters, never in topic names"),
    ("4.7.1-2", "both", "'#' stands alone or after '/', and last"),
    ("4.7.1-3", "both", "'+' occupies a whole level"),
    ("4.7.2-1", "server", "filters starting with a wildcard do not match topics starting with '$'"),
    ("4.7.3-1", "both", "topic names and filters are at least one character long"),
    ("4.7.3-2", "both", "topic names and filters hold no U+0000"),
    ("4.7.3-3", "both", "topic names and filters encode to at most 65535 bytes"),
    ("4.7.3-4", "server", "matching does no normalization or substitution"),
    ("4.8.0-1", "both", "a protocol violation closes the link it came on"),
    ("4.8.0-2", "both", "a transient error processing an inbound packet closes its link"),
    ("6.0.0-1", "both", "over WebSocket, MQTT goes in binary frames only"),
    ("6.0.0-2", "both", "a WebSocket frame may hold several or partial MQTT packets"),
    ("6.0.0-3", "client", "the Client offers the WebSocket subprotocol 'mqtt'"),
    ("6.0.0-4", "server", "the Server selects the WebSocket subprotocol 'mqtt'"),
    ("7.0.0-1", "server", "a Server that also connects out conforms as Client and Server"),
    ("7.0.0-2", "both", "no extension outside the standard is required to interoperate"),
    ("7.1.1-1", "server", "a Server supports an ordered, lossless byte stream transport"),
    ("7.1.2-1", "client", "a Client supports an ordered, lossless byte stream transport"),
)

STATEMENTS: tuple[Statement, ...] = tuple(
    Statement(f"MQTT-{num}", side, says, _NO_WS if num.startswith("6.") and side in CLIENT_SIDE else None)
    for num, side, says in _TABLE)
BY_ID: dict[str, Statement] = {s.id: s for s in STATEMENTS}


def client_side() -> tuple[Statement, ...]:
    """The statements a client can meet or break (client, both, content), in the standard's order."""
    return tuple(s for s in STATEMENTS if s.side in CLIENT_SIDE)
