"""Certificates made per session: a CA, good and deliberately bad server and client certificates.

Why per session and not checked in: a committed key is a key anyone can use, and a committed
certificate expires one day and turns green runs red. trustme makes real X.509 (ECDSA by default,
RSA on request: the module's TLS stack may want either, and its PEM upload in data mode,
AT+QSSLCFG "cacert"/"clientcert"/"clientkey", favours the shorter ECDSA text).

What each certificate is for (the TLS cases of AT+QMTOPEN with SSL enabled, note 3.3.2):

- ``server_cert``: chains to ``ca``, names 127.0.0.1 and localhost - the addresses the DUT dials.
- ``client_cert``: chains to ``ca``; the DUT's identity for mutual TLS.
- ``foreign_client_cert``: chains to ``foreign_ca`` only; a broker requiring certificates refuses it.
- ``expired_server_cert``: chains to ``ca`` and names the right hosts, but its validity ended.
- ``wrong_host_server_cert``: chains to ``ca`` but names another host; hostname checks must fail.

Private keys are written 0600 and never printed: ``repr`` shows paths only.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import trustme

from harness.pki.files import TlsFiles

__all__ = ["CLIENT_NAME", "SERVER_HOSTS", "WRONG_HOST", "SessionPki"]

SERVER_HOSTS = ("127.0.0.1", "localhost")
WRONG_HOST = "wrong-host.invalid"
CLIENT_NAME = "bc660k-dut.test"

ClientCert = Literal["good", "foreign", "none"]
ServerCert = Literal["good", "expired", "wrong_host"]


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    """Write a PEM file; a private key is created 0600 from the start, never widened later."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


@dataclass(frozen=True)
class SessionPki:
    """Paths of the PEM files of one session's PKI, and SSL contexts built from them."""

    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    foreign_ca: Path
    foreign_client_cert: Path
    foreign_client_key: Path
    expired_server_cert: Path
    expired_server_key: Path
    wrong_host_server_cert: Path
    wrong_host_server_key: Path

    @classmethod
    def create(cls, directory: Path | str, key_type: Literal["ecdsa", "rsa"] = "ecdsa",
               extra_hosts: tuple[str, ...] = ()) -> SessionPki:
        """Make every certificate and write it under ``directory`` (created if missing).
        ``extra_hosts``: names the server certificates must carry besides loopback, e.g. the rig's
        broker.dut_address, so a physical module's seclevel 1/2 host check passes on a lab rig."""
        hosts = tuple(dict.fromkeys((*SERVER_HOSTS, *extra_hosts)))
        where = Path(directory)
        where.mkdir(parents=True, exist_ok=True)
        kt = trustme.KeyType.RSA if key_type == "rsa" else trustme.KeyType.ECDSA
        ca, foreign = trustme.CA(key_type=kt), trustme.CA(key_type=kt)
        now = dt.datetime.now(dt.UTC)
        server = ca.issue_cert(*hosts, key_type=kt)
        client = ca.issue_cert(CLIENT_NAME, common_name=CLIENT_NAME, key_type=kt)
        stranger = foreign.issue_cert(CLIENT_NAME, common_name=CLIENT_NAME, key_type=kt)
        expired = ca.issue_cert(*hosts, not_before=now - dt.timedelta(days=30),
                                not_after=now - dt.timedelta(days=1), key_type=kt)
        wrong = ca.issue_cert(WRONG_HOST, key_type=kt)

        def leaf(name: str, cert: trustme.LeafCert) -> tuple[Path, Path]:
            # The chain file holds the leaf only: the peer is expected to trust the CA file itself.
            return (_write(where / f"{name}.pem", cert.cert_chain_pems[0].bytes()),
                    _write(where / f"{name}.key", cert.private_key_pem.bytes(), private=True))

        return cls(
            where,
            _write(where / "ca.pem", ca.cert_pem.bytes()),
            *leaf("server", server),
            *leaf("client", client),
            _write(where / "foreign-ca.pem", foreign.cert_pem.bytes()),
            *leaf("foreign-client", stranger),
            *leaf("expired-server", expired),
            *leaf("wrong-host-server", wrong),
        )

    # -- broker side -------------------------------------------------------------------------------

    def server_files(self, which: ServerCert = "good", require_client_cert: bool = False) -> TlsFiles:
        """The files a broker's TLS listener serves; clients must chain to ``ca`` when required."""
        cert, key = self._server_pair(which)
        return TlsFiles(certfile=cert, keyfile=key, cafile=self.ca, require_client_cert=require_client_cert)

    def server_context(self, which: ServerCert = "good", require_client_cert: bool = False) -> ssl.SSLContext:
        """A server-side context, for a scripted TLS peer that is not a broker."""
        cert, key = self._server_pair(which)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(self.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        return ctx

    def _server_pair(self, which: ServerCert) -> tuple[Path, Path]:
        pairs = {"good": (self.server_cert, self.server_key),
                 "expired": (self.expired_server_cert, self.expired_server_key),
                 "wrong_host": (self.wrong_host_server_cert, self.wrong_host_server_key)}
        if which not in pairs:
            raise ValueError(f"server certificate must be one of {', '.join(pairs)}, got {which!r}")
        return pairs[which]

    # -- client side -------------------------------------------------------------------------------

    def client_context(self, cert: ClientCert = "good", check_hostname: bool = True) -> ssl.SSLContext:
        """A client context trusting ``ca`` and presenting the chosen client certificate (or none)."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        ctx.check_hostname = check_hostname
        if cert == "good":
            ctx.load_cert_chain(self.client_cert, self.client_key)
        elif cert == "foreign":
            ctx.load_cert_chain(self.foreign_client_cert, self.foreign_client_key)
        elif cert != "none":
            raise ValueError(f"client certificate must be good, foreign or none, got {cert!r}")
        return ctx

    @property
    def private_keys(self) -> tuple[Path, ...]:
        return (self.server_key, self.client_key, self.foreign_client_key, self.expired_server_key,
                self.wrong_host_server_key)
