"""The emulator's SSL path: AT+QSSLCFG and MQTT over TLS (chapter 6.2, 3.3.1 "ssl", 3.3.2).

Over the real transport: the emulator is a subprocess driven with the AT channel, the brokers
are the embedded amqtt with TLS listeners (one plain TLS, one mutual TLS, one with an expired
server certificate), certificates come from trustme. Decisions tested here are written down
in harness/emulator/qsslcfg.py. Errors are read with AT+CMEE=1 (general codes 4 and 50).
"""

from __future__ import annotations

import datetime
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from emulated import running_emulator

from harness.at.channel import ATChannel
from harness.at.errors import ATTimeout
from harness.broker.embedded import EmbeddedBroker
from harness.broker.observer import Observer
from harness.emulator.launcher import EmulatorProcess
from harness.emulator.qsslcfg import CERT_MAX, TEST_LINES
from harness.pki import TlsFiles
from harness.spec.timing import boot_deadline_s, deadline_s

pytestmark = pytest.mark.timeout(30)

SCALE = 0.05
OPEN_WAIT = deadline_s('AT+QMTOPEN=0,"127.0.0.1",1', SCALE)  # 3.3.2: 176 module s
URC_WAIT = deadline_s('AT+QMTSUB=0,1,"t",0', SCALE)  # 3.3.6: <pkt_timeout> x (<retry_times> + 1)
UNSUPPORTED, INCORRECT = "+CME ERROR: 4", "+CME ERROR: 50"
CERTS = ("cacert", "clientcert", "clientkey")


# --- certificates and brokers --------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: trustme.CA
    ca_pem: bytes
    client_cert: bytes
    client_key: bytes
    foreign_ca_pem: bytes
    foreign_client_cert: bytes
    foreign_client_key: bytes
    client: trustme.LeafCert
    server: TlsFiles
    server_mtls: TlsFiles
    server_expired: TlsFiles


def _files(d: Path, name: str, leaf: trustme.LeafCert, ca: trustme.CA, mutual: bool = False) -> TlsFiles:
    cert, key, ca_file = d / f"{name}.pem", d / f"{name}.key", d / f"{name}-ca.pem"
    leaf.private_key_pem.write_to_path(str(key))
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    ca.cert_pem.write_to_path(str(ca_file))
    return TlsFiles(cert, key, ca_file, require_client_cert=mutual)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, foreign = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    now = datetime.datetime.now(datetime.UTC)
    expired = ca.issue_cert("127.0.0.1", not_before=now - datetime.timedelta(days=30),
                            not_after=now - datetime.timedelta(days=1))
    client = ca.issue_cert("device@example.test", common_name="quectel-device-x509self")
    stranger = foreign.issue_cert("stranger@example.test")
    return Pki(ca, ca.cert_pem.bytes(), client.cert_chain_pems[0].bytes(), client.private_key_pem.bytes(),
               foreign.cert_pem.bytes(), stranger.cert_chain_pems[0].bytes(), stranger.private_key_pem.bytes(),
               client, _files(d, "server", server, ca), _files(d, "server", server, ca, mutual=True),
               _files(d, "expired", expired, ca))


def _broker(tls: TlsFiles) -> EmbeddedBroker:
    return EmbeddedBroker(host="127.0.0.1", port=0, tls=tls, tls_port=0).start()


@pytest.fixture(scope="module")
def tls_broker(pki: Pki) -> Iterator[EmbeddedBroker]:
    """Server authentication only (amqtt's CERT_OPTIONAL for clients)."""
    b = _broker(pki.server)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def mtls_broker(pki: Pki) -> Iterator[EmbeddedBroker]:
    """Mutual TLS: a client certificate from the CA is required."""
    b = _broker(pki.server_mtls)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[EmulatorProcess]:
    text = yield from running_emulator(tmp_path_factory, SCALE)
    # the private keys went through AT+QSSLCFG many times: never into the log
    for key in (pki.client_key, pki.foreign_client_key):
        assert key.decode().splitlines()[1] not in text
    assert "PRIVATE KEY" not in text


@pytest.fixture
def at(emulator: EmulatorProcess) -> Iterator[ATChannel]:
    """A freshly reset module with no certificates (they survive AT+QRST=1: deleted here by
    an empty data-mode entry)."""
    ch = ATChannel(emulator.url, time_scale=SCALE)
    try:
        wake(ch)  # a case may have left AT+QSCLK=1 on
        assert ch.command("AT+QRST=1").ok
        ch.wait_urc("RDY", boot_deadline_s(SCALE))
        assert ch.command("ATE0").ok and ch.command("AT+CMEE=1").ok
        for item in CERTS:
            put(ch, item, b"")
        yield ch
    finally:
        ch.close()


# --- helpers ------------------------------------------------------------------------------


def ok(at: ATChannel, line: str) -> list[str]:
    r = at.command(line)
    assert r.ok, f"{line} -> {r.final}"
    return r.lines


def put(at: ATChannel, item: str, pem: bytes) -> None:
    """Chapter 6.2: `>`, the PEM text, Ctrl+Z -> `+QSSLCFG: 0,0,"<item>",<bytes>` then OK."""
    r = at.send_data(f'AT+QSSLCFG=0,0,"{item}"', pem)
    assert r.ok, r.final
    assert r.lines == [f'+QSSLCFG: 0,0,"{item}",{len(pem)}']


def setup(at: ATChannel, seclevel: int, ca: bytes | None = None, cert: bytes | None = None,
          key: bytes | None = None) -> None:
    ok(at, f'AT+QSSLCFG=0,0,"seclevel",{seclevel}')
    for item, pem in zip(CERTS, (ca, cert, key), strict=True):
        if pem is not None:
            put(at, item, pem)


def open_result(at: ATChannel, port: int, host: str = "127.0.0.1", cid: int = 0) -> int:
    ok(at, f'AT+QMTCFG="ssl",{cid},1,0,0')
    ok(at, f'AT+QMTOPEN={cid},"{host}",{port}')
    args = at.wait_urc("+QMTOPEN", OPEN_WAIT).args
    assert args[0] == cid
    result = args[1]
    assert isinstance(result, int)
    return result


def listing(**changed: str) -> list[str]:
    values = {"seclevel": "0", "sslversion": "4", "dataformat": "0,0", "timeout": "90", "debug": "0",
              "cacert": "0", "clientcert": "0", "clientkey": "0", **changed}
    return [f'+QSSLCFG: 0,0,"{k}",{v}' for k, v in values.items()]


def wake(at: ATChannel) -> None:
    """DESIGN "Module facts": with AT+QSCLK=1 a host sends AT before each command, and a
    sleeping module answers the first one with a blank line only."""
    try:
        assert at.command("AT", timeout=deadline_s("AT", SCALE)).ok
    except ATTimeout:
        assert at.command("AT").ok  # the channel resyncs first


# --- AT+QSSLCFG items ---------------------------------------------------------------------


def test_test_form_lists_every_item_with_ranges(at: ATChannel) -> None:
    r = at.command("AT+QSSLCFG=?")
    assert r.ok and r.lines == list(TEST_LINES)
    assert r.lines[0] == '+QSSLCFG: (0-10),(0-4),"seclevel",(0-2)'
    assert [line.split('"')[1] for line in r.lines] == [
        "seclevel", "sslversion", "dataformat", "timeout", "debug", *CERTS]


def test_listing_form_shows_defaults(at: ATChannel) -> None:
    assert ok(at, "AT+QSSLCFG=0,0") == listing()


@pytest.mark.parametrize(("item", "lo", "hi", "default"), [
    ("seclevel", 0, 2, 0), ("sslversion", 1, 4, 4), ("timeout", 10, 300, 90), ("debug", 0, 4, 0)])
def test_item_bounds_set_and_query(at: ATChannel, item: str, lo: int, hi: int, default: int) -> None:
    query = f'AT+QSSLCFG=0,0,"{item}"'
    assert ok(at, query) == [f'+QSSLCFG: 0,0,"{item}",{default}']
    for value in (lo, hi):
        assert ok(at, f"{query},{value}") == []
        assert ok(at, query) == [f'+QSSLCFG: 0,0,"{item}",{value}']
    for bad in (str(lo - 1), str(hi + 1), f'"{hi}"', "", f"{hi},1"):
        assert at.command(f"{query},{bad}").final == INCORRECT, bad
    assert ok(at, query) == [f'+QSSLCFG: 0,0,"{item}",{hi}']  # a refused write changed nothing
    assert ok(at, "AT+QSSLCFG=0,0") == listing(**{item: str(hi)})


def test_dataformat_two_values(at: ATChannel) -> None:
    ok(at, 'AT+QSSLCFG=0,0,"dataformat",1,0')
    assert ok(at, 'AT+QSSLCFG=0,0,"dataformat"') == ['+QSSLCFG: 0,0,"dataformat",1,0']
    ok(at, 'AT+QSSLCFG=0,0,"dataformat",0,1')
    for bad in ("2,0", "0,2", "-1,0", "1", "1,1,1"):
        assert at.command(f'AT+QSSLCFG=0,0,"dataformat",{bad}').final == INCORRECT, bad
    assert ok(at, 'AT+QSSLCFG=0,0,"dataformat"') == ['+QSSLCFG: 0,0,"dataformat",0,1']


@pytest.mark.parametrize(("ids", "final"), [
    ("11,0", INCORRECT), ("0,5", INCORRECT), ("-1,0", INCORRECT), ("a,0", INCORRECT),
    ("1,0", UNSUPPORTED), ("0,4", UNSUPPORTED), ("10,4", UNSUPPORTED)])
def test_context_and_connect_ids_only_0_0(at: ATChannel, ids: str, final: str) -> None:
    """3.3.1 <SSL_contextID> 0-10 / <SSL_connectID> 0-4, "Currently only 0 is supported"."""
    assert at.command(f'AT+QSSLCFG={ids},"seclevel",1').final == final
    assert at.command(f"AT+QSSLCFG={ids}").final == final
    r = at.send_data(f'AT+QSSLCFG={ids},"cacert"', b"never asked for")
    assert r.final == final  # no '>' prompt
    assert ok(at, "AT+QSSLCFG=0,0") == listing()


def test_forms_and_items_the_module_does_not_have(at: ATChannel) -> None:
    for line in ('AT+QSSLCFG=0,0,"sni",1', 'AT+QSSLCFG=0,0,"ciphersuite","0XFFFF"', "AT+QSSLCFG=0,0,seclevel,1",
                 "AT+QSSLCFG?", "AT+QSSLCFG"):
        assert at.command(line).final == "ERROR", line
    assert at.command("AT+QSSLCFG=0").final == INCORRECT
    assert at.command('AT+QSSLCFG=0,0,"cacert","ca.pem"').final == INCORRECT  # PEM only in data mode


# --- certificates in data mode ---------------------------------------------------------------


def test_certificate_length_is_bytes_received_and_esc_cancels(at: ATChannel, pki: Pki) -> None:
    put(at, "cacert", pki.ca_pem)
    put(at, "clientcert", pki.client_cert + "é\r\n".encode())  # bytes, not characters
    put(at, "clientkey", pki.client_key)
    lengths = {"cacert": str(len(pki.ca_pem)), "clientcert": str(len(pki.client_cert) + 4),
               "clientkey": str(len(pki.client_key))}
    assert ok(at, "AT+QSSLCFG=0,0") == listing(**lengths)
    r = at.send_data('AT+QSSLCFG=0,0,"cacert"', pki.foreign_ca_pem, end=b"\x1b")  # Esc: nothing stored
    assert r.ok and r.lines == []
    r = at.send_data('AT+QSSLCFG=0,0,"clientkey"', b"x" * (CERT_MAX + 1))
    assert r.final == INCORRECT
    assert ok(at, "AT+QSSLCFG=0,0") == listing(**lengths)
    put(at, "clientcert", b"")  # Ctrl+Z at once: deletes
    assert ok(at, "AT+QSSLCFG=0,0") == listing(**{**lengths, "clientcert": "0"})


def test_certificates_survive_reset_other_items_do_not(at: ATChannel, pki: Pki) -> None:
    setup(at, 2, pki.ca_pem, pki.client_cert, pki.client_key)
    ok(at, 'AT+QSSLCFG=0,0,"timeout",10')
    ok(at, 'AT+QSSLCFG=0,0,"dataformat",1,1')
    ok(at, "AT+QRST=1")
    at.wait_urc("RDY", boot_deadline_s(SCALE))
    assert ok(at, "AT+QSSLCFG=0,0") == listing(
        cacert=str(len(pki.ca_pem)), clientcert=str(len(pki.client_cert)), clientkey=str(len(pki.client_key)))


# --- chapter 6.2 ------------------------------------------------------------------------------


def test_chapter_6_2_replayed_against_mutual_tls(at: ATChannel, pki: Pki, mtls_broker: EmbeddedBroker) -> None:
    """Chapter 6.2 "Example of MQTT Operation with SSL", line by line, against a broker that
    requires a client certificate; an observer on the same TLS listener sees the DUT."""
    assert mtls_broker.tls_port is not None
    device = "quectel-device-x509self"
    obs_tls = ssl.create_default_context()
    pki.ca.configure_trust(obs_tls)
    pki.client.configure_cert(obs_tls)
    with Observer(mtls_broker.host, mtls_broker.tls_port, tls=obs_tls).connect() as observer:
        try:
            _replay_6_2(at, pki, mtls_broker, observer, device)
        finally:
            wake(at)
            ok(at, "AT+QSCLK=0")  # not in the example: leave the module awake for the next case


def _replay_6_2(at: ATChannel, pki: Pki, broker: EmbeddedBroker, observer: Observer, device: str) -> None:
    events, bound = f"devices/{device}/messages/events/", f"devices/{device}/messages/devicebound/"
    observer.subscribe(events, 1)
    ok(at, "AT+QSCLK=0")
    ok(at, 'AT+QSSLCFG=0,0,"seclevel",2')
    put(at, "cacert", pki.ca_pem)
    put(at, "clientcert", pki.client_cert)
    put(at, "clientkey", pki.client_key)
    ok(at, "AT+QSCLK=1")
    ok(at, 'AT+QMTCFG="ssl",3,1,0,0')
    ok(at, 'AT+QMTCFG="version",3,1')
    ok(at, f'AT+QMTOPEN=3,"{broker.host}",{broker.tls_port}')
    assert at.wait_urc("+QMTOPEN", OPEN_WAIT).args == [3, 0]
    wake(at)
    ok(at, f'AT+QMTCONN=3,"{device}","{broker.host}/{device}"')
    assert at.wait_urc("+QMTCONN", URC_WAIT).args == [3, 0, 0]
    wake(at)
    ok(at, f'AT+QMTSUB=3,1,"{bound}#",1')
    assert at.wait_urc("+QMTSUB", URC_WAIT).args == [3, 1, 0, 1]
    observer.publish(f"{bound}hello", b"hi quectel", qos=1)
    recv = at.wait_urc("+QMTRECV", URC_WAIT)
    assert recv.args[0] == 3 and recv.args[2:] == [f"{bound}hello", "hi quectel"]
    wake(at)
    ok(at, f'AT+QMTPUB=3,0,0,0,"{events}",17,"{{"a":"1","b":"2"}}"')
    assert at.wait_urc("+QMTPUB", URC_WAIT).args == [3, 0, 0]
    assert observer.wait_message(events, URC_WAIT).payload == b'{"a":"1","b":"2"}'
    wake(at)
    assert at.send_data(f'AT+QMTPUB=3,0,0,0,"{events}"', b"hello azure iot hub").ok
    assert at.wait_urc("+QMTPUB", URC_WAIT).args == [3, 0, 0]
    assert observer.wait_message(events, URC_WAIT).payload == b"hello azure iot hub"
    wake(at)
    ok(at, "AT+QMTDISC=3")
    assert at.wait_urc("+QMTDISC", URC_WAIT).args == [3, 0]


# --- handshakes that work and handshakes that must fail ---------------------------------------


def test_seclevel_0_needs_no_certificates(at: ATChannel, tls_broker: EmbeddedBroker) -> None:
    assert tls_broker.tls_port is not None
    with Observer(tls_broker.host, tls_broker.port).connect() as observer:
        observer.subscribe("ssl/zero", 0)
        assert open_result(at, tls_broker.tls_port) == 0
        ok(at, 'AT+QMTCONN=0,"seclevel-0"')
        assert at.wait_urc("+QMTCONN", URC_WAIT).args == [0, 0, 0]
        ok(at, 'AT+QMTPUB=0,0,0,0,"ssl/zero",4,"tls0"')
        assert at.wait_urc("+QMTPUB", URC_WAIT).args == [0, 0, 0]
        assert observer.wait_message("ssl/zero", URC_WAIT).payload == b"tls0"
    assert ok(at, "AT+QMTOPEN?") == [f'+QMTOPEN: 0,"127.0.0.1",{tls_broker.tls_port}']


def test_seclevel_1_and_tls_1_2_verify_the_server(at: ATChannel, pki: Pki, tls_broker: EmbeddedBroker) -> None:
    """The positive control of the failures below: the right CA and TLS 1.2 only."""
    assert tls_broker.tls_port is not None
    setup(at, 1, pki.ca_pem)
    ok(at, 'AT+QSSLCFG=0,0,"sslversion",3')
    assert open_result(at, tls_broker.tls_port, cid=2) == 0
    ok(at, "AT+QMTCLOSE=2")
    assert at.wait_urc("+QMTCLOSE", URC_WAIT).args == [2, 0]


@pytest.mark.parametrize("case", ["wrong-ca", "hostname", "no-cacert", "tls-1.0"])
def test_server_side_failures_answer_minus_1(at: ATChannel, pki: Pki, tls_broker: EmbeddedBroker,
                                             case: str) -> None:
    """3.3.2 <result> -1 "Failed to open network connection" for every TLS failure (DECIDED)."""
    assert tls_broker.tls_port is not None
    host = "127.0.0.1"
    if case == "wrong-ca":
        setup(at, 1, pki.foreign_ca_pem)
    elif case == "hostname":  # the certificate names 127.0.0.1 only
        setup(at, 1, pki.ca_pem)
        host = "localhost"
    elif case == "no-cacert":
        setup(at, 1)
    else:
        ok(at, 'AT+QSSLCFG=0,0,"sslversion",1')  # Python's server insists on TLS 1.2+
    assert open_result(at, tls_broker.tls_port, host=host) == -1
    assert ok(at, "AT+QMTOPEN?") == []  # the connect ID is free again


def test_expired_server_certificate_fails_seclevel_1(at: ATChannel, pki: Pki) -> None:
    with EmbeddedBroker(host="127.0.0.1", port=0, tls=pki.server_expired, tls_port=0) as expired:
        assert expired.tls_port is not None
        setup(at, 1, pki.ca_pem)
        assert open_result(at, expired.tls_port) == -1
        ok(at, 'AT+QSSLCFG=0,0,"seclevel",0')  # no verification: the same server is accepted
        assert open_result(at, expired.tls_port, cid=1) == 0


@pytest.mark.parametrize("case", ["no-client-cert", "foreign-client-cert", "seclevel-2-without-pair"])
def test_mutual_tls_failures(at: ATChannel, pki: Pki, mtls_broker: EmbeddedBroker, case: str) -> None:
    assert mtls_broker.tls_port is not None
    if case == "no-client-cert":  # seclevel 1 offers no certificate; the server requires one
        setup(at, 1, pki.ca_pem)
    elif case == "foreign-client-cert":
        setup(at, 2, pki.ca_pem, pki.foreign_client_cert, pki.foreign_client_key)
    else:
        setup(at, 2, pki.ca_pem, pki.client_cert)
    assert open_result(at, mtls_broker.tls_port) == -1
    assert ok(at, "AT+QMTOPEN?") == []


def test_ssl_against_a_plain_listener_fails(at: ATChannel, tls_broker: EmbeddedBroker) -> None:
    """amqtt reads the ClientHello as the start of an MQTT packet and waits for the rest, so
    the handshake ends by its deadline (the "timeout" item, shortened to 10 module s)."""
    ok(at, 'AT+QSSLCFG=0,0,"timeout",10')
    assert open_result(at, tls_broker.port) == -1
    assert ok(at, "AT+QMTOPEN?") == []


def test_handshake_deadline_is_the_timeout_item(at: ATChannel) -> None:
    """A server that accepts TCP but never speaks TLS: -1 after "timeout" module seconds
    (10 here, 0.5 s real), long before the 176 s of 3.3.2 or the default 90."""
    ok(at, 'AT+QSSLCFG=0,0,"timeout",10')
    with socket.create_server(("127.0.0.1", 0)) as silent:
        start = time.monotonic()
        assert open_result(at, silent.getsockname()[1]) == -1
        took = time.monotonic() - start
    assert 10 * SCALE * 0.8 <= took < 90 * SCALE, took
