"""AT+QSSLCFG, the SSL context of the BC660K-GL, and the TLS client context built from it.

The MQTT note uses it in chapter 6.2 ("Example of MQTT Operation with SSL") and points to
Quectel's BC660K-GL SSL Application Note for the command; DESIGN.md "Module facts" has the
facts taken from there: `AT+QSSLCFG=<ctx>,<conn>,"<item>"[,<value>]`, ctx 0-10 and conn 0-4 of
which only 0,0 is supported; seclevel, sslversion, dataformat, timeout, debug; cacert,
clientcert, clientkey in data mode; `AT+QSSLCFG=<ctx>,<conn>` lists; certificates are saved.
AT+QMTCFG="ssl" (3.3.1) selects the context; AT+QMTOPEN (3.3.2, qmt_conn.py) calls
`client_context()` to build the ssl.SSLContext for the handshake.

Decisions (DECIDED: + reason):
- DECIDED: defaults seclevel 0, sslversion 4, dataformat 0,0, timeout 90, debug 0. Only the
  timeout default is documented (90); chapter 6.2 talks TLS 1.2 to Azure without setting
  sslversion, so the default must negotiate (4), and sets seclevel 2 explicitly, so the default
  is not 2; 0 is the lowest value of each other item, as Quectel's other SSL notes default.
- DECIDED: sslversion 1 = TLS 1.0, 2 = TLS 1.1, 3 = TLS 1.2, 4 = every version the module has
  (TLS 1.0-1.2, negotiated). No TLS 1.3: the SSL note lists none, and modelling it would let a
  case pass against the emulator that a real module fails. 1 and 2 fail against a server that
  insists on TLS 1.2 (Python's default server context does), as a real module would.
- DECIDED: "dataformat" takes two values `<send_format>,<recv_format>`, 0 text / 1 hex, like
  AT+QMTCFG="dataformat" (3.3.1) and Quectel's BC66 SSL commands. It is for the SSL socket
  commands, not MQTT: stored and reported only. "debug" (0-4) is stored and reported only.
- DECIDED: the write form with an item and no value is the query of that item:
  `+QSSLCFG: 0,0,"seclevel",2` then OK (the brief's form; dataformat prints both values).
- DECIDED: `AT+QSSLCFG=<ctx>,<conn>` lists every item in the order of the test response, the
  certificates as their stored length in bytes (0 = none). Certificate text is never printed
  or logged: the client key is a secret.
- DECIDED: the test response has one line per item, in the write command's parameter order so
  a host can read ranges positionally: `+QSSLCFG: (0-10),(0-4),"seclevel",(0-2)`; the
  certificate lines end after the item name (their value comes in data mode).
- DECIDED: errors use the general codes of the AT Commands Manual, as general.py does: a
  wrong type, count or range (ctx outside 0-10, conn outside 0-4, seclevel 3, timeout 9, a
  value after "cacert") -> +CME ERROR: 50 "incorrect parameters"; ctx/conn in range but not
  0,0 -> +CME ERROR: 4 "operation not supported" (the note's "Currently only 0 is supported"
  of 3.3.1 <SSL_contextID>/<SSL_connectID>). An item the BC660K-GL does not have ("sni",
  "ciphersuite", "ignorelocaltime" of other modules; a BC66 user reports ERROR for "sni")
  answers plain ERROR, like AT+QMTCFG's unknown items. Forms not defined (AT+QSSLCFG?, bare
  AT+QSSLCFG) answer plain ERROR.
- DECIDED: certificate entry (chapter 6.2): `>`, PEM text, Ctrl+Z -> `+QSSLCFG: 0,0,"cacert",
  <bytes received, Ctrl+Z excluded>` then OK. The bytes are stored as received, not checked
  (a real module reports the length without parsing; bad PEM fails at AT+QMTOPEN). Ctrl+Z
  right away stores nothing and reports length 0, which deletes the stored one (a BC66 user
  got `+QSSLCFG: 1,5,"cacert",0` for exactly that). Esc, or the data-mode limit of 60 s
  (3.3.8 note 5, applied to every data mode by the front end) -> OK with no +QSSLCFG line and
  the previous certificate kept, as AT+QMTPUB's Esc (qmt_pub.py). More than CERT_MAX bytes ->
  +CME ERROR: 50, nothing stored.
- DECIDED: the input is not echoed although chapter 6.2 says the content "will be displayed":
  that describes the terminal tool's view, and an echo would put the client key into every
  AT transcript (the harness keeps secrets out of logs).
- DECIDED: certificates are non-volatile (DESIGN "Module facts"): they survive AT+QRST=1 and
  AT+CFUN=x,1 (ModuleState.certs is in state.SAVED); the other items (ModuleState.ssl) return
  to their defaults. They do not survive the emulator process itself.
- DECIDED: the context is built at AT+QMTOPEN time, so changing AT+QSSLCFG while connected
  affects the next open only (like NOTE 6 of 3.3.1 for AT+QMTCFG="ssl").
- DECIDED, the handshake: seclevel 0 -> no verification at all (CERT_NONE, no host name
  check) and no client certificate; 1 -> the server chain must verify against cacert and
  match the AT+QMTOPEN host name (IP or DNS name, RFC 6125 as TLS clients do; expired
  certificates fail); 2 -> as 1 plus clientcert/clientkey offered to the server. seclevel 1/2
  without cacert, 2 without clientcert/clientkey, or unusable PEM -> the open fails. Every
  failure of the TLS set-up or handshake is +QMTOPEN: <id>,-1 "Failed to open network
  connection" (3.3.2: the note has no TLS-specific code). The handshake must finish within
  "timeout" module seconds, inside the 176 s of 3.3.2.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import warnings
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path

from harness.emulator.api import Arg, Command, Context, answer, handles
from harness.emulator.errors import Cme, Refused, need
from harness.emulator.state import ModuleState, SslSettings

log = logging.getLogger("harness.emulator")

SSL_CTX_IDS = range(11)  # 0-10, "Currently only 0 is supported" (3.3.1 <SSL_contextID>)
SSL_CONN_IDS = range(5)  # 0-4, "Currently only 0 is supported" (3.3.1 <SSL_connectID>)
CERT_ITEMS = ("cacert", "clientcert", "clientkey")
CERT_MAX = 8192  # bytes per certificate/key: room for a chain of a few certificates
TLS_VERSIONS: dict[int, tuple[ssl.TLSVersion, ssl.TLSVersion]] = {
    1: (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1),
    2: (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1),
    3: (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
    4: (ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.TLSv1_2),
}


# --- AT+QSSLCFG ----------------------------------------------------------------------------


def _int(arg: Arg, allowed: Container[int]) -> int:
    return need(arg.int_in(allowed), Cme.INCORRECT_PARAMETERS)


def _one(field_name: str, allowed: range) -> ItemFn:
    def item(s: SslSettings, args: tuple[Arg, ...]) -> str | None:
        if not args:
            return str(getattr(s, field_name))
        if len(args) != 1:
            raise Refused(Cme.INCORRECT_PARAMETERS)
        setattr(s, field_name, _int(args[0], allowed))
        return None

    return item


def _dataformat(s: SslSettings, args: tuple[Arg, ...]) -> str | None:
    if not args:
        return f"{s.send_format},{s.recv_format}"
    if len(args) != 2:
        raise Refused(Cme.INCORRECT_PARAMETERS)
    s.send_format, s.recv_format = _int(args[0], range(2)), _int(args[1], range(2))
    return None


ItemFn = Callable[[SslSettings, tuple[Arg, ...]], str | None]

ITEMS: dict[str, ItemFn] = {
    "seclevel": _one("seclevel", range(3)),
    "sslversion": _one("sslversion", range(1, 5)),
    "dataformat": _dataformat,
    "timeout": _one("timeout", range(10, 301)),
    "debug": _one("debug", range(5)),
}

TEST_LINES = (
    '+QSSLCFG: (0-10),(0-4),"seclevel",(0-2)',
    '+QSSLCFG: (0-10),(0-4),"sslversion",(1-4)',
    '+QSSLCFG: (0-10),(0-4),"dataformat",(0,1),(0,1)',
    '+QSSLCFG: (0-10),(0-4),"timeout",(10-300)',
    '+QSSLCFG: (0-10),(0-4),"debug",(0-4)',
    '+QSSLCFG: (0-10),(0-4),"cacert"',
    '+QSSLCFG: (0-10),(0-4),"clientcert"',
    '+QSSLCFG: (0-10),(0-4),"clientkey"',
)


def _ids(args: tuple[Arg, ...]) -> None:
    """<ctx>,<conn>: out of range -> 50; in range but not 0,0 -> 4 "operation not supported"."""
    ctx_id, conn_id = _int(args[0], SSL_CTX_IDS), _int(args[1], SSL_CONN_IDS)
    if (ctx_id, conn_id) != (0, 0):
        raise Refused(Cme.OPERATION_NOT_SUPPORTED)


answer("+QSSLCFG", "test", *TEST_LINES)


@handles("+QSSLCFG", "write")
async def qsslcfg(ctx: Context, cmd: Command) -> None:
    args = cmd.args
    name = args[2].text.lower() if len(args) > 2 and args[2].quoted else None
    if len(args) > 2 and name not in ITEMS and name not in CERT_ITEMS:
        ctx.error()  # not a BC660K-GL item (or an unquoted one)
        return
    if len(args) < 2:
        raise Refused(Cme.INCORRECT_PARAMETERS)
    _ids(args)
    if name is None:
        _list(ctx, ctx.module)
    elif name in CERT_ITEMS:
        if len(args) != 3:
            raise Refused(Cme.INCORRECT_PARAMETERS)  # the PEM comes in data mode, never inline
        await _enter_certificate(ctx, name)
        return
    else:
        s = ctx.module.ssl
        scratch = SslSettings(**vars(s))  # all or nothing
        shown = ITEMS[name](scratch, args[3:])
        vars(s).update(vars(scratch))
        if shown is not None:
            ctx.info(f'+QSSLCFG: 0,0,"{name}",{shown}')
    ctx.ok()


def _list(ctx: Context, module: ModuleState) -> None:
    for name, item in ITEMS.items():
        ctx.info(f'+QSSLCFG: 0,0,"{name}",{item(module.ssl, ())}')
    pem = module.certs.pem
    for name in CERT_ITEMS:
        ctx.info(f'+QSSLCFG: 0,0,"{name}",{len(pem.get(name, b""))}')


async def _enter_certificate(ctx: Context, name: str) -> None:
    data = await ctx.read_data(None, echo=False)
    if data is None:
        log.info("AT+QSSLCFG %s: data mode cancelled, nothing stored", name)
        ctx.ok()
        return
    if len(data) > CERT_MAX:
        ctx.error(Cme.INCORRECT_PARAMETERS)
        return
    pem = ctx.module.certs.pem  # after the await: the module may have been reset
    if data:
        pem[name] = data
    else:
        pem.pop(name, None)
    ctx.info(f'+QSSLCFG: 0,0,"{name}",{len(data)}')
    ctx.ok()


# --- the TLS client context for AT+QMTOPEN (3.3.2) ------------------------------------------


class TlsSetupError(Exception):
    """The SSL context cannot be used (missing or unusable certificate): one line, no secrets."""


@dataclass(frozen=True)
class TlsClient:
    context: ssl.SSLContext
    handshake_timeout_s: float  # real seconds (the "timeout" item, scaled)


def client_context(module: ModuleState, ssl_ctx: int = 0, ssl_conn: int = 0) -> TlsClient:
    """The ssl.SSLContext AT+QMTOPEN uses for AT+QMTCFG="ssl",<id>,1,<ssl_ctx>,<ssl_conn>."""
    if (ssl_ctx, ssl_conn) != (0, 0):
        raise TlsSetupError(f"SSL context {ssl_ctx},{ssl_conn} is not supported")
    s = module.ssl
    pem = module.certs.pem
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    low, high = TLS_VERSIONS[s.sslversion]
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated in Python: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        c.minimum_version, c.maximum_version = low, high
    if s.seclevel == 0:
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        return TlsClient(c, module.scaled(s.timeout))
    if "cacert" not in pem:
        raise TlsSetupError(f"seclevel {s.seclevel} needs a cacert")
    try:
        c.load_verify_locations(cadata=pem["cacert"].decode("ascii"))
    except (ssl.SSLError, UnicodeError, ValueError) as exc:
        raise TlsSetupError(f"cacert unusable: {_reason(exc)}") from None
    if s.seclevel == 2:
        if "clientcert" not in pem or "clientkey" not in pem:
            raise TlsSetupError("seclevel 2 needs clientcert and clientkey")
        _load_client_pair(c, pem["clientcert"], pem["clientkey"])
    return TlsClient(c, module.scaled(s.timeout))


def _load_client_pair(c: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """ssl loads a key pair from files only: write both to a private temporary directory
    and remove them at once."""
    with tempfile.TemporaryDirectory(prefix="qsslcfg-") as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        try:
            c.load_cert_chain(cert_path, key_path, password=lambda: b"")
        except (ssl.SSLError, ValueError, OSError) as exc:
            raise TlsSetupError(f"clientcert/clientkey unusable: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    return (getattr(exc, "reason", None) or type(exc).__name__).replace("\n", " ")
