"""TLS for `serve`, and a local certificate authority for development.

`serve` hands uvicorn the certificate, the key and an AEAD-only cipher list for TLS 1.2; TLS
1.3 suites are all AEAD already, and Python (>= 3.10) refuses anything older than TLS 1.2 on a
server context, which `check_tls_floor` makes sure of before the server starts.

`dev-cert` creates a private CA and a certificate for localhost signed by it, so browsers and
clients can verify the connection once the CA is trusted, instead of learning to click through
warnings. The CA is name-constrained to localhost and loopback addresses: if its key ever
leaked, it could not be used to impersonate any other site to a machine that trusts it.
"""

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .files import private_dir

# TLS 1.2: forward secrecy (ECDHE) and authenticated encryption (GCM, ChaCha20-Poly1305) only.
TLS12_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"
DEV_DNS_NAMES: Final = ("localhost",)
DEV_IP_ADDRESSES: Final = ("127.0.0.1", "::1")
# Browsers reject leaf certificates valid for more than 398 days.
LEAF_DAYS: Final = 397
CA_DAYS: Final = 10 * 365
_PACKAGE: Final = __name__.split(".")[0]


def check_tls_floor() -> None:
    """Refuse to serve on a Python whose server contexts would still accept TLS 1.0/1.1."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if context.minimum_version < ssl.TLSVersion.TLSv1_2:
        raise RuntimeError("this Python/OpenSSL accepts TLS < 1.2 by default; upgrade Python")


def check_tls_files(cert_file: Path, key_file: Path) -> None:
    """Load the pair as the server will, so a bad file fails with its name before startup."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers(TLS12_CIPHERS)
    context.load_cert_chain(certfile=cert_file, keyfile=key_file)


@dataclass(frozen=True, slots=True)
class DevCertificates:
    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path

    @classmethod
    def in_directory(cls, directory: Path) -> "DevCertificates":
        return cls(
            ca_cert=directory / "ca.pem",
            ca_key=directory / "ca-key.pem",
            cert=directory / "dev-cert.pem",
            key=directory / "dev-key.pem",
        )


def write_dev_certificates(directory: Path, *, force: bool = False) -> list[Path]:
    """Create the CA (unless present) and the localhost certificate (unless present).

    Returns the files written. Private keys are created with mode 0600, and the folder (when
    missing) with 0700; the certificates are public and stay readable (0644) inside it.
    """
    paths = DevCertificates.in_directory(directory)
    private_dir(directory)
    written: list[Path] = []
    now = datetime.now(UTC)
    if force or not (paths.ca_cert.exists() and paths.ca_key.exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key, now)
        _write_private_key(paths.ca_key, ca_key)
        _write_public(paths.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
        written += [paths.ca_cert, paths.ca_key]
        force = True  # a new CA means the old leaf no longer verifies
    else:
        ca_cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        loaded = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{paths.ca_key} is not an EC private key")
        ca_key = loaded
    if force or not (paths.cert.exists() and paths.key.exists()):
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _leaf_certificate(leaf_key, ca_cert, ca_key, now)
        _write_private_key(paths.key, leaf_key)
        _write_public(paths.cert, leaf.public_bytes(serialization.Encoding.PEM))
        written += [paths.cert, paths.key]
    return written


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portcullis development"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{_PACKAGE} local development CA"),
        ]
    )
    permitted: list[x509.GeneralName] = [x509.DNSName(host) for host in DEV_DNS_NAMES]
    permitted += [
        x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
    ]
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: datetime,
) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(host) for host in DEV_DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in DEV_IP_ADDRESSES]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=LEAF_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pem, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    _write(path, data, 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    # Written under a temporary name with its final mode, then renamed: a key is never
    # readable by others, not even for a moment, and a crash leaves no half-written file.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, mode)  # the umask may have taken bits away from the public files
        handle.write(data)
    temporary.replace(path)
