"""A real prometheus-pushgateway behind TLS, client-certificate auth and basic auth.

Certificates are made here with `cryptography`: a CA, a server certificate for 127.0.0.1 and a
client certificate, all signed by that CA. The gateway's `--web.config.file` requires and
verifies the client certificate and a basic-auth user whose bcrypt hash `bcrypt` makes.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import urllib.request
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.ports import free_port
from harness.process import Service, start_process
from harness.services import binary

USERNAME = "ci-pusher"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: trusting it must fail verification


def make_certificates(folder: Path) -> TlsFiles:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _self_signed("e2e test CA")
    _, other_cert = _self_signed("some other CA")
    server_key, server_cert = _signed(ca_key, ca_cert, "127.0.0.1", server=True)
    client_key, client_cert = _signed(ca_key, ca_cert, "e2e reporter", server=False)
    files = TlsFiles(*(folder / name for name in (
        "ca.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem", "other-ca.pem"
    )))
    _write_cert(files.ca, ca_cert)
    _write_cert(files.other_ca, other_cert)
    _write_cert(files.server_cert, server_cert)
    _write_key(files.server_key, server_key)
    _write_cert(files.client_cert, client_cert)
    _write_key(files.client_key, client_key)
    return files


def start_tls_pushgateway(workdir: Path, files: TlsFiles, password: str) -> Service:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    config = workdir / "web-config.yml"
    config.write_text(
        "tls_server_config:\n"
        f"  cert_file: {files.server_cert}\n"
        f"  key_file: {files.server_key}\n"
        "  client_auth_type: RequireAndVerifyClientCert\n"
        f"  client_ca_file: {files.ca}\n"
        "basic_auth_users:\n"
        f"  {USERNAME}: '{hashed}'\n"
    )
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    argv = [
        binary("prometheus-pushgateway"),
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.config.file={config}",
        "--persistence.file=",
    ]
    return start_process("pushgateway-tls", argv, url, _ready(url, files, password),
                         workdir / "pushgateway-tls.log")


def client_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(files.ca))
    context.load_cert_chain(str(files.client_cert), str(files.client_key))
    return context


def basic_header(password: str) -> str:
    return "Basic " + b64encode(f"{USERNAME}:{password}".encode()).decode()


def _ready(url: str, files: TlsFiles, password: str) -> Callable[[], bool]:
    context = client_context(files)

    def probe() -> bool:
        request = urllib.request.Request(f"{url}/-/ready",
                                         headers={"Authorization": basic_header(password)})
        try:
            with urllib.request.urlopen(request, timeout=1, context=context) as response:
                return response.status == 200
        except OSError:
            return False

    return probe


def _self_signed(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        _builder(subject, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _signed(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, name: str, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name))]),
            critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
