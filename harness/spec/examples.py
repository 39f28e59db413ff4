"""Chapter 6's two transcripts as data: (command, what the module prints) in order, with the
data typed after ">" and the example's own quirks marked. The note calls them illustrations
(3.2), so cases replay them with the quirks in mind (harness.spec.unclear "examples_quirks")."""

from __future__ import annotations

from dataclasses import dataclass

from .commands import redact
from .model import Entry


@dataclass(frozen=True)
class Step:
    command: str | None  # None: a URC the module reports by itself
    lines: tuple[str, ...]  # what follows, as printed ("OK", result URCs; ">" for the prompt)
    data: str | None = None  # typed after ">" (then Ctrl+Z); None for no data mode
    quirk: str | None = None  # where the example deviates from chapters 3-5
    secret: bool = False  # the command carries a secret (device secret, password): log it redacted


QUOTE_MAX = 100
A61 = "oyjtmPl5a5j"
HOST61 = "oyjtmPl5a5j.iot-as-mqtt.cn-shanghai.aliyuncs.com"
T_GET = " /oyjtmPl5a5j/S2fXbFBKh4NSwwyIjSC4/user/get"
T_UPD = " /oyjtmPl5a5j/S2fXbFBKh4NSwwyIjSC4/user/update"
_SPACE = "topic starts with a space"

EXAMPLE_6_1: tuple[Step, ...] = (
    Step("AT+QSCLK=0", ("OK",)),
    Step(f'AT+QMTCFG="aliauth",0,"{A61}","MQTT_TEST","wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ"', ("OK",), secret=True),
    Step(f'AT+QMTOPEN=0,"{HOST61}",1883', ("OK", "+QMTOPEN: 0,0")),
    Step("AT+QMTOPEN?", (f'+QMTOPEN: 0,"{HOST61}",1883', "OK")),
    Step("AT+QMTCONN=?", ("+QMTCONN: (0-4),<clientID>,<username>,<password>", "OK")),
    Step('AT+QMTCONN=0,"clientExample"', ("OK", "+QMTCONN: 0,0,0")),
    Step("AT+QMTSUB=?", ("+QMTSUB: (0-4),(1-65535),<topic>,(0-2),<topic>,(0-2),…", "OK"),
         quirk="placeholders <topic> (syntax: <topic1>) and a Unicode ellipsis"),
    Step(f'AT+QMTSUB=0,1,"{T_GET}",1', ("OK", "+QMTSUB: 0,1,0,1"), quirk=_SPACE),
    Step(f'AT+QMTSUB=0,1,"{T_UPD}",1', ("OK", "+QMTSUB: 0,1,0,1"), quirk=f"{_SPACE}; <msgID> 1 reused"),
    Step(None, (f'+QMTRECV: 0,1023,"{T_GET}","This is the payload related to topic"',), quirk=_SPACE),
    Step(f'AT+QMTUNS=0,2,"{T_GET}"', ("OK", "+QMTUNS: 0,2,0"), quirk=_SPACE),
    Step("AT+QMTPUB=?", ("+QMTPUB : (0-4),(0-65535),(0-2),(0,1),<topic>,(0-1460),<msg>", "OK"),
         quirk='"+QMTPUB : " with a space before the colon'),
    Step(f'AT+QMTPUB=0,0,0,0,"{T_UPD}"', (">", "OK", "+QMTPUB: 0,0,0"), data="This is test data, hello MQTT.",
         quirk=_SPACE),
    Step(None, ('+QMTRECV: 0,0,"/oyjtmPl5a5j/S2fXbFBKh4NSwwyIjSC4/user/update","This is test data, hello MQTT."',),
         quirk="the topic arrives without the space the publish used"),
    Step("AT+QMTDISC=0", ("OK", "+QMTDISC: 0,0")),
    Step("AT+QSCLK=1", ("OK",)),
)

HUB = "quectel-iot-hub.azure-devices.net"
DEV = "quectel-device-x509self"
C2D = (f"devices/{DEV}/messages/devicebound/%24.mid=419cfb05-7053-4c7a-ba6a-68eb2c5077d6&%24.to="
       f"%2Fdevices%2F{DEV}%2Fmessages%2FdeviceBound&iothub-ack=full")
EVENTS = f"devices/{DEV}/messages/events/"

EXAMPLE_6_2: tuple[Step, ...] = (
    Step("AT+QSCLK=0", ("OK",)),
    Step('AT+QSSLCFG=0,0,"seclevel",2', ("OK",)),
    Step('AT+QSSLCFG=0,0,"cacert"', (">", '+QSSLCFG: 0,0,"cacert",1282', "OK"), data="<CA certificate, PEM>",
         quirk="PEM content not printed; 1282 is its length"),
    Step('AT+QSSLCFG=0,0,"clientcert"', (">", '+QSSLCFG: 0,0,"clientcert",1216', "OK"),
         data="<client certificate, PEM>", quirk="PEM content not printed; 1216 is its length"),
    Step('AT+QSSLCFG=0,0,"clientkey"', (">", '+QSSLCFG: 0,0,"clientkey",1679', "OK"),
         data="<client private key, PEM>", quirk="PEM content not printed; 1679 is its length", secret=True),
    Step("AT+QSCLK=1", ("OK",)),
    Step('AT+QMTCFG="ssl",3,1,0,0', ("OK",), quirk="MQTT connect ID 3 uses SSL connect ID 0 (only 0 supported)"),
    Step('AT+QMTCFG="version",3,1', ("OK",)),
    Step(f'AT+QMTOPEN=3,"{HUB}",8883', ("OK", "+QMTOPEN: 3,0")),
    Step(f'AT+QMTCONN=3,"{DEV}","{HUB}/{DEV}"', ("OK", "+QMTCONN: 3,0,0")),
    Step(f'AT+QMTSUB=3,1,"devices/{DEV}/messages/devicebound/#",1', ("OK", "+QMTSUB: 3,1,0,1")),
    Step(None, (f'+QMTRECV: 3,2,"{C2D}","hi quectel"',)),
    Step(f'AT+QMTPUB=3,0,0,0,"{EVENTS}",17,"{{"a":"1","b":"2"}}"', ("OK", "+QMTPUB: 3,0,0"),
         quirk='labelled "fixed-length messages in data mode" but is the non-data-mode form; <msg> holds quotes'),
    Step(f'AT+QMTPUB=3,0,0,0,"{EVENTS}"', (">", "OK", "+QMTPUB: 3,0,0"), data="hello azure iot hub"),
    Step("AT+QMTDISC=3", ("OK", "+QMTDISC: 3,0")),
)

EXAMPLES: dict[str, tuple[Step, ...]] = {"6.1": EXAMPLE_6_1, "6.2": EXAMPLE_6_2}


def step_id(section: str, index: int) -> str:
    return f"{section}/{index + 1:02d}"


def entries() -> list[Entry]:
    out = []
    for sec, steps in EXAMPLES.items():
        for i, st in enumerate(steps):
            quote = st.command if st.command is not None else st.lines[0]
            quote = quote[:QUOTE_MAX]  # a long URC line: its start identifies it
            if st.secret:  # cite only up to the secret, so the coverage report never prints it
                quote = redact(quote).split('"***"')[0]
            out.append(Entry(step_id(sec, i), "example", sec, quote, st.quirk))
    return out
