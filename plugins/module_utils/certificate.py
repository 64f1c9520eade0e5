# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 certificate handling: PEM normalisation (RFC 7468), DER fingerprint, parsed fields, time rules.

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
import textwrap
from dataclasses import dataclass
from typing import Any

try:
    from cryptography import x509

    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - reported by the modules
    HAS_CRYPTOGRAPHY = False

# IAM's limit on CertificateBody; it applies to the normalised block this collection sends.
MAX_BODY_LENGTH = 16384
ONE_DAY = datetime.timedelta(days=1)

# RFC 7468 encapsulation boundaries. A label has no hyphen; anything between blocks is explanatory text.
_BLOCK = re.compile(r"-----BEGIN ([^\n]*?)-----\n(.*?)-----END \1-----", re.DOTALL)
_BOUNDARY = re.compile(r"-----(?:BEGIN|END) [^\n]*?-----")
_PRIVATE_KEY = "PRIVATE KEY"
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=\s]+")


class CertificateError(ValueError):
    """A certificate body that cannot be used. The message never contains the body."""


@dataclass(frozen=True)
class Certificate:
    """A parsed X.509 certificate and its normalised PEM block (what is sent to IAM)."""

    pem: str
    fingerprint_sha256: str
    subject: str
    issuer: str
    serial_number: int
    not_before: datetime.datetime
    not_after: datetime.datetime

    def days_to_expiry(self, now: datetime.datetime) -> int:
        return days_to_expiry(self.not_after, now)

    def fields(self, now: datetime.datetime) -> dict[str, Any]:
        """The parsed fields as returned by the modules (snake_case, ISO 8601 UTC)."""
        return {
            "fingerprint_sha256": self.fingerprint_sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial_number": self.serial_number,
            "serial_number_hex": serial_hex(self.serial_number),
            "not_before": iso8601(self.not_before),
            "not_after": iso8601(self.not_after),
            "days_to_expiry": self.days_to_expiry(now),
        }


EMPTY_FIELDS: dict[str, Any] = dict.fromkeys(
    (
        "fingerprint_sha256",
        "subject",
        "issuer",
        "serial_number",
        "serial_number_hex",
        "not_before",
        "not_after",
        "days_to_expiry",
    )
)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso8601(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with a Z suffix, e.g. 2026-11-26T12:00:00Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso8601(text: str | None) -> datetime.datetime | None:
    """The moment of an ISO 8601 UTC string as written by iso8601(); None for None."""
    if text is None:
        return None
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def days_to_expiry(not_after: datetime.datetime, now: datetime.datetime) -> int:
    """Whole days from now until not_after, rounded down: 0 during the last 24 hours of validity,
    -1 during the first 24 hours after expiry."""
    return (not_after - now) // ONE_DAY


def expires_within(not_after: datetime.datetime, days: int, now: datetime.datetime) -> bool:
    """Whether a certificate ending at not_after expires within `days` days of now: not_after <= now + days."""
    return not_after <= now + datetime.timedelta(days=days)


def serial_hex(serial_number: int) -> str:
    """The serial number as openssl prints it: upper-case hex, an even number of digits."""
    digits = f"{serial_number:X}"
    return digits.rjust(len(digits) + len(digits) % 2, "0")


def fingerprint(der: bytes) -> str:
    """SHA-256 of DER bytes, as colon-separated upper-case hex (the openssl form)."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def contains_private_key(text: str) -> bool:
    """Whether a text carries private-key material (any '... PRIVATE KEY' PEM label)."""
    return _PRIVATE_KEY in text


def private_key_fragments(text: str) -> set[str]:
    """What to mask in a text that carries a private key: the text, each key block and each of its lines,
    so that no part of the key shows even where a message quotes a piece of the text or its repr()."""
    fragments = {text}
    for block in _BLOCK.finditer(_unfold(text)):
        if _PRIVATE_KEY in block.group(1):
            fragments.add(block.group(0))
            fragments.update(chunk for chunk in block.group(2).split() if len(chunk) >= 16)
    return fragments


def _unfold(text: str) -> str:
    """LF line endings, no byte-order mark, and every BEGIN/END boundary on a line of its own (a PEM
    text folded onto one line by YAML's '>' keeps its boundaries)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return _BOUNDARY.sub(lambda boundary: f"\n{boundary.group(0)}\n", text)


def _not_pem(body: str) -> CertificateError:
    """The refusal of a body without any PEM boundary, with a hint for the usual mistakes."""
    if "\x00" in body or any(ord(character) > 0x7F for character in body):
        hint = (
            " It looks like binary data (DER?): convert it with "
            "'openssl x509 -inform der -in cert.der -out cert.pem' and give the PEM text"
        )
    elif _BASE64_TEXT.fullmatch(body):
        hint = " It looks like bare base64: wrap it in those BEGIN and END lines"
    else:
        hint = ""
    return CertificateError(
        f"is not PEM: expected one '-----BEGIN CERTIFICATE-----' ... '-----END CERTIFICATE-----' block.{hint}"
    )


def normalise_pem(body: str) -> bytes:
    """The DER bytes of the single CERTIFICATE block of a PEM text, per RFC 7468.

    Explanatory text around the block (such as openssl's "Bag Attributes" preamble), a byte-order mark,
    CRLF line endings, indentation and any wrapping are tolerated. A private key, a chain of certificates,
    any other block, or no block at all are refused.
    """
    if contains_private_key(body):
        raise CertificateError(
            "contains a private key (a 'PRIVATE KEY' block); give only the public certificate."
            " The key was not sent anywhere and is not shown"
        )
    text = _unfold(body)
    blocks = _BLOCK.findall(text)
    boundaries = _BOUNDARY.findall(text)
    if not boundaries:
        raise _not_pem(body)
    if len(boundaries) != 2 * len(blocks):
        raise CertificateError("is not complete PEM: a '-----BEGIN' or '-----END' line has no partner")
    other = sorted({label for label, _payload in blocks if label != "CERTIFICATE"})
    if other:
        raise CertificateError(f"holds a {', '.join(other)} block; only one CERTIFICATE block is accepted")
    if len(blocks) > 1:
        raise CertificateError(f"holds {len(blocks)} certificates (a chain); give exactly one certificate per task")
    payload = "".join(blocks[0][1].split())
    try:
        der = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        der = b""
    if not der:
        raise CertificateError("is not valid PEM: the text between BEGIN and END is not base64")
    return der


def pem_block(der: bytes) -> str:
    """The strict RFC 7468 form: BEGIN line, base64 in lines of 64, END line, LF line endings."""
    lines = textwrap.wrap(base64.b64encode(der).decode("ascii"), 64)
    return "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----", ""])


def parse_certificate(body: str) -> Certificate:
    """Parse a PEM certificate text. Raises CertificateError with a message that never echoes the body."""
    if not isinstance(body, str) or not body.strip():
        raise CertificateError("is empty")
    der = normalise_pem(body)
    if not HAS_CRYPTOGRAPHY:  # pragma: no cover
        raise CertificateError("cannot be parsed: the Python library 'cryptography' is not installed")
    try:
        cert = x509.load_der_x509_certificate(der)
        return Certificate(
            pem=pem_block(der),
            fingerprint_sha256=fingerprint(der),
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial_number=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )
    except ValueError as exc:
        raise CertificateError(f"is not a valid X.509 certificate ({exc.__class__.__name__}: {exc})") from None


def load_certificate(body: str) -> Certificate:
    """Parse a certificate given by the user: parse_certificate, and IAM's length limit on what is sent."""
    certificate = parse_certificate(body)
    if len(certificate.pem) > MAX_BODY_LENGTH:
        raise CertificateError(
            f"is {len(certificate.pem)} characters long as a PEM block; IAM accepts at most {MAX_BODY_LENGTH}"
        )
    return certificate


def try_parse_certificate(body: str | None) -> Certificate | None:
    """Parse a body returned by IAM; None when it cannot be parsed (never fail on server data)."""
    if not body:
        return None
    try:
        return parse_certificate(body)
    except CertificateError:
        return None
