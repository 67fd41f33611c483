"""Certificates for the fake's HTTPS servers and for client-certificate sign-in.

Generated with ``cryptography`` when the test session starts; nothing is stored in
the repository. The server certificate is issued by a throwaway CA for 127.0.0.1,
::1 and localhost, and the CA file is what the integration's --ca-bundle points to.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["TlsFiles", "make_tls_files"]


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files of one test session."""

    ca: Path
    server_certificate: Path
    server_key: Path
    client_pem: Path
    client_certificate: x509.Certificate
    encrypted_client_pem: Path
    other_ca: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: str, public_key: object) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ca(common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _key()
    certificate = (
        _builder(common_name, common_name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def make_tls_files(directory: Path, key_password: str) -> TlsFiles:
    """Write a CA, a loopback server certificate and client PEMs to ``directory``.

    The client's key is written twice: unencrypted, and encrypted with
    ``key_password``.
    """
    ca_key, ca_certificate = _ca("Prizm test CA")
    server_key = _key()
    server_certificate = (
        _builder("127.0.0.1", "Prizm test CA", server_key.public_key())
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    client_key = _key()
    client_certificate = _builder(
        "prizm-test-app", "prizm-test-app", client_key.public_key()
    ).sign(client_key, hashes.SHA256())
    _, other_ca = _ca("Unrelated test CA")

    files = TlsFiles(
        ca=directory / "ca.pem",
        server_certificate=directory / "server.pem",
        server_key=directory / "server-key.pem",
        client_pem=directory / "client.pem",
        client_certificate=client_certificate,
        encrypted_client_pem=directory / "client-encrypted.pem",
        other_ca=directory / "other-ca.pem",
    )
    files.ca.write_bytes(_pem(ca_certificate))
    files.server_certificate.write_bytes(_pem(server_certificate))
    files.server_key.write_bytes(_key_pem(server_key))
    files.client_pem.write_bytes(_key_pem(client_key) + _pem(client_certificate))
    encrypted_key = client_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(key_password.encode("utf-8")),
    )
    files.encrypted_client_pem.write_bytes(encrypted_key + _pem(client_certificate))
    files.other_ca.write_bytes(_pem(other_ca))
    return files
