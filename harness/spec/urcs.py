"""The URCs the note defines, with their optional parts: the result URCs of 3.3.2-3.3.8, +QMTSTAT
(5.1) and +QMTRECV (5.2; <payload_len> only with AT+QMTCFG="showrecvlen" on). `line()` renders
the text a case expects, `parse()` reads one back into named fields."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .commands import split_args
from .model import Entry

STRING_FIELDS = frozenset({"topic", "payload"})


@dataclass(frozen=True)
class Urc:
    id: str
    name: str  # "+QMTRECV"
    section: str
    fields: tuple[str, ...]  # in order
    optional: tuple[str, ...]  # fields that may be absent
    quote: str  # the note's format line
    repeat_last: bool = False  # "[,<value>…]": one value per subscribed topic
    unclear: str | None = None

    @property
    def fmt(self) -> str:
        parts = []
        for i, f in enumerate(self.fields):
            sep = "," if i else ""
            tail = "…" if self.repeat_last and i == len(self.fields) - 1 else ""
            parts.append(f"[{sep}<{f}>{tail}]" if f in self.optional else f"{sep}<{f}>")
        return f"{self.name}: {''.join(parts)}"

    def line(self, **values: int | str | list[int]) -> str:
        """The URC text for these values; an optional field left out (or None) is not printed."""
        out = []
        for f in self.fields:
            v = values.get(f)
            if v is None:
                if f not in self.optional:
                    raise ValueError(f"{self.name} needs <{f}>")
                continue
            if isinstance(v, list):
                out += [str(x) for x in v]
            else:
                out.append(f'"{v}"' if f in STRING_FIELDS else str(v))
        return f"{self.name}: " + ",".join(out)

    def parse(self, line: str) -> dict[str, int | str | list[int]] | None:
        """Named fields of `line`, or None when it is not this URC in the note's shape."""
        head, sep, rest = line.partition(":")
        if not sep or head.strip() != self.name:
            return None
        rest = rest.strip()
        if self.name == "+QMTRECV":
            return _parse_recv(rest)
        args = [a.strip() for a in split_args(rest)]
        if not all(re.fullmatch(r"-?\d+", a) for a in args):
            return None
        nums = [int(a) for a in args]
        required = [f for f in self.fields if f not in self.optional]
        if len(nums) < len(required) or (len(nums) > len(self.fields) and not self.repeat_last):
            return None
        out: dict[str, int | str | list[int]] = dict(zip(self.fields, nums, strict=False))
        if self.repeat_last and len(nums) >= len(self.fields):
            out[self.fields[-1]] = nums[len(self.fields) - 1:]
        return out


_RECV = re.compile(r'(?P<cid>\d+),(?P<msgid>\d+),"(?P<topic>[^"]*)",(?:(?P<len>\d+),)?(?P<payload>.*)\Z', re.S)


def _parse_recv(rest: str) -> dict[str, int | str | list[int]] | None:
    m = _RECV.match(rest)
    if not m:
        return None
    payload = m["payload"]
    if len(payload) >= 2 and payload[0] == payload[-1] == '"':
        payload = payload[1:-1]
    out: dict[str, int | str | list[int]] = {"TCP_connectID": int(m["cid"]), "msgID": int(m["msgid"]),
                                             "topic": m["topic"], "payload": payload}
    if m["len"] is not None:
        out["payload_len"] = int(m["len"])
    return out


_CR = ("TCP_connectID", "result")
URCS: dict[str, Urc] = {u.name: u for u in (
    Urc("3.3.2/QMTOPEN/urc", "+QMTOPEN", "3.3.2", _CR, (), "+QMTOPEN: <TCP_connectID>,<result>"),
    Urc("3.3.3/QMTCLOSE/urc", "+QMTCLOSE", "3.3.3", _CR, (), "+QMTCLOSE: <TCP_connectID>,<result>"),
    Urc("3.3.4/QMTCONN/urc", "+QMTCONN", "3.3.4", (*_CR, "ret_code"), ("ret_code",),
        "+QMTCONN: <TCP_connectID>,<result>[,<ret_code>]",
        unclear="the note does not say when <ret_code> is present; the suite expects it with a CONNACK"),
    Urc("3.3.5/QMTDISC/urc", "+QMTDISC", "3.3.5", _CR, (), "+QMTDISC: <TCP_connectID>,<result>"),
    Urc("3.3.6/QMTSUB/urc", "+QMTSUB", "3.3.6", ("TCP_connectID", "msgID", "result", "value"), ("value",),
        "+QMTSUB: <TCP_connectID>,<msgID>,<result>[,<value>…]", repeat_last=True),
    Urc("3.3.7/QMTUNS/urc", "+QMTUNS", "3.3.7", ("TCP_connectID", "msgID", "result"), (),
        "+QMTUNS: <TCP_connectID>,<msgID>,<result>"),
    Urc("3.3.8/QMTPUB/urc", "+QMTPUB", "3.3.8", ("TCP_connectID", "msgID", "result", "value"), ("value",),
        "+QMTPUB: <TCP_connectID>,<msgID>,<result>[,<value>]"),
    Urc("5.1/QMTSTAT/urc", "+QMTSTAT", "5.1", ("TCP_connectID", "err_code"), (),
        "+QMTSTAT: <TCP_connectID>,<err_code>"),
    Urc("5.2/QMTRECV/urc", "+QMTRECV", "5.2", ("TCP_connectID", "msgID", "topic", "payload_len", "payload"),
        ("payload_len",), "+QMTRECV: <TCP_connectID>,<msgID>,<topic>[,<payload_len>],<payload>"),
)}

# Sentences of chapter 5 the cases cite.
RULES: tuple[tuple[str, str, str], ...] = (
    ("5.1/QMTSTAT/closes", "5.1", "When the state of the MQTT link layer is changed, the client will close the MQTT "
                                  "connection and report the URC."),
    ("5.2/QMTRECV/showrecvlen", "5.2", "You can configure with AT+QMTCFG=\"SHOWRECVLEN\" whether to display"),
    ("5.2/QMTRECV/payload_len", "5.2", "<payload_len> Integer type. Length of the payload."),
)

def entries() -> list[Entry]:
    out = [Entry(u.id, "urc", u.section, u.quote, u.unclear) for u in URCS.values()]
    out += [Entry(i, "urc", s, q) for i, s, q in RULES]
    return out
