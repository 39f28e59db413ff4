"""The scripted MQTT peer: the broker end of the wire, driven step by step by a case.

Verdicts on the module's MQTT client (DUP and packet ids on retransmission, PUBREL after PUBREC,
CONNACK codes, keep-alive, MQTT 3.1) come from here, not from a real broker (DESIGN.md "Faults").

server.py      ScriptedPeer: listens (plain or TLS) on its own event loop thread and hands out
               one Connection per client; accept(), wait_tls_failure(), stop().
connection.py  Connection: one client as the case sees it: expect(), send(), send_raw(), close(),
               reset(), blackhole(), the common flows (handshake, ack_publish, deliver, ...) and
               the verdict helpers (received, sent, assert_conformant, assert_keepalive). Given the
               loop and its settings by the server; it does not import server.py.
match.py       the pure part: Match/Capture/predicate, Record (one packet, its Direction), the
               error types. The session rules of MQTT 3.1.1 that one packet cannot show are
               harness.mqtt.session (shared with the fault proxy since issue 15).

Arrows: server -> connection -> match -> harness.mqtt.codec; connection -> harness.mqtt.session;
server and connection -> harness.loop_thread. Nothing else of the harness.
"""

from harness.peer.connection import Connection
from harness.peer.match import Capture, Match, PeerError, PeerMismatch, PeerTimeout, PeerViolation, predicate
from harness.peer.server import ScriptedPeer

__all__ = ["Capture", "Connection", "Match", "PeerError", "PeerMismatch", "PeerTimeout", "PeerViolation",
           "ScriptedPeer", "predicate"]
