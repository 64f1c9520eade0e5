# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 certificate handling: PEM normalisation, DER fingerprint and parsed fields.

No AWS call is made here. A certificate's identity is the SHA-256 of its DER
bytes: PEM text differs in line endings, wrapping and blank lines, so two
bodies are the same certificate exactly when their fingerprints are equal.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
from dataclasses import dataclass
from typing import Any

try:
    from cryptography import x509

    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - cryptography ships with ansible-core
    HAS_CRYPTOGRAPHY = False

MAX_BODY_LENGTH = 16384

_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----",
    re.DOTALL,
)
_ANY_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")


class CertificateError(ValueError):
    """A certificate body that cannot be used. The message never contains the body."""


@dataclass(frozen=True)
class Certificate:
    """A parsed X.509 certificate."""

    der: bytes
    fingerprint_sha256: str
    subject: str
    issuer: str
    serial_number: int
    not_before: datetime.datetime
    not_after: datetime.datetime

    def days_to_expiry(self, now: datetime.datetime | None = None) -> int:
        """Whole days until not_after; negative once expired."""
        now = now or utc_now()
        return (self.not_after - now) // datetime.timedelta(days=1)

    def is_valid_at(self, now: datetime.datetime | None = None) -> bool:
        now = now or utc_now()
        return self.not_before <= now <= self.not_after

    def fields(self, now: datetime.datetime | None = None) -> dict[str, Any]:
        """The parsed fields as returned by the modules (snake_case, ISO 8601 UTC)."""
        return {
            "fingerprint_sha256": self.fingerprint_sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial_number": self.serial_number,
            "not_before": iso8601(self.not_before),
            "not_after": iso8601(self.not_after),
            "days_to_expiry": self.days_to_expiry(now),
        }


EMPTY_FIELDS: dict[str, Any] = dict.fromkeys(
    ("fingerprint_sha256", "subject", "issuer", "serial_number", "not_before", "not_after", "days_to_expiry")
)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso8601(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with a Z suffix, e.g. 2026-11-26T12:00:00Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(der: bytes) -> str:
    """SHA-256 of DER bytes, as colon-separated upper-case hex (the openssl form)."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def contains_private_key(body: str) -> bool:
    return "PRIVATE KEY" in body


def pem_to_der(body: str) -> bytes:
    """Return the DER bytes of the single CERTIFICATE block of a PEM body.

    Line endings, line wrapping, surrounding blank lines and indentation do not
    matter. Anything that is not exactly one certificate block is refused.
    """
    if contains_private_key(body):
        raise CertificateError(
            "contains a private key (a 'PRIVATE KEY' block); give only the public certificate."
            " The key was not sent anywhere and is not shown"
        )
    blocks = _PEM_BLOCK.findall(body)
    labels = _ANY_BEGIN.findall(body)
    if not labels:
        raise CertificateError(
            "is not PEM: expected one '-----BEGIN CERTIFICATE-----' ... '-----END CERTIFICATE-----' block"
        )
    if len(labels) != len(blocks):
        raise CertificateError("is not complete PEM: a '-----BEGIN' line has no matching '-----END' line")
    certificate_blocks = [payload for label, payload in blocks if label == "CERTIFICATE"]
    other = sorted({label for label, _payload in blocks if label != "CERTIFICATE"})
    if other:
        raise CertificateError(f"holds a {', '.join(other)} block; only one CERTIFICATE block is accepted")
    if len(certificate_blocks) > 1:
        raise CertificateError(
            f"holds {len(certificate_blocks)} certificates (a chain); give exactly one certificate per task"
        )
    outside = _PEM_BLOCK.sub("", body).strip()
    if outside:
        raise CertificateError("has text outside the '-----BEGIN CERTIFICATE-----' block")
    payload = "".join(certificate_blocks[0].split())
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError("is not valid PEM: the text between BEGIN and END is not base64") from None


def load_certificate(body: str) -> Certificate:
    """Parse a PEM certificate body. Raises CertificateError with a message that never echoes the body."""
    if not isinstance(body, str) or not body.strip():
        raise CertificateError("is empty")
    if len(body) > MAX_BODY_LENGTH:
        raise CertificateError(f"is {len(body)} characters long; IAM accepts at most {MAX_BODY_LENGTH}")
    der = pem_to_der(body)
    if not HAS_CRYPTOGRAPHY:  # pragma: no cover
        raise CertificateError("cannot be parsed: the Python library 'cryptography' is not installed")
    try:
        cert = x509.load_der_x509_certificate(der)
        return Certificate(
            der=der,
            fingerprint_sha256=fingerprint(der),
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial_number=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )
    except ValueError as exc:
        raise CertificateError(f"is not a valid X.509 certificate ({exc.__class__.__name__}: {exc})") from None


def try_load_certificate(body: str | None) -> Certificate | None:
    """Parse a body returned by IAM; None when it cannot be parsed (never fail on server data)."""
    if not body:
        return None
    try:
        return load_certificate(body)
    except CertificateError:
        return None
