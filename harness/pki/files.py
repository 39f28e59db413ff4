"""The PEM files a TLS listener serves: what every broker kind (amqtt, mosquitto) is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TlsFiles"]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a TLS listener. ``cafile`` is the CA that client certificates must chain to."""

    certfile: Path
    keyfile: Path
    cafile: Path | None = None
    require_client_cert: bool = False  # mutual TLS: refuse clients without a certificate from cafile
