"""The BC660K-GL emulator: a module on the desk, reached only through the URL it prints
(`python -m harness.emulator`, DESIGN "Contracts"). It cites the application note and the
module facts of DESIGN.md, never our reading of them in harness.spec (a test checks the imports),
so the suite and the emulator cannot share a mistake.

The rooms, each importing only the ones above it:

    errors.py      every +CME ERROR code with its AT+CMEE=2 text (27.007, note chapter 4), once
    profiles.py    firmware profiles: the conformant one and the deliberately faulty ones (data)
    mqtt_types.py  values the MQTT engine and the handlers exchange (results, +QMTSTAT codes)
    network.py     the uplink as data (--network): latency, jitter, bandwidth, loss; networks/*.toml
    bearer.py      the byte pipe under a connection: straight through, or shaped by network.py
    mqtt_link.py   the link under each client: connection, reader handing replies over, T2, loss
    mqtt_client.py the MQTT client engine (an MqttLink), one per connect ID: flows, session (no AT text)
    state.py       ModuleState, typed per area; SAVED (what a reset keeps); boot (CFUN kept); power hooks
    profile_file.py a firmware profile as a file a lab writes (TOML/JSON, validated); firmware/*.toml
    api.py         the handler contract: Arg, Command, Context, the (command, form) registry
    general_values.py the emulated SIM, cell and network: IMEI, IMSI, ICCID, cell, signal, ... in one place
    general.py     AT, ATE, ATI, CGMR/CGMM/CGMI/CGSN, CIMI, QCCID, CMEE, QSCLK, the radio (CFUN, CEREG,
                   COPS, CGATT, CGPADDR, CSQ, QCGDEFCONT), QRST
    general_power.py AT+CBC, CPSMS, CEDRXS, CEDRXRDP, QNBIOTEVENT, QCFG "dsevent"/"slplocktimes"
    general_net.py AT+CESQ, QENG, QBAND, QBANDSCAN, CSCON, CGDCONT, CCLK, CTZR (+ NITZ, +IP at registration)
    general_ping.py AT+QPING and its URCs
    qmt_common.py  what the MQTT handlers share: parsers with 8507, read forms, URCs of link events
    qmtcfg.py      AT+QMTCFG (3.3.1)
    qsslcfg.py     AT+QSSLCFG and the TLS context AT+QMTOPEN uses
    qmt_conn.py    AT+QMTOPEN/CLOSE/CONN/DISC (3.3.2-3.3.5)
    qmt_pub.py     AT+QMTSUB/UNS/PUB (3.3.6-3.3.8)
    sleep.py       AT+QSCLK on the UART: when the module sleeps, the lost first line, +QNBIOTEVENT
    frontend.py    the AT engine: framing, echo, data mode, ERROR vs +CME ERROR, URCs, reset, boot
    control.py     the power/reset control socket (--control): what a relay does to a module
    overflow.py    output a host does not read: bounded (the newest lost), the loss logged
    transport.py   pty and TCP UARTs, the baud-rate pacer
    server.py      wiring: HANDLER_MODULES, engine, transport, signals
    __main__.py    the CLI
    launcher.py    the harness's side: starts the CLI as a child process, reads its URL line

Where things go:

- A new form of a command: one decorated function in the command's module,
  `@handles("+CMD", "read") async def cmd_read(ctx, cmd): ...`, or for a fixed answer
  `answer("+CMD", "test", "+CMD: (0-1)")`. A form nobody registered answers plain ERROR.
- A new command: the same, in the module of its area (general AT commands: general*.py); a new
  area is a new module listed in server.HANDLER_MODULES.
- A refusal: `raise Refused(Cme.X)` (errors.py) or `ctx.error(Cme.X)`; a new code goes into
  errors.Cme and errors.TEXT, citing where it comes from.
- A state field: a field of the area's dataclass in state.py (a new area: a dataclass and one
  ModuleState field); its name in state.SAVED only if a reset keeps it. A resource that must
  be released at power-off (a socket): a function decorated with `@state.on_power_off`.
- A firmware profile: one entry in profiles.PROFILES (a faulty one: `_fault(...)`, a switch read
  with `ctx.module.profile.has("<name>")` in exactly one place, which its `where` names); what
  the suite must fail for it goes into tests/fault_expectations.py. A firmware seen in the wild
  (several deviations, each citing its observations fact) is a file in firmware/ (profile_file.py),
  its switches in profiles.OBSERVED_SWITCHES.
"""
