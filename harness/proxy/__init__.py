"""The MQTT fault proxy: between the DUT and a real broker, it records and disturbs the traffic.

server.py   FaultProxy: one listener, one upstream connection per client, both directions cut
            into frames by codec.Framer; blackhole, refuse_connections, drop_connections.
rules.py    Rule (which packet: direction, type, nth, count, packet id, connection, predicate)
            and the actions (Drop, Delay, Duplicate, Corrupt, Close, Reset, Blackhole); a new
            fault is a new Action there. Pure: nothing touches a socket.
wirelog.py  WireLog: one Record per packet or connection event (direction, type, flags, fault,
            when it went on, the MQTT 3.1.1 statements it breaks), queries with deadlines for
            cases, render() for the reports, JSON.
judge.py    WireJudge: per connection, the client's packets through codec.validate() and the
            session rules (harness.mqtt.session), the broker's through codec.validate(). Pure.

Arrows: server -> rules -> wirelog -> harness.mqtt.codec; server -> judge -> harness.mqtt.session;
server -> harness.loop_thread.
"""

from harness.proxy.rules import Action, Blackhole, Close, Corrupt, Delay, Drop, Duplicate, Reset, Rule, RuleError
from harness.proxy.server import FaultProxy, ProxyError
from harness.proxy.wirelog import Record, WireLog, WireLogTimeout

__all__ = ["Action", "Blackhole", "Close", "Corrupt", "Delay", "Drop", "Duplicate", "FaultProxy", "ProxyError",
           "Record", "Reset", "Rule", "RuleError", "WireLog", "WireLogTimeout"]
