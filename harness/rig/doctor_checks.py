"""The doctor's checks (`python -m harness.rig doctor`, doctor.py runs them and prints the table):
one function per part of the rig, each returning its row's detail or raising CheckFailed /
OptionWrong / CheckSkipped, and the State they share (what they started, closed by the doctor).

Why a module of its own: the checks are what a lab engineer reads when a row says FAIL, and what a
new row is added to (a function here and its line in CHECKS); doctor.py keeps the running, the exit
status and the printing. The checks bring the rig up through harness/rig/session.py, as a run does.
"""

from __future__ import annotations

import contextlib
import secrets
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.at import ATChannel, ATError, Transcript
from harness.at.flows import Account
from harness.rig.exits import USAGE
from harness.rig.identity import Identity
from harness.rig.labgrid import LabgridError, Place
from harness.rig.ladder import RUNG_BY_NAME, Ladder, LadderError, RungFailed
from harness.rig.port_finder import PortNotFound
from harness.rig.relay import Relay, RelayError
from harness.rig.schema import RigConfig
from harness.rig.session import (
    RigFault,
    acquire_place,
    identify,
    open_place_port,
    open_port,
    open_relay,
    place_relay,
    start_emulator,
)
from harness.spec.timing import deadline_s


class CheckFailed(Exception):
    """A check's one-line failure, naming the part (file, key, port, relay, broker)."""


class OptionWrong(CheckFailed):
    """The failure is the rig file's or an option's (exit 4), found only when the check ran."""


class CheckSkipped(Exception):
    """The check does not apply, or a part it needs failed; the text says which."""


@dataclass
class State:
    """What the checks share: the rig, the things they started (closed by the doctor)."""

    rig: RigConfig
    power: bool
    stack: contextlib.ExitStack
    log: Transcript
    emulator: Any = None
    port: str = ""
    channel: ATChannel | None = None
    identity: Identity | None = None
    relay: Relay | None = None
    place: Place | None = None
    broker: Any = None
    pki: Any = None
    work: Path | None = None
    failed: set[str] = field(default_factory=set)

    def need(self, *checks: str) -> None:
        bad = [c for c in checks if c in self.failed]
        if bad:
            raise CheckSkipped(f"needs the {bad[0]} check, which failed")

    def workdir(self) -> Path:
        if self.work is None:
            self.work = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="bc660k-doctor-")))
        return self.work


# -- the checks ---------------------------------------------------------------------------------


def _fault(exc: RigFault) -> CheckFailed:
    """A rig-session fault as the doctor's row: the option's or file's (4), or the rig's (3)."""
    return OptionWrong(str(exc)) if exc.status == USAGE else CheckFailed(str(exc))


def check_labgrid(s: State) -> str:
    """The place: coordinator, existence, holder, resources, power driver; then acquired for the rest."""
    cfg = s.rig.labgrid
    assert cfg is not None  # run_doctor asks only a labgrid rig
    where = s.rig.origin("labgrid")
    if cfg.place is not None:
        probe = Place(cfg.coordinator, cfg.place, client=cfg.client)
        try:
            shown = probe.show()
        except LabgridError as exc:
            raise CheckFailed(f"{where}: {exc}") from None
        holder = _field_of(shown, "acquired")
        if holder not in (None, "None"):
            raise CheckFailed(f"{where}: {probe.label} is acquired by {holder}: the doctor does not wait; "
                              f"ask them to release it (labgrid-client -x {cfg.coordinator} -p {cfg.place} release)")
    try:
        s.place = place = acquire_place(s.rig.model_copy(
            update={"labgrid": cfg.model_copy(update={"acquire_timeout_s": 0.001})}), lambda _msg: None)
    except RigFault as exc:
        raise _fault(exc) from None
    s.stack.callback(place.release)
    try:
        shown = place.show()
        power = place.check("power", "get").strip()
    except LabgridError as exc:
        raise CheckFailed(f"{where}: acquired, but {exc}") from None
    resources = [ln for ln in shown.splitlines() if ln.startswith("Acquired resource ")]
    offline = _offline(shown)
    if offline:
        raise CheckFailed(f"{where}: {place.label}: resources offline: {', '.join(offline)}")
    return (f"{place.label}: coordinator answers, acquired for the doctor, {len(resources)} resources online "
            f"({', '.join(r.split(chr(39))[1] for r in resources)}); {' '.join(power.split())}")


def _field_of(text: str, key: str) -> str | None:
    for line in text.splitlines():
        k, sep, v = line.strip().partition(":")
        if sep and k == key:
            return v.strip()
    return None


def _offline(shown: str) -> list[str]:
    """The acquired resources whose 'avail' is False in `labgrid-client show`."""
    out: list[str] = []
    name = None
    for line in shown.splitlines():
        if line.startswith("Acquired resource "):
            name = line.split("'")[1]
        elif name is not None and "'avail': False" in line:
            out.append(name)
            name = None
    return out


def check_port(s: State) -> str:
    """The same bring-up as a run's (harness/rig/session.py): emulator, then the port."""
    rig = s.rig
    if rig.dut.kind == "labgrid":
        s.need("labgrid")
        assert s.place is not None
        try:
            s.channel = open_place_port(rig, s.place, s.log)
        except RigFault as exc:
            raise _fault(exc) from None
        s.port = s.channel.url
        s.stack.callback(lambda: s.channel.close() if s.channel else None)
        return f"{s.channel.url} opened (from {s.place.label}), {rig.dut.baud} baud"
    try:
        if rig.dut.kind == "emulator":
            s.emulator = start_emulator(rig)
            s.stack.callback(s.emulator.stop)
        s.channel = open_port(rig, s.emulator, s.log)
    except RigFault as exc:
        raise _fault(exc) from None
    s.port = s.emulator.url if s.emulator else str(rig.dut.port)
    s.stack.callback(lambda: s.channel.close() if s.channel else None)
    kind = f"emulator ({rig.dut.transport}, {rig.dut.firmware})" if s.emulator else f"{rig.dut.baud} baud"
    if s.channel.opened_as != s.channel.url:  # harness/at/port.py: an rfc2217 server without modem lines
        kind += f"; as {s.channel.opened_as} (the server does not acknowledge DTR/RTS)"
    return f"{s.channel.url} opened, {kind}"


def check_identity(s: State) -> str:
    s.need("port")
    assert s.channel is not None
    try:
        s.identity = ident = identify(s.channel, attempts=3, timeout=deadline_s("AT", s.rig.dut.time_scale))
    except RigFault as exc:
        raise _fault(exc) from None
    return f"{ident.manufacturer} {ident.model}, firmware {ident.revision}, IMEI {ident.imei}"


def check_relay(s: State) -> str:
    if s.rig.dut.kind == "labgrid":
        s.need("labgrid")
    try:
        s.relay = relay = place_relay(s.rig, s.place) if s.place is not None else open_relay(s.rig, s.emulator)
    except RigFault as exc:
        raise _fault(exc) from None
    if relay is None:
        raise CheckSkipped("relay.kind none: no power or reset control (the ladder stops at the AT-level steps)")
    s.stack.callback(relay.close)
    if not s.power:
        raise CheckSkipped(f"relay {relay.kind}: not switched (--no-power)")
    s.need("port", "identity")
    assert s.channel is not None
    ladder = Ladder(s.channel, s.port, s.log, relay=relay, expected=s.identity, time_scale=s.rig.dut.time_scale,
                    baud=s.rig.dut.baud, resolve=s.place.serial_url if s.place is not None else None)
    rung = RUNG_BY_NAME["power cycle" if relay.can_power else "reset line"]
    try:
        done = rung.run(ladder)  # a RelayError here is the relay's failure, not the DUT's
    except (RelayError, ATError, RungFailed) as exc:
        raise CheckFailed(str(exc) if isinstance(exc, RelayError) else f"relay {relay.kind}: {exc}") from None
    try:
        if not ladder.answers():  # a USB adapter re-enumerates after a power cycle: reopen it
            done += "; " + RUNG_BY_NAME["reopen port"].run(ladder)
            if not ladder.answers():
                raise LadderError(f"the DUT at {s.port} does not answer AT after it")
        ident = ladder.verify()
    except (LadderError, ATError, RungFailed, PortNotFound) as exc:
        raise CheckFailed(f"relay {relay.kind}: {rung.name} done, but {exc}") from None
    finally:
        s.channel = ladder.channel
    return f"relay {relay.kind}: {done}; the same module answers (IMEI {ident.imei})"


def check_certificates(s: State) -> str:
    if not s.rig.broker.tls:
        raise CheckSkipped("broker.tls is false")
    from harness.pki import SessionPki

    try:
        s.pki = pki = SessionPki.create(s.workdir() / "pki")
        pki.server_context()  # the server's certificate and key load and belong together
        pki.client_context()  # the CA loads; the client's certificate and key load
        with open(pki.server_cert, "rb") as fh:
            _verify_chain(fh.read(), Path(pki.ca).read_bytes())
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise CheckFailed(f"certificates: {exc}") from None
    return f"session PKI in {pki.directory}: CA, server and client certificates load; the server's chains to the CA"


def _verify_chain(leaf_pem: bytes, ca_pem: bytes) -> None:
    import datetime as dt

    from cryptography import x509

    leaf, ca = x509.load_pem_x509_certificate(leaf_pem), x509.load_pem_x509_certificate(ca_pem)
    leaf.verify_directly_issued_by(ca)  # raises ValueError / InvalidSignature
    now = dt.datetime.now(dt.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ValueError(f"the server certificate is not valid now ({leaf.not_valid_before_utc} .. "
                         f"{leaf.not_valid_after_utc})")


def check_broker(s: State) -> str:
    cfg = s.rig.broker
    if cfg.tls:
        s.need("certificates")
    from harness.broker import BrokerError, EmbeddedBroker, MosquittoBroker, Observer, ObserverError
    from harness.broker.mosquitto import missing_reason

    if cfg.kind == "mosquitto" and (why := missing_reason()) is not None:
        raise CheckFailed(f"broker mosquitto: {why}")
    factory = {"amqtt": EmbeddedBroker, "mosquitto": MosquittoBroker}[cfg.kind]
    own = ("doctor", secrets.token_urlsafe(16))
    users = {cfg.username: cfg.password or "", own[0]: own[1]} if cfg.username else None
    tls = s.pki.server_files() if cfg.tls else None
    try:
        s.broker = server = factory(cfg.listen, cfg.port, tls=tls, users=users, allow_anonymous=users is None).start()
    except BrokerError as exc:
        raise CheckFailed(f"broker {cfg.kind} on {cfg.listen}:{cfg.port}: {exc}") from None
    s.stack.callback(server.stop)
    user, password = own if users else (None, None)
    port = server.tls_port if cfg.tls else server.port
    observer = Observer(server.host, port, tls=s.pki.client_context() if cfg.tls else None,
                        username=user, password=password)
    try:
        observer.connect()
    except ObserverError as exc:
        raise CheckFailed(f"broker {cfg.kind}: {exc}") from None
    finally:
        observer.close()
    detail = f"{cfg.kind} on {server.host}:{port}{' (TLS, verified)' if cfg.tls else ''} accepts a client"
    return detail + "; " + _dut_reaches(s, server.port)


def _dut_reaches(s: State, port: int) -> str:
    """The DUT itself dials broker.dut_address (3.3.2 AT+QMTOPEN) and closes again (3.3.3)."""
    if s.rig.broker.tls:
        return "DUT dial not tried (TLS needs AT+QSSLCFG; the suite's ssl cases do that)"
    if s.channel is None or "identity" in s.failed:
        return "DUT dial not tried (the DUT does not answer)"
    from harness.rig.known_state import KnownStateError, reset_to_known_state

    ch, host, scale = s.channel, s.rig.broker.dut_address, s.rig.dut.time_scale
    line = f'AT+QMTOPEN=0,"{host}",{port}'
    try:
        reset_to_known_state(ch)
        if not ch.command(line).ok:
            raise CheckFailed(f"broker.dut_address {host}: {line} was refused by the DUT")
        urc = ch.wait_urc("+QMTOPEN", deadline_s(line, scale), predicate=lambda u: bool(u.args) and u.args[0] == 0)
        if ch.command("AT+QMTCLOSE=0").ok:
            with contextlib.suppress(ATError):
                ch.wait_urc("+QMTCLOSE", deadline_s("AT+QMTCLOSE", scale))
    except (ATError, KnownStateError) as exc:
        raise CheckFailed(f"broker.dut_address {host}: the DUT did not open a connection: {exc}") from None
    if urc.args[1:2] != [0]:
        raise CheckFailed(f"broker.dut_address {host}:{port}: the DUT cannot reach the broker ({urc.line}; "
                          f"3.3.2 <result> {urc.args[1:2]})")
    return f"the DUT reaches {host}:{port} ({urc.line})"


def check_account(s: State) -> str:
    """The rig's broker account logs in from the host and from the DUT (3.3.4); a refusal is the rig file's."""
    from harness.rig.account import AccountRefused, LoginFailed, dut_login, host_login

    s.need("broker")
    cfg, server = s.rig.broker, s.broker
    assert cfg.username is not None and server is not None  # run_doctor asks only a rig with an account
    account, where = Account(cfg.username, cfg.password), s.rig.origin("broker.username")
    tls = s.pki.client_context() if cfg.tls else None
    try:
        said = [host_login(server.host, server.tls_port if cfg.tls else server.port, account, where, tls)]
        if cfg.tls:
            said.append("DUT login not tried (TLS needs AT+QSSLCFG; the suite's ssl cases do that)")
        elif s.channel is None or "identity" in s.failed:
            said.append("DUT login not tried (the DUT does not answer)")
        else:
            said.append(dut_login(s.channel, cfg.dut_address, server.port, account, where, s.rig.dut.time_scale))
    except AccountRefused as exc:
        raise OptionWrong(str(exc)) from None
    except LoginFailed as exc:
        raise CheckFailed(f"broker account {cfg.username!r}: {exc}") from None
    return f"{cfg.username!r}: " + "; ".join(said)


CHECKS: list[tuple[str, Callable[[State], str]]] = [
    ("labgrid", check_labgrid),
    ("port", check_port),
    ("identity", check_identity),
    ("relay", check_relay),
    ("certificates", check_certificates),
    ("broker", check_broker),
    ("account", check_account),
]
# Rows only for a rig that has the part: a labgrid place, a broker account.
OPTIONAL: dict[str, Callable[[RigConfig], bool]] = {
    "labgrid": lambda rig: rig.labgrid is not None,
    "account": lambda rig: rig.broker.username is not None,
}

