"""The session PKI: each certificate does what SessionPki claims, proven by real TLS handshakes on loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness.pki.session import SERVER_HOSTS, WRONG_HOST, SessionPki

pytestmark = pytest.mark.timeout(30)
HANDSHAKE_TIMEOUT = 5.0  # loopback TLS takes milliseconds; a hang must fail, not stall the run


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SessionPki:
    return SessionPki.create(tmp_path_factory.mktemp("pki"))


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _exchange(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext,
              server_hostname: str) -> tuple[str | None, str | None]:
    """A TLS handshake plus one byte from server to client over a loopback socket.

    Returns (client error, server error), None meaning that side completed. With TLS 1.3 the
    server's refusal of a client certificate reaches the client only on its first read, so the
    client reads the server's byte before calling the exchange good.
    """
    errors: dict[str, str | None] = {"server": None}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(HANDSHAKE_TIMEOUT)

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"k")
            except (OSError, ssl.SSLError) as exc:
                errors["server"] = str(exc)

        thread = threading.Thread(target=serve, name="tls-test-server")
        thread.start()
        client_error: str | None = None
        try:
            with socket.create_connection(listener.getsockname(), timeout=HANDSHAKE_TIMEOUT) as raw, \
                    client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                if tls.recv(1) != b"k":
                    client_error = "closed without data"
        except (OSError, ssl.SSLError) as exc:
            client_error = str(exc)
        thread.join(HANDSHAKE_TIMEOUT)
        assert not thread.is_alive()
    return client_error, errors["server"]


# -- files ------------------------------------------------------------------------------------------

def test_private_keys_are_0600_and_certificates_are_not_secret(pki: SessionPki) -> None:
    for key in pki.private_keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert b"PRIVATE KEY" in key.read_bytes()
    for cert in (pki.ca, pki.server_cert, pki.client_cert, pki.foreign_ca):
        assert b"PRIVATE KEY" not in cert.read_bytes()
        assert stat.S_IMODE(cert.stat().st_mode) == 0o644


def test_repr_names_paths_and_never_key_material(pki: SessionPki) -> None:
    text = repr(pki)
    assert str(pki.server_key) in text
    assert "PRIVATE" not in text and "BEGIN" not in text


def test_each_key_belongs_to_its_certificate(pki: SessionPki) -> None:
    pairs = [(pki.server_cert, pki.server_key), (pki.client_cert, pki.client_key),
             (pki.foreign_client_cert, pki.foreign_client_key),
             (pki.expired_server_cert, pki.expired_server_key),
             (pki.wrong_host_server_cert, pki.wrong_host_server_key)]
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    for cert, key in pairs:
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        assert (private.public_key().public_bytes(serialization.Encoding.DER, raw)
                == _cert(cert).public_key().public_bytes(serialization.Encoding.DER, raw))


def test_issuers_foreign_client_chains_to_the_foreign_ca_only(pki: SessionPki) -> None:
    ca, foreign = _cert(pki.ca), _cert(pki.foreign_ca)
    assert ca.subject != foreign.subject
    for cert in (pki.server_cert, pki.client_cert, pki.expired_server_cert, pki.wrong_host_server_cert):
        assert _cert(cert).issuer == ca.subject
    assert _cert(pki.foreign_client_cert).issuer == foreign.subject


def test_rsa_on_request(tmp_path: Path) -> None:
    rsa_pki = SessionPki.create(tmp_path / "rsa", key_type="rsa")
    key = serialization.load_pem_private_key(rsa_pki.server_key.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert _exchange(rsa_pki.server_context(), rsa_pki.client_context("none"), "localhost") == (None, None)


# -- server certificates ----------------------------------------------------------------------------

@pytest.mark.parametrize("host", SERVER_HOSTS)
def test_server_cert_verifies_for_the_addresses_the_dut_dials(pki: SessionPki, host: str) -> None:
    assert _exchange(pki.server_context(), pki.client_context("none"), host) == (None, None)


def test_server_cert_is_refused_by_a_client_that_does_not_trust_the_ca(pki: SessionPki) -> None:
    client_error, _ = _exchange(pki.server_context(), ssl.create_default_context(), "127.0.0.1")
    assert client_error is not None and "CERTIFICATE_VERIFY_FAILED" in client_error
    assert "self-signed certificate in certificate chain" in client_error or "unable to get local" in client_error


def test_expired_server_cert_is_expired_and_refused_as_such(pki: SessionPki) -> None:
    cert = _cert(pki.expired_server_cert)
    assert cert.not_valid_after_utc < dt.datetime.now(dt.UTC)
    client_error, _ = _exchange(pki.server_context("expired"), pki.client_context("none"), "127.0.0.1")
    assert client_error is not None and "certificate has expired" in client_error


def test_wrong_host_server_cert_fails_only_the_hostname_check(pki: SessionPki) -> None:
    names = _cert(pki.wrong_host_server_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == [WRONG_HOST]
    client_error, _ = _exchange(pki.server_context("wrong_host"), pki.client_context("none"), "127.0.0.1")
    assert client_error is not None and "IP address mismatch" in client_error
    client_error, _ = _exchange(pki.server_context("wrong_host"), pki.client_context("none"), "localhost")
    assert client_error is not None and "Hostname mismatch" in client_error
    # The chain itself is good: without the hostname check the same handshake completes.
    no_check = pki.client_context("none", check_hostname=False)
    assert _exchange(pki.server_context("wrong_host"), no_check, "localhost") == (None, None)


# -- client certificates ----------------------------------------------------------------------------

def test_good_client_cert_is_accepted_where_one_is_required(pki: SessionPki) -> None:
    required = pki.server_context(require_client_cert=True)
    assert _exchange(required, pki.client_context("good"), "127.0.0.1") == (None, None)


@pytest.mark.parametrize("cert", ["foreign", "none"])
def test_foreign_or_missing_client_cert_is_refused_where_one_is_required(pki: SessionPki, cert: str) -> None:
    required = pki.server_context(require_client_cert=True)
    client_error, server_error = _exchange(required, pki.client_context(cert), "127.0.0.1")  # type: ignore[arg-type]
    assert client_error is not None
    expected = "certificate verify failed" if cert == "foreign" else "peer did not return a certificate"
    assert server_error is not None and expected in server_error


def test_bad_choice_is_a_clear_value_error(pki: SessionPki) -> None:
    with pytest.raises(ValueError, match="good, foreign or none"):
        pki.client_context("stolen")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one of good, expired, wrong_host"):
        pki.server_files("self-signed")  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_thread_left() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before


def test_server_certificates_also_name_the_rigs_dut_address(tmp_path):
    """On a lab rig the module dials broker.dut_address: seclevel 1/2 check that name."""
    pki = SessionPki.create(tmp_path, extra_hosts=("192.0.2.7", "broker.lab.test"))
    for path in (pki.server_cert, pki.expired_server_cert):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address("192.0.2.7") in san.get_values_for_type(x509.IPAddress)
        assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
        assert "broker.lab.test" in san.get_values_for_type(x509.DNSName)
