"""Certificates for the TLS cases, and the files a TLS listener is given.

files.py    TlsFiles: certificate, key and client CA of one listener (what EmbeddedBroker and
            MosquittoBroker take); plain data, imports nothing.
session.py  SessionPki: a CA and good and deliberately bad server and client certificates, made
            per session with trustme; gives TlsFiles for brokers and SSL contexts for peers and
            clients.

Arrows: harness.broker uses TlsFiles; fixtures and the doctor make the SessionPki. Nothing here
imports another part of the harness. SessionPki is resolved lazily, so a broker that only needs
TlsFiles does not import trustme.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.pki.files import TlsFiles

if TYPE_CHECKING:
    from harness.pki.session import SessionPki

__all__ = ["SessionPki", "TlsFiles"]


def __getattr__(name: str) -> Any:
    if name == "SessionPki":
        from harness.pki.session import SessionPki

        return SessionPki
    raise AttributeError(f"module 'harness.pki' has no attribute {name!r}")
