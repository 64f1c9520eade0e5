"""Real self-signed X.509 certificates for tests and the demo (IAM and moto parse bodies)."""

from __future__ import annotations

import datetime
import functools
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@functools.lru_cache(maxsize=1)
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_certificate(
    common_name: str = "certops-test",
    days: float = 365,
    starts_in_days: float = -1,
    extra_bytes: int = 0,
    key: Any = None,
    uris: tuple[str, ...] = (),
) -> str:
    """A self-signed PEM certificate valid from now+starts_in_days until now+days.

    extra_bytes: the size of an opaque extension, to make a certificate as large as wanted.
    key: the private key to certify and sign with (default: one RSA key shared by all tests).
    uris: subject alternative names of the URI type (such as the made-for name of the host role).
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now + datetime.timedelta(days=starts_in_days)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certops")]
    )
    key = key or signing_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    if uris:
        names = [x509.UniformResourceIdentifier(uri) for uri in uris]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if extra_bytes:
        padding = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"x" * extra_bytes)
        builder = builder.add_extension(padding, critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def private_key_pem() -> str:
    return (
        signing_key()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
