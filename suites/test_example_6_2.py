"""Chapter 6.2, "Example of MQTT Operation with SSL", replayed line by line against the mutual-TLS
listener of the rig: the Azure host and port 8883 become the listener's address, the PEM texts are
this session's certificates (so the lengths the module reports are theirs, not 1282/1216/1679), and
the cloud-to-device message of the example is published by an observer. Everything else is sent
exactly as printed; the example's own quirks (harness.spec.examples) are recorded, not judged."""

from __future__ import annotations

import pytest

from harness.at.flows import for_id
from harness.spec.examples import C2D, EVENTS, EXAMPLE_6_2, HUB, step_id

pytestmark = [pytest.mark.spec("6.2"), pytest.mark.ssl]

ALL_STEPS = tuple(step_id("6.2", i) for i in range(len(EXAMPLE_6_2)))
CERT_OF = {"cacert": "ca", "clientcert": "client_cert", "clientkey": "client_key"}


def awake(modem) -> None:
    """After AT+QSCLK=1 a host wakes the module before each command (DESIGN.md "Module facts"):
    `AT` until one is answered, the first possibly lost (obs. fact 14)."""
    assert modem.wake(), "the module did not answer AT after AT+QSCLK=1"


def expect_urc(qmt, command: str, expected: str) -> None:
    name = expected.split(":", 1)[0]
    cid = int(expected.split(":", 1)[1].split(",", 1)[0])
    got = qmt.urc(name, cid, command)
    assert got.line == expected, f"{command}: expected {expected!r} (6.2), got {got.line!r}"


@pytest.mark.spec("3.3.1", "3.3.2", "3.3.4", "3.3.5", "3.3.6", "3.3.8", "5.2")
@pytest.mark.covers(*ALL_STEPS, "unclear/pub_fixed_example", "unclear/examples_quirks")
def test_example_6_2_replayed(modem, qmt, qsslcfg, mtls_broker, observe):
    sleeping = False
    observer = mtls_broker.observer("observer-example-6-2").connect()
    try:
        observer.subscribe(EVENTS, qos=1)
        for index, step in enumerate(EXAMPLE_6_2):
            sid = step_id("6.2", index)
            if sleeping:
                awake(modem)
            if step.command is None:  # 6.2/12: the cloud-to-device message, published broker-side
                observer.publish(C2D, b"hi quectel", qos=1)
                recv = modem.wait_urc("+QMTRECV", qmt.deadline("AT+QMTSUB"), predicate=for_id(3))
                assert recv.args[2:] == [C2D, "hi quectel"], f"{sid}: {recv.line}"
                assert recv.args[1] != 0, f"{sid}: a QoS 1 delivery carries a non-zero <msgID>: {recv.line}"
                observe(f"{sid} <msgID> (example prints 2)", recv.args[1])  # examples illustrate (3.2): no reading
                continue
            command = step.command.replace(f'"{HUB}",8883', f'"{mtls_broker.dut_host}",{mtls_broker.port}')
            if step.data is not None and step.lines[0] == ">" and "QSSLCFG" in command:
                item = command.split('"')[1]
                pem = getattr(qsslcfg.pki, CERT_OF[item]).read_bytes()
                resp = qsslcfg.put(item, pem)
                assert resp.ok, f"{sid}: {command} answered {resp.final}"
                assert resp.lines[-1:] == [f'+QSSLCFG: 0,0,"{item}",{len(pem)}'], f"{sid}: {resp.lines}"
            elif step.data is not None:  # 6.2/14: AT+QMTPUB in data mode
                resp = modem.send_data(command, step.data.encode())
                assert resp.ok, f"{sid}: {command} answered {resp.final}"
                expect_urc(qmt, command, step.lines[-1])
                got = observer.wait_message(EVENTS, timeout=qmt.deadline(command))
                assert got.payload == step.data.encode(), f"{sid}: the broker got {got.payload!r}"
            elif step.quirk and "<msg> holds quotes" in step.quirk:  # 6.2/13: an observation only
                resp = modem.command(command)
                observe(f"{sid} answer", resp.final)
                if resp.ok:
                    observe(f"{sid} result", modem.wait_urc("+QMTPUB", qmt.deadline(command),
                                                            predicate=for_id(3)).line)
                    observe(f"{sid} payload at the broker", observer.wait_message(
                        EVENTS, timeout=qmt.deadline(command)).payload)
            else:
                resp = modem.command(command)
                assert resp.ok, f"{sid}: {command} answered {resp.final} (6.2 prints {step.lines})"
                for expected in step.lines[1:]:
                    expect_urc(qmt, command, expected)
            if command.startswith("AT+QSCLK="):
                sleeping = command.endswith("=1")
        assert qsslcfg.key_shown() == [], "the client private key appeared in the transcript"
    finally:
        observer.close()
        if sleeping:
            awake(modem)
            assert modem.command("AT+QSCLK=0").ok
