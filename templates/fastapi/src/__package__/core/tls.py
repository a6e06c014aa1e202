"""TLS for `serve` by Mozilla's profiles, and a local certificate authority for development.

`serve` follows the Mozilla server-side TLS configuration named by APP_TLS_PROFILE (guidelines
5.7, the version sslyze checks against; https://ssl-config.mozilla.org/):

- `intermediate` (the default): TLS 1.2 with the six ECDHE suites of AES-GCM or ChaCha20-Poly1305
  (the profile's optional DHE suites are left out), and TLS 1.3 with its three suites;
- `modern`: TLS 1.3 only.

Both allow the key-exchange groups X25519, P-256 and P-384 alone. Left to itself OpenSSL 3 would
also accept X448 and P-521, and for TLS 1.3 the finite-field groups ffdhe2048 to ffdhe8192, which
let a client make the server compute large modular exponentiations at will (the "DHEat" attack).

How the context is built: uvicorn (>= 0.47) takes an `ssl_context_factory`, part of its public
API, and calls it in `Config.load()` in every worker process, the one process of a single-worker
server included; `ServerContextFactory` lets uvicorn build its usual context (certificate, key,
ALPN) and then restricts it with `apply_profile`. The factory travels to the workers pickled,
which is why it is a small dataclass and not a closure. `serve` builds the same context once
itself first (`server_context`), so a bad file or a profile the TLS library cannot keep stops it
with one line, before the server starts.

`dev-cert` creates a private CA and a certificate for localhost signed by it, so browsers and
clients can verify the connection once the CA is trusted, instead of learning to click through
warnings. The CA is name-constrained to localhost and loopback addresses: if its key ever
leaked, it could not be used to impersonate any other site to a machine that trusts it.
"""

import ipaddress
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .config import TlsProfile
from .files import private_dir

# TLS 1.2 (intermediate only): forward secrecy (ECDHE) and authenticated encryption only, in the
# profile's order, by their OpenSSL names.
TLS12_CIPHERS: Final = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
# TLS 1.3, both profiles. Python sets these from 3.15 on (`set_ciphersuites`); before, OpenSSL's
# default list is exactly these three, and `apply_profile` refuses a context that would offer
# any other (an OpenSSL configuration can add the CCM suites).
TLS13_SUITES: Final = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
)
# Key exchange, both profiles, by the names Mozilla and OpenSSL use.
GROUPS: Final = ("X25519", "prime256v1", "secp384r1")
# The one group of GROUPS offered where Python cannot set a list of them (see `_restrict_groups`).
FALLBACK_GROUP: Final = "prime256v1"


@dataclass(frozen=True, slots=True)
class ProfileRules:
    minimum_version: ssl.TLSVersion
    # The longest validity the profile allows a certificate (`selfcheck` warns above it).
    max_certificate_days: int


PROFILES: Final = {
    TlsProfile.INTERMEDIATE: ProfileRules(ssl.TLSVersion.TLSv1_2, max_certificate_days=366),
    TlsProfile.MODERN: ProfileRules(ssl.TLSVersion.TLSv1_3, max_certificate_days=90),
}
DEV_DNS_NAMES: Final = ("localhost",)
DEV_IP_ADDRESSES: Final = ("127.0.0.1", "::1")
# The development certificate lives 90 days, Mozilla's recommendation for every profile (and the
# modern profile's limit); `dev-cert` renews it once fewer than 30 days remain, `selfcheck` warns.
LEAF_DAYS: Final = 90
RENEW_WITHIN_DAYS: Final = 30
# Replaced only when a fresh certificate would outlive it: a new CA has to be trusted again.
CA_DAYS: Final = 10 * 365
# Certificates start this long before they are made, for clocks a little behind; their whole
# validity, this margin included, is LEAF_DAYS or CA_DAYS.
CLOCK_SKEW: Final = timedelta(minutes=5)
_PACKAGE: Final = __name__.split(".")[0]


class TlsProfileError(RuntimeError):
    """The TLS library would offer something the chosen profile does not allow."""


def apply_profile(context: ssl.SSLContext, profile: TlsProfile) -> None:
    """Restrict a server context to `profile`: versions, cipher suites, key-exchange groups."""
    context.minimum_version = PROFILES[profile].minimum_version
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    # Used by TLS 1.2 only, so it changes nothing for the modern profile.
    context.set_ciphers(":".join(TLS12_CIPHERS))
    set_suites: Callable[[str], None] | None = getattr(context, "set_ciphersuites", None)
    if set_suites is not None:  # Python >= 3.15
        set_suites(":".join(TLS13_SUITES))
    # TLS 1.2 renegotiation: no client of this API needs it, and each one costs a handshake.
    context.options |= ssl.OP_NO_RENEGOTIATION
    _restrict_groups(context)
    offered = {cipher["name"] for cipher in context.get_ciphers()}
    outside = offered - {*TLS12_CIPHERS, *TLS13_SUITES}
    if outside or not offered & set(TLS13_SUITES):
        raise TlsProfileError(
            f"the TLS library offers {', '.join(sorted(outside)) or 'no TLS 1.3 suite'}, outside "
            f"Mozilla's {profile.value} profile (is an OpenSSL configuration adding suites?)"
        )


def _restrict_groups(context: ssl.SSLContext) -> None:
    # Python 3.15 has `SSLContext.set_groups`, which takes the list. Before it there is only
    # `set_ecdh_curve`, which on OpenSSL 3 makes its one group the whole list, for TLS 1.2 and
    # TLS 1.3 alike. There, P-256 alone is offered: inside both profiles, and the group every
    # client of either has (TLS 1.3 makes it mandatory, RFC 8446 section 9.1); a client that
    # leads with an X25519 key share pays one extra round trip (HelloRetryRequest) per full
    # handshake. The other ways to a list were turned down: an OPENSSL_CONF file is read only
    # when OpenSSL starts, before any of this code runs (so `serve` would have to re-execute
    # itself), applies to every TLS connection of the process and replaces the system's OpenSSL
    # configuration (a FIPS provider or a crypto policy with it); reaching OpenSSL's SSL_CTX
    # through ctypes relies on the private memory layout of CPython's SSLContext.
    set_groups: Callable[[str], None] | None = getattr(context, "set_groups", None)
    if set_groups is not None:
        set_groups(":".join(GROUPS))
    else:
        context.set_ecdh_curve(FALLBACK_GROUP)


def server_context(cert_file: Path, key_file: Path, profile: TlsProfile) -> ssl.SSLContext:
    """The context `serve` listens with, built here so a bad file fails with its name early."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    apply_profile(context, profile)
    return context


@dataclass(frozen=True)
class ServerContextFactory:
    """uvicorn's `ssl_context_factory`: its own context (files, ALPN), restricted to the profile."""

    profile: TlsProfile

    def __call__(
        self, _config: object, default_context: Callable[[], ssl.SSLContext]
    ) -> ssl.SSLContext:
        context = default_context()
        apply_profile(context, self.profile)
        return context


def certificate_validity(path: Path) -> tuple[datetime, datetime]:
    """When the first certificate of the PEM file at `path` starts and stops being valid (UTC).

    Raises OSError if the file cannot be read, ValueError if it holds no PEM certificate.
    """
    certificate = x509.load_pem_x509_certificates(path.read_bytes())[0]
    return certificate.not_valid_before_utc, certificate.not_valid_after_utc


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


def write_dev_certificates(
    directory: Path, *, force: bool = False, now: datetime | None = None
) -> list[Path]:
    """Create the CA and the localhost certificate, or renew whichever is due.

    The CA is kept while it has at least LEAF_DAYS left (clients trust it by hand, so a new one
    is made only when a fresh certificate would outlive it). The certificate is rewritten when
    fewer than RENEW_WITHIN_DAYS remain, when it is valid for longer than LEAF_DAYS (made
    before that limit) or when this CA did not sign it. `force` replaces both.

    Returns the files written. Private keys are created with mode 0600, and the folder (when
    missing) with 0700; the certificates are public and stay readable (0644) inside it.
    """
    paths = DevCertificates.in_directory(directory)
    private_dir(directory)
    written: list[Path] = []
    now = now or datetime.now(UTC)
    ca = None if force else _load_ca(paths)
    if ca is None or ca[0].not_valid_after_utc - now < timedelta(days=LEAF_DAYS):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key, now)
        _write_private_key(paths.ca_key, ca_key)
        _write_public(paths.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
        written += [paths.ca_cert, paths.ca_key]
        force = True  # a new CA means the old leaf no longer verifies
    else:
        ca_cert, ca_key = ca
    if force or _leaf_is_due(paths, ca_cert, now):
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _leaf_certificate(leaf_key, ca_cert, ca_key, now)
        _write_private_key(paths.key, leaf_key)
        _write_public(paths.cert, leaf.public_bytes(serialization.Encoding.PEM))
        written += [paths.cert, paths.key]
    return written


def _load_ca(paths: DevCertificates) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if not (paths.ca_cert.exists() and paths.ca_key.exists()):
        return None
    ca_cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    loaded = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{paths.ca_key} is not an EC private key")
    return ca_cert, loaded


def _leaf_is_due(paths: DevCertificates, ca_cert: x509.Certificate, now: datetime) -> bool:
    if not (paths.cert.exists() and paths.key.exists()):
        return True
    try:
        leaf = x509.load_pem_x509_certificate(paths.cert.read_bytes())
        leaf.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return True  # not a certificate, or not this CA's
    lifespan = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    remaining = leaf.not_valid_after_utc - now
    return lifespan > timedelta(days=LEAF_DAYS) or remaining < timedelta(days=RENEW_WITHIN_DAYS)


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
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now - CLOCK_SKEW + timedelta(days=CA_DAYS))
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
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now - CLOCK_SKEW + timedelta(days=LEAF_DAYS))
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
